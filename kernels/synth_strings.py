"""Kernels of the synthetic generator's text: usernames, bios, and making usernames unique.

Strings are built per chunk of accounts from the chunk's own stream, as in
:mod:`kolgraph.kernels.synth`, into ``(offsets, bytes)`` arrays (Arrow layout), never
one Python string per account.
"""

import numpy as np
from kolgraph.kernels._rng import FNV_OFFSET, GOLDEN, fnv1a, new_stream, randint, uniform
from kolgraph.kernels.csr import group_by
from kolgraph.kernels.synth import CHEAP, CREATOR
from numba import njit, prange

_MAX_NAME = 64
_MAX_BIO = 256

_CONSONANTS = np.frombuffer(b"bcdfghjklmnprstvwz", dtype=np.uint8)
_VOWELS = np.frombuffer(b"aeiouaeioy", dtype=np.uint8)
_CODAS = np.frombuffer(b"nlrsmkx", dtype=np.uint8)
_ALNUM = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)


@njit(nogil=True, cache=True)
def _syllables(st, buf, p, count):
    for _ in range(count):
        buf[p] = _CONSONANTS[randint(st, _CONSONANTS.shape[0])]
        buf[p + 1] = _VOWELS[randint(st, _VOWELS.shape[0])]
        p += 2
        if uniform(st) < 0.3:
            buf[p] = _CODAS[randint(st, _CODAS.shape[0])]
            p += 1
    return p


@njit(nogil=True, cache=True)
def _digits(st, buf, p, count):
    for i in range(count):
        buf[p] = 48 + (randint(st, 9) + 1 if i == 0 else randint(st, 10))
        p += 1
    return p


@njit(nogil=True, cache=True)
def _token(buf, p, bank, tok_off, tok):
    for i in range(tok_off[tok], tok_off[tok + 1]):
        buf[p] = bank[i]
        p += 1
    return p


@njit(nogil=True, cache=True)
def _group_token(st, group_ptr, g):
    return group_ptr[g] + randint(st, group_ptr[g + 1] - group_ptr[g])


@njit(nogil=True, cache=True)
def _separator(st, buf, p):
    x = uniform(st)
    if x < 0.35:
        buf[p] = 46  # .
        return p + 1
    if x < 0.7:
        buf[p] = 95  # _
        return p + 1
    return p


@njit(nogil=True, cache=True)
def _username(st, buf, r, cat, bank, tok_off, group_ptr):
    """Write one username into ``buf``; returns its length. ``bank`` groups: handle words
    per category."""
    p = 0
    if r == CHEAP:
        x = uniform(st)
        if x < 0.6:
            p = _syllables(st, buf, p, 1 + randint(st, 2))
            if uniform(st) < 0.5:
                buf[p] = 95
                p += 1
            p = _digits(st, buf, p, 5 + randint(st, 5))
        elif x < 0.85:
            for i in range(8 + randint(st, 5)):
                if i == 0 or uniform(st) < 0.5:
                    buf[p] = _ALNUM[randint(st, 26)]
                else:
                    buf[p] = _ALNUM[26 + randint(st, 10)]
                p += 1
        else:
            p = _syllables(st, buf, p, 2)
            buf[p] = 46
            p = _syllables(st, buf, p + 1, 2)
            p = _digits(st, buf, p, 4 + randint(st, 3))
        return p
    x = uniform(st)
    p = _syllables(st, buf, p, 2 if x < 0.4 else 3 if x < 0.85 else 4)
    if r == CREATOR:
        if uniform(st) < 0.55:
            p = _separator(st, buf, p)
            p = _token(buf, p, bank, tok_off, _group_token(st, group_ptr, cat))
        elif uniform(st) < 0.5:
            p = _separator(st, buf, p)
            p = _syllables(st, buf, p, 2)
        if uniform(st) < 0.05:
            p = _digits(st, buf, p, 1 + randint(st, 2))
        return p
    if uniform(st) < 0.45:
        p = _separator(st, buf, p)
        p = _syllables(st, buf, p, 2 + randint(st, 2))
    if uniform(st) < 0.3:
        x = uniform(st)
        p = _digits(st, buf, p, 1 if x < 0.2 else 2 if x < 0.7 else 3 if x < 0.8 else 4)
    return p


@njit(nogil=True, cache=True)
def _bio(st, buf, r, c1, c2, bank, tok_off, group_ptr, n_cat):
    """Write one bio into ``buf``; returns its length. ``bank`` groups: words per category
    (``0..n_cat-1``), then generic words, emoji, creator contact lines, spam lines, separators."""
    generic = n_cat
    emoji = n_cat + 1
    contact = n_cat + 2
    spam = n_cat + 3
    seps = n_cat + 4
    p = 0
    if r == CHEAP:
        if uniform(st) < 0.75:
            return 0
        for i in range(1 + randint(st, 2)):
            if i > 0:
                p = _token(buf, p, bank, tok_off, _group_token(st, group_ptr, seps))
            p = _token(buf, p, bank, tok_off, _group_token(st, group_ptr, spam))
        return p
    if r != CREATOR and uniform(st) < 0.35:
        return 0
    n_tok = 2 + randint(st, 4) if r == CREATOR else 1 + randint(st, 5)
    sep = _group_token(st, group_ptr, seps)
    for i in range(n_tok):
        if i > 0:
            p = _token(buf, p, bank, tok_off, sep)
        x = uniform(st)
        if x < (0.7 if r == CREATOR else 0.45):
            g = c1 if uniform(st) < 0.7 else c2
        elif x < 0.85:
            g = generic
        else:
            g = emoji
        p = _token(buf, p, bank, tok_off, _group_token(st, group_ptr, g))
    if r == CREATOR and uniform(st) < 0.6:
        p = _token(buf, p, bank, tok_off, sep)
        p = _token(buf, p, bank, tok_off, _group_token(st, group_ptr, contact))
    return p


@njit(parallel=True, nogil=True, cache=True)
def _strings_block(kind, role, cat1, cat2, bank, tok_off, group_ptr, n_cat, seeds, chunk,
                   ch_lo, ch_hi, scratch):
    """Usernames (``kind`` 0) or bios (1) of the accounts in chunks ``ch_lo:ch_hi``:
    ``(offsets, bytes)`` relative to the block; ``scratch`` holds one row per account."""
    n = role.shape[0]
    lo = ch_lo * chunk
    nb = min(n, ch_hi * chunk) - lo
    offsets = np.zeros(nb + 1, dtype=np.int64)
    for ch in prange(ch_lo, ch_hi):
        st = new_stream(seeds[ch])
        for u in range(ch * chunk, min(n, (ch + 1) * chunk)):
            row = scratch[u - lo]
            if kind == 0:
                offsets[u - lo + 1] = _username(st, row, role[u], cat1[u], bank, tok_off, group_ptr)
            else:
                offsets[u - lo + 1] = _bio(st, row, role[u], cat1[u], cat2[u], bank, tok_off, group_ptr,
                                           n_cat)
    for i in range(nb):
        offsets[i + 1] += offsets[i]
    out = np.empty(offsets[nb], dtype=np.uint8)
    for i in prange(nb):
        o = offsets[i]
        for j in range(offsets[i + 1] - o):
            out[o + j] = scratch[i, j]
    return offsets, out


def strings(kind, role, cat1, cat2, bank, tok_off, group_ptr, n_cat, seeds, chunk, block=8):
    """``(offsets, bytes)`` of one generated string per account, built ``block`` chunks at a
    time (no Python string per account)."""
    width = _MAX_NAME if kind == 0 else _MAX_BIO
    scratch = np.empty((min(role.shape[0], block * chunk), width), dtype=np.uint8)
    parts_off, parts = [np.zeros(1, np.int64)], []
    base = 0
    for lo in range(0, seeds.shape[0], block):
        off, data = _strings_block(kind, role, cat1, cat2, bank, tok_off, group_ptr, n_cat, seeds,
                                   chunk, lo, min(lo + block, seeds.shape[0]), scratch)
        parts_off.append(off[1:] + base)
        parts.append(data)
        base += int(off[-1])
    return np.concatenate(parts_off), np.concatenate(parts) if parts else np.empty(0, np.uint8)


@njit(nogil=True, cache=True)
def _insert(table, h):
    """Insert hash ``h`` (non-zero) into the open-addressing set; False if present."""
    mask = np.uint64(table.shape[0] - 1)
    i = (h ^ (h >> np.uint64(31))) * GOLDEN
    j = np.int64((i >> np.uint64(17)) & mask)
    while True:
        t = table[j]
        if t == np.uint64(0):
            table[j] = h
            return True
        if t == h:
            return False
        j = (j + 1) & np.int64(mask)


@njit(parallel=True, nogil=True, cache=True)
def _first_seen(offsets, data, n_parts):
    """FNV-1a hash of every string, whether an earlier string has the same hash, and the
    per-partition hash sets (partition = top bits of the hash; one set per partition,
    filled in id order, so the result does not depend on the thread count)."""
    n = offsets.shape[0] - 1
    base = np.empty(n, dtype=np.uint64)
    for u in prange(n):
        base[u] = fnv1a(FNV_OFFSET, data, offsets[u], offsets[u + 1])
    shift = np.uint64(64 - 4)
    keys = np.empty(n, dtype=np.int64)
    for u in prange(n):
        keys[u] = np.int64(base[u] >> shift) % n_parts
    ptr, order = group_by(keys, n_parts)
    size = 16
    for part in range(n_parts):
        while size < 2 * (ptr[part + 1] - ptr[part]) + 16:
            size *= 2
    tables = np.zeros((n_parts, size), dtype=np.uint64)
    repeat = np.zeros(n, dtype=np.bool_)
    one = np.uint64(1)
    for part in prange(n_parts):
        table = tables[part]
        for i in range(ptr[part], ptr[part + 1]):
            u = order[i]
            if not _insert(table, base[u] | one):
                repeat[u] = True
    return base, repeat, tables


@njit(nogil=True, cache=True)
def dedupe_strings(offsets, data, seed):
    """Make every string unique by appending digits (``_`` sometimes) to later repeats.

    Strings are compared by 64-bit FNV-1a hash, so a hash collision also counts as a
    repeat (harmless: it only adds a suffix). Returns ``(offsets, data, n_changed)``.
    """
    n = offsets.shape[0] - 1
    n_parts = 16
    shift = np.uint64(64 - 4)
    one = np.uint64(1)
    base, repeat, tables = _first_seen(offsets, data, n_parts)
    n_rep = 0
    for u in range(n):
        if repeat[u]:
            n_rep += 1
    if n_rep == 0:
        return offsets, data, 0
    st = new_stream(seed)
    sfx = np.empty(n_rep * 16, dtype=np.uint8)
    sfx_len = np.zeros(n, dtype=np.int64)
    q = 0
    for u in range(n):
        if not repeat[u]:
            continue
        attempt = 0
        while True:
            ln = 0
            if uniform(st) < 0.3:
                sfx[q] = 95
                ln = 1
            for _ in range(min(2 + attempt // 4, 14 - ln)):
                sfx[q + ln] = 48 + randint(st, 10)
                ln += 1
            h = fnv1a(base[u], sfx, q, q + ln)
            if _insert(tables[np.int64(h >> shift) % n_parts], h | one):
                break
            attempt += 1
        sfx_len[u] = ln
        q += ln
    new_off = np.zeros(n + 1, dtype=np.int64)
    sfx_start = np.zeros(n, dtype=np.int64)
    q = 0
    for u in range(n):
        new_off[u + 1] = new_off[u] + offsets[u + 1] - offsets[u] + sfx_len[u]
        sfx_start[u] = q
        q += sfx_len[u]
    return new_off, _append_suffixes(offsets, data, new_off, sfx, sfx_start), n_rep


@njit(parallel=True, nogil=True, cache=True)
def _append_suffixes(offsets, data, new_off, sfx, sfx_start):
    out = np.empty(new_off[-1], dtype=np.uint8)
    for u in prange(offsets.shape[0] - 1):
        o = new_off[u]
        ln = offsets[u + 1] - offsets[u]
        for i in range(ln):
            out[o + i] = data[offsets[u] + i]
        for i in range(new_off[u + 1] - o - ln):
            out[o + ln + i] = sfx[sfx_start[u] + i]
    return out

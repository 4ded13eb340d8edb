"""Sketch kernels: account hashes, per-creator HyperLogLog + KMV (Theta) sketches, estimates.

Every account gets a 64-bit hash of its *external* id (so two parties holding
the same platform ids produce the same hashes and can merge sketches): int64 ids
go through the splitmix64 finaliser, text ids through FNV-1a then splitmix64,
both keyed by a seed.

A creator's sketch is built in one pass over its followers-of CSR row:

- KMV / Theta: the ``K`` smallest follower hashes. A creator with at most ``K``
  followers keeps all of them, unsorted (the sketch is exact); otherwise its
  threshold ``theta`` is the K-th smallest hash and the hashes below it are a
  uniform sample of rate ``theta / 2**64``. The K smallest come from one
  comparison per follower against a threshold just above the expected K-th
  smallest, then a sort of the few candidates.
- HyperLogLog with ``2**p`` one-byte registers: register = top ``p`` hash bits,
  value = leading zeros of the other bits + 1, merged by maximum. Only creators
  whose row is flagged get registers (the others' registers follow from their
  complete hash lists at query time, :func:`hll_from_hashes`).

Estimates: :func:`hll_histogram` feeds Ertl's improved raw estimator (computed in
``kolgraph.sketch``); :func:`sample_masks` joins the sorted hash lists of k
creators below a common threshold into one creator-membership mask per sampled
follower; :func:`pair_samples` counts, for every pair, the sampled union, the
intersection and each side's sample below the pair's own threshold.

Arrays in, arrays out; no validation here.
"""

import numpy as np
from kolgraph.kernels._bits import clz
from kolgraph.kernels._rng import FNV_OFFSET, fnv1a, splitmix64
from numba import njit, prange

_ONE = np.uint64(1)
_ZERO = np.uint64(0)


@njit(nogil=True, cache=True, parallel=True)
def hash_int_ids(ids, seed_key):
    """``splitmix64(id XOR seed_key)`` of every int64 id."""
    out = np.empty(ids.shape[0], dtype=np.uint64)
    for i in prange(ids.shape[0]):
        out[i] = splitmix64(np.uint64(ids[i]) ^ seed_key)
    return out


@njit(nogil=True, cache=True, parallel=True)
def hash_str_ids(offsets, data, seed_key):
    """``splitmix64(FNV-1a-64(utf-8 bytes) XOR seed_key)`` of every text id (Arrow offsets + bytes)."""
    n = offsets.shape[0] - 1
    out = np.empty(n, dtype=np.uint64)
    for i in prange(n):
        out[i] = splitmix64(fnv1a(FNV_OFFSET, data, offsets[i], offsets[i + 1]) ^ seed_key)
    return out


@njit(inline="always", nogil=True)
def _register(h, p, q):
    """(register index, rank) of hash ``h`` with ``p`` index bits, ``q = 64 - p`` value bits."""
    w = h << np.uint64(p)
    r = q + 1 if w == _ZERO else clz(w) + 1
    return np.int64(h >> np.uint64(q)), r


@njit(nogil=True)
def _sift_down(heap, i, n):
    x = heap[i]
    while True:
        c = 2 * i + 1
        if c >= n:
            break
        if c + 1 < n and heap[c + 1] > heap[c]:
            c += 1
        if heap[c] <= x:
            break
        heap[i] = heap[c]
        i = c
    heap[i] = x


@njit(inline="always", nogil=True)
def _entry_hash(indices, e, key_hash, id_offset, seed_key):
    """Hash of CSR entry e: ``key_hash[indices[e]]``, or, with an empty ``key_hash``
    (accounts whose int ids are ``id_offset + index``), the id's hash computed in place."""
    if key_hash.shape[0] == 0:
        return splitmix64(np.uint64(indices[e] + id_offset) ^ seed_key)
    return key_hash[indices[e]]


@njit(nogil=True)
def _heap_pass(indptr, indices, key_hash, id_offset, seed_key, a, d, out):
    """The ``len(out)`` smallest hashes of a row by a bounded max-heap (the fallback)."""
    k = out.shape[0]
    for j in range(k):
        out[j] = _entry_hash(indices, a + j, key_hash, id_offset, seed_key)
    for i in range(k // 2 - 1, -1, -1):
        _sift_down(out, i, k)
    for e in range(a + k, a + d):
        h = _entry_hash(indices, e, key_hash, id_offset, seed_key)
        if h < out[0]:
            out[0] = h
            _sift_down(out, 0, k)
    out.sort()


@njit(nogil=True, cache=True, parallel=True)
def build_sketches(indptr, indices, key_hash, id_offset, seed_key, rows, K, p, theta_indptr,
                   hll_row, theta_hashes, registers):
    """KMV and HyperLogLog sketches of CSR rows, one pass per row, rows in parallel.

    A row of at most K entries keeps every hash, unsorted (callers sort the few
    they use); a longer row keeps its K smallest, sorted. Those are found in the
    same pass as the registers: hashes below a threshold a few standard deviations
    above the expected K-th smallest (``K/d`` of the range) are collected, then
    sorted; in the rare case that leaves fewer than K (or overflows the buffer) a
    bounded max-heap pass over the row takes over.

    Parameters
    ----------
    indptr, indices : CSR.
    key_hash, id_offset, seed_key : the hash of entry e is ``key_hash[indices[e]]``; with
        an empty ``key_hash`` it is ``splitmix64((indices[e] + id_offset) ^ seed_key)``
        (contiguous int ids: no table to gather from).
    rows : int64 rows to sketch (e.g. creators).
    K, p : KMV size and HyperLogLog precision.
    theta_indptr : int64 (len(rows) + 1), offsets of ``min(row length, K)`` hashes.
    hll_row : int64 per row, the register row to fill, or -1 for none.
    theta_hashes : uint64 output.
    registers : uint8 output (n_register_rows, 2**p), zero on entry.
    """
    q = 64 - p
    slack = K + 4.0 * np.sqrt(K) + 16.0
    cap = int(slack * 1.25) + 64
    for j in prange(rows.shape[0]):
        r = rows[j]
        a, b = indptr[r], indptr[r + 1]
        d = b - a
        out = theta_hashes[theta_indptr[j]:theta_indptr[j + 1]]
        hr = hll_row[j]
        if d <= K:
            for e in range(d):
                out[e] = _entry_hash(indices, a + e, key_hash, id_offset, seed_key)
            if hr >= 0:
                hll_from_hashes(out, p, registers[hr])
            continue
        frac = slack / d
        thr = ~_ZERO if frac >= 1.0 else np.uint64(frac * 18446744073709551616.0)
        cand = np.empty(cap, dtype=np.uint64)
        n = 0
        reg = registers[max(hr, 0)]
        for e in range(a, b):
            h = _entry_hash(indices, e, key_hash, id_offset, seed_key)
            if hr >= 0:
                idx, rank = _register(h, p, q)
                reg[idx] = max(reg[idx], rank)
            if h < thr:
                if n < cap:
                    cand[n] = h
                n += 1
        if K <= n <= cap:
            c = cand[:n]
            c.sort()
            out[:] = c[:K]
        else:
            _heap_pass(indptr, indices, key_hash, id_offset, seed_key, a, d, out)


@njit(nogil=True, cache=True)
def hll_from_hashes(hashes, p, reg):
    """Raise the registers ``reg`` (uint8, 2**p) by every hash of ``hashes`` (merge by max)."""
    q = 64 - p
    for e in range(hashes.shape[0]):
        idx, rank = _register(hashes[e], p, q)
        if rank > reg[idx]:
            reg[idx] = rank


@njit(nogil=True, cache=True)
def hll_histogram(reg, q):
    """``C[v]`` = registers holding value v, v = 0..q+1 (input of Ertl's estimator)."""
    c = np.zeros(q + 2, dtype=np.int64)
    for i in range(reg.shape[0]):
        c[reg[i]] += 1
    return c


@njit(nogil=True, cache=True)
def sample_masks(hashes, starts, ends, theta, exact_all):
    """Membership masks of the followers sampled below ``theta`` from k sorted hash lists.

    ``hashes[starts[i]:ends[i]]`` is creator i's sorted list (k <= 64). A hash is
    sampled when ``hash < theta`` (or always when ``exact_all``). Returns the
    uint64 masks (bit i = in creator i's list), one per distinct sampled hash.
    """
    k = starts.shape[0]
    total = 0
    for i in range(k):
        total += ends[i] - starts[i]
    hv = np.empty(total, dtype=np.uint64)
    owner = np.empty(total, dtype=np.uint64)
    n = 0
    for i in range(k):
        for e in range(starts[i], ends[i]):
            x = hashes[e]
            if not exact_all and x >= theta:
                break  # sorted: the rest are larger
            hv[n] = x
            owner[n] = _ONE << np.uint64(i)
            n += 1
    order = np.argsort(hv[:n])
    masks = np.empty(n, dtype=np.uint64)
    m = 0
    prev = _ZERO
    for t in range(n):
        x = hv[order[t]]
        if m > 0 and x == prev:
            masks[m - 1] |= owner[order[t]]
        else:
            masks[m] = owner[order[t]]
            prev = x
            m += 1
    return masks[:m]


@njit(nogil=True, cache=True)
def pair_samples(hashes, starts, ends, thetas, exact):
    """For every pair (i, j): the sampled union ``s`` and intersection ``c`` below
    ``min(theta_i, theta_j)`` (every hash when both are exact), and ``n[i, j]``, how many
    of i's hashes lie below that threshold, by a sorted merge.

    Returns int64 (k, k) arrays ``s``, ``c`` (symmetric) and ``n``; the diagonal is unused.
    """
    k = starts.shape[0]
    s = np.zeros((k, k), dtype=np.int64)
    c = np.zeros((k, k), dtype=np.int64)
    n = np.zeros((k, k), dtype=np.int64)
    for i in range(k):
        for j in range(i + 1, k):
            both_exact = exact[i] and exact[j]
            if both_exact:
                th = ~_ZERO
            elif exact[i]:
                th = thetas[j]
            elif exact[j]:
                th = thetas[i]
            else:
                th = min(thetas[i], thetas[j])
            a, ae = starts[i], ends[i]
            b, be = starts[j], ends[j]
            nu = 0
            ni = 0
            na = 0
            while True:
                xa = hashes[a] if a < ae else ~_ZERO
                xb = hashes[b] if b < be else ~_ZERO
                if not both_exact:
                    if xa >= th:
                        xa = ~_ZERO
                        a = ae
                    if xb >= th:
                        xb = ~_ZERO
                        b = be
                if a >= ae and b >= be:
                    break
                nu += 1
                if a < ae and b < be and xa == xb:
                    ni += 1
                    na += 1
                    a += 1
                    b += 1
                elif b >= be or (a < ae and xa < xb):
                    na += 1
                    a += 1
                else:
                    b += 1
            s[i, j] = s[j, i] = nu
            c[i, j] = c[j, i] = ni
            n[i, j] = na
            n[j, i] = nu - na + ni
    return s, c, n


@njit(nogil=True, cache=True)
def merge_sorted_unique(hashes, K):
    """The ``K`` smallest distinct values of ``hashes`` (all of them if fewer), sorted, and
    the number of distinct values."""
    allh = hashes.copy()
    allh.sort()
    n = 0
    prev = _ZERO
    for t in range(allh.shape[0]):
        if n == 0 or allh[t] != prev:
            allh[n] = allh[t]
            prev = allh[t]
            n += 1
    return allh[:min(n, K)].copy(), n

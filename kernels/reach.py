"""Reach kernels: deduplicated reach, overlap, frequency and Venn regions of up to 64 creators.

Audiences are laid out as dense bitsets over account blocks, *words x creators*:
``bits[w, i]`` holds the followers of selected creator ``i`` among accounts
``64*w .. 64*w + 63``, so the k words of one block sit side by side. Only the
blocks that hold at least one follower are kept (``words`` lists them), so empty
stretches of the id space cost nothing.

One pass over those words (:func:`reach_counts`) gives, together, per-creator
audiences (the diagonal of the pairwise matrix), exclusive and in-order
incremental counts, the k x k pairwise intersection counts and the frequency
histogram (followers reached exactly f times, from vertical bit-sliced
counters). Counting uses the hardware popcount (LLVM ``ctpop``).

:func:`region_masks` turns the same bitsets into one creator-membership mask per
reached follower (a uint64, bit i = follows selected creator i);
:func:`count_regions` counts distinct masks into Venn/UpSet regions. When the
regions are few, :func:`counts_from_regions` derives the outputs of
:func:`reach_counts` from them for less work (:func:`region_pair_work` says
which is cheaper). :func:`expected_from_regions`
computes expected reach and the expected (Poisson-binomial) frequency
distribution region by region, since every follower of a region has the same
vector of exposure probabilities.

:func:`cooccurrence` counts, for one creator, its common followers with every
candidate through its followers' following-of rows (no matrix is built;
:func:`restrict_rows` keeps only the candidates' columns of those rows);
:func:`uncovered_counts` gives every candidate's followers not yet covered by a
set (incremental reach).

Arrays in, arrays out; no validation here.
"""

import numpy as np
from numba import config, njit, prange, types
from numba.extending import intrinsic

_ONE = np.uint64(1)
_ZERO = np.uint64(0)
_SIX = np.uint64(6)
_LOW6 = np.uint64(63)
_PLANES = 7  # bit planes of a per-follower counter: frequencies 0..127 >= 64 creators


if config.DISABLE_JIT:  # plain Python: kernels still run, e.g. under coverage

    def popcount(x):
        """Number of set bits of a uint64."""
        return bin(int(x)).count("1")

else:

    @intrinsic
    def _ctpop(typingctx, x):
        sig = types.int64(types.uint64)

        def codegen(context, builder, signature, args):
            return builder.ctpop(args[0])

        return sig, codegen

    @njit(types.int64(types.uint64), inline="always", nogil=True, cache=True)
    def popcount(x):
        """Number of set bits of a uint64 (LLVM ``ctpop``: one instruction with POPCNT)."""
        return _ctpop(x)


@njit(nogil=True, cache=True)
def build_bitsets(in_indptr, in_indices, sel, n_accounts, allowed, use_allowed):
    """Audience bitsets of the selected creators over the non-empty 64-account blocks.

    Parameters
    ----------
    in_indptr, in_indices : followers-of CSR (sorted rows).
    sel : int64 array of k internal creator ids (k <= 64, distinct).
    n_accounts : number of accounts.
    allowed : bool array (n_accounts) of followers that count; read only when
        ``use_allowed``.

    Returns
    -------
    words : int64 array of the non-empty block numbers, increasing.
    bits : uint64 array (len(words), k); ``bits[j, i]`` = followers of creator i
        in block ``words[j]``.
    """
    k = sel.shape[0]
    n_blocks = (n_accounts + 63) >> 6
    slot = np.full(n_blocks, -1, dtype=np.int64)
    for i in range(k):
        c = sel[i]
        for p in range(in_indptr[c], in_indptr[c + 1]):
            u = in_indices[p]
            if use_allowed and not allowed[u]:
                continue
            slot[u >> 6] = 0
    n_words = 0
    for b in range(n_blocks):
        if slot[b] == 0:
            slot[b] = n_words
            n_words += 1
    words = np.empty(n_words, dtype=np.int64)
    for b in range(n_blocks):
        if slot[b] >= 0:
            words[slot[b]] = b
    bits = np.zeros((n_words, k), dtype=np.uint64)
    for i in range(k):
        c = sel[i]
        for p in range(in_indptr[c], in_indptr[c + 1]):
            u = in_indices[p]
            if use_allowed and not allowed[u]:
                continue
            uu = np.uint64(u)
            bits[slot[u >> 6], i] |= _ONE << (uu & _LOW6)
    return words, bits


@njit(nogil=True, cache=True)
def _fill_dense(in_indptr, in_indices, sel, bits, a0, a1, allowed, use_allowed):
    """Set the bits of accounts ``a0 <= u < a1`` of every selected audience (dense layout)."""
    for i in range(sel.shape[0]):
        c = sel[i]
        row = in_indices[in_indptr[c]:in_indptr[c + 1]]
        lo = np.searchsorted(row, a0) if a0 > 0 else 0
        hi = np.searchsorted(row, a1) if a1 < bits.shape[0] * 64 else row.shape[0]
        for p in range(lo, hi):
            u = row[p]
            if use_allowed and not allowed[u]:
                continue
            uu = np.uint64(u)
            bits[u >> 6, i] |= _ONE << (uu & _LOW6)


@njit(nogil=True, cache=True)
def build_bitsets_dense(in_indptr, in_indices, sel, n_accounts, allowed, use_allowed):
    """:func:`build_bitsets` keeping every block, with no compaction pass (for audiences
    that cover most blocks). Returns ``(words, bits)``; ``words`` = every block number."""
    n_blocks = (n_accounts + 63) >> 6
    bits = np.zeros((n_blocks, sel.shape[0]), dtype=np.uint64)
    _fill_dense(in_indptr, in_indices, sel, bits, 0, n_blocks * 64, allowed, use_allowed)
    return np.arange(n_blocks, dtype=np.int64), bits


@njit(nogil=True, cache=True, parallel=True)
def build_bitsets_dense_parallel(in_indptr, in_indices, sel, n_accounts, allowed, use_allowed,
                                 n_chunks):
    """:func:`build_bitsets_dense` on ``n_chunks`` threads.

    Threads fill disjoint ranges of blocks: each finds, by binary search in the
    sorted follower rows, the part of every audience inside its range, so no two
    threads write the same word.
    """
    n_blocks = (n_accounts + 63) >> 6
    bits = np.zeros((n_blocks, sel.shape[0]), dtype=np.uint64)
    n_chunks = max(1, min(n_chunks, n_blocks))
    step = (n_blocks + n_chunks - 1) // n_chunks
    for t in prange(n_chunks):
        _fill_dense(in_indptr, in_indices, sel, bits, t * step * 64,
                    min(n_blocks, (t + 1) * step) * 64, allowed, use_allowed)
    return np.arange(n_blocks, dtype=np.int64), bits


@njit(nogil=True, cache=True)
def _count_block(bits, lo, hi, pair, exclusive, incremental, exactly):
    k = bits.shape[1]
    suffix = np.empty(k + 1, dtype=np.uint64)
    planes = np.empty(_PLANES, dtype=np.uint64)
    for j in range(lo, hi):
        row = bits[j]
        suffix[k] = _ZERO
        for a in range(k - 1, -1, -1):
            suffix[a] = suffix[a + 1] | row[a]
        if suffix[0] == _ZERO:
            continue  # an empty block (dense layout)
        # pairwise (upper triangle and diagonal)
        for a in range(k):
            x = row[a]
            if x == _ZERO:
                continue
            pair[a, a] += popcount(x)
            for b in range(a + 1, k):
                pair[a, b] += popcount(x & row[b])
        # exclusive and incremental from prefix / suffix ORs
        prefix = _ZERO
        for a in range(k):
            x = row[a]
            incremental[a] += popcount(x & ~prefix)
            exclusive[a] += popcount(x & ~(prefix | suffix[a + 1]))
            prefix |= x
        # frequency: add each creator's word into vertical bit-sliced counters
        for q in range(_PLANES):
            planes[q] = _ZERO
        for a in range(k):
            carry = row[a]
            q = 0
            while carry != _ZERO and q < _PLANES:
                t = planes[q] & carry
                planes[q] ^= carry
                carry = t
                q += 1
        union = suffix[0]
        for f in range(1, k + 1):
            sel_bits = union
            for q in range(_PLANES):
                if (f >> q) & 1:
                    sel_bits &= planes[q]
                else:
                    sel_bits &= ~planes[q]
                if sel_bits == _ZERO:
                    break
            if sel_bits != _ZERO:
                exactly[f] += popcount(sel_bits)


@njit(nogil=True, cache=True, parallel=True)
def reach_counts(bits, n_chunks):
    """Audience, exclusive, in-order incremental, pairwise and frequency counts in one pass.

    Parameters
    ----------
    bits : uint64 array (n_words, k) from :func:`build_bitsets`.
    n_chunks : number of word chunks counted in parallel (each into its own buffers).

    Returns
    -------
    pair : int64 (k, k), symmetric; the diagonal holds the audiences.
    exclusive : int64 (k,): followers of i and of no other selected creator.
    incremental : int64 (k,): followers of i not following any of creators 0..i-1.
    exactly : int64 (k + 1,): ``exactly[f]`` followers follow exactly f creators
        (``exactly[0]`` is 0).
    """
    n_words, k = bits.shape
    n_chunks = max(1, min(n_chunks, n_words))
    pair_t = np.zeros((n_chunks, k, k), dtype=np.int64)
    excl_t = np.zeros((n_chunks, k), dtype=np.int64)
    inc_t = np.zeros((n_chunks, k), dtype=np.int64)
    ex_t = np.zeros((n_chunks, k + 1), dtype=np.int64)
    step = (n_words + n_chunks - 1) // n_chunks
    for t in prange(n_chunks):
        _count_block(bits, t * step, min(n_words, (t + 1) * step), pair_t[t], excl_t[t],
                     inc_t[t], ex_t[t])
    pair = np.zeros((k, k), dtype=np.int64)
    exclusive = np.zeros(k, dtype=np.int64)
    incremental = np.zeros(k, dtype=np.int64)
    exactly = np.zeros(k + 1, dtype=np.int64)
    for t in range(n_chunks):
        pair += pair_t[t]
        exclusive += excl_t[t]
        incremental += inc_t[t]
        exactly += ex_t[t]
    _mirror(pair)
    return pair, exclusive, incremental, exactly


@njit(nogil=True, cache=True)
def reach_counts_serial(bits):
    """:func:`reach_counts` on the calling thread only (small inputs: no thread start-up)."""
    k = bits.shape[1]
    pair = np.zeros((k, k), dtype=np.int64)
    exclusive = np.zeros(k, dtype=np.int64)
    incremental = np.zeros(k, dtype=np.int64)
    exactly = np.zeros(k + 1, dtype=np.int64)
    _count_block(bits, 0, bits.shape[0], pair, exclusive, incremental, exactly)
    _mirror(pair)
    return pair, exclusive, incremental, exactly


@njit(nogil=True, cache=True)
def _mirror(pair):
    """Copy the upper triangle of the pairwise counts (the only one counted) below the diagonal."""
    for a in range(pair.shape[0]):
        for b in range(a + 1, pair.shape[0]):
            pair[b, a] = pair[a, b]


@njit(nogil=True, cache=True)
def region_masks(bits):
    """Membership mask of every reached follower (bit i set = follows selected creator i).

    Returns a uint64 array with one entry per follower in the union, in account order.
    """
    n_words, k = bits.shape
    total = 0
    for j in range(n_words):
        u = _ZERO
        for a in range(k):
            u |= bits[j, a]
        total += popcount(u)
    masks = np.empty(total, dtype=np.uint64)
    w = 0
    tmp = np.zeros(64, dtype=np.uint64)
    for j in range(n_words):
        for b in range(64):
            tmp[b] = _ZERO
        union = _ZERO
        for a in range(k):
            x = bits[j, a]
            union |= x
            bit_a = _ONE << np.uint64(a)
            while x != _ZERO:
                low = x & (~x + _ONE)
                tmp[popcount(low - _ONE)] |= bit_a
                x ^= low
        while union != _ZERO:
            low = union & (~union + _ONE)
            masks[w] = tmp[popcount(low - _ONE)]
            w += 1
            union ^= low
    return masks


@njit(nogil=True, cache=True)
def region_pair_work(region_mask):
    """Σ over regions of f(f+1)/2, f = creators in the region: the work of
    :func:`counts_from_regions`, to compare with ``n_words * k(k+1)/2`` for :func:`reach_counts`."""
    w = 0
    for r in range(region_mask.shape[0]):
        f = popcount(region_mask[r])
        w += f * (f + 1) // 2
    return w


@njit(nogil=True, cache=True)
def counts_from_regions(region_mask, region_count, k):
    """The outputs of :func:`reach_counts`, derived from the Venn region counts.

    A region with mask m and n followers adds n to ``pair[a, b]`` for every a, b in m,
    to ``exactly[|m|]``, to ``exclusive[a]`` when m = {a}, and to the ``incremental``
    reach of its first creator.
    """
    pair = np.zeros((k, k), dtype=np.int64)
    exclusive = np.zeros(k, dtype=np.int64)
    incremental = np.zeros(k, dtype=np.int64)
    exactly = np.zeros(k + 1, dtype=np.int64)
    members = np.empty(64, dtype=np.int64)
    for r in range(region_mask.shape[0]):
        m = region_mask[r]
        n = region_count[r]
        f = 0
        while m != _ZERO:
            low = m & (~m + _ONE)
            members[f] = popcount(low - _ONE)
            f += 1
            m ^= low
        if f == 0:
            continue
        exactly[f] += n
        incremental[members[0]] += n
        if f == 1:
            exclusive[members[0]] += n
        for x in range(f):
            a = members[x]
            for y in range(x, f):
                pair[a, members[y]] += n
    for a in range(k):
        for b in range(a + 1, k):
            pair[b, a] = pair[a, b]
    return pair, exclusive, incremental, exactly


@njit(nogil=True, cache=True)
def regions_of_blocks(in_indptr, in_indices, sel, bits, b0, b1, allowed, use_allowed):
    """Fill blocks ``b0 <= b < b1`` of a dense ``bits`` array and count their Venn regions.

    Callers run disjoint block ranges on separate threads (the kernel releases the
    GIL), then merge the per-range ``(masks, counts)``.
    """
    _fill_dense(in_indptr, in_indices, sel, bits, b0 * 64, b1 * 64, allowed, use_allowed)
    return count_regions(region_masks(bits[b0:b1]), sel.shape[0])


@njit(nogil=True, cache=True)
def count_regions(masks, k):
    """Distinct masks (increasing) and how many followers have each.

    Up to 20 creators the masks are counted in a dense table of ``2**k`` cells;
    above, in a hash table.
    """
    if k <= 20:
        table = np.zeros(1 << k, dtype=np.int64)
        for i in range(masks.shape[0]):
            table[masks[i]] += 1
        n_uniq = 0
        for m in range(table.shape[0]):
            if table[m] != 0:
                n_uniq += 1
        uniq = np.empty(n_uniq, dtype=np.uint64)
        counts = np.empty(n_uniq, dtype=np.int64)
        r = 0
        for m in range(table.shape[0]):
            if table[m] != 0:
                uniq[r] = m
                counts[r] = table[m]
                r += 1
        return uniq, counts
    return _hash_count(masks)


_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_HASH_MAX_BITS = 16  # a larger table misses the cache on every insert: sorting wins


@njit(nogil=True, cache=True)
def _sort_count(masks):
    s = np.sort(masks)
    n = s.shape[0]
    n_uniq = 0
    for i in range(n):
        if i == 0 or s[i] != s[i - 1]:
            n_uniq += 1
    uniq = np.empty(n_uniq, dtype=np.uint64)
    counts = np.zeros(n_uniq, dtype=np.int64)
    r = -1
    for i in range(n):
        if i == 0 or s[i] != s[i - 1]:
            r += 1
            uniq[r] = s[i]
        counts[r] += 1
    return uniq, counts


@njit(nogil=True, cache=True)
def _hash_count(masks):
    """Distinct masks (increasing) and their counts with an open-addressing hash table
    that doubles when half full (regions are usually far fewer than followers); past
    ``2**_HASH_MAX_BITS`` cells it sorts instead."""
    bits = 12
    cap = 1 << bits
    keys = np.zeros(cap, dtype=np.uint64)
    vals = np.zeros(cap, dtype=np.int64)
    used = np.zeros(cap, dtype=np.bool_)
    n_uniq = 0
    for i in range(masks.shape[0]):
        m = masks[i]
        h = np.int64((m * _GOLDEN) >> np.uint64(64 - bits))
        while used[h] and keys[h] != m:
            h = (h + 1) & (cap - 1)
        if used[h]:
            vals[h] += 1
            continue
        used[h] = True
        keys[h] = m
        vals[h] = 1
        n_uniq += 1
        if 2 * n_uniq > cap:  # grow and rehash, or sort once the table leaves the cache
            if bits >= _HASH_MAX_BITS:
                return _sort_count(masks)
            old_k, old_v, old_u = keys, vals, used
            bits += 1
            cap = 1 << bits
            keys = np.zeros(cap, dtype=np.uint64)
            vals = np.zeros(cap, dtype=np.int64)
            used = np.zeros(cap, dtype=np.bool_)
            for j in range(old_k.shape[0]):
                if old_u[j]:
                    x = old_k[j]
                    g = np.int64((x * _GOLDEN) >> np.uint64(64 - bits))
                    while used[g]:
                        g = (g + 1) & (cap - 1)
                    used[g] = True
                    keys[g] = x
                    vals[g] = old_v[j]
    uniq = np.empty(n_uniq, dtype=np.uint64)
    cnt = np.empty(n_uniq, dtype=np.int64)
    r = 0
    for h in range(cap):
        if used[h]:
            uniq[r] = keys[h]
            cnt[r] = vals[h]
            r += 1
    order = np.argsort(uniq)
    return uniq[order], cnt[order]


@njit(nogil=True, cache=True)
def expected_from_regions(region_mask, region_count, p):
    """Expected reach and expected frequency distribution from region counts.

    A follower in region ``m`` sees creator i (with ``i`` in ``m``) independently
    with probability ``p[i]``; its number of creators seen is Poisson-binomial.

    Returns
    -------
    expected_reach : float, Σ_regions count · (1 − Π_{i∈m} (1 − p_i)).
    expected_exactly : float64 (k + 1,): expected followers seeing exactly f creators
        (f = 0 counts reached-by-audience followers who see none).
    """
    k = p.shape[0]
    dist = np.zeros(k + 1, dtype=np.float64)
    out = np.zeros(k + 1, dtype=np.float64)
    reach = 0.0
    for r in range(region_mask.shape[0]):
        m = region_mask[r]
        c = float(region_count[r])
        dist[0] = 1.0
        n_in = 0
        miss = 1.0
        while m != _ZERO:
            low = m & (~m + _ONE)
            q = p[popcount(low - _ONE)]
            m ^= low
            miss *= 1.0 - q
            n_in += 1
            dist[n_in] = dist[n_in - 1] * q
            for f in range(n_in - 1, 0, -1):
                dist[f] = dist[f] * (1.0 - q) + dist[f - 1] * q
            dist[0] *= 1.0 - q
        reach += c * (1.0 - miss)
        for f in range(n_in + 1):
            out[f] += c * dist[f]
    return reach, out


@njit(nogil=True, cache=True, parallel=True)
def restrict_rows(indptr, indices, slot):
    """A CSR keeping only the entries whose column has a slot (``slot[v] >= 0``),
    renumbered to slots; e.g. following-of rows restricted to the creators."""
    n = indptr.shape[0] - 1
    keep = np.zeros(n + 1, dtype=np.int64)
    for r in prange(n):
        c = 0
        for p in range(indptr[r], indptr[r + 1]):
            if slot[indices[p]] >= 0:
                c += 1
        keep[r + 1] = c
    for r in range(n):
        keep[r + 1] += keep[r]
    out = np.empty(keep[n], dtype=np.int32)
    for r in prange(n):
        w = keep[r]
        for p in range(indptr[r], indptr[r + 1]):
            s = slot[indices[p]]
            if s >= 0:
                out[w] = s
                w += 1
    return keep, out


@njit(nogil=True, cache=True)
def cooccurrence(in_indptr, in_indices, c, allowed, use_allowed, r_indptr, r_indices, n_slots,
                 skip):
    """Common followers of account ``c`` with every candidate its followers follow.

    ``r_indptr``/``r_indices`` are the following-of rows with candidates numbered
    ``0..n_slots-1`` (all accounts, or those of :func:`restrict_rows`); slot ``skip``
    (c's own, or -1) is left out. No matrix is built: the work is the following-of
    rows of c's followers.

    Returns ``(slots, counts)``: the candidate slots sharing at least one follower,
    increasing, and the number of shared followers.
    """
    counts_all = np.zeros(n_slots, dtype=np.int32)
    for p in range(in_indptr[c], in_indptr[c + 1]):
        u = in_indices[p]
        if use_allowed and not allowed[u]:
            continue
        for q in range(r_indptr[u], r_indptr[u + 1]):
            counts_all[r_indices[q]] += 1
    if skip >= 0:
        counts_all[skip] = 0
    n_touched = 0
    for v in range(n_slots):  # one sequential scan gives the slots in order, no sort
        if counts_all[v] != 0:
            n_touched += 1
    slots = np.empty(n_touched, dtype=np.int64)
    counts = np.empty(n_touched, dtype=np.int64)
    i = 0
    for v in range(n_slots):
        if counts_all[v] != 0:
            slots[i] = v
            counts[i] = counts_all[v]
            i += 1
    return slots, counts


@njit(nogil=True, cache=True)
def filtered_degree(in_indptr, in_indices, accounts, allowed, use_allowed):
    """Followers of each of ``accounts`` that are ``allowed`` (the plain in-degree otherwise)."""
    n = accounts.shape[0]
    out = np.zeros(n, dtype=np.int64)
    for i in range(n):
        c = accounts[i]
        if not use_allowed:
            out[i] = in_indptr[c + 1] - in_indptr[c]
            continue
        s = 0
        for p in range(in_indptr[c], in_indptr[c + 1]):
            if allowed[in_indices[p]]:
                s += 1
        out[i] = s
    return out


@njit(nogil=True, cache=True, parallel=True)
def uncovered_counts(in_indptr, in_indices, candidates, covered, allowed, use_allowed):
    """Incremental reach of every candidate over a covered set.

    ``covered`` is a bool array of accounts already reached; returns, for each
    candidate, its (allowed) followers that are not covered.
    """
    n = candidates.shape[0]
    out = np.zeros(n, dtype=np.int64)
    for i in prange(n):
        c = candidates[i]
        s = 0
        for p in range(in_indptr[c], in_indptr[c + 1]):
            u = in_indices[p]
            if covered[u]:
                continue
            if use_allowed and not allowed[u]:
                continue
            s += 1
        out[i] = s
    return out


@njit(nogil=True, cache=True)
def covered_mask(in_indptr, in_indices, sel, n_accounts, allowed, use_allowed):
    """Bool array of the accounts following any of ``sel`` (allowed ones only)."""
    cov = np.zeros(n_accounts, dtype=np.bool_)
    for i in range(sel.shape[0]):
        c = sel[i]
        for p in range(in_indptr[c], in_indptr[c + 1]):
            u = in_indices[p]
            if use_allowed and not allowed[u]:
                continue
            cov[u] = True
    return cov

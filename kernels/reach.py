"""Reach kernels: Venn regions of a set of creators, and every count derived from them.

One pass over the selected creators' sorted follower rows, a chunk of accounts at
a time, gives every follower its creator-membership mask (bit i = follows selected
creator i); the distinct masks and how many followers have each are the Venn/UpSet
regions (:func:`regions_table` counts them in a ``2**k`` table for up to
:data:`TABLE_MAX_K` creators, :func:`regions_hashed` in a hash table of multi-word
masks for any number). Regions are far fewer than followers, and every other output
follows from them exactly: :func:`summarize_regions` gives, in one pass over the
regions, the pairwise intersections (audiences on the diagonal), exclusive and
in-order incremental reach, the frequency histogram, and expected reach and the
expected (Poisson-binomial) frequency distribution, since all the followers of a
region share one vector of exposure probabilities.

:func:`add_cooccurrence` counts, for one creator, its common followers with every
candidate through its followers' following-of rows (no matrix is built;
:func:`restrict_rows` keeps only the candidates' columns of those rows) and
:func:`top_similar` keeps the k best by Jaccard or overlap coefficient;
:func:`uncovered_counts` gives every candidate's followers not yet covered by a
set (incremental reach).

Arrays in, arrays out; no validation here.
"""

import numpy as np
from kolgraph.kernels._bits import fill_bitset, get_bit, popcount
from kolgraph.kernels._rng import GOLDEN
from kolgraph.kernels.csr import filter_rows, filtered_counts
from numba import njit, prange

_ONE = np.uint64(1)
_ZERO = np.uint64(0)

CHUNK = 4096  # accounts per pass: their masks (32 KiB per mask word) stay in L1/L2
TABLE_MAX_K = 20  # up to this many creators, regions are counted in a 2**k table (4 MiB)


@njit(nogil=True, cache=True)
def _row_ranges(in_indptr, in_indices, sel, a0, a1):
    """Positions of the followers ``a0 <= u < a1`` in each selected (sorted) follower row."""
    k = sel.shape[0]
    pos = np.empty(k, dtype=np.int64)
    end = np.empty(k, dtype=np.int64)
    for i in range(k):
        s = in_indptr[sel[i]]
        row = in_indices[s:in_indptr[sel[i] + 1]]
        pos[i] = s + np.searchsorted(row, a0)
        end[i] = s + np.searchsorted(row, a1)
    return pos, end


@njit(nogil=True, cache=True)
def _scatter(in_indices, pos, end, i, hi, lo, buf, bit, allowed, use_allowed):
    """OR ``bit`` into the mask ``buf[u - lo]`` of every follower ``u < hi`` of creator ``i``
    (from ``pos[i]`` on), then advance ``pos[i]``. Branch-free on the filter."""
    p = pos[i]
    e = end[i]
    while p < e:
        u = in_indices[p]
        if u >= hi:
            break
        if use_allowed:
            buf[u - lo] |= bit * np.uint64(allowed[u])
        else:
            buf[u - lo] |= bit
        p += 1
    pos[i] = p


@njit(nogil=True, cache=True)
def regions_table(in_indptr, in_indices, sel, a0, a1, allowed, use_allowed, dense_of, dense_bits):
    """Venn regions of up to :data:`TABLE_MAX_K` creators over accounts ``a0 <= u < a1``.

    Accounts are taken :data:`CHUNK` at a time: every selected follower row (sorted)
    ORs its creator's bit into the membership mask of its followers in the chunk,
    then each mask bumps its cell of a ``2**k`` table. The loop has no data-dependent
    branch (accounts outside every audience count in cell 0, ignored), so nothing
    waits on a mispredicted branch or on the previous count.

    A creator with a prebuilt audience bitset (``dense_bits[dense_of[i]]``, when
    ``dense_of[i] >= 0``; unfiltered calls only, ``a0`` a multiple of 64) sets its
    bit from the bitset's words instead, 64 accounts per word: cheaper than
    reading its sorted row when the audience is dense.

    Returns
    -------
    masks : uint64 (n_regions,), increasing: bit i set = follows selected creator i.
    counts : int64 (n_regions,): followers with exactly that membership.
    """
    table = np.zeros(1 << sel.shape[0], dtype=np.int32)
    k = sel.shape[0]
    pos, end = _row_ranges(in_indptr, in_indices, sel, a0, a1)
    buf = np.zeros(CHUNK, dtype=np.uint64)
    for lo in range(a0, a1, CHUNK):
        hi = min(lo + CHUNK, a1)
        for i in range(k):
            bit = _ONE << np.uint64(i)
            if dense_of[i] >= 0:
                _expand_words(dense_bits[dense_of[i]], lo, hi, buf, bit)
            else:
                _scatter(in_indices, pos, end, i, hi, lo, buf, bit, allowed, use_allowed)
        for j in range(hi - lo):
            table[buf[j]] += 1
            buf[j] = _ZERO
    return table_regions(table)


@njit(nogil=True, cache=True)
def _expand_words(row, lo, hi, buf, bit):
    """OR ``bit`` into ``buf[u - lo]`` for every set bit u of bitset ``row`` in ``lo <= u < hi``
    (``lo`` a multiple of 64; bits past the last account are 0). Branch-free per account."""
    w0 = lo >> 6
    for w in range((hi - lo + 63) >> 6):
        x = row[w0 + w]
        if x == _ZERO:
            continue
        seg = buf[w << 6:(w << 6) + 64]
        for j in range(64):
            seg[j] |= bit & (_ZERO - ((x >> np.uint64(j)) & _ONE))


@njit(nogil=True, cache=True)
def table_regions(table):
    """The non-empty cells of a mask count table but cell 0: ``(masks, counts)``, increasing."""
    n = 0
    for m in range(1, table.shape[0]):
        n += table[m] != 0
    masks = np.empty(n, dtype=np.uint64)
    counts = np.empty(n, dtype=np.int64)
    r = 0
    for m in range(1, table.shape[0]):
        if table[m] != 0:
            masks[r] = m
            counts[r] = table[m]
            r += 1
    return masks, counts


@njit(nogil=True, cache=True)
def _slot(keys, vals, key, bits):
    """Open-addressing slot of ``key`` (a row of mask words): its own, or the empty one to fill."""
    h = _ZERO
    for w in range(key.shape[0]):
        h = (h + key[w]) * GOLDEN  # Fibonacci hashing
    cap = vals.shape[0]
    s = np.int64(h >> np.uint64(64 - bits))
    while vals[s] != 0:
        same = True
        for w in range(key.shape[0]):
            if keys[s, w] != key[w]:
                same = False
                break
        if same:
            return s
        s = (s + 1) & (cap - 1)
    return s


@njit(nogil=True, cache=True)
def regions_hashed(in_indptr, in_indices, sel, a0, a1, allowed, use_allowed):
    """Venn regions of any number of creators over accounts ``a0 <= u < a1``.

    As :func:`regions_table`, with masks of ``ceil(k / 64)`` words counted in a hash
    table that doubles when half full.

    Returns
    -------
    masks : uint64 (n_regions, ceil(k / 64)), in no particular order; creator i is bit
        ``i % 64`` of word ``i // 64``.
    counts : int64 (n_regions,).
    """
    k = sel.shape[0]
    n_w = (k + 63) >> 6
    pos, end = _row_ranges(in_indptr, in_indices, sel, a0, a1)
    buf = np.zeros((n_w, CHUNK), dtype=np.uint64)  # one row of masks per word
    bits = 10
    keys = np.zeros((1 << bits, n_w), dtype=np.uint64)
    vals = np.zeros(1 << bits, dtype=np.int64)
    n_uniq = 0
    key = np.empty(n_w, dtype=np.uint64)
    for lo in range(a0, a1, CHUNK):
        hi = min(lo + CHUNK, a1)
        for i in range(k):
            _scatter(in_indices, pos, end, i, hi, lo, buf[i >> 6], _ONE << np.uint64(i & 63),
                     allowed, use_allowed)
        for j in range(hi - lo):
            empty = True
            for w in range(n_w):
                key[w] = buf[w, j]
                buf[w, j] = _ZERO
                if key[w] != _ZERO:
                    empty = False
            if empty:
                continue
            s = _slot(keys, vals, key, bits)
            if vals[s] == 0:
                keys[s] = key
                n_uniq += 1
            vals[s] += 1
            if 2 * n_uniq > vals.shape[0]:  # grow and rehash
                old_k, old_v = keys, vals
                bits += 1
                keys = np.zeros((1 << bits, n_w), dtype=np.uint64)
                vals = np.zeros(1 << bits, dtype=np.int64)
                for q in range(old_v.shape[0]):
                    if old_v[q] != 0:
                        t = _slot(keys, vals, old_k[q], bits)
                        keys[t] = old_k[q]
                        vals[t] = old_v[q]
    masks = np.empty((n_uniq, n_w), dtype=np.uint64)
    counts = np.empty(n_uniq, dtype=np.int64)
    r = 0
    for s in range(vals.shape[0]):
        if vals[s] != 0:
            masks[r] = keys[s]
            counts[r] = vals[s]
            r += 1
    return masks, counts


@njit(nogil=True, cache=True)
def _members(mask, out):
    """Creators of a region (increasing) into ``out``; returns how many."""
    f = 0
    for w in range(mask.shape[0]):
        m = mask[w]
        while m != _ZERO:
            low = m & (~m + _ONE)
            out[f] = (w << 6) + popcount(low - _ONE)
            f += 1
            m ^= low
    return f


@njit(nogil=True, cache=True)
def summarize_regions(region_mask, region_count, p):
    """Every count of the report, and expected reach, from the Venn regions in one pass.

    A region with mask m and n followers adds n to ``pair[a, b]`` for every a, b in m,
    to ``exactly[|m|]``, to ``exclusive[a]`` when m = {a}, and to the ``incremental``
    reach of its first creator. Its followers see creator i (in m) independently with
    probability ``p[i]``, so the number of creators seen is Poisson-binomial: the
    region adds ``n · (1 − Π (1 − p_i))`` to expected reach and n times that
    distribution to the expected frequency.

    Parameters
    ----------
    region_mask : uint64 (n_regions, ceil(k / 64)) membership masks (creator i = bit
        ``i % 64`` of word ``i // 64``).
    region_count : int64 (n_regions,) followers per region.
    p : float64 (k,) probability that a follower of creator i sees it.

    Returns
    -------
    pair : int64 (k, k), symmetric; the diagonal holds the audiences.
    exclusive : int64 (k,): followers of i and of no other selected creator.
    incremental : int64 (k,): followers of i not following any of creators 0..i-1.
    exactly : int64 (k + 1,): ``exactly[f]`` followers follow exactly f creators
        (``exactly[0]`` is 0).
    expected_reach : float.
    expected_exactly : float64 (k + 1,): expected followers seeing exactly f creators
        (f = 0 counts reached-by-audience followers who see none).
    """
    k = p.shape[0]
    pair = np.zeros((k, k), dtype=np.int64)
    exclusive = np.zeros(k, dtype=np.int64)
    incremental = np.zeros(k, dtype=np.int64)
    exactly = np.zeros(k + 1, dtype=np.int64)
    dist = np.zeros(k + 1, dtype=np.float64)
    expected = np.zeros(k + 1, dtype=np.float64)
    members = np.empty(max(k, 1), dtype=np.int64)
    reach = 0.0
    for r in range(region_mask.shape[0]):
        n = region_count[r]
        f = _members(region_mask[r], members)
        if f == 0:
            continue
        exactly[f] += n
        incremental[members[0]] += n
        if f == 1:
            exclusive[members[0]] += n
        dist[0] = 1.0
        miss = 1.0
        for x in range(f):
            a = members[x]
            row = pair[a]
            for y in range(x, f):
                row[members[y]] += n
            q = p[a]
            miss *= 1.0 - q
            dist[x + 1] = dist[x] * q
            for g in range(x, 0, -1):
                dist[g] = dist[g] * (1.0 - q) + dist[g - 1] * q
            dist[0] *= 1.0 - q
        c = float(n)
        reach += c * (1.0 - miss)
        for g in range(f + 1):
            expected[g] += c * dist[g]
    for a in range(k):
        for b in range(a + 1, k):
            pair[b, a] = pair[a, b]
    return pair, exclusive, incremental, exactly, reach, expected


@njit(nogil=True, cache=True)
def restrict_rows(indptr, indices, slot):
    """A CSR keeping only the entries whose column has a slot (``slot[v] >= 0``),
    renumbered to slots; e.g. following-of rows restricted to the creators."""
    return filter_rows(indptr, indices, indptr[:0], True, slot, -1, True)


@njit(nogil=True, cache=True)
def add_cooccurrence(in_indices, p0, p1, allowed, use_allowed, r_indptr, r_indices, counts):
    """Add the candidate rows of followers ``in_indices[p0:p1]`` into ``counts``.

    ``r_indptr``/``r_indices`` are the following-of rows with candidates numbered
    ``0..len(counts)-1`` (all accounts, or those of :func:`restrict_rows`). With
    ``p0:p1`` the follower row of creator c, ``counts[s]`` becomes the common
    followers of c and candidate s; no matrix is built, the work is the candidate
    rows of c's followers. Callers split the row across threads, each with its own
    ``counts`` (the kernel releases the GIL), and add the arrays up.
    """
    for p in range(p0, p1):
        u = in_indices[p]
        if use_allowed and not allowed[u]:
            continue
        for q in range(r_indptr[u], r_indptr[u + 1]):
            counts[r_indices[q]] += 1


@njit(nogil=True, cache=True)
def top_similar(counts, skip, cand_idx, a, by_jaccard, k, in_indptr, in_indices, allowed,
                use_allowed):
    """The k candidates with the highest Jaccard (or overlap coefficient) with a creator.

    ``counts[s]`` = common followers with candidate slot s (:func:`add_cooccurrence`),
    ``a`` = the creator's audience; slot ``skip`` (the creator's own, or -1) and slots
    without common followers are left out. A candidate's audience is its in-degree,
    or its ``allowed`` followers when ``use_allowed``. One pass keeps the best k in
    insertion order, so ties go to the smaller slot (= smaller internal id).

    Returns
    -------
    slots, common, audience : int64 (<= k,), best first.
    """
    best = np.empty(k, dtype=np.float64)
    b_slot = np.empty(k, dtype=np.int64)
    b_common = np.empty(k, dtype=np.int64)
    b_aud = np.empty(k, dtype=np.int64)
    n = 0
    for s in range(counts.shape[0]):
        common = counts[s]
        if common == 0 or s == skip:
            continue
        x = cand_idx[s]
        if use_allowed:
            b = 0
            for p in range(in_indptr[x], in_indptr[x + 1]):
                b += allowed[in_indices[p]]
        else:
            b = in_indptr[x + 1] - in_indptr[x]
        if by_jaccard:
            score = common / (a + b - common)
        else:
            score = common / max(min(a, b), 1.0)
        # slots come in increasing order, so equal scores keep the earlier slot first
        n = _insert_top(best, b_slot, b_common, b_aud, n, k, score, s, common, b)
    return b_slot[:n].copy(), b_common[:n].copy(), b_aud[:n].copy()


@njit(nogil=True, cache=True)
def audience_bitset(in_indptr, in_indices, c, n_words):
    """The followers of account ``c`` as a bitset of ``n_words`` uint64 words."""
    bits = np.zeros(n_words, dtype=np.uint64)
    fill_bitset(in_indices, in_indptr[c], in_indptr[c + 1], bits)
    return bits


@njit(nogil=True, cache=True)
def _count_in_bitset(in_indices, p0, p1, bits):
    """How many of ``in_indices[p0:p1]`` are set in ``bits`` (four independent sums, so
    the loads overlap)."""
    c0 = c1 = c2 = c3 = _ZERO
    p = p0
    while p + 4 <= p1:
        c0 += get_bit(bits, in_indices[p])
        c1 += get_bit(bits, in_indices[p + 1])
        c2 += get_bit(bits, in_indices[p + 2])
        c3 += get_bit(bits, in_indices[p + 3])
        p += 4
    while p < p1:
        c0 += get_bit(bits, in_indices[p])
        p += 1
    return np.int64(c0 + c1 + c2 + c3)


@njit(nogil=True, cache=True)
def _insert_top(best, b_idx, b_common, b_aud, n, k, score, x, common, b):
    """Put candidate ``x`` into the best-first top-k arrays (score desc, then idx asc);
    returns the new count."""
    if n == k and (score < best[k - 1] or (score == best[k - 1] and x > b_idx[k - 1])):
        return n
    i = n if n < k else k - 1
    while i > 0 and (best[i - 1] < score or (best[i - 1] == score and b_idx[i - 1] > x)):
        best[i] = best[i - 1]
        b_idx[i] = b_idx[i - 1]
        b_common[i] = b_common[i - 1]
        b_aud[i] = b_aud[i - 1]
        i -= 1
    best[i] = score
    b_idx[i] = x
    b_common[i] = common
    b_aud[i] = b
    return min(n + 1, k)


@njit(nogil=True, cache=True)
def top_jaccard_by_size(in_indptr, in_indices, c, qbits, by_size, sizes, bit_row, bits,
                        cum_cost, k, budget):
    """Top-k Jaccard with account ``c``, visiting candidates by audience size (exact).

    ``|A∩B| / |A∪B| <= min(a, b) / max(a, b)``: a candidate whose size alone caps
    its Jaccard below the k-th best found cannot enter the top k (the size filter
    of exact set-similarity joins). Candidates are visited from sizes nearest
    ``a = |F(c)|`` outwards, best bound first, until no remaining bound reaches the
    k-th score. Common followers: a popcount of ``qbits & bits[row]`` when the
    candidate has a prebuilt bitset (``bit_row >= 0``), else its follower row
    tested against ``qbits`` (c's bitset). Once k candidates are in, the candidates
    still to visit are known (their sizes are within the bounds), and so is their
    cost: when it passes ``budget``, the search gives up at once.

    Parameters
    ----------
    by_size, sizes : candidate account ids sorted by audience (then id), and audiences.
    bit_row : int64 per position of ``by_size``: its row of ``bits`` (its audience as a
        bitset), or -1.
    cum_cost : int64, ``cum_cost[i]`` = work of visiting positions ``0..i-1`` (words of
        a bitset, else row entries).
    budget : give up (return ``ok=False``) when the work (row entries + words) would
        pass it.

    Returns
    -------
    ok, idx, common, audience : the top candidates best first (ties to the smaller id).
    """
    a = float(in_indptr[c + 1] - in_indptr[c])
    best = np.empty(k, dtype=np.float64)
    b_idx = np.empty(k, dtype=np.int64)
    b_common = np.empty(k, dtype=np.int64)
    b_aud = np.empty(k, dtype=np.int64)
    n = 0
    n_cand = by_size.shape[0]
    hi = np.searchsorted(sizes, a)  # sizes[hi:] >= a, visited upwards; [:hi] downwards
    lo = hi - 1
    work = 0
    n_words = qbits.shape[0]
    while lo >= 0 or hi < n_cand:
        bound_lo = sizes[lo] / a if lo >= 0 else -1.0
        bound_hi = a / sizes[hi] if hi < n_cand else -1.0
        if bound_lo >= bound_hi:
            pos = lo
            bound = bound_lo
            lo -= 1
        else:
            pos = hi
            bound = bound_hi
            hi += 1
        if n == k and bound < best[k - 1]:
            break
        x = by_size[pos]
        if x == c:
            continue
        common = 0
        if bit_row[pos] >= 0:
            row = bits[bit_row[pos]]
            for w in range(n_words):
                common += popcount(qbits[w] & row[w])
            work += n_words
        else:
            common = _count_in_bitset(in_indices, in_indptr[x], in_indptr[x + 1], qbits)
            work += in_indptr[x + 1] - in_indptr[x]
        if work > budget:
            return False, b_idx[:0].copy(), b_common[:0].copy(), b_aud[:0].copy()
        if common == 0:
            continue
        b = sizes[pos]
        full = n == k
        n = _insert_top(best, b_idx, b_common, b_aud, n, k, common / (a + b - common), x, common, b)
        if n == k and not full:  # the k-th score now bounds the sizes still to visit
            first = np.searchsorted(sizes, best[k - 1] * a)
            last = np.searchsorted(sizes, a / best[k - 1], side="right")
            todo = (cum_cost[lo + 1] - cum_cost[min(first, lo + 1)]
                    + cum_cost[max(last, hi)] - cum_cost[hi])
            if work + todo > budget:
                return False, b_idx[:0].copy(), b_common[:0].copy(), b_aud[:0].copy()
    return True, b_idx[:n].copy(), b_common[:n].copy(), b_aud[:n].copy()


@njit(nogil=True, cache=True)
def filtered_degree(in_indptr, in_indices, accounts, allowed, use_allowed):
    """Followers of each of ``accounts`` that are ``allowed`` (the plain in-degree otherwise)."""
    if not use_allowed:
        out = np.empty(accounts.shape[0], dtype=np.int64)
        for i in range(accounts.shape[0]):
            out[i] = in_indptr[accounts[i] + 1] - in_indptr[accounts[i]]
        return out
    return filtered_counts(in_indptr, in_indices, accounts, False, allowed, False)


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

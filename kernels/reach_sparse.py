"""The sparse region kernel: Venn regions of a few creators whose rows hold few entries
beside the account range (engaged and loyal audiences), at a cost of the entries rather
than of the accounts. Same output as :func:`kolgraph.kernels.reach.regions_table`.

Arrays in, arrays out; no validation here.
"""

import numpy as np
from numba import njit

SPARSE_BLOCK = 16_384  # accounts per pass of the sparse kernel: their marks stay in L1/L2


@njit(nogil=True, cache=True)
def regions_sparse(in_indptr, in_indices, sel, a0, a1, table, allowed, use_allowed):
    """Venn regions of up to :data:`TABLE_MAX_K` creators whose rows together are short
    beside the account range (engaged audiences), over accounts ``a0 <= u < a1``. Accounts are taken
    :data:`SPARSE_BLOCK` at a time: each sorted row ORs its creator's bit into the masks
    of its entries in the block, listing an account the first time; the listed accounts'
    masks are then counted. Costs the entries, not the accounts (``regions_table`` visits
    every account and every cell of its table). Same output as ``regions_table``.

    ``table`` (int64, at least ``2**k`` cells): scratch, all zero, and left all zero (a
    fresh one per call would cost a page fault per 4 KiB touched)."""
    k = sel.shape[0]
    pos = np.empty(k, np.int64)
    end = np.empty(k, np.int64)
    total = 0
    for i in range(k):
        p0, p1 = in_indptr[sel[i]], in_indptr[sel[i] + 1]
        pos[i] = p0 + np.searchsorted(in_indices[p0:p1], a0)
        end[i] = p0 + np.searchsorted(in_indices[p0:p1], a1)
        total += end[i] - pos[i]
    mark = np.zeros(SPARSE_BLOCK, dtype=np.uint32)
    seen = np.empty(total, dtype=np.int32)
    masks_of = np.empty(total, dtype=np.uint32)
    n = 0
    for lo in range(a0, a1, SPARSE_BLOCK):
        hi = lo + SPARSE_BLOCK
        start = n
        for i in range(k):
            bit = np.uint32(1) << np.uint32(i)
            p = pos[i]
            while p < end[i] and in_indices[p] < hi:
                u = in_indices[p]
                p += 1
                if use_allowed and not allowed[u]:
                    continue
                if mark[u - lo] == 0:
                    seen[n] = u
                    n += 1
                mark[u - lo] |= bit
            pos[i] = p
        for j in range(start, n):
            masks_of[j] = mark[seen[j] - lo]
            mark[seen[j] - lo] = 0
    n_regions = 0
    for j in range(n):
        m = masks_of[j]
        n_regions += table[m] == 0
        table[m] += 1
    masks = np.empty(n_regions, dtype=np.uint64)
    r = 0
    for j in range(n):
        m = masks_of[j]
        if table[m] > 0:
            masks[r] = m
            r += 1
            table[m] = -table[m]  # taken; its count kept for the output
    masks.sort()
    counts = np.empty(n_regions, dtype=np.int64)
    for r in range(n_regions):
        counts[r] = -table[masks[r]]
        table[masks[r]] = 0
    return masks, counts

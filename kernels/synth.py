"""Kernels of the synthetic follower-graph generator (:mod:`kolgraph.synth`).

Plain arrays in, plain arrays out; no validation. Randomness comes from a
splitmix64 stream per *chunk of work* (a fixed range of accounts), seeded from
a ``uint64`` seed array the caller derives from the user's seed, so the output
depends on the seed only, never on the thread count or on scheduling.

Account roles (``role`` arrays): 0 honest, 1 creator, 2 cheap-farm fake,
3 premium-farm fake.
"""

import warnings

import numpy as np
from numba import config, njit, prange

if config.DISABLE_JIT:  # plain Python: the uint64 hashing and splitmix64 wrap on purpose
    warnings.filterwarnings("ignore", r"overflow encountered in scalar", RuntimeWarning, __name__)

HONEST, CREATOR, CHEAP, PREMIUM = 0, 1, 2, 3
NO_COUNTRY = 255
_DAY = 86_400
_YEAR = 365 * _DAY
_MAX_NAME = 64
_MAX_BIO = 256

_CONSONANTS = np.frombuffer(b"bcdfghjklmnprstvwz", dtype=np.uint8)
_VOWELS = np.frombuffer(b"aeiouaeioy", dtype=np.uint8)
_CODAS = np.frombuffer(b"nlrsmkx", dtype=np.uint8)
_ALNUM = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz0123456789", dtype=np.uint8)


# --- random numbers -----------------------------------------------------------------
# splitmix64 streams: one per chunk of work, state in a 1-element array
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_TO_UNIT = 1.0 / 9007199254740992.0


@njit(nogil=True, cache=True)
def _seed(seed):
    st = np.empty(1, dtype=np.uint64)
    st[0] = np.uint64(seed)
    return st


@njit(nogil=True, cache=True)
def _next(st):
    z = st[0] + _GOLDEN
    st[0] = z
    z = (z ^ (z >> np.uint64(30))) * _MIX1
    z = (z ^ (z >> np.uint64(27))) * _MIX2
    return z ^ (z >> np.uint64(31))


@njit(nogil=True, cache=True)
def _rand(st):
    """Uniform float in ``[0, 1)``."""
    return np.float64(_next(st) >> np.uint64(11)) * _TO_UNIT


@njit(nogil=True, cache=True)
def _normal(st):
    """Standard normal (Box-Muller)."""
    return np.sqrt(-2.0 * np.log(1.0 - _rand(st))) * np.cos(2.0 * np.pi * _rand(st))


@njit(nogil=True, cache=True)
def _binomial(st, n, p):
    """Binomial(n, p) as a sum of Bernoulli draws (n is an out-degree here: small)."""
    k = 0
    for _ in range(n):
        if _rand(st) < p:
            k += 1
    return k


# --- small helpers ------------------------------------------------------------------
@njit(nogil=True, cache=True)
def _randint(st, n):
    """Uniform integer in ``[0, n)`` (``n >= 1``)."""
    j = int(_rand(st) * n)
    return j if j < n else n - 1


@njit(nogil=True, cache=True)
def _cum_draw(st, cum):
    """Index drawn from a cumulative weight array ending in 1 (short arrays)."""
    x = _rand(st) * cum[cum.shape[0] - 1]
    for i in range(cum.shape[0]):
        if x < cum[i]:
            return i
    return cum.shape[0] - 1


@njit(nogil=True, cache=True)
def _alias_draw(st, a, m, prob, alias):
    """Index in ``[0, m)`` from the alias table stored at ``prob[a:a+m]``, ``alias[a:a+m]``."""
    x = _rand(st) * m
    j = int(x)
    if j >= m:
        j = m - 1
    if x - j < prob[a + j]:
        return j
    return alias[a + j]


@njit(nogil=True, cache=True)
def _lognormal_int(st, median, sigma):
    return np.int64(np.floor(median * np.exp(sigma * _normal(st))))


def chunk_count(n, chunk):
    return (n + chunk - 1) // chunk


# --- grouping and alias tables ------------------------------------------------------
@njit(nogil=True, cache=True)
def group_by(keys, n_groups):
    """Counting sort: ``(ptr, order)`` with ``order[ptr[g]:ptr[g+1]]`` the positions of key ``g``."""
    ptr = np.zeros(n_groups + 1, dtype=np.int64)
    for i in range(keys.shape[0]):
        ptr[keys[i] + 1] += 1
    for g in range(n_groups):
        ptr[g + 1] += ptr[g]
    pos = ptr[:-1].copy()
    order = np.empty(keys.shape[0], dtype=np.int32)
    for i in range(keys.shape[0]):
        k = keys[i]
        order[pos[k]] = i
        pos[k] += 1
    return ptr, order


@njit(parallel=True, nogil=True, cache=True)
def alias_segments(weights, ptr):
    """Walker/Vose alias tables, one per segment ``ptr[s]:ptr[s+1]`` of ``weights``.

    Returns ``(prob, alias)`` aligned with ``weights``; ``alias`` holds indices
    relative to the segment start. A segment of zero weight samples uniformly.
    """
    n = weights.shape[0]
    prob = np.ones(n, dtype=np.float64)
    alias = np.zeros(n, dtype=np.int32)
    for s in prange(ptr.shape[0] - 1):
        a = ptr[s]
        m = ptr[s + 1] - a
        total = 0.0
        for i in range(m):
            total += weights[a + i]
        if m == 0 or total <= 0.0:
            for i in range(m):
                alias[a + i] = i
        else:
            scaled = np.empty(m, dtype=np.float64)
            small = np.empty(m, dtype=np.int64)
            large = np.empty(m, dtype=np.int64)
            ns = 0
            nl = 0
            for i in range(m):
                scaled[i] = weights[a + i] * m / total
                if scaled[i] < 1.0:
                    small[ns] = i
                    ns += 1
                else:
                    large[nl] = i
                    nl += 1
            while ns > 0 and nl > 0:
                ns -= 1
                sm = small[ns]
                lg = large[nl - 1]
                prob[a + sm] = scaled[sm]
                alias[a + sm] = lg
                scaled[lg] = scaled[lg] + scaled[sm] - 1.0
                if scaled[lg] < 1.0:
                    nl -= 1
                    small[ns] = lg
                    ns += 1
            for i in range(nl):
                alias[a + large[i]] = large[i]
            for i in range(ns):
                alias[a + small[i]] = small[i]
    return prob, alias


# --- accounts -----------------------------------------------------------------------
@njit(nogil=True, cache=True)
def _honest_created(st, t0, t_last, growth, t_max):
    """Account creation time: density growing like ``exp(growth * t)`` on ``[t0, t_last]``,
    truncated to ``t <= t_max``."""
    span = t_last - t0
    if t_max < t_last:
        u_max = (np.exp(growth * (t_max - t0) / span) - 1.0) / (np.exp(growth) - 1.0)
    else:
        u_max = 1.0
    u = _rand(st) * u_max
    return t0 + np.int64(span * np.log1p(u * (np.exp(growth) - 1.0)) / growth)


@njit(parallel=True, nogil=True, cache=True)
def account_setup(role, farm_of, creator_cat, farm_country, farm_start, cat_cum, comm_base, n_comm,
                  comm_country, country_cum, p_comm_country, p_no_country, t0, t_end,
                  t_creator_max, growth, seeds, chunk):
    """Interests (two categories), community, country and creation time of every account."""
    n = role.shape[0]
    cat1 = np.empty(n, dtype=np.int8)
    cat2 = np.empty(n, dtype=np.int8)
    comm = np.empty(n, dtype=np.int32)
    country = np.empty(n, dtype=np.uint8)
    created = np.empty(n, dtype=np.int64)
    for ch in prange(seeds.shape[0]):
        st = _seed(seeds[ch])
        for u in range(ch * chunk, min(n, (ch + 1) * chunk)):
            r = role[u]
            c1 = creator_cat[u] if r == CREATOR else _cum_draw(st, cat_cum)
            c2 = c1
            for _ in range(8):
                c = _cum_draw(st, cat_cum)
                if c != c1:
                    c2 = c
                    break
            cm = comm_base[c1] + _randint(st, n_comm[c1])
            cat1[u] = c1
            cat2[u] = c2
            comm[u] = cm
            if r == CHEAP:
                country[u] = farm_country[farm_of[u]] if _rand(st) < 0.9 else NO_COUNTRY
            else:
                x = _rand(st)
                if x < p_no_country:
                    country[u] = NO_COUNTRY
                elif x < p_no_country + p_comm_country:
                    country[u] = comm_country[cm]
                else:
                    country[u] = _cum_draw(st, country_cum)
            if r == CREATOR:
                created[u] = t0 + np.int64((t_creator_max - t0) * _rand(st) ** 1.6)
            elif r == CHEAP:
                start = farm_start[farm_of[u]]
                created[u] = start - 3_600 - np.int64(_rand(st) * 60 * _DAY)
            elif r == PREMIUM:
                created[u] = _honest_created(st, t0, t_end - _DAY, growth, farm_start[farm_of[u]] - 30 * _DAY)
            else:
                created[u] = _honest_created(st, t0, t_end - _DAY, growth, t_end)
    return cat1, cat2, comm, country, created


# --- out-degrees --------------------------------------------------------------------
@njit(parallel=True, nogil=True, cache=True)
def degree_draws(n, sigma, seeds, chunk):
    """Unscaled lognormal out-degree shapes ``x`` and rounding offsets ``frac``."""
    x = np.empty(n, dtype=np.float64)
    frac = np.empty(n, dtype=np.float64)
    for ch in prange(seeds.shape[0]):
        st = _seed(seeds[ch])
        for u in range(ch * chunk, min(n, (ch + 1) * chunk)):
            x[u] = np.exp(sigma * _normal(st))
            frac[u] = _rand(st)
    return x, frac


@njit(parallel=True, nogil=True, cache=True)
def degree_sum(scale, x, frac, cap):
    """``sum(min(cap, floor(scale * x + frac)))``."""
    total = 0
    for u in prange(x.shape[0]):
        d = np.floor(scale * x[u] + frac[u])
        c = cap[u]
        total += c if d >= c else np.int64(d)
    return total


@njit(parallel=True, nogil=True, cache=True)
def degrees_at(scale, x, frac, cap):
    out = np.empty(x.shape[0], dtype=np.int64)
    for u in prange(x.shape[0]):
        d = np.floor(scale * x[u] + frac[u])
        c = cap[u]
        out[u] = c if d >= c else np.int64(d)
    return out


@njit(nogil=True, cache=True)
def condition_degrees(deg, accounts, scale, sigma, cap, min_deg, seed):
    """Redraw the degree of each of ``accounts`` below ``min_deg`` from the same
    distribution conditioned on ``>= min_deg``; returns the change of the total."""
    st = _seed(seed)
    change = 0
    for i in range(accounts.shape[0]):
        u = accounts[i]
        if deg[u] >= min_deg:
            continue
        d = 0
        for _ in range(10_000):
            d = np.int64(np.floor(scale * np.exp(sigma * _normal(st)) + _rand(st)))
            if d > cap[u]:
                d = cap[u]
            if d >= min_deg:
                break
        if d < min_deg:
            d = min(min_deg, cap[u])
        change += d - deg[u]
        deg[u] = d
    return change


@njit(nogil=True, cache=True)
def adjust_total(deg, cap, role, delta, seed):
    """Add (``delta > 0``) or remove single follows at random honest accounts; returns what is left."""
    st = _seed(seed)
    n = deg.shape[0]
    tries = 0
    limit = 200 * abs(delta) + 100_000
    while delta != 0 and tries < limit:
        tries += 1
        u = _randint(st, n)
        if role[u] > CREATOR:
            continue
        if delta > 0 and deg[u] < cap[u]:
            deg[u] += 1
            delta -= 1
        elif delta < 0 and deg[u] > 0:
            deg[u] -= 1
            delta += 1
    return delta


@njit(parallel=True, nogil=True, cache=True)
def split_degrees(deg, role, farm_of, cap_cr, cap_peer, pay_ptr, pay_q, farm_camo, peer_share,
                  seeds, chunk):
    """Split each out-degree into paying-creator, creator and peer follows (``deg`` is
    lowered where the caps do not allow it)."""
    n = deg.shape[0]
    kpay = np.zeros(n, dtype=np.int32)
    kcr = np.zeros(n, dtype=np.int32)
    kpeer = np.zeros(n, dtype=np.int32)
    for ch in prange(seeds.shape[0]):
        st = _seed(seeds[ch])
        for u in range(ch * chunk, min(n, (ch + 1) * chunk)):
            d = deg[u]
            kp = 0
            if role[u] >= CHEAP and d > 0:
                f = farm_of[u]
                n_pay = pay_ptr[f + 1] - pay_ptr[f]
                kp = _binomial(st, n_pay, pay_q[f]) if n_pay > 0 else 0
                lim = np.int64(np.ceil(d * (1.0 - farm_camo[f])))
                kp = min(kp, lim, d, cap_cr[u])
                if kp == 0 and n_pay > 0 and cap_cr[u] > 0:
                    kp = 1
            rest = d - kp
            kc = _binomial(st, rest, 1.0 - peer_share) if rest > 0 else 0
            kq = rest - kc
            room = cap_cr[u] - kp
            if kc > room:
                kq += kc - room
                kc = room
            if kq > cap_peer[u]:
                kc += kq - cap_peer[u]
                kq = cap_peer[u]
            if kc > room:                # cannot happen while d <= cap_cr + cap_peer
                kc = room
            kpay[u] = kp
            kcr[u] = kc
            kpeer[u] = kq
            deg[u] = kp + kc + kq
    return kpay, kcr, kpeer


# --- edges --------------------------------------------------------------------------
@njit(nogil=True, cache=True, inline="always")
def _creator_pick(st, u, mk, mixture, c1, c2, p_primary, p_secondary, n_creators, cr_prob, cr_alias,
                  cat_ptr, cat_members, cat_prob, cat_alias):
    """A creator ``u`` does not follow yet: by interest (``mixture``) or global popularity;
    then uniformly, then by scan. -1 if there is none."""
    for _ in range(32):
        k = -1
        if mixture:
            x = _rand(st)
            if x < p_primary:
                k = c1
            elif x < p_primary + p_secondary:
                k = c2
        if k >= 0 and cat_ptr[k + 1] > cat_ptr[k]:
            a = cat_ptr[k]
            v = cat_members[a + _alias_draw(st, a, cat_ptr[k + 1] - a, cat_prob, cat_alias)]
        else:
            v = _alias_draw(st, 0, n_creators, cr_prob, cr_alias)
        if mk[v] != u:
            return v
    for _ in range(32):
        v = _randint(st, n_creators)
        if mk[v] != u:
            return v
    start = _randint(st, n_creators)
    for j in range(n_creators):
        v = (start + j) % n_creators
        if mk[v] != u:
            return v
    return -1


@njit(parallel=True, nogil=True, cache=True)
def pack_alias(prob, alias, members, created, t_base):
    """Alias tables packed as int32 rows ``[prob (float32 bits), member, created - t_base,
    alias index]``: one 16-byte row (one cache line) per draw instead of four arrays."""
    m = prob.shape[0]
    rec = np.empty((m, 4), dtype=np.int32)
    recf = rec.view(np.float32)
    for i in prange(m):
        recf[i, 0] = np.float32(prob[i])
        v = members[i]
        rec[i, 1] = v
        rec[i, 2] = np.int32(created[v] - t_base)
        rec[i, 3] = alias[i]
    return rec


@njit(nogil=True, cache=True)
def _packed_draw(st, a, m, rec, recf):
    """``(member, created - t_base)`` drawn from the packed alias table at ``rec[a:a+m]``."""
    x = _rand(st) * m
    j = int(x)
    if j >= m:
        j = m - 1
    i = a + j
    if x - j >= recf[i, 0]:
        i = a + rec[i, 3]
    return np.int64(rec[i, 1]), np.int64(rec[i, 2])


@njit(nogil=True, cache=True)
def _seen(dst, p0, p, v):
    for q in range(p0, p):
        if dst[q] == v:
            return True
    return False


@njit(nogil=True, cache=True, inline="always")
def _peer_pick(st, u, dst, p0, p, local_kind, local_a, local_m, comm_ptr, comm_rec, comm_recf,
               top_prob, top_alias, fm_members, created, t_base, p_local):
    """A peer ``u`` does not follow yet (not among ``dst[p0:p]``), with its creation time.

    ``local_kind`` 1: from the community table ``comm_rec[local_a:local_a+local_m]``;
    2: a farm mate ``fm_members[local_a:...]``, uniformly; 0: none. Otherwise, and when
    those fail, anyone by appeal (a community by its total appeal, ``top_*``, then a
    member), then uniformly, then by scan. ``(-1, 0)`` if there is none."""
    n_peers = comm_rec.shape[0]
    n_comm = top_prob.shape[0]
    if n_peers == 0:
        return np.int64(-1), np.int64(0)
    for _ in range(32):
        if local_kind > 0 and local_m > 0 and _rand(st) < p_local:
            if local_kind == 1:
                v, cv = _packed_draw(st, local_a, local_m, comm_rec, comm_recf)
            else:
                v = np.int64(fm_members[local_a + _randint(st, local_m)])
                cv = np.int64(created[v] - t_base)
        else:
            c = _alias_draw(st, 0, n_comm, top_prob, top_alias)
            a = comm_ptr[c]
            if comm_ptr[c + 1] == a:
                continue
            v, cv = _packed_draw(st, a, comm_ptr[c + 1] - a, comm_rec, comm_recf)
        if v != u and not _seen(dst, p0, p, v):
            return v, cv
    for _ in range(32):
        j = _randint(st, n_peers)
        v = np.int64(comm_rec[j, 1])
        if v != u and not _seen(dst, p0, p, v):
            return v, np.int64(comm_rec[j, 2])
    start = _randint(st, n_peers)
    for k in range(n_peers):
        j = (start + k) % n_peers
        v = np.int64(comm_rec[j, 1])
        if v != u and not _seen(dst, p0, p, v):
            return v, np.int64(comm_rec[j, 2])
    return np.int64(-1), np.int64(0)


@njit(nogil=True, cache=True)
def _follow_time(st, cu, cv, t_end):
    base = max(cu, cv) + 60
    if base >= t_end:
        return t_end
    return base + np.int64(_rand(st) * (t_end - base))


@njit(parallel=True, nogil=True, cache=True)
def generate_edges(offsets, role, farm_of, cat1, cat2, comm, created, kpay, kcr, kpeer,
                   cr_prob, cr_alias, cat_ptr, cat_members, cat_prob, cat_alias,
                   comm_ptr, comm_rec, top_prob, top_alias, t_base,
                   pay_ptr, pay_list, win_start, win_len, fm_ptr, fm_members,
                   p_primary, p_secondary, p_comm, p_mate, t_end, seeds, chunk, n_workers):
    """Every follow: ``(src, dst, followed_at)``, grouped by follower.

    Follows of one account are distinct and never the account itself. Worker
    ``w`` handles chunks ``w, w + n_workers, ...`` with a private "already
    follows this creator" stamp array; a chunk's output depends only on its seed.
    Peers come from per-community packed alias tables (:func:`pack_alias`, creation
    times relative to ``t_base``), anyone via ``top_*``: an alias table over communities.
    """
    n = offsets.shape[0] - 1
    m = offsets[n]
    n_creators = cr_prob.shape[0]
    src = np.empty(m, dtype=np.int32)
    dst = np.empty(m, dtype=np.int32)
    times = np.empty(m, dtype=np.int64)
    marker = np.full((n_workers, n_creators), -1, dtype=np.int32)
    comm_recf = comm_rec.view(np.float32)
    n_chunks = seeds.shape[0]
    for w in prange(n_workers):
        mk = marker[w]
        for ch in range(w, n_chunks, n_workers):
            st = _seed(seeds[ch])
            for u in range(ch * chunk, min(n, (ch + 1) * chunk)):
                p = offsets[u]
                r = role[u]
                if r == CREATOR:
                    mk[u] = u
                cu = created[u]
                # paying creators of the farm: a random subset, inside the farm's window (the
                # others are marked too, so camouflage never follows them outside the window)
                k = kpay[u]
                if r >= CHEAP:
                    f = farm_of[u]
                    a = pay_ptr[f]
                    n_pay = pay_ptr[f + 1] - a
                    need = k
                    for i in range(n_pay):
                        mk[pay_list[a + i]] = u
                    for i in range(n_pay):
                        if need > 0 and _rand(st) * (n_pay - i) < need:
                            v = pay_list[a + i]
                            src[p] = u
                            dst[p] = v
                            times[p] = win_start[f] + np.int64(_rand(st) * win_len[f])
                            p += 1
                            need -= 1
                # creators by interest (honest, creators, premium fakes) or by popularity (cheap fakes)
                mixture = r != CHEAP
                for _ in range(kcr[u]):
                    v = _creator_pick(st, u, mk, mixture, cat1[u], cat2[u], p_primary, p_secondary,
                                      n_creators, cr_prob, cr_alias, cat_ptr, cat_members,
                                      cat_prob, cat_alias)
                    if v < 0:
                        v = u
                    else:
                        mk[v] = u
                    src[p] = u
                    dst[p] = v
                    times[p] = _follow_time(st, cu, created[v], t_end)
                    p += 1
                # peers: own community (honest), farm mates (premium fakes), anyone
                k = kpeer[u]
                if k > 0:
                    kind = 0
                    la = 0
                    lm = 0
                    pl = 0.0
                    if r == PREMIUM:
                        f = farm_of[u]
                        kind = 2
                        la = fm_ptr[f]
                        lm = fm_ptr[f + 1] - la
                        pl = p_mate
                    elif r != CHEAP:
                        c = comm[u]
                        kind = 1
                        la = comm_ptr[c]
                        lm = comm_ptr[c + 1] - la
                        pl = p_comm
                    p0 = p
                    for _ in range(k):
                        v, cv = _peer_pick(st, u, dst, p0, p, kind, la, lm, comm_ptr, comm_rec,
                                           comm_recf, top_prob, top_alias, fm_members, created,
                                           t_base, pl)
                        if v < 0:
                            v = u
                            cv = cu - t_base
                        src[p] = u
                        dst[p] = v
                        times[p] = _follow_time(st, cu, cv + t_base, t_end)
                        p += 1
    return src, dst, times


@njit(parallel=True, nogil=True, cache=True)
def count_flagged_followers(in_indptr, in_indices, flagged, n_rows):
    """Number of followers ``u`` with ``flagged[u] >= 0`` of each of the first ``n_rows`` accounts."""
    out = np.zeros(n_rows, dtype=np.int64)
    for v in prange(n_rows):
        c = 0
        for p in range(in_indptr[v], in_indptr[v + 1]):
            if flagged[in_indices[p]] >= 0:
                c += 1
        out[v] = c
    return out


# --- account attributes -------------------------------------------------------------
@njit(parallel=True, nogil=True, cache=True)
def account_numbers(role, created, in_indptr, out_indptr, t_end, seeds, chunk):
    """posts, followers, following (graph degree plus off-graph follows), has_avatar,
    verified, private."""
    n = role.shape[0]
    posts = np.empty(n, dtype=np.int64)
    followers = np.empty(n, dtype=np.int64)
    following = np.empty(n, dtype=np.int64)
    avatar = np.empty(n, dtype=np.bool_)
    verified = np.empty(n, dtype=np.bool_)
    private = np.empty(n, dtype=np.bool_)
    for ch in prange(seeds.shape[0]):
        st = _seed(seeds[ch])
        for u in range(ch * chunk, min(n, (ch + 1) * chunk)):
            r = role[u]
            ind = in_indptr[u + 1] - in_indptr[u]
            outd = out_indptr[u + 1] - out_indptr[u]
            if r == CREATOR:
                posts[u] = 20 + _lognormal_int(st, 600.0, 0.8)
                followers[u] = ind + np.int64(ind * 0.25 * _rand(st)) + _lognormal_int(st, 20.0, 1.0)
                following[u] = outd + _lognormal_int(st, 400.0, 0.9)
                avatar[u] = _rand(st) < 0.995
                pv = 0.03 if ind < 10_000 else 0.15 if ind < 100_000 else 0.5 if ind < 500_000 else (
                    0.8 if ind < 1_000_000 else 0.95)
                verified[u] = _rand(st) < pv
                private[u] = False
            elif r == CHEAP:
                posts[u] = 0 if _rand(st) < 0.7 else 1 + _randint(st, 5)
                followers[u] = ind + _lognormal_int(st, 3.0, 1.0)
                following[u] = outd + _lognormal_int(st, 1_500.0, 0.7)
                avatar[u] = _rand(st) < 0.15
                verified[u] = False
                private[u] = _rand(st) < 0.03
            else:
                age = (t_end - created[u]) / _YEAR
                if _rand(st) < 0.08:
                    posts[u] = 0
                else:
                    posts[u] = _lognormal_int(st, 20.0 * np.sqrt(max(age, 0.05) / 3.0), 1.5)
                followers[u] = ind + _lognormal_int(st, 40.0, 1.4)
                following[u] = outd + _lognormal_int(st, 150.0, 1.0)
                avatar[u] = _rand(st) < 0.92
                verified[u] = r == HONEST and _rand(st) < 0.0005
                private[u] = _rand(st) < 0.2
    return posts, followers, following, avatar, verified, private


# --- strings ------------------------------------------------------------------------
@njit(nogil=True, cache=True)
def _syllables(st, buf, p, count):
    for _ in range(count):
        buf[p] = _CONSONANTS[_randint(st, _CONSONANTS.shape[0])]
        buf[p + 1] = _VOWELS[_randint(st, _VOWELS.shape[0])]
        p += 2
        if _rand(st) < 0.3:
            buf[p] = _CODAS[_randint(st, _CODAS.shape[0])]
            p += 1
    return p


@njit(nogil=True, cache=True)
def _digits(st, buf, p, count):
    for i in range(count):
        buf[p] = 48 + (_randint(st, 9) + 1 if i == 0 else _randint(st, 10))
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
    return group_ptr[g] + _randint(st, group_ptr[g + 1] - group_ptr[g])


@njit(nogil=True, cache=True)
def _separator(st, buf, p):
    x = _rand(st)
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
        x = _rand(st)
        if x < 0.6:
            p = _syllables(st, buf, p, 1 + _randint(st, 2))
            if _rand(st) < 0.5:
                buf[p] = 95
                p += 1
            p = _digits(st, buf, p, 5 + _randint(st, 5))
        elif x < 0.85:
            for i in range(8 + _randint(st, 5)):
                if i == 0 or _rand(st) < 0.5:
                    buf[p] = _ALNUM[_randint(st, 26)]
                else:
                    buf[p] = _ALNUM[26 + _randint(st, 10)]
                p += 1
        else:
            p = _syllables(st, buf, p, 2)
            buf[p] = 46
            p = _syllables(st, buf, p + 1, 2)
            p = _digits(st, buf, p, 4 + _randint(st, 3))
        return p
    x = _rand(st)
    p = _syllables(st, buf, p, 2 if x < 0.4 else 3 if x < 0.85 else 4)
    if r == CREATOR:
        if _rand(st) < 0.55:
            p = _separator(st, buf, p)
            p = _token(buf, p, bank, tok_off, _group_token(st, group_ptr, cat))
        elif _rand(st) < 0.5:
            p = _separator(st, buf, p)
            p = _syllables(st, buf, p, 2)
        if _rand(st) < 0.05:
            p = _digits(st, buf, p, 1 + _randint(st, 2))
        return p
    if _rand(st) < 0.45:
        p = _separator(st, buf, p)
        p = _syllables(st, buf, p, 2 + _randint(st, 2))
    if _rand(st) < 0.3:
        x = _rand(st)
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
        if _rand(st) < 0.75:
            return 0
        for i in range(1 + _randint(st, 2)):
            if i > 0:
                p = _token(buf, p, bank, tok_off, _group_token(st, group_ptr, seps))
            p = _token(buf, p, bank, tok_off, _group_token(st, group_ptr, spam))
        return p
    if r != CREATOR and _rand(st) < 0.35:
        return 0
    n_tok = 2 + _randint(st, 4) if r == CREATOR else 1 + _randint(st, 5)
    sep = _group_token(st, group_ptr, seps)
    for i in range(n_tok):
        if i > 0:
            p = _token(buf, p, bank, tok_off, sep)
        x = _rand(st)
        if x < (0.7 if r == CREATOR else 0.45):
            g = c1 if _rand(st) < 0.7 else c2
        elif x < 0.85:
            g = generic
        else:
            g = emoji
        p = _token(buf, p, bank, tok_off, _group_token(st, group_ptr, g))
    if r == CREATOR and _rand(st) < 0.6:
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
        st = _seed(seeds[ch])
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


_FNV_OFFSET = np.uint64(14695981039346656037)
_FNV_PRIME = np.uint64(1099511628211)


@njit(nogil=True, cache=True)
def _fnv(h, data, a, b):
    for i in range(a, b):
        h = (h ^ np.uint64(data[i])) * _FNV_PRIME
    return h


@njit(nogil=True, cache=True)
def _insert(table, h):
    """Insert hash ``h`` (non-zero) into the open-addressing set; False if present."""
    mask = np.uint64(table.shape[0] - 1)
    i = (h ^ (h >> np.uint64(31))) * np.uint64(0x9E3779B97F4A7C15)
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
        base[u] = _fnv(_FNV_OFFSET, data, offsets[u], offsets[u + 1])
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
    st = _seed(seed)
    sfx = np.empty(n_rep * 16, dtype=np.uint8)
    sfx_len = np.zeros(n, dtype=np.int64)
    q = 0
    for u in range(n):
        if not repeat[u]:
            continue
        attempt = 0
        while True:
            ln = 0
            if _rand(st) < 0.3:
                sfx[q] = 95
                ln = 1
            for _ in range(min(2 + attempt // 4, 14 - ln)):
                sfx[q + ln] = 48 + _randint(st, 10)
                ln += 1
            h = _fnv(base[u], sfx, q, q + ln)
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

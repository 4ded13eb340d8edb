"""Kernels of the synthetic follower-graph generator (:mod:`kolgraph.synth`).

Plain arrays in, plain arrays out; no validation. Randomness comes from a
splitmix64 stream per *chunk of work* (a fixed range of accounts), seeded from
a ``uint64`` seed array the caller derives from the user's seed, so the output
depends on the seed only, never on the thread count or on scheduling.

Account roles (``role`` arrays): 0 honest, 1 creator, 2 cheap-farm fake,
3 premium-farm fake.
"""

from collections import namedtuple

import numpy as np
from kolgraph.kernels._rng import new_stream, randint, scaled_uniform, uniform
from kolgraph.kernels.csr import filtered_counts
from numba import njit, prange

HONEST, CREATOR, CHEAP, PREMIUM = 0, 1, 2, 3
NO_COUNTRY = 255
_DAY = 86_400
_YEAR = 365 * _DAY


# --- random draws (streams: kolgraph.kernels._rng) ------------------------------------
@njit(nogil=True, cache=True)
def _normal(st):
    """Standard normal (Box-Muller)."""
    return np.sqrt(-2.0 * np.log(1.0 - uniform(st))) * np.cos(2.0 * np.pi * uniform(st))


@njit(nogil=True, cache=True)
def _binomial(st, n, p):
    """Binomial(n, p) as a sum of Bernoulli draws (n is an out-degree here: small)."""
    k = 0
    for _ in range(n):
        if uniform(st) < p:
            k += 1
    return k


@njit(nogil=True, cache=True)
def _cum_draw(st, cum):
    """Index drawn from a cumulative weight array ending in 1 (short arrays)."""
    x = uniform(st) * cum[cum.shape[0] - 1]
    for i in range(cum.shape[0]):
        if x < cum[i]:
            return i
    return cum.shape[0] - 1


@njit(nogil=True, cache=True)
def _alias_draw(st, a, m, prob, alias):
    """Index in ``[0, m)`` from the alias table stored at ``prob[a:a+m]``, ``alias[a:a+m]``."""
    x, j = scaled_uniform(st, m)
    if x - j < prob[a + j]:
        return j
    return alias[a + j]


@njit(nogil=True, cache=True)
def _lognormal_int(st, median, sigma):
    return np.int64(np.floor(median * np.exp(sigma * _normal(st))))


def chunk_count(n, chunk):
    return (n + chunk - 1) // chunk


# --- alias tables ------------------------------------------------------
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
    u = uniform(st) * u_max
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
        st = new_stream(seeds[ch])
        for u in range(ch * chunk, min(n, (ch + 1) * chunk)):
            r = role[u]
            c1 = creator_cat[u] if r == CREATOR else _cum_draw(st, cat_cum)
            c2 = c1
            for _ in range(8):
                c = _cum_draw(st, cat_cum)
                if c != c1:
                    c2 = c
                    break
            cm = comm_base[c1] + randint(st, n_comm[c1])
            cat1[u] = c1
            cat2[u] = c2
            comm[u] = cm
            if r == CHEAP:
                country[u] = farm_country[farm_of[u]] if uniform(st) < 0.9 else NO_COUNTRY
            else:
                x = uniform(st)
                if x < p_no_country:
                    country[u] = NO_COUNTRY
                elif x < p_no_country + p_comm_country:
                    country[u] = comm_country[cm]
                else:
                    country[u] = _cum_draw(st, country_cum)
            if r == CREATOR:
                created[u] = t0 + np.int64((t_creator_max - t0) * uniform(st) ** 1.6)
            elif r == CHEAP:
                start = farm_start[farm_of[u]]
                created[u] = start - 3_600 - np.int64(uniform(st) * 60 * _DAY)
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
        st = new_stream(seeds[ch])
        for u in range(ch * chunk, min(n, (ch + 1) * chunk)):
            x[u] = np.exp(sigma * _normal(st))
            frac[u] = uniform(st)
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
    st = new_stream(seed)
    change = 0
    for i in range(accounts.shape[0]):
        u = accounts[i]
        if deg[u] >= min_deg:
            continue
        d = 0
        for _ in range(10_000):
            d = np.int64(np.floor(scale * np.exp(sigma * _normal(st)) + uniform(st)))
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
    st = new_stream(seed)
    n = deg.shape[0]
    tries = 0
    limit = 200 * abs(delta) + 100_000
    while delta != 0 and tries < limit:
        tries += 1
        u = randint(st, n)
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
        st = new_stream(seeds[ch])
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
# Arrays that travel together, passed to numba as tuples and read by field name.
EdgeAccounts = namedtuple("EdgeAccounts", "offsets role farm_of cat1 cat2 comm created kpay kcr kpeer")
EdgeAccounts.__doc__ = "Per account: edge offsets, role, farm, interests, community, creation, degrees."
CreatorTables = namedtuple("CreatorTables", "prob alias cat_ptr cat_members cat_prob cat_alias")
CreatorTables.__doc__ = "Alias tables of the creators: global, and per category (``cat_ptr``)."
PeerTables = namedtuple("PeerTables", "comm_ptr comm_rec top_prob top_alias t_base")
PeerTables.__doc__ = """Peers per community (:func:`pack_alias`, times relative to ``t_base``), and
communities by total appeal (``top_*``)."""
FarmTables = namedtuple("FarmTables", "pay_ptr pay_list win_start win_len member_ptr members")
FarmTables.__doc__ = "Per farm: its paying creators, its follow window and its members."
EdgeMix = namedtuple("EdgeMix", "p_primary p_secondary p_comm p_mate t_end")
EdgeMix.__doc__ = "Follow probabilities (interests, community, farm mate) and the timeline's end."


@njit(nogil=True, cache=True, inline="always")
def _creator_pick(st, u, mk, mixture, c1, c2, mix, cr):
    """A creator ``u`` does not follow yet: by interest (``mixture``) or global popularity;
    then uniformly, then by scan. -1 if there is none."""
    n_creators = cr.prob.shape[0]
    for _ in range(32):
        k = -1
        if mixture:
            x = uniform(st)
            if x < mix.p_primary:
                k = c1
            elif x < mix.p_primary + mix.p_secondary:
                k = c2
        if k >= 0 and cr.cat_ptr[k + 1] > cr.cat_ptr[k]:
            a = cr.cat_ptr[k]
            v = cr.cat_members[a + _alias_draw(st, a, cr.cat_ptr[k + 1] - a, cr.cat_prob,
                                               cr.cat_alias)]
        else:
            v = _alias_draw(st, 0, n_creators, cr.prob, cr.alias)
        if mk[v] != u:
            return v
    for _ in range(32):
        v = randint(st, n_creators)
        if mk[v] != u:
            return v
    start = randint(st, n_creators)
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
    x, j = scaled_uniform(st, m)
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


@njit(nogil=True, cache=True)
def _fallback_peer(st, u, dst, p0, p, rec):
    """A peer not yet followed, uniformly (32 tries), then by scan: ``(-1, 0)`` if none."""
    n_peers = rec.shape[0]
    for _ in range(32):
        j = randint(st, n_peers)
        v = np.int64(rec[j, 1])
        if v != u and not _seen(dst, p0, p, v):
            return v, np.int64(rec[j, 2])
    start = randint(st, n_peers)
    for k in range(n_peers):
        j = (start + k) % n_peers
        v = np.int64(rec[j, 1])
        if v != u and not _seen(dst, p0, p, v):
            return v, np.int64(rec[j, 2])
    return np.int64(-1), np.int64(0)


@njit(nogil=True, cache=True, inline="always")
def _peer_pick(st, u, dst, p0, p, local, peers, recf, fm_members, created, p_local):
    """A peer ``u`` does not follow yet (not among ``dst[p0:p]``), with its creation time.

    ``local = (kind, a, m)``: kind 1, from the community table ``comm_rec[a:a+m]``; 2, a farm
    mate ``fm_members[a:a+m]``, uniformly; 0: none. Otherwise, and when those fail, anyone by
    appeal (a community by its total appeal, then a member), then uniformly, then by scan.
    ``(-1, 0)`` if there is none."""
    local_kind, local_a, local_m = local
    rec = peers.comm_rec
    if rec.shape[0] == 0:
        return np.int64(-1), np.int64(0)
    for _ in range(32):
        if local_kind > 0 and local_m > 0 and uniform(st) < p_local:
            if local_kind == 1:
                v, cv = _packed_draw(st, local_a, local_m, rec, recf)
            else:
                v = np.int64(fm_members[local_a + randint(st, local_m)])
                cv = np.int64(created[v] - peers.t_base)
        else:
            c = _alias_draw(st, 0, peers.top_prob.shape[0], peers.top_prob, peers.top_alias)
            a = peers.comm_ptr[c]
            if peers.comm_ptr[c + 1] == a:
                continue
            v, cv = _packed_draw(st, a, peers.comm_ptr[c + 1] - a, rec, recf)
        if v != u and not _seen(dst, p0, p, v):
            return v, cv
    return _fallback_peer(st, u, dst, p0, p, rec)


@njit(nogil=True, cache=True)
def _follow_time(st, cu, cv, t_end):
    base = max(cu, cv) + 60
    if base >= t_end:
        return t_end
    return base + np.int64(uniform(st) * (t_end - base))


@njit(nogil=True, cache=True)
def _pay_follows(st, u, acc, farms, mk, out, p):
    """Follows of fake ``u`` to its farm's paying creators: a random subset, inside the
    farm's window (the others are marked too, so camouflage never follows them outside the
    window). Returns the next write position."""
    src, dst, times = out
    f = acc.farm_of[u]
    a = farms.pay_ptr[f]
    n_pay = farms.pay_ptr[f + 1] - a
    need = acc.kpay[u]
    for i in range(n_pay):
        mk[farms.pay_list[a + i]] = u
    for i in range(n_pay):
        if need > 0 and uniform(st) * (n_pay - i) < need:
            src[p] = u
            dst[p] = farms.pay_list[a + i]
            times[p] = farms.win_start[f] + np.int64(uniform(st) * farms.win_len[f])
            p += 1
            need -= 1
    return p


@njit(nogil=True, cache=True)
def _creator_follows(st, u, acc, cr, mix, mk, out, p):
    """Creator follows of ``u``: by interest (honest, creators, premium fakes) or by
    popularity (cheap fakes). Returns the next write position."""
    src, dst, times = out
    mixture = acc.role[u] != CHEAP
    for _ in range(acc.kcr[u]):
        v = _creator_pick(st, u, mk, mixture, acc.cat1[u], acc.cat2[u], mix, cr)
        if v < 0:
            v = u
        else:
            mk[v] = u
        src[p] = u
        dst[p] = v
        times[p] = _follow_time(st, acc.created[u], acc.created[v], mix.t_end)
        p += 1
    return p


@njit(nogil=True, cache=True)
def _peer_follows(st, u, acc, peers, recf, farms, mix, out, p):
    """Peer follows of ``u``: own community (honest), farm mates (premium fakes), anyone.
    Returns the next write position."""
    src, dst, times = out
    r = acc.role[u]
    local = (0, 0, 0)
    pl = 0.0
    if r == PREMIUM:
        f = acc.farm_of[u]
        local = (2, farms.member_ptr[f], farms.member_ptr[f + 1] - farms.member_ptr[f])
        pl = mix.p_mate
    elif r != CHEAP:
        c = acc.comm[u]
        local = (1, peers.comm_ptr[c], peers.comm_ptr[c + 1] - peers.comm_ptr[c])
        pl = mix.p_comm
    cu = acc.created[u]
    p0 = p
    for _ in range(acc.kpeer[u]):
        v, cv = _peer_pick(st, u, dst, p0, p, local, peers, recf, farms.members, acc.created, pl)
        if v < 0:
            v = u
            cv = cu - peers.t_base
        src[p] = u
        dst[p] = v
        times[p] = _follow_time(st, cu, cv + peers.t_base, mix.t_end)
        p += 1
    return p


@njit(parallel=True, nogil=True, cache=True)
def generate_edges(acc, cr, peers, farms, mix, seeds, chunk, n_workers, ch_lo, ch_hi):
    """The follows ``(src, dst, followed_at)`` of the accounts of chunks ``ch_lo .. ch_hi - 1``,
    grouped by follower.

    ``acc`` :class:`EdgeAccounts`, ``cr`` :class:`CreatorTables`, ``peers``
    :class:`PeerTables`, ``farms`` :class:`FarmTables`, ``mix`` :class:`EdgeMix`.
    Follows of one account are distinct and never the account itself. Worker
    ``w`` handles chunks ``ch_lo + w, ch_lo + w + n_workers, ...`` with a private
    "already follows this creator" stamp array; a chunk's output depends only on its
    seed, so any split into calls gives the same edges.
    """
    n = acc.offsets.shape[0] - 1
    base = acc.offsets[min(n, ch_lo * chunk)]
    m = acc.offsets[min(n, ch_hi * chunk)] - base
    out = (np.empty(m, dtype=np.int32), np.empty(m, dtype=np.int32), np.empty(m, dtype=np.int64))
    marker = np.full((n_workers, cr.prob.shape[0]), -1, dtype=np.int32)
    recf = peers.comm_rec.view(np.float32)
    for w in prange(n_workers):
        mk = marker[w]
        for ch in range(ch_lo + w, ch_hi, n_workers):
            st = new_stream(seeds[ch])
            for u in range(ch * chunk, min(n, (ch + 1) * chunk)):
                p = acc.offsets[u] - base
                if acc.role[u] == CREATOR:
                    mk[u] = u
                if acc.role[u] >= CHEAP:
                    p = _pay_follows(st, u, acc, farms, mk, out, p)
                p = _creator_follows(st, u, acc, cr, mix, mk, out, p)
                _peer_follows(st, u, acc, peers, recf, farms, mix, out, p)
    return out


@njit(nogil=True, cache=True)
def count_flagged_followers(in_indptr, in_indices, flagged, n_rows):
    """Number of followers ``u`` with ``flagged[u] >= 0`` of each of the first ``n_rows`` accounts."""
    return filtered_counts(in_indptr, in_indices, np.arange(n_rows), False, flagged, -1)


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
        st = new_stream(seeds[ch])
        for u in range(ch * chunk, min(n, (ch + 1) * chunk)):
            r = role[u]
            ind = in_indptr[u + 1] - in_indptr[u]
            outd = out_indptr[u + 1] - out_indptr[u]
            if r == CREATOR:
                posts[u] = 20 + _lognormal_int(st, 600.0, 0.8)
                followers[u] = ind + np.int64(ind * 0.25 * uniform(st)) + _lognormal_int(st, 20.0, 1.0)
                following[u] = outd + _lognormal_int(st, 400.0, 0.9)
                avatar[u] = uniform(st) < 0.995
                pv = 0.03 if ind < 10_000 else 0.15 if ind < 100_000 else 0.5 if ind < 500_000 else (
                    0.8 if ind < 1_000_000 else 0.95)
                verified[u] = uniform(st) < pv
                private[u] = False
            elif r == CHEAP:
                posts[u] = 0 if uniform(st) < 0.7 else 1 + randint(st, 5)
                followers[u] = ind + _lognormal_int(st, 3.0, 1.0)
                following[u] = outd + _lognormal_int(st, 1_500.0, 0.7)
                avatar[u] = uniform(st) < 0.15
                verified[u] = False
                private[u] = uniform(st) < 0.03
            else:
                age = (t_end - created[u]) / _YEAR
                if uniform(st) < 0.08:
                    posts[u] = 0
                else:
                    posts[u] = _lognormal_int(st, 20.0 * np.sqrt(max(age, 0.05) / 3.0), 1.5)
                followers[u] = ind + _lognormal_int(st, 40.0, 1.4)
                following[u] = outd + _lognormal_int(st, 150.0, 1.0)
                avatar[u] = uniform(st) < 0.92
                verified[u] = r == HONEST and uniform(st) < 0.0005
                private[u] = uniform(st) < 0.2
    return posts, followers, following, avatar, verified, private

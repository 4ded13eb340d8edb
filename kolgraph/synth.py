"""Synthetic follower graphs with planted bot farms and their ground truth.

The model (see :func:`generate`):

- ``creators`` creator accounts (ids ``0..creators-1``) get heavy-tailed target
  audiences (Zipf over a random rank with lognormal noise, capped at 35% of the
  accounts), one of 12 categories, a platform, a price per post that follows
  the audience they end up with and average views = view rate x real audience.
- Every account has two interests (categories, weighted by how much audience
  the category's creators draw), a community inside its first interest and a
  country mostly shared with its community. Its out-degree is lognormal, scaled
  so the follows add up to ``edges``. It follows creators of its interests
  (popularity-weighted alias tables per category) or, less often, any creator
  by popularity, so audiences overlap the way real ones do: correlated by
  category, not independent. A share of follows (``peer_share``) goes to other
  accounts, mostly within the community.
- Bot farms: fake accounts scattered over the ids, each farm with a set of
  paying (mostly small) creators it follows within a short time window, plus
  camouflage follows of popular creators. Fake accounts draw their out-degree
  from the honest distribution (conditioned on at least one follow), so the
  degree alone does not give them away. Cheap farms have bot-like profiles
  (young, no avatar, no posts, digit-heavy usernames, mass following); premium
  farms copy honest profiles, camouflage by interest and follow each other.
- Account attributes (``created_at``, posts, followers, following, avatar,
  username, bio, verified, private, country, language) come from plausible
  distributions; ``followers``/``following`` are the graph degrees plus
  off-graph follows; every ``followed_at`` is after both accounts were created.

Everything is drawn by numba kernels seeded per chunk of accounts, so a seed
gives the same graph on any number of threads. The ground truth (which account
belongs to which farm, the farms' paying creators and windows, interests and
communities) is returned apart from the graph and stored under ``truth/``.
"""

from __future__ import annotations

import math
import operator
from pathlib import Path

import numba
import numpy as np
import pyarrow as pa

from kolgraph.exceptions import InputError
from kolgraph.graph import FollowerGraph
from kolgraph.ids import IdMap
from kolgraph.kernels import csr as _csr
from kolgraph.kernels import synth as _k
from kolgraph.progress import SILENT, Progress
from kolgraph.synth_farms import FarmOptions, PlantedFarms, plant_farms
from kolgraph.synth_tables import (
    CAT_REACH,
    CAT_SHARE,
    CATEGORIES,
    COUNTRIES,
    COUNTRY_SHARE,
    PLAT_SHARE,
    PLATFORMS,
    accounts_table,
    creators_table,
)

__all__ = ["CATEGORIES", "COUNTRIES", "PLATFORMS", "FarmOptions", "PlantedFarms", "default_farms",
           "generate", "plant_farms", "synth_store"]

GENERATOR_VERSION = 1
CHUNK = 1 << 15                     # accounts per seeded chunk of work
AS_OF = 1_735_689_600               # 2025-01-01T00:00:00Z: the snapshot time
EPOCH = 1_325_376_000               # 2012-01-01: the first accounts
_DAY = 86_400

DEGREE_SIGMA = 1.0                  # lognormal sigma of out-degrees
ZIPF_EXPONENT = 1.0                 # target audience ~ rank ** -exponent
AUDIENCE_CAP = 0.35                 # no creator targets more than this share of accounts
COMMUNITY_SIZE = 2_000              # accounts per community (about)
P_PRIMARY, P_SECONDARY = 0.6, 0.2   # creator follows by first / second interest (rest: global)
P_COMMUNITY = 0.8                   # peer follows inside the community
P_FARM_MATE = 0.5                   # premium fakes' peer follows to their own farm
FAKE_SHARE = 0.03                   # fake accounts per non-creator account (with farms)
MIN_FARM = 10                       # fake accounts per farm, at least
MAX_FAKE_SHARE = 0.2                # fakes may not exceed this share of non-creators
ACCOUNTS_PER_FARM = 50_000          # default farm count: one per this many accounts

# --- public API ---------------------------------------------------------------------
def default_farms(accounts: int, creators: int) -> int:
    """Number of bot farms :func:`generate` plants when ``farms`` is None.

    One per 50,000 non-creator accounts (at least one once there are 2,000).

    Examples
    --------
    >>> default_farms(300_000, 2_000), default_farms(1_000, 10)
    (6, 0)
    """
    rest = accounts - creators
    if rest < 2_000:
        return 0
    return max(1, round(rest / ACCOUNTS_PER_FARM))


def generate(accounts: int, creators: int, edges: int, seed: int = 0, *, farms: int | None = None,
             peer_share: float = 0.2, progress: Progress = SILENT) -> tuple[FollowerGraph, dict]:
    """Generate a synthetic follower graph with creators, attributes and planted bot farms.

    Parameters
    ----------
    accounts : number of accounts (external ids ``0..accounts-1``)
    creators : number of creator accounts (ids ``0..creators-1``), at most ``accounts``
    edges : number of follows to generate (met exactly unless the graph is too small
        to place them; ``report["warnings"]`` says so then)
    seed : non-negative integer; the same seed gives the same graph on any thread count
    farms : number of bot farms; None picks :func:`default_farms`, 0 plants none
    peer_share : share of follows that go to non-creator accounts rather than creators
    progress : :class:`kolgraph.progress.Progress` reporting the stages

    Returns
    -------
    (graph, truth) : the :class:`FollowerGraph` (with creator table, account table and
        ``followed_at``) and the ground truth, kept apart from it:

        - ``farm_of_account`` int32 per account: its farm, -1 for honest accounts;
        - ``farms`` table: ``farm``, ``kind`` ("cheap"/"premium"), ``accounts``,
          ``paying_creators`` (list of creator ids), ``window_start``/``window_end``
          (when the fakes followed the paying creators), ``follow_share``,
          ``camouflage``, ``country``;
        - ``account_interest`` int8 per account (index into :data:`CATEGORIES`);
        - ``account_community`` int32 per account.

    Raises
    ------
    InputError
        On arguments of the wrong type or out of range, or more ``edges`` than the
        graph can hold.

    Examples
    --------
    >>> g, truth = generate(5_000, 50, 40_000, seed=7, farms=2)
    >>> g.n_accounts, g.n_edges, g.n_creators
    (5000, 40000, 50)
    >>> sorted(truth)
    ['account_community', 'account_interest', 'farm_of_account', 'farms']
    >>> truth["farms"].column("kind").to_pylist()
    ['cheap', 'premium']
    >>> int((truth["farm_of_account"] >= 0).sum()) == sum(truth["farms"]["accounts"].to_pylist())
    True
    """
    plan = _Plan(accounts, creators, edges, seed, farms, peer_share)
    with progress.task("synthesising graph", total=8) as task:
        return _generate(plan, task)


def synth_store(out: str | Path, accounts: int, creators: int, edges: int, seed: int = 0, *,
                farms: int | None = None, peer_share: float = 0.2, overwrite: bool = False,
                memory: int | None = None, progress: Progress = SILENT,
                interactions: bool = False) -> Path:
    """Generate a graph (see :func:`generate`) and write it, with its truth, as a store.

    The generator settings go to the manifest under ``"synth"``; the truth under
    ``truth/`` (read it back with :func:`kolgraph.store.read_truth`). ``interactions``
    also plants interactions (:mod:`kolgraph.synth_interactions`; the follow graph is the
    same with or without them), their truth beside the farms'. With ``memory`` (bytes), or
    when the follows would not fit in :func:`kolgraph.outofcore.default_memory`, the CSR
    is built out of core within that budget: the same store, byte for byte.

    Returns
    -------
    Path of the store.
    """
    from kolgraph.outofcore import IN_MEMORY_EDGE_BYTES, build_directory, default_memory
    from kolgraph.store import write_store

    plan = _Plan(accounts, creators, edges, seed, farms, peer_share)
    out = Path(out)

    def finish(graph, truth, prebuilt=None) -> Path:
        settings = plan.settings()
        if interactions:
            from kolgraph.synth_interactions import generate_interactions

            with progress.task("synthesising interactions", total=None):
                truth.update(generate_interactions(graph, plan.seed))
            settings["interactions"] = True
        with progress.task("writing store", total=None):
            return write_store(graph, out, overwrite=overwrite, truth=truth,
                               extra_manifest={"synth": settings}, prebuilt=prebuilt)

    if memory is None and plan.e * IN_MEMORY_EDGE_BYTES <= default_memory():
        with progress.task("synthesising graph", total=8) as task:
            return finish(*_generate(plan, task))
    with build_directory(out) as build:
        with progress.task("synthesising graph", total=8) as task:
            graph, truth = _generate(plan, task, (build, memory or default_memory()))
        return finish(graph, truth, {f.stem: f for f in build.glob("*.npy")})


# --- arguments ----------------------------------------------------------------------
def _whole(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__"):
        raise InputError(f"{name} must be a whole number, got {value!r} ({type(value).__name__})")
    value = operator.index(value)
    if value < low:
        raise InputError(f"{name} must be at least {low}, got {value:,}")
    return value


class _Plan:
    """Checked arguments and the sizes derived from them."""

    def __init__(self, accounts, creators, edges, seed, farms, peer_share):
        self.n = _whole(accounts, "accounts", 1)
        self.c = _whole(creators, "creators", 1)
        self.e = _whole(edges, "edges", 0)
        self.seed = _whole(seed, "seed", 0)
        if self.n >= 2**31 - 1:
            raise InputError(f"accounts={self.n:,} exceeds the int32 id space (at most {2**31 - 2:,})")
        if self.c > self.n:
            raise InputError(f"creators={self.c:,} is more than accounts={self.n:,}: creators are "
                             "accounts too; raise accounts or lower creators")
        if isinstance(peer_share, bool) or not isinstance(peer_share, int | float | np.floating):
            raise InputError(f"peer_share must be a number between 0 and 1, got {peer_share!r}")
        self.peer_share = float(peer_share)
        if not 0.0 <= self.peer_share <= 1.0:
            raise InputError(f"peer_share must be between 0 and 1, got {peer_share!r}")
        rest = self.n - self.c
        self.farms = default_farms(self.n, self.c) if farms is None else _whole(farms, "farms", 0)
        if self.farms:
            most = int(MAX_FAKE_SHARE * rest) // MIN_FARM
            if self.farms > most:
                fix = f"use at most {most:,} farms or more accounts" if most else "use more accounts"
                raise InputError(
                    f"farms={self.farms:,} needs at least {self.farms * MIN_FARM:,} fake accounts "
                    f"({MIN_FARM} per farm), more than {MAX_FAKE_SHARE:.0%} of the {rest:,} "
                    f"non-creator accounts; {fix}, or farms=0 for none")
        self.fakes = max(self.farms * MIN_FARM, round(FAKE_SHARE * rest)) if self.farms else 0
        self.honest = rest - self.fakes           # non-creator honest accounts: the peer pool
        self.max_edges = self._capacity()
        if self.e > self.max_edges:
            raise InputError(
                f"edges={self.e:,} is more than the graph can hold: with {self.n:,} accounts and "
                f"{self.c:,} creators the generator places at most {self.max_edges:,} follows "
                "(an account follows at most half of the creators and half of the other "
                "non-creator accounts); ask for fewer edges or more accounts/creators")
        self.chunks = _k.chunk_count(self.n, CHUNK)

    def _capacity(self) -> int:
        c, h = self.c, self.honest
        per_creator = c // 2 + (h + 1) // 2
        per_honest = (c + 1) // 2 + h // 2
        per_fake = (c + 1) // 2 + (h + 1) // 2
        return c * per_creator + h * per_honest + self.fakes * per_fake

    def seeds(self, stage: int, n: int | None = None) -> np.ndarray:
        """Chunk seeds of one stage of work (independent of the thread count)."""
        ss = np.random.SeedSequence([self.seed, GENERATOR_VERSION, stage])
        return ss.generate_state(self.chunks if n is None else n, np.uint64)

    def rng(self, stage: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, GENERATOR_VERSION, stage])

    def settings(self) -> dict:
        return {"accounts": self.n, "creators": self.c, "edges": self.e, "seed": self.seed,
                "farms": self.farms, "fake_accounts": self.fakes, "peer_share": self.peer_share,
                "generator_version": GENERATOR_VERSION, "as_of": AS_OF,
                "categories": list(CATEGORIES)}


# --- generation ---------------------------------------------------------------------
def _generate(plan: _Plan, task, build: tuple | None = None) -> tuple[FollowerGraph, dict]:
    """``build``: ``(directory, memory)`` to build the CSR out of core there."""
    n, c = plan.n, plan.c
    cr = _creators(plan)
    task.advance()
    fm = _farms(plan, cr["weight"])
    role, farm_of = fm["role"], fm["farm_of"]
    task.advance()

    # interests, communities, countries, creation times
    cat_mass = np.bincount(cr["category"], weights=cr["weight"], minlength=len(CATEGORIES))
    cat_cum = np.cumsum(cat_mass / cat_mass.sum())
    n_comm = np.maximum(1, np.rint(cat_mass / cat_mass.sum() * n / COMMUNITY_SIZE)).astype(np.int64)
    comm_base = np.concatenate([[0], np.cumsum(n_comm)[:-1]]).astype(np.int64)
    rng = plan.rng(3)
    country_p = COUNTRY_SHARE / COUNTRY_SHARE.sum()
    comm_country = rng.choice(len(COUNTRIES), size=int(n_comm.sum()), p=country_p).astype(np.uint8)
    creator_cat = np.zeros(n, dtype=np.int8)
    creator_cat[:c] = cr["category"]
    cat1, cat2, comm, country, created = _k.account_setup(
        role, farm_of, creator_cat, fm["country"], fm["start"], cat_cum, comm_base, n_comm,
        comm_country, np.cumsum(country_p), 0.75, 0.08, EPOCH, AS_OF, AS_OF - 400 * _DAY, 2.0,
        plan.seeds(4), CHUNK)
    del creator_cat
    task.advance()

    creator_tables, peer_tables = _alias_tables(plan, cr, role, comm, int(n_comm.sum()), created)
    task.advance()

    # out-degrees and their split
    cap_cr, cap_peer = _caps(plan, role)
    cap = cap_cr.astype(np.int64) + cap_peer
    deg, warnings = _degrees(plan, role, fm["members"], cap)
    del cap
    kpay, kcr, kpeer = _k.split_degrees(deg, role, farm_of, cap_cr, cap_peer, fm["pay_ptr"], fm["q"],
                                        fm["camo"], plan.peer_share, plan.seeds(8), CHUNK)
    del cap_cr, cap_peer
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(deg, out=offsets[1:])
    del deg
    if offsets[-1] != plan.e and not warnings:
        warnings.append(f"placed {int(offsets[-1]):,} of the {plan.e:,} requested edges")
    task.advance()

    edge_args = (
        _k.EdgeAccounts(offsets, role, farm_of, cat1, cat2, comm, created, kpay, kcr, kpeer),
        creator_tables, peer_tables,
        _k.FarmTables(fm["pay_ptr"], fm["pay_list"], fm["start"], fm["length"], fm["member_ptr"],
                      fm["members"]),
        _k.EdgeMix(P_PRIMARY, P_SECONDARY, P_COMMUNITY, P_FARM_MATE, AS_OF), plan.seeds(9), CHUNK)
    built = _build_csr(plan, edge_args, build, task)
    del offsets, kpay, kcr, kpeer, peer_tables, edge_args
    in_indptr, in_indices, in_times, out_indptr, out_indices, n_self, n_dup, n_input = built
    del built
    task.advance()

    accounts = accounts_table(plan, role, cat1, cat2, country, created, in_indptr, out_indptr,
                              AS_OF, CHUNK)
    creators = creators_table(plan, cr, accounts.column("username"), in_indptr, in_indices, farm_of)
    report = {"input_edges": int(n_input), "self_follows": int(n_self), "duplicate_edges": int(n_dup),
              "edges": int(len(in_indices)), "accounts": n, "creators": c, "farms": plan.farms,
              "fake_accounts": plan.fakes, "warnings": warnings}
    graph = FollowerGraph(in_indptr, in_indices, out_indptr, out_indices,
                          IdMap(ints=np.arange(n, dtype=np.int64)), followed_at=in_times,
                          creators=creators, accounts=accounts, report=report)
    truth = {"farm_of_account": farm_of, "farms": fm["table"], "account_interest": cat1,
             "account_community": comm}
    task.advance()
    return graph, truth


def _build_csr(plan: _Plan, edge_args: tuple, build: tuple | None, task) -> tuple:
    """Generate the follows and build both CSRs, in memory or (``build``) through disk
    in pieces of chunks: ``(in_indptr, in_indices, in_times, out_indptr, out_indices,
    self-follows, duplicates, follows generated)``."""
    workers = max(1, min(numba.get_num_threads(), plan.chunks))   # the output does not depend on it
    n_chunks = len(edge_args[-2])
    if build is None:
        src, dst, times = _k.generate_edges(*edge_args, workers, 0, n_chunks)
        task.advance()
        return (*_csr.build_csr(src, dst, plan.n, times, True), len(src))
    from kolgraph.outofcore import build_csr_files, edge_budget

    directory, memory = build
    offsets = edge_args[0].offsets
    per_call = max(1, edge_budget(memory, plan.n, True)[0] // 4)  # edges per generator call

    def pieces():
        lo = 0
        while lo < n_chunks:
            start = offsets[min(plan.n, lo * CHUNK)]
            hi = lo + 1
            while hi < n_chunks and offsets[min(plan.n, (hi + 1) * CHUNK)] - start <= per_call:
                hi += 1
            yield _k.generate_edges(*edge_args, workers, lo, hi)
            lo = hi

    res = build_csr_files(pieces(), plan.n, directory, memory=memory, has_times=True)
    task.advance()
    a = {name: np.load(path, mmap_mode="r") for name, path in res.files.items()}
    return (a["in_indptr"], a["in_indices"], a["followed_at"], a["out_indptr"], a["out_indices"],
            res.n_self, res.n_dup, res.n_input)


def _alias_tables(plan: _Plan, cr: dict, role, comm, n_comm: int, created):
    """Alias tables of the follows: creators (global, per category); peers per community
    (packed), and communities by total appeal, for follows of anyone."""
    c = plan.c
    cr_prob, cr_alias = _k.alias_segments(cr["weight"], np.array([0, c], np.int64))
    cat_ptr, cat_members = _csr.group_by(cr["category"], len(CATEGORIES))
    cat_prob, cat_alias = _k.alias_segments(cr["weight"][cat_members], cat_ptr)
    peers = np.flatnonzero(role == _k.HONEST).astype(np.int32)
    comm_ptr, order = _csr.group_by(comm[peers], n_comm)
    peers = peers[order]
    del order
    appeal = plan.rng(5).lognormal(0.0, 1.3, size=len(peers))
    prob, alias = _k.alias_segments(appeal, comm_ptr)
    comm_rec = _k.pack_alias(prob, alias, peers, created, EPOCH)
    comm_appeal = np.bincount(comm[peers], weights=appeal, minlength=len(comm_ptr) - 1)
    top_prob, top_alias = _k.alias_segments(comm_appeal, np.array([0, len(comm_appeal)], np.int64))
    return (_k.CreatorTables(cr_prob, cr_alias, cat_ptr, cat_members, cat_prob, cat_alias),
            _k.PeerTables(comm_ptr, comm_rec, top_prob, top_alias, EPOCH))


def _creators(plan: _Plan) -> dict:
    """Category, platform and popularity weight of every creator."""
    rng = plan.rng(1)
    c = plan.c
    category = rng.choice(len(CATEGORIES), size=c, p=CAT_SHARE / CAT_SHARE.sum()).astype(np.int8)
    platform = rng.choice(len(PLATFORMS), size=c, p=PLAT_SHARE).astype(np.int8)
    rank = rng.permutation(c) + 1.0
    zipf = rank ** -ZIPF_EXPONENT * np.exp(0.3 * rng.standard_normal(c)) * CAT_REACH[category]
    weight = _saturation_weights(plan, zipf, category)
    return {"category": category, "platform": platform, "weight": weight}


def _saturation_weights(plan: _Plan, zipf: np.ndarray, category: np.ndarray) -> np.ndarray:
    """Sampling weights that give each creator its target audience.

    Targets are ``zipf`` shares of the expected creator follows, water-filled
    under ``AUDIENCE_CAP * accounts``. An account follows a creator once at most,
    so a popular creator drawn with probability ``p`` by an account making ``k``
    creator follows reaches it with probability ``1 - (1 - p)**k``, not ``p * k``:
    the weights are corrected for that (a few fixed-point rounds over quantiles of
    the out-degree distribution and the interest mixture).
    """
    from scipy.special import ndtri

    n = plan.n
    follows = plan.e * (1.0 - plan.peer_share)
    if follows <= 0:
        return zipf
    cap = AUDIENCE_CAP * n
    target = follows * zipf / zipf.sum()
    for _ in range(50):                      # water-fill under the cap
        over = target > cap
        if not over.any() or over.all():
            break
        spare = (target[over] - cap).sum()
        target[over] = cap
        target[~over] += spare * target[~over] / target[~over].sum()
    target = np.minimum(target, cap)
    z = ndtri((np.arange(32) + 0.5) / 32)
    k = np.exp(DEGREE_SIGMA * z)
    k *= follows / n / k.mean()              # creator follows per account, by quantile
    k = np.minimum(k, 0.9 * ((plan.c + 1) // 2))   # at most half the creators (the cap), a bit less
    big = target > 1e-3 * n                  # where 1 - (1 - p)**k is far from p * k
    weight = target.copy()
    for _ in range(12):
        real = _expected_audience(weight, category, k, big, n)
        weight = weight * np.clip(target / np.maximum(real, 1e-300), 0.5, 2.0)
    if not np.isfinite(weight).all() or weight.sum() <= 0:
        return target
    return weight


def _expected_audience(weight: np.ndarray, category: np.ndarray, k: np.ndarray, big: np.ndarray,
                       n: int) -> np.ndarray:
    """Expected audience of each creator under the interest mixture, for accounts making
    ``k`` (quantiles) distinct creator follows: repeats are redrawn, so an account makes
    ``k' >= k`` draws, with ``k'`` such that the expected distinct creators is ``k``."""
    total = weight.sum()
    cat_w = np.bincount(category, weights=weight, minlength=len(CATEGORIES))
    share = (cat_w / total)[category]            # accounts with this creator's category first
    second = np.minimum(share, 1.0 - share)      # ... and second
    rest = 1.0 - share - second
    p_g = (1.0 - P_PRIMARY - P_SECONDARY) * weight / total
    p_c = weight / cat_w[category]
    groups = ((share, P_PRIMARY * p_c + p_g), (second, P_SECONDARY * p_c + p_g), (rest, p_g))
    linear = sum(s * p for s, p in groups)       # expected follows per draw
    small = ~big
    lin_small = linear[small].sum()
    logs = [(s[big][:, None], np.log1p(-np.minimum(p[big], 1 - 1e-12))[:, None]) for s, p in groups]
    draws = k.copy()
    for _ in range(20):                          # Newton on sum_c reach_c(k') = k
        f = draws * lin_small - k
        fp = np.full_like(k, lin_small)
        for s, lg in logs:
            miss = np.exp(lg * draws[None, :])
            f += (s * (1.0 - miss)).sum(axis=0)
            fp -= (s * miss * lg).sum(axis=0)
        step = np.where(fp > 1e-12, f / np.maximum(fp, 1e-12), 0.0)
        draws = np.maximum(draws - step, k)
        if not np.abs(step).max() > 1e-9 * (1.0 + draws.max()):
            break
    real = n * linear * draws.mean()
    reach = sum(s * (1.0 - np.exp(lg * draws[None, :])) for s, lg in logs)
    real[big] = n * reach.mean(axis=1)
    return real


def _farms(plan: _Plan, weight: np.ndarray) -> dict:
    """Roles, farm membership, paying creators and windows of the planted farms."""
    rng = plan.rng(2)
    n, c, f = plan.n, plan.c, plan.farms
    role = np.zeros(n, dtype=np.int8)
    role[:c] = _k.CREATOR
    farm_of = np.full(n, -1, dtype=np.int32)
    if f == 0:
        empty_i64 = np.zeros(1, np.int64)
        return {"role": role, "farm_of": farm_of, "country": np.zeros(1, np.uint8),
                "start": np.zeros(1, np.int64), "length": np.ones(1, np.int64),
                "q": np.zeros(1), "camo": np.zeros(1), "pay_ptr": empty_i64,
                "pay_list": np.zeros(1, np.int32), "member_ptr": empty_i64,
                "members": np.zeros(0, np.int32), "table": _farm_table(
                    np.zeros(0, np.int32), [], np.zeros(0, bool), np.zeros(0, np.int64),
                    np.zeros(0, np.int64), np.zeros(0), np.zeros(0), np.zeros(0, np.uint8))}
    share = rng.lognormal(0.0, 0.8, size=f)
    sizes = MIN_FARM + rng.multinomial(plan.fakes - f * MIN_FARM, share / share.sum())
    cheap = rng.random(f) < 0.6
    if f >= 2 and (cheap.all() or not cheap.any()):
        cheap[-1] = not cheap[-1]
    fakes = (c + rng.choice(n - c, size=plan.fakes, replace=False)).astype(np.int32)
    member_ptr = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    members = np.concatenate([np.sort(fakes[member_ptr[i]:member_ptr[i + 1]]) for i in range(f)])
    farm_idx = np.repeat(np.arange(f, dtype=np.int32), sizes)
    farm_of[members] = farm_idx
    role[members] = np.where(cheap[farm_idx], _k.CHEAP, _k.PREMIUM)

    start = AS_OF - (rng.uniform(10, 365, size=f) * _DAY).astype(np.int64)
    length = np.exp(rng.uniform(np.log(2 * 3_600), np.log(5 * _DAY), size=f)).astype(np.int64)
    mean_deg = plan.e / max(n, 1)
    typical = mean_deg * math.exp(-DEGREE_SIGMA**2 / 2)          # the median out-degree
    hi = int(min(max(1, c // 2), max(4, min(40, round(1.2 * typical)))))
    lo = min(3, hi)
    n_pay = rng.integers(lo, hi + 1, size=f)
    favour_small = weight ** -0.25
    favour_small /= favour_small.sum()
    paying = [np.sort(rng.choice(c, size=int(k), replace=False, p=favour_small)) for k in n_pay]
    pay_ptr = np.concatenate([[0], np.cumsum(n_pay)]).astype(np.int64)
    pay_list = np.concatenate(paying).astype(np.int32)
    q = rng.uniform(0.7, 0.95, size=f)
    camo = np.where(cheap, rng.uniform(0.05, 0.25, size=f), rng.uniform(0.25, 0.5, size=f))
    country = rng.choice(len(COUNTRIES), size=f, p=COUNTRY_SHARE / COUNTRY_SHARE.sum()).astype(np.uint8)
    table = _farm_table(sizes, paying, cheap, start, length, q, camo, country)
    return {"role": role, "farm_of": farm_of, "country": country, "start": start, "length": length,
            "q": q, "camo": camo, "pay_ptr": pay_ptr, "pay_list": pay_list,
            "member_ptr": member_ptr, "members": members.astype(np.int32), "table": table}


def _farm_table(sizes, paying, cheap, start, length, q, camo, country) -> pa.Table:
    ts = pa.timestamp("s", tz="UTC")
    f = len(sizes)
    return pa.table({
        "farm": pa.array(np.arange(f, dtype=np.int32)),
        "kind": pa.array(np.where(cheap, "cheap", "premium").tolist() if f else [], pa.string()),
        "accounts": pa.array(np.asarray(sizes, dtype=np.int32)),
        "paying_creators": pa.array([p.astype(np.int64) for p in paying], pa.list_(pa.int64())),
        "window_start": pa.array(np.asarray(start, np.int64), ts),
        "window_end": pa.array(np.asarray(start, np.int64) + np.asarray(length, np.int64), ts),
        "follow_share": pa.array(np.asarray(q, np.float64)),
        "camouflage": pa.array(np.asarray(camo, np.float64)),
        "country": pa.array(COUNTRIES, pa.string()).take(pa.array(np.asarray(country, np.int32))),
    })


def _caps(plan: _Plan, role: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Most creator and peer follows each account may have (half of those it could follow)."""
    c, h = plan.c, plan.honest
    cap_cr = np.where(role == _k.CREATOR, c // 2, (c + 1) // 2).astype(np.int32)
    cap_peer = np.where(role == _k.HONEST, h // 2, (h + 1) // 2).astype(np.int32)
    return cap_cr, cap_peer


def _degrees(plan: _Plan, role: np.ndarray, fakes: np.ndarray, cap: np.ndarray
             ) -> tuple[np.ndarray, list[str]]:
    """Lognormal out-degrees scaled (by bisection) to add up to ``plan.e``."""
    x, frac = _k.degree_draws(plan.n, DEGREE_SIGMA, plan.seeds(6), CHUNK)
    e = plan.e
    guess = e / max(x.sum(), 1e-300)
    lo, hi = 0.0, 1.2 * guess + 1.0
    if _k.degree_sum(0.8 * guess, x, frac, cap) <= e:
        lo = 0.8 * guess
    while _k.degree_sum(hi, x, frac, cap) < e and hi < 1e18:
        lo, hi = hi, hi * 4.0
    close = max(50, e // 100_000)           # the rest is placed one follow at a time below
    for _ in range(64):
        mid = 0.5 * (lo + hi)
        total = _k.degree_sum(mid, x, frac, cap)
        if total <= e:
            lo = mid
            if e - total <= close:
                break
        else:
            hi = mid
    deg = _k.degrees_at(lo, x, frac, cap)
    del x, frac
    min_deg = 1 if e >= 2 * len(fakes) else 0
    seed, seed2 = plan.seeds(7, 2)
    _k.condition_degrees(deg, fakes, lo, DEGREE_SIGMA, cap, min_deg, seed)
    left = _k.adjust_total(deg, cap, role, e - int(deg.sum()), seed2)
    warnings = []
    if left:
        warnings.append(f"placed {e - left:,} of the {e:,} requested edges: the accounts could not "
                        "hold the rest")
    return deg, warnings

"""Per-account and temporal fraud signals: the flag kinds, lockstep groups, growth spikes,
bot scores and mass following."""

from __future__ import annotations

import calendar
import math
import time
import warnings as _warnings

import numpy as np
import pandas as pd
import pyarrow as pa

from kolgraph import botmodel
from kolgraph.botscore import BotRules, _prepare, score_accounts
from kolgraph.exceptions import InputError
from kolgraph.kernels import lockstep as _kl
from kolgraph.tables import KolgraphWarning

KINDS = ("cluster", "lockstep", "bot_score", "mass_following", "pod")
_DAY = 86_400


def lockstep_groups(g, cols: np.ndarray, *, window: int, n_min: int, m: int, burst: float
                    ) -> tuple[np.ndarray, list[dict]]:
    """Temporal lockstep followers (bool mask) and their groups (see :func:`kolgraph.kernels.fraud.lockstep`)."""
    hits, group = _kl.lockstep(np.asarray(g.in_indptr), np.asarray(g.in_indices), np.asarray(g.followed_at),
                              cols, g.n_accounts, int(window), int(n_min), int(m), float(burst))
    member = group >= 0
    groups = []
    if member.any():
        idx = np.flatnonzero(member)
        roots, inverse, sizes = np.unique(group[idx], return_inverse=True, return_counts=True)
        col_of = np.full(g.n_accounts, -1, np.int64)
        col_of[cols] = np.arange(len(cols))
        for gi, root in enumerate(roots.tolist()):
            if sizes[gi] < n_min:
                member[idx[inverse == gi]] = False
                continue
            fol = idx[inverse == gi]
            groups.append({"id": int(root), "followers": fol, "followers_count": int(len(fol)),
                           "creators": _common_creators(g, fol, cols, col_of, m)})
    return member, groups


def _common_creators(g, followers: np.ndarray, cols: np.ndarray, col_of: np.ndarray, m: int) -> np.ndarray:
    """Creators followed by at least half of a group (at least ``m`` shown even if fewer qualify)."""
    counts = np.zeros(len(cols), np.int64)
    for a in followers.tolist():
        j = col_of[g.following_idx(a)]
        counts[j[j >= 0]] += 1
    order = np.argsort(-counts, kind="stable")
    keep = order[(counts[order] * 2 >= len(followers)) | (np.arange(len(order)) < m)]
    keep = keep[counts[keep] > 0]
    return cols[keep]


SPIKE_WINDOW = 28  # days of history a day is judged against (two whole weeks per half)
STRONG = 0.25      # evidence explaining this share of a spike's excess over baseline: "bought?".
# Organic followers are almost never in lockstep or a cluster; a farm whose accounts follow only
# part of its customers puts only that part in lockstep (70% of 3 customers: about a third).


def growth_spikes(g, cols: np.ndarray, *, z: float, min_gain: int,
                  window: int = SPIKE_WINDOW) -> dict[int, list[dict]]:
    """Per creator (internal id): its spike days (ISO date, gain, baseline, scale) against
    the local trend- and weekday-aware baseline of
    :func:`kolgraph.kernels.lockstep.growth_spikes`."""
    ci, day, gain, base, scale = _kl.growth_spikes(np.asarray(g.in_indptr), np.asarray(g.followed_at),
                                                  np.asarray(cols, np.int64), _DAY, float(z),
                                                  int(min_gain), int(window))
    out: dict[int, list[dict]] = {}
    for i, d, gn, b, s in zip(ci.tolist(), day.tolist(), gain.tolist(), base.tolist(), scale.tolist(),
                              strict=True):
        out.setdefault(int(cols[i]), []).append({
            "date": time.strftime("%Y-%m-%d", time.gmtime(d * _DAY)), "gain": gn,
            "baseline": b, "scale": s})
    return out


def spike_evidence(g, spikes: dict[int, list[dict]], kinds: dict[str, np.ndarray]) -> dict[int, list[dict]]:
    """Each spike with what tells a bought burst from a real viral day, added in place:

    - ``cluster_share``: share of that day's new followers in a fraud cluster
      (``kinds["cluster"]``);
    - ``lockstep_share``: share in temporal lockstep (``kinds["lockstep"]``: they followed
      at least ``lockstep_m`` creators inside hot windows, i.e. together with the same other
      accounts at the same times). How bunched the day's follows are within the day is *not*
      evidence: a real viral post also brings its followers within hours.
    - ``excess_share``: ``(gain - baseline) / gain``, the part of the day beyond its baseline;
    - ``kind``: ``"bought?"`` when cluster or lockstep followers make up at least a quarter of
      that excess (``max(cluster_share, lockstep_share) >= STRONG * excess_share``), else
      ``"organic?"``. A kind that did not run counts as 0 (share ``None``).
    """
    rows = [(v, s) for v, ss in spikes.items() for s in ss]
    if not rows:
        return spikes
    names = ("cluster", "lockstep")
    bits = np.zeros(g.n_accounts, np.uint8)
    for b, k in enumerate(names):
        if k in kinds:
            bits |= kinds[k].astype(np.uint8) << b
    counts = _kl.day_flag_counts(np.asarray(g.in_indptr), np.asarray(g.in_indices), np.asarray(g.followed_at),
                                 np.array([v for v, _ in rows], np.int64),
                                 np.array([_day_of(s["date"]) for _, s in rows], np.int64), _DAY, bits, len(names))
    for (_, s), c in zip(rows, counts.tolist(), strict=True):
        total = max(c[-1], 1)
        shares = {k: (c[b] / total if k in kinds else None) for b, k in enumerate(names)}
        excess = max(s["gain"] - s["baseline"], 0.0) / max(s["gain"], 1)
        strongest = max((x for x in shares.values() if x is not None), default=0.0)
        s.update({"cluster_share": shares["cluster"], "lockstep_share": shares["lockstep"],
                  "excess_share": excess,
                  "kind": "bought?" if strongest > 0 and strongest >= STRONG * excess else "organic?"})
    return spikes


def _day_of(date: str) -> int:
    return calendar.timegm(time.strptime(date, "%Y-%m-%d")) // _DAY


_SCORE_CHUNK = 1 << 21  # accounts scored at a time (bounds the feature arrays' memory)


def _bot_scores(g, skipped: list[str], warnings: list[str]):
    """The bot score of every account (a DataFrame with ``score`` and ``logit``, row i =
    account i), or None without account attributes.

    The score is :func:`kolgraph.botscore.score_accounts`'s, computed without its texts
    (reasons and rules for every account cost most of its time and memory at millions of
    accounts): chunk by chunk, account age against the newest ``created_at`` of the whole
    table as score_accounts takes it. :func:`bot_reasons` writes the reasons of the
    accounts a report shows."""
    raw = g.raw_accounts()
    if raw is None or not set(raw.column_names) - {"flagged"}:  # a flags-only table has no profiles
        skipped.append("bot_score: the graph has no account attributes (ingest with --accounts)")
        return None
    table = g.accounts
    n = table.num_rows
    if n != g.n_accounts:
        raise InputError(f"the account table has {n} rows for {g.n_accounts} accounts")
    model = botmodel.default_model()
    _, cols, *_ = _prepare(table.slice(0, 0))  # the column mapping and its warnings, once
    as_of = _newest_created(table) if "created_at" in cols else None
    logit = np.empty(n, np.float64)
    missing = {}
    for lo in range(0, n, _SCORE_CHUNK):
        _, cols, *_ = _quiet_prepare(table.slice(lo, _SCORE_CHUNK))
        values, _ = botmodel.feature_values(cols, as_of)
        k = min(_SCORE_CHUNK, n - lo)
        logit[lo:lo + k], _ = botmodel.contributions(model, values, k)
        missing = {f["name"]: botmodel.BY_NAME[f["name"]].needs
                   for f in model["features"] if f["name"] not in values}
    if missing:
        _warnings.warn("model feature(s) missing (they contribute 0): "
                       + "; ".join(f"{k} (needs {v})" for k, v in missing.items()),
                       KolgraphWarning, stacklevel=4)
    out = pd.DataFrame({"score": botmodel.sigmoid(logit), "logit": logit})
    out.attrs["as_of"] = as_of
    return out


def _quiet_prepare(table):
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        return _prepare(table)


def _newest_created(table) -> float:
    """score_accounts' reference time for account age: the newest ``created_at`` (seconds)."""
    _, cols, *_ = _quiet_prepare(table.select(["id", "created_at"]))
    created = cols["created_at"].cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.float64)
    return float(np.nanmax(created)) if np.isfinite(created).any() else math.nan


def bot_reasons(g, accounts: np.ndarray, bot: pd.DataFrame) -> list[str]:
    """score_accounts' ``reasons`` of ``accounts`` (internal ids), scored as :func:`_bot_scores`
    scored them (same reference time)."""
    if not len(accounts):
        return []
    as_of = bot.attrs.get("as_of")
    rules = BotRules(as_of=None if as_of is None or math.isnan(as_of)
                     else pd.Timestamp(as_of, unit="s", tz="UTC"))
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        scored = score_accounts(g.accounts.take(pa.array(accounts)), rules=rules)
    return scored["reasons"].tolist()


def _following(g) -> np.ndarray:
    """Follows per account: the ``following`` attribute where given, else the graph out-degree."""
    out = np.asarray(g.out_degree, dtype=np.int64).copy()
    table = g.accounts if g.raw_accounts() is not None else None
    if table is not None and "following" in table.column_names:
        col = table.column("following").to_numpy(zero_copy_only=False)
        given = ~np.isnan(col.astype(np.float64))
        out[given] = np.maximum(out[given], col[given].astype(np.int64))
    return out


def _flag_bits(kinds: dict[str, np.ndarray], n: int) -> np.ndarray:
    """One uint8 per account, bit i set when flagged by ``KINDS[i]``."""
    bits = np.zeros(n, np.uint8)
    for i, k in enumerate(KINDS):
        if k in kinds:
            bits |= (kinds[k].astype(np.uint8) << i)
    return bits

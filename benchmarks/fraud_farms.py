"""Planted-farm benchmark of the fraud review (issue 14): real graphs x crawl shapes x farm settings.

Run from the repo root::

    python -m benchmarks.fraud_farms --graphs dev [--out DIR]
    python -m benchmarks.fraud_farms --graphs validation --validation [--out DIR]   # once, frozen

For every graph x shape x farm setting it plants ``farms`` farms with
:func:`kolgraph.synth.plant_farms` into the *full* graph, derives the crawl, builds a
:class:`~kolgraph.FollowerGraph` and runs ``g.fraud()`` and ``rgmining-fraudar`` (told the
number of farms: one block per farm, each block's rows removed before the next peel) on the
same graph. It reports follower and creator precision / recall / F1 per cell, and, per
graph x shape, the share of accounts flagged by clusters when no farm is planted. Writes
``fraud-farms-<graphs>.md`` and ``.json`` into ``--out`` (default ``bench-report/``).

**Graphs.** Fixed here, before any tuning of the fraud review:
``DEVELOPMENT`` (email-Eu-core, wiki-Vote, twitter-brand bofa_careers) is what the
detector may be measured on while it is being changed; ``VALIDATION`` (ego-facebook,
KONECT ego-twitter, twitter-brand verizoncareers and hersheycareers) is held out: the
harness refuses to run it without ``--validation``. Graphs are read from
``/work/shared/data`` (``$KOLGRAPH_SHARED_DATA``) when present, else from ``tests/data``.
Self-follows and duplicate follows are dropped; ego-facebook is undirected and gets both
directions.

**Shapes** (derived after the farms are planted into the full graph, with ``seed``):

- ``full``: the whole graph.
- ``followee``: a *followee crawl* (rows << columns): a uniform sample of the accounts
  that follow someone, at rate ``min(0.3, 3000 / following accounts)`` -- the planted
  fakes are following accounts like any other, so they are crawled at the same rate --
  and every follow they make.
- ``follower``: a *follower crawl* (columns << rows): 300 candidate creators sampled among
  the accounts with at least 5 followers and at most the 99th percentile of in-degree,
  plus every farm customer (a brand vets the creators it considers hiring; the paying
  ones are among them), and every follow into the candidates.

The truth of a cell is the fakes that are rows of the derived graph and the customers
that are columns of it.
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import json
import math
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from kolgraph.synth import FarmOptions, plant_farms

ROOT = Path(__file__).resolve().parent.parent
SHARED_ENV = "KOLGRAPH_SHARED_DATA"
SHARED_DEFAULT = Path("/work/shared/data")

# name -> (path under the data folder, undirected); tests/data holds some of them gzipped
GRAPHS = {
    "email-Eu-core": ("email-Eu-core/email-Eu-core.txt", False),
    "wiki-Vote": ("wiki-Vote/wiki-Vote.txt", False),
    "bofa_careers": ("twitter-brand-follower-graphs/bofa_careers.json", False),
    "ego-facebook": ("ego-facebook/facebook_combined.txt", True),
    "ego-twitter": ("konect-ego-twitter/out.ego-twitter", False),
    "verizoncareers": ("twitter-brand-follower-graphs/verizoncareers.json", False),
    "hersheycareers": ("twitter-brand-follower-graphs/hersheycareers.json", False),
    "friend-circles": (None, True),  # synthetic: see friend_circles()
}
# fixed before any tuning; never measure VALIDATION while changing the detector
DEVELOPMENT = ("email-Eu-core", "wiki-Vote", "bofa_careers", "friend-circles")
VALIDATION = ("ego-facebook", "ego-twitter", "verizoncareers", "hersheycareers")

SHAPES = ("full", "followee", "follower")
SETTINGS = {
    # the held-out case: 350 fakes, 40 customers with 5-60 followers, 60% followed
    "issue": FarmOptions(size=350, customers=40, audience="small", share=0.6,
                         camouflage="popularity"),
    "small": FarmOptions(size=50, customers=5, audience="small", share=0.9, camouflage="uniform"),
    "large": FarmOptions(size=1000, customers=100, audience="mid", share=0.3,
                         camouflage="popularity"),
}
FARMS = 2
CRAWL_RATE, CRAWL_ROWS = 0.3, 3_000   # followee crawl: sampling rate, rows aimed at
CANDIDATES, MIN_FOLLOWERS, TOP_PERCENTILE = 300, 5, 99  # follower crawl
FRAUDAR_MAX_EDGES = 1_500_000


# --- data --------------------------------------------------------------------------------------
def data_roots() -> list[Path]:
    shared = Path(os.environ.get(SHARED_ENV) or SHARED_DEFAULT)
    return [p for p in (shared, ROOT / "tests" / "data") if p.is_dir()]


def load_graph(name: str, roots: list[Path] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(src, dst)`` of a real graph: self-follows and duplicates dropped, undirected graphs
    in both directions."""
    rel, undirected = GRAPHS[name]
    if rel is None:
        return friend_circles()
    for root in roots if roots is not None else data_roots():
        for path in (root / rel, root / (rel + ".gz")):
            if path.is_file():
                return _clean(_read(path), undirected)
    raise FileNotFoundError(f"{name}: {rel} is in none of {roots or data_roots()}")


def friend_circles(n: int = 4_000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A synthetic friendship graph of dense circles, for development (added after the first
    validation run showed that a follower crawl of a friendship graph is flagged): circle
    sizes lognormal in 20-400, within-circle friendship probability uniform in 0.1-0.5,
    about 5% of friendships across circles; both directions."""
    import networkx as nx

    rng = np.random.default_rng(seed)
    sizes: list[int] = []
    while sum(sizes) < n:
        sizes.append(int(np.clip(rng.lognormal(4.0, 0.8), 20, 400)))
    sizes[-1] -= sum(sizes) - n
    sizes = [s for s in sizes if s > 0]
    p_in = rng.uniform(0.1, 0.5, len(sizes))
    p = [[p_in[i] if i == j else 0.05 * math.sqrt(p_in[i] * p_in[j] * sizes[i] * sizes[j]) / n
          for j in range(len(sizes))] for i in range(len(sizes))]
    g = nx.stochastic_block_model(sizes, p, seed=seed, sparse=True)
    return _clean(np.array(g.edges(), dtype=np.int64), True)


def _read(path: Path) -> np.ndarray:
    if path.name.endswith((".json", ".json.gz")):
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        return np.array(json.loads(raw)["edges"], dtype=np.int64).reshape(-1, 2)
    return np.loadtxt(path, dtype=np.int64, comments=("#", "%"), usecols=(0, 1), ndmin=2)


def _clean(e: np.ndarray, undirected: bool) -> tuple[np.ndarray, np.ndarray]:
    if undirected:
        e = np.concatenate([e, e[:, ::-1]])
    e = e[e[:, 0] != e[:, 1]]
    e = np.unique(e, axis=0)
    return e[:, 0].copy(), e[:, 1].copy()


# --- crawl shapes ------------------------------------------------------------------------------
def derive(shape: str, src: np.ndarray, dst: np.ndarray, customers: np.ndarray, seed: int):
    """The ``shape`` crawl of the edge list (see the module docstring): ``(src, dst)``."""
    rng = np.random.default_rng(seed)
    if shape == "full":
        return src, dst
    if shape == "followee":
        following = np.unique(src)
        rate = min(CRAWL_RATE, CRAWL_ROWS / len(following))
        crawled = following[rng.random(len(following)) < rate]
        keep = np.isin(src, crawled)
    elif shape == "follower":
        ids, in_deg = np.unique(dst, return_counts=True)
        top = np.percentile(in_deg, TOP_PERCENTILE)
        ok = ids[(in_deg >= MIN_FOLLOWERS) & (in_deg <= top) & ~np.isin(ids, customers)]
        cand = rng.choice(ok, min(CANDIDATES, len(ok)), replace=False)
        keep = np.isin(dst, np.concatenate([cand, customers]))
    else:
        raise ValueError(f"unknown shape {shape!r}; choose from {', '.join(SHAPES)}")
    return src[keep], dst[keep]


# --- detectors ---------------------------------------------------------------------------------
def run_kolgraph(g) -> tuple[set, set, float]:
    """Followers and creators (external ids) of ``g.fraud()``'s clusters, and seconds."""
    t0 = time.perf_counter()
    rep = g.fraud()
    sec = time.perf_counter() - t0
    fol = {int(x) for c in rep.clusters for x in g.external(c.followers)}
    cre = {int(x) for c in rep.clusters for x in g.external(c.creators)}
    return fol, cre, sec


def run_fraudar(g, k: int) -> tuple[set, set, float] | None:
    """``rgmining-fraudar``, ``k`` blocks, each block's rows removed before the next peel."""
    try:
        from fraudar.export import greedy
    except ImportError:
        return None
    import scipy.sparse as sp

    from kolgraph.fraud import _columns, bipartite

    cols = _columns(g)
    ra, indptr, indices, *_ = bipartite(g, cols)
    if len(indices) > FRAUDAR_MAX_EDGES:
        return None
    csr = sp.csr_matrix((np.ones(len(indices), np.int64), indices, indptr),
                        shape=(len(ra), len(cols))).tolil()
    fol, cre = set(), set()
    t0 = time.perf_counter()
    for _ in range(k):
        if csr.nnz == 0:
            break
        with contextlib.redirect_stdout(io.StringIO()):  # it prints its progress
            (rows, cs), _ = greedy.logWeightedAveDegree(csr.tocsr())
        rows = np.array(sorted(rows), dtype=np.int64)
        fol |= {int(x) for x in g.external(ra[rows])}
        cre |= {int(x) for x in g.external(cols[np.array(sorted(cs), dtype=np.int64)])}
        for r in rows.tolist():
            csr.rows[r] = []
            csr.data[r] = []
    return fol, cre, time.perf_counter() - t0


def prf(found: set, truth: set) -> dict:
    tp = len(found & truth)
    p = tp / len(found) if found else 0.0
    r = tp / len(truth) if truth else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "found": len(found)}


# --- the grid ----------------------------------------------------------------------------------
def cell(src, dst, shape: str, setting: str, seed: int, fraudar: bool = True) -> dict:
    """One graph x shape x setting: plant, derive, detect, score."""
    from kolgraph import FollowerGraph

    planted = plant_farms(src, dst, SETTINGS[setting], farms=FARMS, seed=seed)
    s, d = derive(shape, planted.src, planted.dst, planted.customer_ids, seed + 1)
    g = FollowerGraph.from_edges(s, d)
    fakes = set(np.intersect1d(planted.fake_ids, s).tolist())
    customers = set(np.intersect1d(planted.customer_ids, d).tolist())
    out = {"shape": shape, "setting": setting, "accounts": int(g.n_accounts),
           "edges": int(g.n_edges), "rows": int(len(np.unique(s))), "columns": int(len(np.unique(d))),
           "fakes": len(fakes), "customers": len(customers), "warnings": planted.warnings}
    fol, cre, sec = run_kolgraph(g)
    out["kolgraph"] = {"followers": prf(fol, fakes), "creators": prf(cre, customers),
                       "seconds": sec}
    ref = run_fraudar(g, FARMS) if fraudar else None
    if ref is not None:
        out["fraudar"] = {"followers": prf(ref[0], fakes), "creators": prf(ref[1], customers),
                          "seconds": ref[2]}
    return out


def clean(src, dst, shape: str, seed: int) -> dict:
    """Accounts flagged by clusters on the ``shape`` crawl of the graph without farms."""
    from kolgraph import FollowerGraph

    s, d = derive(shape, src, dst, np.zeros(0, np.int64), seed + 1)
    g = FollowerGraph.from_edges(s, d)
    fol, _, sec = run_kolgraph(g)
    return {"shape": shape, "accounts": int(g.n_accounts), "rows": int(len(np.unique(s))),
            "flagged": len(fol), "flag_rate": len(fol) / g.n_accounts,
            "flag_rate_rows": len(fol) / len(np.unique(s)), "seconds": sec}


def run(graphs, *, validation: bool = False, shapes=SHAPES, settings=tuple(SETTINGS),
        seed: int = 14, fraudar: bool = True, roots: list[Path] | None = None, log=None) -> dict:
    """The whole grid; refuses validation graphs unless ``validation`` is set."""
    held = [g for g in graphs if g in VALIDATION]
    if held and not validation:
        raise PermissionError(f"{', '.join(held)} are validation graphs: measured once, after the "
                              "parameters are frozen, with --validation")
    out = {"graphs": list(graphs), "shapes": list(shapes), "settings": {
        k: asdict(SETTINGS[k]) | {"farms": FARMS} for k in settings}, "seed": seed,
        "cells": [], "clean": []}
    for name in graphs:
        src, dst = load_graph(name, roots)
        for shape in shapes:
            c = clean(src, dst, shape, seed) | {"graph": name}
            out["clean"].append(c)
            if log:
                log(f"{name} {shape} clean: {c['flagged']} of {c['accounts']} flagged")
            for setting in settings:
                r = cell(src, dst, shape, setting, seed, fraudar) | {"graph": name}
                out["cells"].append(r)
                if log:
                    k, f = r["kolgraph"], r.get("fraudar")
                    log(f"{name} {shape} {setting}: kolgraph F1 {k['followers']['f1']:.2f} / "
                        f"{k['creators']['f1']:.2f}" + (f", fraudar {f['followers']['f1']:.2f} / "
                                                      f"{f['creators']['f1']:.2f}" if f else ""))
    out["summary"] = summary(out)
    return out


def summary(out: dict) -> dict:
    cells = out["cells"]
    if not cells:
        return {}
    kf = [c["kolgraph"]["followers"]["f1"] for c in cells]
    kc = [c["kolgraph"]["creators"]["f1"] for c in cells]
    with_ref = [c for c in cells if "fraudar" in c]
    return {"kolgraph_follower_f1": float(np.mean(kf)), "kolgraph_creator_f1": float(np.mean(kc)),
            "fraudar_follower_f1": (float(np.mean([c["fraudar"]["followers"]["f1"] for c in with_ref]))
                                    if with_ref else None),
            "fraudar_creator_f1": (float(np.mean([c["fraudar"]["creators"]["f1"] for c in with_ref]))
                                   if with_ref else None),
            "cells_at_least_fraudar": sum(c["kolgraph"]["followers"]["f1"] >= c["fraudar"]["followers"]["f1"]
                                          for c in with_ref),
            "cells_with_fraudar": len(with_ref),
            "max_clean_flag_rate": max((c["flag_rate"] for c in out["clean"]), default=0.0)}


def markdown(out: dict) -> str:
    lines = ["| graph | shape | setting | fakes | customers | kolgraph followers P / R / F1 | "
             "kolgraph creators F1 | fraudar followers P / R / F1 | fraudar creators F1 | "
             "F1 ≥ fraudar |", "|---|---|---|---|---|---|---|---|---|---|"]
    for c in out["cells"]:
        k, f = c["kolgraph"], c.get("fraudar")
        kp = k["followers"]
        ref = (f"{f['followers']['precision']:.2f} / {f['followers']['recall']:.2f} / "
               f"{f['followers']['f1']:.2f}", f"{f['creators']['f1']:.2f}",
               "yes" if kp["f1"] >= f["followers"]["f1"] else "**no**") if f else ("—", "—", "—")
        lines.append(f"| {c['graph']} | {c['shape']} | {c['setting']} | {c['fakes']} | "
                     f"{c['customers']} | {kp['precision']:.2f} / {kp['recall']:.2f} / "
                     f"**{kp['f1']:.2f}** | {k['creators']['f1']:.2f} | {ref[0]} | {ref[1]} | {ref[2]} |")
    lines += ["", "Without planted farms (accounts in clusters):", "",
              "| graph | shape | accounts | following accounts | flagged | share of accounts |",
              "|---|---|---|---|---|---|"]
    for c in out["clean"]:
        lines.append(f"| {c['graph']} | {c['shape']} | {c['accounts']:,} | {c['rows']:,} | "
                     f"{c['flagged']:,} | {100 * c['flag_rate']:.2f}% |")
    s = out.get("summary") or {}
    if s:
        fr = s["fraudar_follower_f1"]
        lines += ["", f"Mean follower F1: kolgraph **{s['kolgraph_follower_f1']:.3f}**"
                  + (f", fraudar {fr:.3f}" if fr is not None else "")
                  + f"; mean creator F1: kolgraph **{s['kolgraph_creator_f1']:.3f}**"
                  + (f", fraudar {s['fraudar_creator_f1']:.3f}" if fr is not None else "")
                  + f"; cells with kolgraph follower F1 ≥ fraudar: {s['cells_at_least_fraudar']} of "
                  f"{s['cells_with_fraudar']}; largest clean flag rate "
                  f"{100 * s['max_clean_flag_rate']:.2f}%."]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.fraud_farms", description=__doc__.split("\n")[0])
    ap.add_argument("--graphs", default="dev",
                    help="dev, validation, all, or comma-separated names (default dev)")
    ap.add_argument("--validation", action="store_true",
                    help="allow the held-out validation graphs (run once, parameters frozen)")
    ap.add_argument("--shapes", default=",".join(SHAPES))
    ap.add_argument("--settings", default=",".join(SETTINGS))
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--no-fraudar", action="store_true", help="skip rgmining-fraudar")
    ap.add_argument("--out", type=Path, default=ROOT / "bench-report")
    args = ap.parse_args(argv)
    named = {"dev": DEVELOPMENT, "validation": VALIDATION, "all": DEVELOPMENT + VALIDATION}
    graphs = named.get(args.graphs) or tuple(x.strip() for x in args.graphs.split(","))
    unknown = [x for x in graphs if x not in GRAPHS]
    if unknown:
        ap.error(f"unknown graphs {unknown}; choose from {', '.join(GRAPHS)}")
    if any(x in VALIDATION for x in graphs) and not args.validation:
        ap.error("validation graphs are held out: pass --validation (once, after freezing)")
    try:
        out = run(graphs, validation=args.validation, shapes=args.shapes.split(","),
                  settings=args.settings.split(","), seed=args.seed, fraudar=not args.no_fraudar,
                  log=lambda m: print(m, file=sys.stderr, flush=True))
    except PermissionError as e:
        ap.error(str(e))
    args.out.mkdir(parents=True, exist_ok=True)
    stem = args.out / f"fraud-farms-{args.graphs.replace(',', '+')}"
    stem.with_suffix(".json").write_text(json.dumps(out, indent=1, default=str))
    stem.with_suffix(".md").write_text(markdown(out))
    print(markdown(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

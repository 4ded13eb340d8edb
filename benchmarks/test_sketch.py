"""Per-creator audience sketches: build time beside Apache DataSketches and datasketch, and
estimation error at equal serialized bytes.

Group ``sketch-build-<size>``: sketch every creator of the synthetic store.

- ``kolgraph.sketch``: ``build_sketches(g)``: account hashes, then one numba pass over the
  creators' followers-of rows (HLL p=12 + KMV k=4096).
- ``datasketches``: per creator ``hll_sketch(12, HLL_8)`` and ``update_theta_sketch(12)``,
  ``update`` per follower id (its Python API takes one item per call).
- ``datasketch``: per creator ``HyperLogLogPlusPlus(p=12)``, ``update`` per follower id
  (pure Python hashing); skipped above ``DATASKETCH_MAX_EDGES``.

Accuracy at equal memory (untimed, once per size, in the kolgraph workload's
``extra_info["accuracy_equal_memory"]`` and in ``sketch-accuracy-<size>.md``/``.json`` beside
the report): every pair of the ``ACC_CREATORS`` largest creators, intersection error relative
to the smaller audience, union error on ``UNION_PAIRS`` of them, percentiles 50/90/99. Memory
is the mean serialized bytes of one creator's sketch: our ``.kgsk`` (Elias–Fano coded hashes
+ HLL registers) against DataSketches' theta ``serialize()`` (as built, after ``trim()``, and
with ``compress=True``) + HLL_8 ``serialize_compact()``; for each of those we take the largest
k whose mean bytes fit, and datasketch's HLL++ at the most registers within our default bytes
(intersections by inclusion–exclusion). kolgraph intersections come from ``sketch_report``
(maximum likelihood with exact audiences); DataSketches' from ``theta_intersection``.

Target (issue 7): build at least 10x faster than datasketches, error no worse.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks._harness import Workload, measure

P, K, LG_K = 12, 4096, 12
ACC_CREATORS = 200  # every pair of them: 19,900 creator pairs
UNION_PAIRS = 2000
Q = [50, 90, 99]
DATASKETCH_MAX_EDGES = 2_000_000  # about 3 µs per update in pure Python
_STATE: dict = {}


def _g(path: Path):
    import kolgraph

    key = str(path)
    if key not in _STATE:
        _STATE[key] = kolgraph.open(path)
    return _STATE[key]


def _rows(g):
    idx = np.sort(np.asarray(g.creators.column("idx").to_numpy(), dtype=np.int64))
    ids = np.asarray(g.ids.ints)[idx] if g.ids.kind == "int" else np.asarray(g.external(idx))
    return idx, ids


def kolgraph_build(path: Path, scratch: Path):
    from kolgraph.sketch import build_sketches

    return build_sketches(_g(path), p=P, k=K)


def datasketches_build(path: Path, scratch: Path):
    import datasketches as ds

    g = _g(path)
    idx, _ = _rows(g)
    ext = np.asarray(g.ids.ints) if g.ids.kind == "int" else None
    out = []
    for c in idx:
        row = np.asarray(g.in_indices[g.in_indptr[c]:g.in_indptr[c + 1]])
        h, t = ds.hll_sketch(LG_K, ds.tgt_hll_type.HLL_8), ds.update_theta_sketch(LG_K)
        for x in (ext[row] if ext is not None else row).tolist():
            h.update(x)
            t.update(x)
        out.append((h, t))
    return out


def datasketch_build(path: Path, scratch: Path):
    from datasketch import HyperLogLogPlusPlus

    g = _g(path)
    idx, _ = _rows(g)
    ext = np.asarray(g.ids.ints) if g.ids.kind == "int" else None
    out = []
    for c in idx:
        row = np.asarray(g.in_indices[g.in_indptr[c]:g.in_indptr[c + 1]])
        h = HyperLogLogPlusPlus(p=P)
        for x in (ext[row] if ext is not None else row).tolist():
            h.update(str(x).encode())
        out.append(h)
    return out


def warm_jit() -> None:
    from kolgraph import FollowerGraph
    from kolgraph.sketch import build_sketches

    build_sketches(FollowerGraph.from_edges([1, 2, 3], [9, 9, 8]))


WORKLOADS = [
    Workload("kolgraph.sketch", "kolgraph",
             f"build_sketches(g, p={P}, k={K}): every creator's HLL + KMV in one numba pass",
             kolgraph_build, lambda s: {"creators": len(s.keys), "bytes": s.nbytes},
             jit_warm="benchmarks.test_sketch:warm_jit",
             targets=[{"peer": "datasketches", "min_speedup": 10}]),
    Workload("datasketches", "peer",
             f"per creator hll_sketch({LG_K}, HLL_8) + update_theta_sketch({LG_K}), update per id",
             datasketches_build, lambda s: {"creators": len(s)}, slow=True),
    Workload("datasketch", "peer", f"per creator HyperLogLogPlusPlus(p={P}), update per id",
             datasketch_build, lambda s: {"creators": len(s)}, slow=True,
             max_edges=DATASKETCH_MAX_EDGES,
             skip_reason=f"datasketch is skipped above {DATASKETCH_MAX_EDGES / 1e6:g}M edges: "
                         "pure-Python hashing, minutes per build"),
]


# --- accuracy at equal memory -------------------------------------------------------------------
def _serialized_bytes_ours(sk) -> np.ndarray:
    return np.array([len(sk.sketch(r, id=int(x)).to_bytes()) for r, x in enumerate(sk.keys)])


def _accuracy(g) -> dict:
    """Untimed: intersection and union error of every pair of the ``ACC_CREATORS`` largest
    creators, per sketch configuration, with the mean bytes of one creator's serialized
    sketch (the figure equal memory is about)."""
    import datasketches as ds

    from kolgraph.sketch import build_sketches, sketch_report

    idx, _ = _rows(g)
    deg = np.asarray(g.in_degree)[idx]
    top = np.sort(idx[np.argsort(-deg, kind="stable")[:ACC_CREATORS]])
    n = len(top)
    rows = [np.asarray(g.in_indices[g.in_indptr[c]:g.in_indptr[c + 1]]) for c in top]
    sizes = np.array([len(r) for r in rows], dtype=float)
    inter = np.zeros((n, n))
    mark = np.zeros(g.n_accounts, dtype=bool)
    for i, r in enumerate(rows):  # the exact intersections
        mark[r] = True
        inter[i] = [np.count_nonzero(mark[rj]) for rj in rows]
        mark[r] = False
    iu, ju = np.triu_indices(n, 1)
    smaller = np.minimum(sizes[iu], sizes[ju])
    rng = np.random.default_rng(7)
    upick = rng.choice(len(iu), min(UNION_PAIRS, len(iu)), replace=False)
    true_union = sizes[iu] + sizes[ju] - inter[iu, ju]
    ext = np.asarray(g.ids.ints) if g.ids.kind == "int" else np.asarray(g.external(np.arange(g.n_accounts)))
    results: dict[str, dict] = {}

    def record(name, est_inter, est_union, nbytes, entries, note):
        ie = np.abs(est_inter - inter[iu, ju]) / np.maximum(smaller, 1)
        ue = np.abs(est_union - true_union[upick]) / true_union[upick]
        results[name] = {"note": note, "bytes_mean": round(float(np.mean(nbytes)), 1),
                         "entries_mean": round(float(np.mean(entries)), 1),
                         "intersection_err_over_smaller_p50_p90_p99":
                             np.percentile(ie, Q).round(5).tolist(),
                         "union_rel_error_p50_p90_p99": np.percentile(ue, Q).round(5).tolist()}

    def ours(k):
        sk = build_sketches(g, p=P, k=k, rows=top)
        sketches = [sk.sketch(r, id=r) for r in range(n)]
        est = np.zeros((n, n))
        blocks = [np.arange(a, min(a + 32, n)) for a in range(0, n, 32)]
        for bi, a in enumerate(blocks):  # pair counts do not depend on the other creators
            for b in blocks[bi:]:
                members = np.unique(np.concatenate([a, b]))
                c = np.asarray(sketch_report([sketches[m] for m in members]).counts, float)
                est[np.ix_(members, members)] = c
        union = [sketch_report([sketches[iu[t]], sketches[ju[t]]]).unique_estimate for t in upick]
        return est[iu, ju], np.array(union), _serialized_bytes_ours(sk), np.diff(sk.theta_indptr)

    record(f"kolgraph k={K}", *ours(K), f"KMV k={K} + HLL p={P} (8-bit registers), .kgsk bytes")

    thetas, trimmed, hlls = [], [], []
    for r in rows:
        t, h = ds.update_theta_sketch(LG_K), ds.hll_sketch(LG_K, ds.tgt_hll_type.HLL_8)
        for x in ext[r].tolist():
            t.update(x)
            h.update(x)
        thetas.append(t.compact())
        t.trim()
        trimmed.append(t.compact())
        hlls.append(h)
    hll_bytes = np.array([len(h.serialize_compact()) for h in hlls])

    def ds_pairs(sks):
        est = np.empty(len(iu))
        for t, (i, j) in enumerate(zip(iu, ju, strict=True)):
            it = ds.theta_intersection()
            it.update(sks[i])
            it.update(sks[j])
            est[t] = it.get_result().get_estimate()
        un = []
        for t in upick:
            u = ds.hll_union(LG_K)
            u.update(hlls[iu[t]])
            u.update(hlls[ju[t]])
            un.append(u.get_result().get_estimate())
        nbytes = np.array([len(s.serialize()) for s in sks]) + hll_bytes
        return est, np.array(un), nbytes, [s.num_retained for s in sks]

    record(f"datasketches lg_k={LG_K}, trimmed", *ds_pairs(trimmed),
           f"update_theta_sketch({LG_K}).trim() (at most {K} hashes) + hll_sketch({LG_K}, HLL_8)")
    record(f"datasketches lg_k={LG_K}", *ds_pairs(thetas),
           f"update_theta_sketch({LG_K}) as built (up to ~{2 * K} hashes) + hll_sketch({LG_K}, "
           "HLL_8), serialize()")

    def k_within(budget):  # the largest k whose mean .kgsk bytes fit the budget
        lo, hi = 16, max(K + 1, min(4 * K, int(sizes.max()) + 1))
        while hi - lo > 1:
            mid = (lo + hi) // 2
            sk = build_sketches(g, p=P, k=mid, rows=top)
            lo, hi = (mid, hi) if _serialized_bytes_ours(sk).mean() <= budget else (lo, mid)
        return lo

    est, un, _, entries = ds_pairs(thetas)
    record(f"datasketches lg_k={LG_K}, compressed", est, un,
           np.array([len(s.serialize(True)) for s in thetas]) + hll_bytes, entries,
           "the same sketches, serialize(compress=True) (delta-coded hashes) + HLL_8")
    for peer in list(results)[1:]:  # our k at each of their byte budgets
        k_eq = k_within(results[peer]["bytes_mean"])
        record(f"kolgraph k={k_eq} (= bytes of {peer})", *ours(k_eq),
               f"KMV k={k_eq}: the largest k whose mean .kgsk bytes fit {peer}'s")
    if sizes.sum() <= DATASKETCH_MAX_EDGES * 3:
        from datasketch import HyperLogLogPlusPlus

        # the largest precision whose registers fit in our mean bytes per creator
        dp = int(np.log2(results[f"kolgraph k={K}"]["bytes_mean"]))
        dh = []
        for r in rows:
            h = HyperLogLogPlusPlus(p=dp)
            for x in ext[r].tolist():
                h.update(str(x).encode())
            dh.append(h)
        cnt = np.array([h.count() for h in dh])

        def union_of(i, j):
            return HyperLogLogPlusPlus(p=dp, reg=np.maximum(dh[i].reg, dh[j].reg)).count()

        est = np.array([cnt[i] + cnt[j] - union_of(i, j) for i, j in zip(iu, ju, strict=True)])
        record(f"datasketch p={dp}", est, np.array([union_of(iu[t], ju[t]) for t in upick]),
               [h.bytesize() for h in dh], [1 << dp] * n,
               f"HyperLogLogPlusPlus(p={dp}) (the most registers within our bytes), intersection "
               "by inclusion-exclusion")

    def no_worse(a, b):
        ra, rb = results[a], results[b]
        return {"ours": a, "peer": b, "bytes": [ra["bytes_mean"], rb["bytes_mean"]],
                "no_worse_at_every_percentile": all(
                    x <= y for x, y in zip(ra["intersection_err_over_smaller_p50_p90_p99"],
                                           rb["intersection_err_over_smaller_p50_p90_p99"],
                                           strict=True))}

    names = list(results)  # ours k=K, 3 datasketches, ours at each of their bytes, datasketch
    verdicts = [no_worse(names[4 + i], names[1 + i]) for i in range(3)]
    if len(names) > 7:
        verdicts.append(no_worse(names[0], names[7]))
    return {"creators": n, "pairs": len(iu), "union_pairs": len(upick), "configs": results,
            "equal_memory": verdicts}


def _write_accuracy(acc: dict, out: Path, label: str) -> None:
    """``sketch-accuracy-<size>.md`` / ``.json`` beside the benchmark report."""
    import json

    lines = [f"# Sketch accuracy at equal memory ({label})", "",
             f"{acc['pairs']:,} pairs of the {acc['creators']} largest creators (intersection "
             f"error over the smaller audience); union error on {acc['union_pairs']:,} of them.", "",
             "| sketch | bytes/creator | entries | intersection p50 / p90 / p99 | union p50 / p90 / p99 |",
             "|---|---|---|---|---|"]
    for name, r in acc["configs"].items():
        pct = lambda v: " / ".join(f"{100 * x:.3g}%" for x in v)  # noqa: E731
        lines.append(f"| {name} | {r['bytes_mean']:,.0f} | {r['entries_mean']:,.0f} | "
                     f"{pct(r['intersection_err_over_smaller_p50_p90_p99'])} | "
                     f"{pct(r['union_rel_error_p50_p90_p99'])} |")
    lines += [""] + [f"- {v['ours']} vs {v['peer']} ({v['bytes'][0]:,.0f} vs {v['bytes'][1]:,.0f} "
                     f"bytes): no worse at every percentile: **{v['no_worse_at_every_percentile']}**"
                     for v in acc["equal_memory"]]
    lines += [""] + [f"- {name}: {r['note']}" for name, r in acc["configs"].items()]
    out.mkdir(parents=True, exist_ok=True)
    (out / f"sketch-accuracy-{label}.md").write_text("\n".join(lines) + "\n")
    (out / f"sketch-accuracy-{label}.json").write_text(json.dumps(acc, indent=2))
    print("\n" + "\n".join(lines))


@pytest.mark.parametrize("workload", WORKLOADS, ids=[w.id for w in WORKLOADS])
def test_sketch_build(benchmark, request, workload, bench_size, synth_store, scratch_dir):
    path = Path(synth_store.path)
    _STATE[str(path)] = synth_store
    edges = int(synth_store.n_edges)
    extra = {}
    if workload.name == "kolgraph.sketch":  # the accuracy comparison, once per size
        acc = _accuracy(synth_store)
        extra["accuracy_equal_memory"] = acc
        report = request.config.getoption("benchmark_json", None)
        out = Path(getattr(report, "name", report)).parent if report else scratch_dir
        _write_accuracy(acc, out, bench_size.label)
    if workload.max_edges is None or edges <= workload.max_edges:
        t0 = time.perf_counter()
        workload.run(path, scratch_dir)
        extra["first_build_seconds"] = round(time.perf_counter() - t0, 3)
    measure(benchmark, request, group=f"sketch-build-{bench_size.label}", workload=workload,
            module=__name__, data_path=path, scratch=scratch_dir, size=bench_size, edges=edges,
            extra=extra)

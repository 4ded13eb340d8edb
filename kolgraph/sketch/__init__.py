"""Mergeable audience sketches: HyperLogLog for unions, KMV/Theta for intersections.

Every creator gets two sketches, built in one pass over its followers
(:mod:`kolgraph.kernels.sketch`):

- a **HyperLogLog** of ``2**p`` one-byte registers (default p = 12: 4 KiB),
  merged by register maximum, for unique reach; relative standard error
  ``1.04/√m`` (Ertl's improved estimator, nearly unbiased at every size);
- a **KMV/Theta** sketch, the ``K`` smallest follower hashes (default 4096), for
  intersections, differences and Venn regions: below a common threshold θ the
  hashes of several creators are a uniform sample of their union, in which
  every follower's creator membership is known. A creator with at most ``K``
  followers keeps every hash, so its numbers are exact.

Every estimate carries a two-sided interval at a stated confidence (default 95%):

- unique reach: ``N̂ / (1 ± z·1.04/√m)`` (exact when every audience fits in K);
- a pair's intersection, when both audiences are known exactly (always, except
  for merged sketches): the maximum-likelihood count given the pair's threshold θ
  (the smaller of the two): below θ each follower is sampled with probability θ,
  so the sampled followers of A only, of B only and of both are binomial in
  ``|A|−I``, ``|B|−I`` and ``I``; the estimate uses both exact audiences, so its
  variance ``I(|A|−I)(|B|−I)/(|A||B|−I²)·(1−θ)/θ`` is below that of the plain Theta
  estimate ``c/θ`` (``I(1−θ)/θ``). Its interval is the likelihood-ratio interval
  (``2·ΔlogL ≤ z²``), Jaccard's follows from it. Merged sketches (audiences
  estimated) keep a Wilson interval for the Jaccard share of the sampled union
  (``n_eff = s / (1 − θ)``) mapped through ``|A∩B| = J/(1+J)·(|A|+|B|)``;
- region, frequency, exclusive and incremental counts: ``N̂ · share``, the
  share's Wilson interval and N's interval each at half the miss rate
  (Bonferroni), so the product holds at the stated confidence.

Hashes are of the *external* account ids (see :data:`HASH`), so two parties
with the same platform ids and the same seed build compatible sketches and can
merge them without exchanging any follower id (:class:`Sketch`,
:meth:`Sketch.to_bytes`). A hash is pseudonymous, not anonymous: whoever knows
the seed can test whether a known id is in a small exported audience, hence the
``min_count`` suppression.
"""

# Modules: ``sketches`` (Sketch, SketchSet, building, the store part and files),
# ``intervals`` (estimators), ``report`` (the reach report from sketches).
from kolgraph.sketch.intervals import (
    hll_estimate,
    hll_interval,
    hll_rse,
    intersection_mle,
    wilson,
)
from kolgraph.sketch.report import SketchReachReport, sketch_reach, sketch_report
from kolgraph.sketch.sketches import (
    DEFAULT_CONFIDENCE,
    DEFAULT_K,
    DEFAULT_P,
    EXCHANGE_VERSION,
    FILE_VERSION,
    HASH,
    MAGIC,
    MAX_CREATORS,
    PART,
    Sketch,
    SketchSet,
    account_hashes,
    build_sketch_set,
    build_sketches,
    elias_fano_decode,
    elias_fano_encode,
    export_sketches,
    graph_sketches,
    hash_ids,
    load_sketch,
    safe_name,
    seed_key,
    stored_sketches,
    write_sketches,
)

__all__ = ["DEFAULT_CONFIDENCE", "DEFAULT_K", "DEFAULT_P", "EXCHANGE_VERSION", "FILE_VERSION",
           "HASH", "MAGIC", "MAX_CREATORS", "PART", "Sketch", "SketchReachReport", "SketchSet",
           "account_hashes", "build_sketch_set", "build_sketches", "elias_fano_decode",
           "elias_fano_encode", "export_sketches", "graph_sketches", "hash_ids", "hll_estimate",
           "hll_interval", "hll_rse", "intersection_mle", "load_sketch", "safe_name", "seed_key",
           "sketch_reach", "sketch_report", "stored_sketches", "wilson", "write_sketches"]

# a private name the tests reach for, importable from here as before the split
from kolgraph.sketch.intervals import _log_binom  # noqa: E402, F401

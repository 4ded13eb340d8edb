"""A Dask (``dask.distributed``) backend for follower edges partitioned as Parquet.

Input: Parquet files (a glob, a directory or a list) with the columns
``follower`` and ``followee`` (both integer or both text, the same in every
file). No file is ever loaded whole: each task streams one file's record
batches with pyarrow.

- :func:`exact_reach`: each file task keeps the rows whose followee is selected
  (self-follows dropped), ORs a creator-membership mask per follower and splits
  the followers into buckets by a hash of their id; one task per bucket then
  joins the bucket's pieces from every file, so each follower's full mask is
  local, and counts the Venn regions; the driver sums the region counts and
  derives every number of the exact report from them (the single-machine
  engine's definitions; equal counts). The accounts of the graph (its
  population) are counted the same way, by bucket.
- :func:`bucket_edges` / :func:`write_buckets`: the edges rewritten once as buckets by
  a hash of the follower id (with a manifest holding the population); :func:`exact_reach`
  on such a directory runs one local task per bucket that returns only region counts:
  no shuffle, balanced tasks, nothing big through the scheduler.
- :func:`build_sketches`: file tasks hash the followers and route
  ``(followee, follower hash)`` pairs to buckets by followee; a bucket task
  deduplicates its pairs and sketches every followee in one numba pass, so the
  sketches equal those of the single-machine builder.
- :func:`sketch_reach`: the sketch-mode report for a creator set, sketching only
  those creators.

Runs on a ``LocalCluster`` by default (:func:`connect`) or on a cluster given its
scheduler address. Bad input fails before any work with an :class:`InputError`
naming the file: no match, unreadable file, missing columns, mixed schemas,
numbered partitions with gaps; an unreachable scheduler is an InputError too.
Nothing is written except by :func:`bucket_edges`, :func:`write_buckets`,
:func:`build_sketches` and :func:`export_sketch_files` (temporary directories renamed
into place).
"""

# Modules: ``parts`` (cluster, input, shared helpers), ``buckets`` (edges bucketed by
# follower), ``exact`` (exact reach), ``sketches`` (sketches and the sketch-mode report).
from kolgraph.dask_engine.buckets import (
    BUCKET_FORMAT,
    BUCKETS,
    DEFAULT_BUCKETS,
    BucketWriter,
    bucket_edges,
    bucket_manifest,
    write_buckets,
)
from kolgraph.dask_engine.exact import exact_reach
from kolgraph.dask_engine.parts import (
    BATCH_ROWS,
    FOLLOWEE,
    FOLLOWER,
    MAX_CREATORS,
    connect,
    partitions,
)
from kolgraph.dask_engine.sketches import (
    build_sketches,
    concat_sketch_sets,
    export_sketch_files,
    load_sketch_dir,
    save_sketch_dir,
    sketch_reach,
)

__all__ = ["BATCH_ROWS", "BUCKETS", "BUCKET_FORMAT", "DEFAULT_BUCKETS", "FOLLOWEE", "FOLLOWER",
           "MAX_CREATORS", "BucketWriter", "bucket_edges", "bucket_manifest", "build_sketches",
           "concat_sketch_sets", "connect", "exact_reach", "export_sketch_files",
           "load_sketch_dir", "partitions", "save_sketch_dir", "sketch_reach", "write_buckets"]

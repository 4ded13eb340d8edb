"""kolgraph benchmark suite: pytest-benchmark workloads, peers measured in the same run.

Run ``python -m benchmarks.run --size small|medium|large`` (or ``make bench SIZE=...``);
see ``benchmarks/README.md``.
"""

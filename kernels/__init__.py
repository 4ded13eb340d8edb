"""Numba kernels: plain arrays in, plain arrays out.

No validation, no I/O and no graph objects live here; the callers in
``kolgraph`` fix dtypes and sortedness at the boundary. Installed as
``kolgraph.kernels``.
"""

"""kolgraph.api: the FastAPI service over kolgraph (deduplicated reach estimates for many users).

Installed as ``kolgraph.api``. The service itself lands with the reach engine
(see the service issue); this package fixes its place in the layout and the
packaging, which tests check.
"""

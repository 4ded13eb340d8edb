"""One module per resource, each exposing ``router`` (an ``APIRouter``).

:func:`all_routers` finds them, so adding an endpoint is adding a module here
(plus its tests); nothing else needs an edit.
"""

from __future__ import annotations

import importlib
import pkgutil

from fastapi import APIRouter


def all_routers() -> list[APIRouter]:
    """The ``router`` of every module of this package, in module-name order."""
    out = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        router = getattr(module, "router", None)
        if isinstance(router, APIRouter):
            out.append(router)
    return out

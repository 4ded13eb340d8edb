"""``kolgraph serve`` and ``kolgraph api-key``: what the CLI subcommands call."""

from __future__ import annotations

import json
import os
from pathlib import Path

from kolgraph.api.settings import CONFIG_ENV, STORES_ENV, load_settings

from kolgraph.exceptions import InputError


def parse_stores(specs: list[str]) -> dict[str, str]:
    """``NAME=PATH`` or ``PATH`` (named after the directory, without ``.kg``) -> {name: abs path}."""
    out: dict[str, str] = {}
    for spec in specs:
        name, sep, path = spec.partition("=")
        if not sep:
            path, name = spec, Path(spec.rstrip("/")).name.removesuffix(".kg")
        if not name or not path:
            raise InputError(f"store {spec!r}: give PATH or NAME=PATH")
        if name in out:
            raise InputError(f"store name {name!r} given twice; name them with NAME=PATH")
        out[name] = str(Path(path).resolve())
    return out


def serve(stores: list[str], *, config: str | None, host: str, port: int, workers: int,
          log_level: str = "info", verify: bool = False) -> None:
    """Check the settings and stores here (clear errors, right exit codes), then run uvicorn;
    every worker builds the app from the environment (``app_from_env``). ``verify``: check
    every store file's sha256 against its manifest first (reads every byte once)."""
    import uvicorn

    import kolgraph
    from kolgraph.store import verify_store

    named = parse_stores(stores)
    settings = load_settings(config, stores=named)
    if not settings.stores:
        raise InputError("no stores to serve: give STORE paths or a [stores] table in --config")
    for path in settings.stores.values():
        if verify:
            verify_store(path)  # StoreCorruptedError naming an altered file
        kolgraph.open(path)  # StoreNotFoundError / StoreCorruptedError before any worker starts
    if workers < 1:
        raise InputError("--workers must be at least 1")
    os.environ[STORES_ENV] = json.dumps(named)
    if config:
        os.environ[CONFIG_ENV] = str(Path(config).resolve())
    uvicorn.run("kolgraph.api.app:app_from_env", factory=True, host=host, port=port,
                workers=workers, log_level=log_level, timeout_graceful_shutdown=5)


def api_key_entry(tenant: str, stores: list[str], scopes: list[str], method: str,
                  min_count: int | None) -> tuple[str, dict]:
    """A new key and its config entry (the key itself is shown once and stored nowhere)."""
    from kolgraph.api.security import hash_key, new_key
    from kolgraph.api.settings import key_entry

    key_id, key = new_key()
    entry = {"id": key_id, "tenant": tenant, "hash": hash_key(key, method), "stores": stores}
    if scopes:
        entry["scopes"] = scopes
    if min_count is not None:
        entry["min_count"] = min_count
    key_entry(entry, "api-key")  # the same checks the service applies
    return key, entry


def toml_entry(entry: dict) -> str:
    lines = ["[[keys]]"]
    for k, v in entry.items():
        lines.append(f"{k} = {json.dumps(v)}")
    return "\n".join(lines)

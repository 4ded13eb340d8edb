"""Service settings: the stores, the API keys, the limits.

Read from a TOML or JSON config file plus environment variables, once per
process (:func:`get_settings` is cached); tests build a :class:`Settings`
directly and pass it to :func:`kolgraph.api.create_app`.

Config file (TOML; JSON with the same keys works too)::

    [service]
    max_creators = 64          # creators per request
    max_body_bytes = 65536     # request body size
    rate_limit = 20.0          # requests per second per key (token bucket) ...
    rate_burst = 40            # ... with this many in one burst
    request_timeout = 10.0     # seconds per request before 504
    compute_threads = 2        # engine calls running at once (default: CPU count)
    min_count = 0              # suppress regions/overlap counts below this (0 = off)
    max_k = 100                # top-k of /similar
    warm_up = true             # compile kernels before /readyz turns ready

    [stores]
    demo = "demo.kg"           # name -> store directory (relative to the config file)

    [[keys]]                   # `kolgraph api-key --tenant acme --stores demo` prints one
    id = "3f9a1c2e"            # public key id: keys look like kg_<id>_<secret>
    tenant = "acme"
    hash = "scrypt:16384:8:1:<salt hex>:<digest hex>"   # or "sha256:<hex>"
    stores = ["demo"]          # or ["*"] for every configured store
    scopes = ["followers"]     # optional: "followers" allows raw follower id lists
    min_count = 10             # optional: per-key suppression threshold

Environment: ``KOLGRAPH_API_CONFIG`` (config file path), ``KOLGRAPH_API_STORES``
(JSON ``{"name": "path"}``, added to the file's stores) and ``KOLGRAPH_API_KEYS``
(a JSON list of key entries like the ``[[keys]]`` tables, added to the file's keys).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field, fields
from functools import lru_cache
from pathlib import Path
from typing import Any

from kolgraph.exceptions import InputError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_ENV = "KOLGRAPH_API_CONFIG"
STORES_ENV = "KOLGRAPH_API_STORES"
KEYS_ENV = "KOLGRAPH_API_KEYS"
SCOPES = frozenset({"followers"})


@dataclass(frozen=True)
class KeyEntry:
    """One API key as configured: its public id, hash, tenant, readable stores and scopes."""

    id: str
    tenant: str
    hash: str
    stores: tuple[str, ...]
    scopes: frozenset[str] = frozenset()
    min_count: int | None = None

    def can_read(self, store: str) -> bool:
        return "*" in self.stores or store in self.stores


@dataclass(frozen=True)
class Settings:
    """Everything the service is configured with (immutable; one per process)."""

    stores: dict[str, str] = field(default_factory=dict)
    keys: tuple[KeyEntry, ...] = ()
    max_creators: int = 64
    max_body_bytes: int = 64 * 1024
    rate_limit: float = 20.0
    rate_burst: int = 40
    request_timeout: float = 10.0
    compute_threads: int = 0  # 0: os.cpu_count()
    min_count: int = 0
    max_k: int = 100
    warm_up: bool = True


_SERVICE_FIELDS = {f.name for f in fields(Settings)} - {"stores", "keys"}


def load_settings(config: str | Path | None = None, *, env: dict[str, str] | None = None,
                  stores: dict[str, str] | None = None) -> Settings:
    """Settings from a config file (TOML or JSON), the environment and extra stores.

    Raises :class:`InputError` naming the file and the key when something is wrong.
    """
    env = os.environ if env is None else env
    config = config or env.get(CONFIG_ENV) or None
    data: dict[str, Any] = {}
    base = Path.cwd()
    where = "settings"
    if config:
        path = Path(config)
        where = str(path)
        if not path.is_file():
            raise InputError(f"config file {path} does not exist")
        text = path.read_text()
        try:
            data = json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
        except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
            raise InputError(f"{path}: cannot parse: {exc}") from None
        base = path.resolve().parent
    unknown = set(data) - {"service", "stores", "keys"}
    if unknown:
        raise InputError(f"{where}: unknown section(s) {sorted(unknown)} "
                         "(expected service, stores, keys)")
    service = dict(data.get("service", {}))
    bad = set(service) - _SERVICE_FIELDS
    if bad:
        raise InputError(f"{where}: unknown [service] key(s) {sorted(bad)} "
                         f"(known: {', '.join(sorted(_SERVICE_FIELDS))})")
    all_stores = {str(k): str(base / v) for k, v in dict(data.get("stores", {})).items()}
    if env.get(STORES_ENV):
        all_stores.update(_json_env(env, STORES_ENV, dict))
    all_stores.update(stores or {})
    keys = [*data.get("keys", []), *(_json_env(env, KEYS_ENV, list) if env.get(KEYS_ENV) else [])]
    entries = tuple(key_entry(k, f"{where}: keys[{i}]") for i, k in enumerate(keys))
    try:
        settings = Settings(stores=all_stores, keys=entries, **service)
    except TypeError as exc:
        raise InputError(f"{where}: {exc}") from None
    return check_settings(settings, where)


def _json_env(env, name: str, kind: type):
    try:
        value = json.loads(env[name])
    except json.JSONDecodeError as exc:
        raise InputError(f"${name}: not valid JSON: {exc}") from None
    if not isinstance(value, kind):
        raise InputError(f"${name}: expected a JSON {'object' if kind is dict else 'list'}")
    return value


def key_entry(raw: Any, where: str) -> KeyEntry:
    """A :class:`KeyEntry` from a config table, checked."""
    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected a table with id, tenant, hash, stores")
    missing = {"id", "tenant", "hash", "stores"} - set(raw)
    if missing:
        raise InputError(f"{where}: missing {sorted(missing)}")
    extra = set(raw) - {"id", "tenant", "hash", "stores", "scopes", "min_count", "comment"}
    if extra:
        raise InputError(f"{where}: unknown key(s) {sorted(extra)}")
    from kolgraph.api.security import KEY_ID, check_hash

    if not isinstance(raw["id"], str) or not KEY_ID.fullmatch(raw["id"]):
        raise InputError(f"{where}: id must be 4-32 letters or digits")
    check_hash(str(raw["hash"]), where)
    stores = raw["stores"]
    if isinstance(stores, str) or not all(isinstance(s, str) for s in stores):
        raise InputError(f"{where}: stores must be a list of store names (or [\"*\"])")
    scopes = frozenset(raw.get("scopes", ()))
    if scopes - SCOPES:
        raise InputError(f"{where}: unknown scope(s) {sorted(scopes - SCOPES)} "
                         f"(known: {', '.join(sorted(SCOPES))})")
    mc = raw.get("min_count")
    if mc is not None and (not isinstance(mc, int) or mc < 0):
        raise InputError(f"{where}: min_count must be a whole number >= 0")
    return KeyEntry(raw["id"], str(raw["tenant"]), str(raw["hash"]), tuple(stores), scopes, mc)


def check_settings(s: Settings, where: str = "settings") -> Settings:
    """Raise :class:`InputError` on impossible values or keys naming unknown stores."""
    from kolgraph.reach import MAX_CREATORS

    rules = [
        (1 <= s.max_creators <= MAX_CREATORS, f"max_creators must be 1..{MAX_CREATORS}"),
        (s.max_body_bytes >= 1024, "max_body_bytes must be at least 1024"),
        (s.rate_limit > 0 and s.rate_burst >= 1, "rate_limit must be > 0 and rate_burst >= 1"),
        (s.request_timeout > 0, "request_timeout must be > 0"),
        (s.compute_threads >= 0, "compute_threads must be >= 0"),
        (s.min_count >= 0, "min_count must be >= 0"),
        (s.max_k >= 1, "max_k must be >= 1"),
    ]
    for ok, msg in rules:
        if not ok:
            raise InputError(f"{where}: {msg}")
    seen: set[str] = set()
    for i, k in enumerate(s.keys):
        if k.id in seen:
            raise InputError(f"{where}: keys[{i}]: key id {k.id!r} is used twice")
        seen.add(k.id)
        unknown = [name for name in k.stores if name != "*" and name not in s.stores]
        if unknown:
            raise InputError(f"{where}: keys[{i}] (tenant {k.tenant!r}) names unknown store(s) "
                             f"{unknown} (configured: {sorted(s.stores)})")
    return s


@lru_cache
def get_settings() -> Settings:
    """The process's settings from the environment (cached; tests override this dependency)."""
    return load_settings()

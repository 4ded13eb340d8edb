"""Service settings: the stores, the API keys, the limits.

:class:`Settings` declares every setting once (type, default, bounds, meaning) on
``pydantic_settings.BaseSettings``. :func:`load_settings` fills it from a TOML or
JSON config file and the environment; :func:`get_settings` does so once per
process (cached). ``Settings(...)`` built in code reads neither (tests build one
directly and pass it to :func:`kolgraph.api.create_app`).

Config file (TOML; JSON with the same keys works too)::

    [service]
    max_creators = 64          # creators per request
    max_body_bytes = 65536     # request body size
    rate_limit = 20.0          # requests per second per key (token bucket) ...
    rate_burst = 40            # ... with this many in one burst
    request_timeout = 10.0     # seconds per request before 504
    compute_threads = 2        # engine calls running at once (default: CPU count)
    heavy_threads = 1          # of those, for spread/seeds/plan (default: half)
    max_key_calls = 1          # engine calls one key may have in flight (default: half the pool)
    max_work = 500000000       # estimated work (edge visits) one request may ask for
    shared_timeout = 900.0     # seconds a shared computation (a store's fraud review) may run
    failure_ttl = 60.0         # seconds a failed shared computation answers its error
    identifying_columns = ["id", "username"]   # not in `where` without the followers scope
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
Stores named in code (``kolgraph serve`` arguments) win over both.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any

from kolgraph.api.security import HASH_FORMAT, KEY_ID, is_hash
from pydantic import (
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.dataclasses import dataclass
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    JsonConfigSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from kolgraph.exceptions import InputError
from kolgraph.reach import MAX_CREATORS

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

CONFIG_ENV = "KOLGRAPH_API_CONFIG"
STORES_ENV = "KOLGRAPH_API_STORES"
KEYS_ENV = "KOLGRAPH_API_KEYS"
SCOPES = frozenset({"followers"})
SECTIONS = ("service", "stores", "keys")


@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class KeyEntry:
    """One API key as configured: its public id, hash, tenant, readable stores and scopes."""

    id: str
    tenant: str
    hash: str
    stores: tuple[str, ...]
    scopes: frozenset[str] = frozenset()
    min_count: int | None = Field(None, ge=0)
    comment: str | None = Field(None, repr=False)  # a note for whoever reads the config file

    def can_read(self, store: str) -> bool:
        return "*" in self.stores or store in self.stores

    @field_validator("id")
    @classmethod
    def _id(cls, v: str) -> str:
        if not KEY_ID.fullmatch(v):
            raise ValueError("id must be 4-32 letters or digits")
        return v

    @field_validator("hash")
    @classmethod
    def _hash(cls, v: str) -> str:
        if not is_hash(v):
            raise ValueError(HASH_FORMAT)
        return v

    @field_validator("stores", mode="before")
    @classmethod
    def _stores(cls, v: Any) -> Any:
        if not isinstance(v, (list, tuple)) or not all(isinstance(s, str) for s in v):
            raise ValueError('stores must be a list of store names (or ["*"])')
        return v

    @field_validator("scopes")
    @classmethod
    def _scopes(cls, v: frozenset[str]) -> frozenset[str]:
        if v - SCOPES:
            raise ValueError(f"unknown scope(s) {sorted(v - SCOPES)} "
                             f"(known: {', '.join(sorted(SCOPES))})")
        return v


# (config file or None, environment) while load_settings builds a Settings
_LOADING: ContextVar[tuple[Path | None, Mapping[str, str]] | None] = ContextVar(
    "kolgraph_api_settings_loading", default=None)


class Settings(BaseSettings):
    """Everything the service is configured with (immutable; one per process)."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid", case_sensitive=True)

    stores: dict[str, str] = Field(default_factory=dict,
                                   description="store name -> store directory")
    keys: tuple[KeyEntry, ...] = Field((), description="the API keys, hashed")
    max_creators: int = Field(64, ge=1, le=MAX_CREATORS, description="creators per request")
    max_body_bytes: int = Field(64 * 1024, ge=1024, description="request body size, bytes")
    rate_limit: float = Field(20.0, gt=0, description="requests per second per key")
    rate_burst: int = Field(40, ge=1, description="requests per key in one burst")
    request_timeout: float = Field(10.0, gt=0, description="seconds per request before 504")
    compute_threads: int = Field(0, ge=0, description="engine calls at once (0: CPU count)")
    heavy_threads: int = Field(0, ge=0, description="threads of the heavy lane (spread, seeds, "
                               "plan), so light calls (reach, overlap, "
                               "similar) always find one free (0: half the compute threads)")
    max_key_calls: int = Field(0, ge=0, description="engine calls one key may have queued "
                               "or running (0: half the compute threads, at least 1)")
    max_work: int = Field(500_000_000, ge=1, description="estimated work (edge visits) one "
                          "request may ask for; larger requests are refused with 422")
    shared_timeout: float = Field(900.0, gt=0, description="seconds a shared computation "
                                  "(a store's fraud review) may run before it is stopped")
    failure_ttl: float = Field(60.0, ge=0, description="seconds a failed shared computation "
                               "answers its error before it is tried again")
    identifying_columns: tuple[str, ...] = Field(
        ("id", "username"), description="account columns `where` may name only with the "
        "followers scope (they single out accounts)")
    min_count: int = Field(0, ge=0, description="suppress counts below this (0: off)")
    max_k: int = Field(100, ge=1, description="largest k of /similar")
    warm_up: bool = Field(True, description="compile kernels before /readyz turns ready")

    @model_validator(mode="after")
    def _keys_name_known_stores(self) -> Settings:
        seen: set[str] = set()
        for i, k in enumerate(self.keys):
            if k.id in seen:
                raise ValueError(f"keys[{i}]: key id {k.id!r} is used twice")
            seen.add(k.id)
            unknown = [name for name in k.stores if name != "*" and name not in self.stores]
            if unknown:
                raise ValueError(f"keys[{i}] (tenant {k.tenant!r}) names unknown store(s) "
                                 f"{unknown} (configured: {sorted(self.stores)})")
        return self

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings,
                                   dotenv_settings, file_secret_settings):
        """Values given in code, over the environment, over the config file; the file and
        the environment only while :func:`load_settings` runs."""
        loading = _LOADING.get()
        if loading is None:
            return (init_settings,)
        path, env = loading
        file = _config_file(settings_cls, path) if path else {}
        return (init_settings, InitSettingsSource(settings_cls, _env_additions(env, file)),
                InitSettingsSource(settings_cls, file))


def _config_file(settings_cls: type[BaseSettings], path: Path) -> dict[str, Any]:
    """The file's values: [service] as they are, [stores] relative to the file, [[keys]]."""
    if not path.is_file():
        raise InputError(f"config file {path} does not exist")
    reader = JsonConfigSettingsSource if path.suffix == ".json" else TomlConfigSettingsSource
    try:
        data = dict(reader(settings_cls, path)())
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{path}: cannot parse: {exc}") from None
    unknown = set(data) - set(SECTIONS)
    if unknown:
        raise InputError(f"{path}: unknown section(s) {sorted(unknown)} "
                         f"(expected {', '.join(SECTIONS)})")
    service = data.pop("service", {})
    if not isinstance(service, dict):
        raise InputError(f"{path}: [service] must be a table")
    if set(service) & set(SECTIONS):  # would pass for the section of that name
        raise InputError(f"{path}: {_unknown_service_keys(set(service) & set(SECTIONS))}")
    stores = data.get("stores", {})
    if isinstance(stores, dict):
        base = path.resolve().parent
        data["stores"] = {k: str(base / v) if isinstance(v, str) else v for k, v in stores.items()}
    return {**service, **data}


def _env_additions(env: Mapping[str, str], file: dict[str, Any]) -> dict[str, Any]:
    """``$KOLGRAPH_API_STORES`` (over the file's stores, by name) and ``$KOLGRAPH_API_KEYS``
    joined after the file's keys (merging sources would replace the list)."""
    out: dict[str, Any] = {}
    if env.get(STORES_ENV):
        out["stores"] = _json_env(env, STORES_ENV, dict)
    if env.get(KEYS_ENV):
        file_keys = file.get("keys", [])
        out["keys"] = [*(file_keys if isinstance(file_keys, list) else []),
                       *_json_env(env, KEYS_ENV, list)]
    return out


def _json_env(env: Mapping[str, str], name: str, kind: type):
    try:
        value = json.loads(env[name])
    except json.JSONDecodeError as exc:
        raise InputError(f"${name}: not valid JSON: {exc}") from None
    if not isinstance(value, kind):
        raise InputError(f"${name}: expected a JSON {'object' if kind is dict else 'list'}")
    return value


def _unknown_service_keys(names) -> str:
    known = ", ".join(sorted(set(Settings.model_fields) - {"stores", "keys"}))
    return f"unknown [service] key(s) {sorted(names)} (known: {known})"


@contextmanager
def _input_errors(where: str) -> Iterator[None]:
    """Validation errors as one :class:`InputError` naming ``where`` and each bad key."""
    try:
        yield
    except ValidationError as exc:
        raise InputError(f"{where}: {_describe(exc)}") from None


def _describe(exc: ValidationError) -> str:
    """Each problem of ``exc`` in a few words, naming its key (``keys[0]: missing ['hash']``)."""
    grouped: dict[tuple[str, str], list[str]] = {}  # (what, where) -> key names
    service_extras: list[str] = []
    out: list[str] = []
    for err in exc.errors():
        *parent, name = err["loc"] or ("",)
        at = _loc(parent)
        if err["type"] == "missing":
            grouped.setdefault(("missing", at), []).append(str(name))
        elif err["type"] == "extra_forbidden" and not at:  # only Settings forbids extras
            service_extras.append(str(name))
        elif err["type"] in ("extra_forbidden", "unexpected_keyword_argument"):
            grouped.setdefault(("unknown key(s)", at), []).append(str(name))
        elif err["type"] == "value_error":  # our validators' messages name their key
            out.append(f"{at}: {err['ctx']['error']}" if at else str(err["ctx"]["error"]))
        else:
            out.append(f"{_loc(err['loc'])} {err['msg'].replace('Input should be', 'must be', 1)}")
    out += [f"{at + ': ' if at else ''}{what} {sorted(names)}"
            for (what, at), names in grouped.items()]
    if service_extras:
        out.append(_unknown_service_keys(service_extras))
    return "; ".join(out)


def _loc(loc) -> str:
    """``("keys", 0)`` -> ``keys[0]``."""
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")


def load_settings(config: str | Path | None = None, *, env: Mapping[str, str] | None = None,
                  stores: dict[str, str] | None = None) -> Settings:
    """Settings from a config file (TOML or JSON), the environment and extra stores.

    ``config`` defaults to ``$KOLGRAPH_API_CONFIG``; ``env`` to ``os.environ``.
    Raises :class:`InputError` naming the file and the key when something is wrong.
    """
    env = os.environ if env is None else env
    config = config or env.get(CONFIG_ENV) or None
    path = Path(config) if config else None
    token = _LOADING.set((path, env))
    try:
        with _input_errors(str(path) if path else "settings"):
            return Settings(**({"stores": stores} if stores else {}))
    finally:
        _LOADING.reset(token)


def key_entry(raw: Any, where: str) -> KeyEntry:
    """A :class:`KeyEntry` from a config table, checked."""
    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected a table with id, tenant, hash, stores")
    with _input_errors(where):
        return TypeAdapter(KeyEntry).validate_python(raw)


def check_settings(s: Settings, where: str = "settings") -> Settings:
    """Raise :class:`InputError` on impossible values or keys naming unknown stores
    (a :class:`Settings` changed after it was built, or made with ``model_construct``)."""
    with _input_errors(where):
        Settings(**s.model_dump())
    return s


@lru_cache
def get_settings() -> Settings:
    """The process's settings from the environment (cached; tests override this dependency)."""
    return load_settings()

"""API keys: generation, hashing at rest, verification, and the per-key rate limit.

A key looks like ``kg_<id>_<secret>``: the public ``id`` finds the configured
entry in O(1) (so an unknown key costs nothing and no scrypt runs against every
entry), the whole key is checked against the entry's hash:

- ``scrypt:<n>:<r>:<p>:<salt hex>:<digest hex>`` (the default of ``kolgraph api-key``);
  a verified key is remembered by its sha256 so later requests cost one sha256;
- ``sha256:<hex>``: fine for generated keys (256 random bits), not for chosen ones.

Rate limits: a key's own token bucket is charged only once the key checks out, so
junk secrets sent with a known key id cannot use up the tenant's requests; failed
attempts are charged to a separate bucket per key id and client address, checked
*before* the hash, so guessing (and the scrypt work it costs) is throttled per address.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass

from kolgraph.exceptions import InputError

KEY_ID = re.compile(r"[A-Za-z0-9]{4,32}")
_KEY = re.compile(r"kg_([A-Za-z0-9]{4,32})_([A-Za-z0-9_\-]{16,128})")
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def new_key() -> tuple[str, str]:
    """A fresh ``(key id, key)``: 32 random bits of id, 256 of secret."""
    key_id = secrets.token_hex(4)
    return key_id, f"kg_{key_id}_{secrets.token_urlsafe(32)}"


def key_id_of(key: str) -> str | None:
    """The id part of a well-formed key, else None."""
    m = _KEY.fullmatch(key)
    return m.group(1) if m else None


def hash_key(key: str, method: str = "scrypt") -> str:
    """The string to store for ``key`` (``scrypt:...`` or ``sha256:...``)."""
    if method == "sha256":
        return "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    if method != "scrypt":
        raise InputError(f"hash method must be 'scrypt' or 'sha256', got {method!r}")
    salt = secrets.token_bytes(16)
    dk = hashlib.scrypt(key.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt:{SCRYPT_N}:{SCRYPT_R}:{SCRYPT_P}:{salt.hex()}:{dk.hex()}"


HASH_FORMAT = ("hash must be 'scrypt:N:r:p:salt:digest' or 'sha256:<64 hex>' "
               "(create one with `kolgraph api-key`)")


def is_hash(stored: str) -> bool:
    """Whether ``stored`` is a well-formed key hash (``scrypt:...`` or ``sha256:...``)."""
    parts = stored.split(":")
    if parts[0] == "sha256":
        return len(parts) == 2 and re.fullmatch(r"[0-9a-f]{64}", parts[1]) is not None
    if parts[0] != "scrypt" or len(parts) != 6:
        return False
    try:
        n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
        bytes.fromhex(parts[4])
        return n > 1 and n & (n - 1) == 0 and r >= 1 and p >= 1 and len(bytes.fromhex(parts[5])) >= 16
    except ValueError:
        return False


def check_hash(stored: str, where: str) -> None:
    """Raise :class:`InputError` unless ``stored`` is a well-formed key hash."""
    if not is_hash(stored):
        raise InputError(f"{where}: {HASH_FORMAT}")


def verify_key(key: str, stored: str) -> bool:
    """Constant-time check of ``key`` against a stored hash."""
    parts = stored.split(":")
    if parts[0] == "sha256":
        return hmac.compare_digest(hashlib.sha256(key.encode()).hexdigest(), parts[1])
    n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
    want = bytes.fromhex(parts[5])
    got = hashlib.scrypt(key.encode(), salt=bytes.fromhex(parts[4]), n=n, r=r, p=p,
                         dklen=len(want), maxmem=256 * 1024 * 1024)
    return hmac.compare_digest(got, want)


@dataclass(frozen=True)
class Principal:
    """Who is calling: the key id, its tenant, readable stores, scopes, suppression threshold."""

    key_id: str
    tenant: str
    stores: tuple[str, ...]
    scopes: frozenset[str]
    min_count: int

    def can_read(self, store: str) -> bool:
        return "*" in self.stores or store in self.stores


class KeyRing:
    """The configured keys by id, with a cache of keys already verified."""

    def __init__(self, entries, default_min_count: int):
        self._entries = {e.id: e for e in entries}
        self._default_min_count = default_min_count
        self._verified: dict[str, str] = {}  # key id -> sha256 of the key that verified
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def entry_id(self, key: str) -> str | None:
        """The id of a configured key this key claims to be, else None (no hashing)."""
        kid = key_id_of(key)
        return kid if kid in self._entries else None

    def is_slow(self, key_id: str, key: str) -> bool:
        """Whether :meth:`verify` will run scrypt (a key not verified before)."""
        if not self._entries[key_id].hash.startswith("scrypt:"):
            return False
        with self._lock:
            known = self._verified.get(key_id)
        return known is None or not hmac.compare_digest(
            known, hashlib.sha256(key.encode()).hexdigest())

    def verify(self, key_id: str, key: str) -> Principal | None:
        entry = self._entries[key_id]
        digest = hashlib.sha256(key.encode()).hexdigest()
        with self._lock:
            known = self._verified.get(key_id)
        if not (known is not None and hmac.compare_digest(known, digest)):
            if not verify_key(key, entry.hash):
                return None
            with self._lock:
                self._verified[key_id] = digest
        mc = entry.min_count if entry.min_count is not None else self._default_min_count
        return Principal(entry.id, entry.tenant, entry.stores, entry.scopes, mc)


class RateLimiter:
    """Token buckets per key id: ``rate`` tokens per second, at most ``burst`` saved."""

    def __init__(self, rate: float, burst: int, clock=time.monotonic):
        self.rate, self.burst, self._clock = float(rate), float(burst), clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    MAX_BUCKETS = 100_000  # past this, buckets that refilled are forgotten

    def take(self, key_id, cost: float = 1.0) -> float:
        """Take ``cost`` tokens (0: only look); 0.0 when allowed, else the seconds until one
        is available."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(key_id, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key_id] = (tokens - cost, now)
                self._prune(now)
                return 0.0
            self._buckets[key_id] = (tokens, now)
            return (1.0 - tokens) / self.rate

    def _prune(self, now: float) -> None:
        if len(self._buckets) > self.MAX_BUCKETS:
            self._buckets = {k: (t, last) for k, (t, last) in self._buckets.items()
                             if t + (now - last) * self.rate < self.burst}

"""Random-number building blocks shared by the kernels: splitmix64 and what is built on it.

One finaliser (Stafford's variant 13, as in splitmix64) serves every hash and stream:

- :func:`fmix64` is the bare finaliser, a bijection of a uint64;
- :func:`splitmix64` adds the golden gamma first (one splitmix64 output for state ``x``):
  the account hash of ``kolgraph-hash-v1`` is ``splitmix64(id ^ key)``, a file format;
- :func:`step` advances a splitmix64 state and returns its output.

The two mixes differ only by that gamma; both stay, under names that say which is which,
because sketches, synthetic graphs and propagation samples must stay bit-identical.
"""

import warnings

import numpy as np
from numba import config, njit, types

if config.DISABLE_JIT:  # plain Python: the uint64 arithmetic wraps on purpose
    warnings.filterwarnings("ignore", r"overflow encountered in scalar", RuntimeWarning,
                            r"kolgraph\.kernels\.")

GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # splitmix64's gamma, also the Fibonacci-hashing multiplier
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S11 = np.uint64(11)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2**-53


@njit(nogil=True, cache=True, inline="always")
def fmix64(z):
    """splitmix64 finaliser: a bijective hash of a uint64 (no gamma added)."""
    z = (z ^ (z >> np.uint64(30))) * _M1
    z = (z ^ (z >> np.uint64(27))) * _M2
    return z ^ (z >> np.uint64(31))


@njit(types.uint64(types.uint64), nogil=True, cache=True)
def splitmix64(x):
    """splitmix64 output for state ``x``: the golden gamma added, then :func:`fmix64`."""
    return fmix64(x + GOLDEN)


@njit(nogil=True, cache=True, inline="always")
def to_unit(z):
    """Uniform double in ``[0, 1)`` from the top 53 bits of a uint64."""
    return np.float64(z >> _S11) * _TO_UNIT


@njit(nogil=True, cache=True, inline="always")
def step(state):
    """splitmix64 step: ``(new state, its 64-bit output)``."""
    state = state + GOLDEN
    return state, fmix64(state)


@njit(nogil=True, cache=True)
def stream_start(key, j):
    """Start state of stream ``j`` under ``key`` (both int64): streams are keyed, never
    shared, so a draw depends on the key and ``j`` only."""
    return fmix64(fmix64(np.uint64(key) + GOLDEN) + np.uint64(j) * GOLDEN)


@njit(nogil=True, cache=True, inline="always")
def keyed_uniform(key, i):
    """Uniform double in ``[0, 1)`` fixed by ``(key, i)``: a hash, no state."""
    return to_unit(fmix64(key ^ (np.uint64(i) * GOLDEN)))


@njit(nogil=True, cache=True, inline="always")
def next_uniform(state):
    """splitmix64 step: ``(new state, uniform double in [0, 1))``."""
    state, z = step(state)
    return state, to_unit(z)


@njit(nogil=True, cache=True, inline="always")
def geometric_skip(state, log1mp):
    """Failures before the next success of probability ``p``, given ``log(1 - p) < 0``:
    ``(new state, count)``, one draw."""
    state, u = next_uniform(state)
    return state, int(np.floor(np.log(1.0 - u) / log1mp))


FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)


@njit(nogil=True, cache=True, inline="always")
def fnv1a(h, data, a, b):
    """FNV-1a-64 of the bytes ``data[a:b]``, continuing from hash ``h`` (start: FNV_OFFSET)."""
    for i in range(a, b):
        h = (h ^ np.uint64(data[i])) * _FNV_PRIME
    return h


# --- streams held in a one-element array (state updated in place) --------------------------
@njit(nogil=True, cache=True)
def new_stream(seed):
    """A splitmix64 stream started at ``seed``, its state in a 1-element uint64 array."""
    st = np.empty(1, dtype=np.uint64)
    st[0] = np.uint64(seed)
    return st


@njit(nogil=True, cache=True)
def uniform(st):
    """Next uniform double in ``[0, 1)`` of the stream ``st``."""
    st[0], z = step(st[0])
    return to_unit(z)


@njit(nogil=True, cache=True)
def scaled_uniform(st, n):
    """Next uniform of the stream scaled to ``[0, n)``, and its integer part (at most
    ``n - 1``): ``(x, j)``."""
    x = uniform(st) * n
    j = int(x)
    return x, (j if j < n else n - 1)


@njit(nogil=True, cache=True)
def randint(st, n):
    """Next uniform integer in ``[0, n)`` (``n >= 1``) of the stream ``st``."""
    return scaled_uniform(st, n)[1]

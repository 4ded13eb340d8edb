"""Bitset building blocks shared by the kernels: popcount, leading zeros, bit get/set.

A bitset is a uint64 array; account ``u`` is bit ``u & 63`` of word ``u >> 6``. Under
``NUMBA_DISABLE_JIT=1`` the LLVM intrinsics are replaced by plain Python equivalents.
"""

import numpy as np
from numba import config, njit, types
from numba.extending import intrinsic

_ONE = np.uint64(1)
_LOW6 = np.uint64(63)
_SIX = np.uint64(6)

if config.DISABLE_JIT:  # plain Python: kernels still run, e.g. under coverage

    def popcount(x):
        """Number of set bits of a uint64."""
        return bin(int(x)).count("1")

    def clz(x):
        """Leading zero bits of a uint64 (64 for 0)."""
        return 64 - int(x).bit_length()

else:

    @intrinsic
    def _ctpop(typingctx, x):
        sig = types.int64(types.uint64)

        def codegen(context, builder, signature, args):
            return builder.ctpop(args[0])

        return sig, codegen

    @intrinsic
    def _ctlz(typingctx, x):
        sig = types.int64(types.uint64)

        def codegen(context, builder, signature, args):
            return builder.ctlz(args[0], context.get_constant(types.boolean, False))

        return sig, codegen

    @njit(types.int64(types.uint64), inline="always", nogil=True, cache=True)
    def popcount(x):
        """Number of set bits of a uint64 (LLVM ``ctpop``: one instruction with POPCNT)."""
        return _ctpop(x)

    @njit(types.int64(types.uint64), inline="always", nogil=True, cache=True)
    def clz(x):
        """Leading zero bits of a uint64 (64 for 0; LLVM ``ctlz``)."""
        return _ctlz(x)


@njit(nogil=True, cache=True, inline="always")
def get_bit(bits, u):
    """Bit ``u`` of the bitset, as a uint64 0 or 1."""
    v = np.uint64(u)
    return (bits[v >> _SIX] >> (v & _LOW6)) & _ONE


@njit(nogil=True, cache=True, inline="always")
def set_bit(bits, u):
    """Set bit ``u``; returns 1 if it was clear, else 0."""
    v = np.uint64(u)
    w = v >> _SIX
    b = _ONE << (v & _LOW6)
    new = bits[w] & b == 0
    bits[w] |= b
    return np.int64(new)


@njit(nogil=True, cache=True)
def fill_bitset(indices, lo, hi, bits):
    """Set the bits of ``indices[lo:hi]`` in ``bits`` (e.g. a creator's audience)."""
    for p in range(lo, hi):
        set_bit(bits, indices[p])

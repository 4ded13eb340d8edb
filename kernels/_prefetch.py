"""A software prefetch for the kernels' pointer-chasing loops.

``prefetch(arr, i)`` asks the CPU to bring ``arr[i]`` into cache (LLVM ``llvm.prefetch``,
read, high locality) without waiting for it; it never faults, so ``i`` may be any index
inside the array. Loops that visit rows in an order unrelated to memory (the Fraudar peel
takes rows by cost) stall on a cache miss per step; prefetching a few steps ahead overlaps
those misses. Under ``NUMBA_DISABLE_JIT=1`` it does nothing.
"""

from numba import config, types
from numba.extending import intrinsic

if config.DISABLE_JIT:

    def prefetch(arr, i):
        """No-op without the JIT."""

else:
    from llvmlite import ir
    from numba.core import cgutils

    @intrinsic
    def prefetch(typingctx, arr, i):
        sig = types.void(arr, i)

        def codegen(context, builder, signature, args):
            ary, ind = args
            aryty = signature.args[0]
            ptr = cgutils.get_item_pointer(context, builder, aryty,
                                           context.make_array(aryty)(context, builder, ary),
                                           [ind], wraparound=False)
            i8p = ir.IntType(8).as_pointer()
            i32 = ir.IntType(32)
            fn = cgutils.get_or_insert_function(
                builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
                "llvm.prefetch.p0")
            # read (0), high temporal locality (3), data cache (1)
            builder.call(fn, [builder.bitcast(ptr, i8p), ir.Constant(i32, 0), ir.Constant(i32, 3),
                              ir.Constant(i32, 1)])
            return context.get_dummy_value()

        return sig, codegen

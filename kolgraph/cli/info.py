"""``kolgraph info`` and ``kolgraph verify``: what a store holds, and whether it is intact."""

from __future__ import annotations

import time

from kolgraph.cli._flags import add_command
from kolgraph.cli._output import console, emit, mib, print_info


def register_info(sub) -> None:
    sp = add_command(sub, "info", cmd_info, "summarise a store: counts, degrees, tiers, top creators")
    sp.add_argument("store")
    sp.add_argument("--top", type=int, default=10, help="how many top creators to list (default 10)")


def cmd_info(args) -> int:
    import kolgraph

    g = kolgraph.open(args.store)
    info = {"path": str(args.store), **g.info(top=args.top)}
    emit(args, info, lambda p: print_info(p, console()))
    return 0


def register_verify(sub) -> None:
    sp = add_command(sub, "verify", cmd_verify,
                     "check every file of a store against its manifest checksums")
    sp.add_argument("store")


def cmd_verify(args) -> int:
    import kolgraph

    t0 = time.perf_counter()
    out = {"store": str(args.store), **kolgraph.verify(args.store),
           "seconds": round(time.perf_counter() - t0, 3)}
    emit(args, out, lambda p: console().print(
        f"[green]ok[/green] {p['store']}: {p['files']} files, {mib(p['bytes'])}, every sha256 matches"))
    return 0

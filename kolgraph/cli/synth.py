"""``kolgraph synth``: a synthetic follower graph with planted bot farms, straight into a store."""

from __future__ import annotations

import time

from kolgraph.cli._flags import add_command, add_memory, parse_size
from kolgraph.cli._output import console, emit, mib, print_info, progress


def register_synth(sub) -> None:
    sp = add_command(sub, "synth", cmd_synth, "write a synthetic follower graph with planted bot farms",
                     "Generate a realistic synthetic follower graph (heavy-tailed creator "
                     "audiences across tiers, category-correlated overlap, follower-to-follower "
                     "edges, account attributes, follow times, planted bot farms with ground "
                     "truth) straight into a store.")
    sp.add_argument("--accounts", type=int, required=True, help="number of accounts")
    sp.add_argument("--creators", type=int, required=True, help="number of creators")
    sp.add_argument("--edges", type=int, required=True, help="approximate number of follow edges")
    sp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    sp.add_argument("--farms", type=int, default=None, help="planted bot farms (default: scales with size; 0 = none)")
    sp.add_argument("--interactions", action="store_true", help="also plant interactions (loyal "
                    "and casual fans, non-follower engagers, creators who never reply) with "
                    "their truth")
    sp.add_argument("--out", "-o", required=True, help="store directory to write")
    add_memory(sp)
    sp.add_argument("--force", "-f", action="store_true", help="replace an existing store")


def cmd_synth(args) -> int:
    import kolgraph
    from kolgraph.ingest import peak_rss_bytes
    from kolgraph.synth import synth_store

    t0 = time.perf_counter()
    synth_store(args.out, accounts=args.accounts, creators=args.creators, edges=args.edges,
                seed=args.seed, farms=args.farms, overwrite=args.force, progress=progress(args),
                interactions=args.interactions, memory=parse_size(args.memory, "--memory"))
    g = kolgraph.open(args.out)
    payload = {"store": str(args.out), "seconds": round(time.perf_counter() - t0, 3),
               "peak_rss_bytes": peak_rss_bytes(), **g.info(top=5)}

    def human(p):
        c = console()
        c.print(f"[green]wrote[/green] {p['store']} in {p['seconds']:.1f} s "
                f"(peak memory {mib(p['peak_rss_bytes'])})")
        print_info(p, c)
    emit(args, payload, human)
    return 0

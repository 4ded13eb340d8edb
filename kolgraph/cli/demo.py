"""``kolgraph demo``: build the embedded demo store and show what kolgraph answers about it."""

from __future__ import annotations

import time
from pathlib import Path

from kolgraph.cli._flags import add_command
from kolgraph.cli._output import console, emit, print_info, print_reach, print_written, progress

DEMO_STORE = "demo.kg"
DEMO_SIZE = {"accounts": 300_000, "creators": 2_000, "edges": 3_000_000}


def register_demo(sub) -> None:
    sp = add_command(sub, "demo", cmd_demo, "build the demo store and print a first summary",
                     f"Build the embedded demo graph ({DEMO_SIZE['accounts']:,} accounts, "
                     f"{DEMO_SIZE['creators']:,} creators, ~{DEMO_SIZE['edges']:,} edges, "
                     "synthetic) and summarise it.")
    sp.add_argument("--out", "-o", default=DEMO_STORE, help=f"store directory (default {DEMO_STORE})")
    sp.add_argument("--seed", type=int, default=0, help="random seed (default 0)")


def cmd_demo(args) -> int:
    import kolgraph
    from kolgraph.synth import synth_store

    out = Path(args.out)
    t0 = time.perf_counter()
    synth_store(out, seed=args.seed, overwrite=True, progress=progress(args), **DEMO_SIZE)
    g = kolgraph.open(out)
    payload = {"store": str(out), "seconds": round(time.perf_counter() - t0, 3), **g.info(top=10)}
    top5 = [row["id"] for row in payload.get("top_creators", payload.get("top_accounts", []))[:5]]
    payload.update(_demo_reach(g, out, top5))

    def human(p):
        c = console()
        c.print(f"[green]built the demo store[/green] {out} in {p['seconds']:.1f} s "
                f"(synthetic, seed {args.seed})")
        print_info({"path": str(out), **p}, c)
        c.print("\n[bold]reach of the 5 largest creators[/bold]")
        print_reach(p["reach"], c)
        print_written(c, {f"{name} plot": path for name, path in p["plots"].items()})
        _print_next_steps(c, out, top5)
    emit(args, payload, human)
    return 0


def _demo_reach(g, out: Path, ids: list) -> dict:
    """Reach report of ``ids`` and its plots, written next to the store."""
    from kolgraph import plots

    report = g.reach(ids)
    written = plots.reach_plots(report, out.parent / out.name.removesuffix(".kg"))
    return {"reach": report.to_dict(), "plots": {k: str(v) for k, v in written.items()}}


def _print_next_steps(c, out: Path, top5: list) -> None:
    ids = " ".join(str(x) for x in top5)
    c.print(f"\nnext: [bold]kolgraph info {out}[/bold], [bold]kolgraph reach {out} {ids}[/bold], "
            f"[bold]kolgraph similar {out} {top5[0] if top5 else 'ID'}[/bold], "
            f"[bold]kolgraph export {out} --out edges.csv[/bold]; fraud review: "
            f"[bold]kolgraph fraud {out} --report fraud.html[/bold]; spread: "
            f"[bold]kolgraph spread {out} --seeds {ids}[/bold]; best seeds: "
            f"[bold]kolgraph seeds {out} -k 10[/bold]; service: "
            f"[bold]kolgraph serve {out}[/bold] (see docs/service.md)")

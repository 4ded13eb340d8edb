"""Output shared by the commands: JSON or a readable summary, errors, tables, progress."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


def console():
    from rich.console import Console

    return Console(soft_wrap=True)  # piped output keeps whole lines


def emit(args, payload: dict, human: Callable[[dict], None]) -> None:
    """JSON on stdout with ``--json``, else the readable summary ``human(payload)``."""
    if getattr(args, "json", False):
        json.dump(payload, sys.stdout, indent=2, default=json_default)
        sys.stdout.write("\n")
    else:
        human(payload)


def json_default(obj: Any):
    import numpy as np

    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_csv(frame, raw: bool = False) -> None:
    """``frame`` as CSV on stdout; text cells that a spreadsheet would run as formulas are
    escaped unless ``raw`` (:func:`kolgraph.tables.csv_safe_frame`)."""
    from kolgraph.tables import csv_safe_frame

    (frame if raw else csv_safe_frame(frame)).to_csv(sys.stdout, index=False, lineterminator="\n")


def error(msg: str) -> None:
    sys.stderr.write(f"error: {msg}\n")


def warn(msg: str) -> None:
    sys.stderr.write(f"warning: {msg}\n")


def json_and_csv(args) -> bool:
    """Both ``--json`` and ``--csv`` given: says so on stderr (a usage error)."""
    if args.json and args.csv:
        error("choose one of --json and --csv")
        return True
    return False


def progress(args):
    from kolgraph.progress import for_terminal

    return for_terminal(quiet=getattr(args, "quiet", False) or getattr(args, "json", False))


def mib(n: int) -> str:
    return f"{n / 2**20:,.0f} MiB"


def print_warnings(console, warnings: Iterable[str], label: str = "warning") -> None:
    for w in warnings:
        console.print(f"[yellow]{label}:[/yellow] {w}", highlight=False)


def print_written(console, files: dict) -> None:
    for name, path in files.items():
        console.print(f"[green]wrote[/green] {name} {path}")


def table(title: str, columns: Iterable[str]):
    """A rich table of accounts: id and tier left-aligned, the numbers right-aligned."""
    from rich.table import Table

    t = Table(title=title)
    for col in columns:
        t.add_column(col, justify="left" if col in ("id", "tier") else "right")
    return t


def print_info(info: dict, console) -> None:
    """The summary of ``FollowerGraph.info()``: counts, degrees, tiers, top creators."""
    console.print(f"[bold]{info.get('path', 'graph')}[/bold]: {info['accounts']:,} accounts, "
                  f"{info['edges']:,} follow edges, {info['creators']:,} creators "
                  f"({info['id_kind']} ids{', with follow times' if info['has_followed_at'] else ''}"
                  f"{', with account attributes' if info['has_account_attributes'] else ''})")
    for key, label in (("followers", "followers per account"), ("following", "follows per account")):
        s = info[key]
        console.print(f"  {label}: mean {s['mean']:.1f}, median {s['median']:.0f}, "
                      f"p99 {s['p99']:.0f}, max {s['max']:,}")
    tiers = info.get("tiers") or info.get("tiers_all_accounts")
    if tiers:
        what = "creators" if "tiers" in info else "accounts"
        console.print(f"  {what} by tier: " + ", ".join(f"{t} {c:,}" for t, c in tiers.items()))
    top = info.get("top_creators") or info.get("top_accounts") or []
    if top:
        _print_top(top, "top creators by followers" if "top_creators" in info
                   else "top accounts by followers", console)


def _print_top(top: list[dict], title: str, console) -> None:
    from rich.table import Table

    table = Table(title=title)
    cols = [c for c in ("id", "name", "category", "tier", "followers") if c in top[0]]
    for c in cols:
        table.add_column(c, justify="right" if c == "followers" else "left")
    for row in top:
        table.add_row(*[f"{row[c]:,}" if c == "followers" else str(row[c]) for c in cols])
    console.print(table)


def print_reach(d: dict, console) -> None:
    """The summary of a reach report's ``to_dict()`` (exact or from sketches)."""
    t = table("reach by creator (added = incremental reach in the order given; r = view rate)",
              ("id", "tier", "audience", "exclusive", "added", "cumul.", "share", "r"))
    cum = 0
    for c in d["creators"]:
        cum += c["incremental"]
        t.add_row(str(c["id"]), c["tier"], f"{c['audience']:,}", f"{c['exclusive']:,}",
                  f"{c['incremental']:,}", f"{cum:,}", f"{c['share']:.1%}", f"{c['view_rate']:.3f}")
    console.print(t)
    f = d["frequency"]
    at = f["at_least"]
    r3 = at[3] if len(at) > 3 else 0
    console.print(f"  unique reach        {d['unique_reach']:>14,}")
    console.print(f"  gross reach         {d['gross_reach']:>14,}   duplication {d['duplication']:.2f}x")
    console.print(f"  reached ≥3 times    {r3:>14,}   average frequency {f['average']:.2f}")
    console.print(f"  expected reach      {d['expected_reach']:>14,.0f}   (view rates x posts)")
    console.print(f"  Sainsbury estimate  {d['sainsbury_reach']:>14,.0f}   (independence, N = "
                  f"{d['population']:,})")
    if d["filters"]:
        console.print(f"  filters: {d['filters']}", highlight=False)
    print_warnings(console, d["warnings"])

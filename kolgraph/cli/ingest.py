"""``kolgraph ingest`` and ``kolgraph export``: edge lists into a store and back."""

from __future__ import annotations

from kolgraph.cli._flags import add_command, add_memory, parse_size
from kolgraph.cli._output import console, emit, mib, print_warnings, progress


def register_ingest(sub) -> None:
    sp = add_command(sub, "ingest", cmd_ingest, "read an edge list into a store",
                     "Read a follower edge list (CSV/TSV/whitespace text, .gz, or Parquet; one "
                     "row per 'follower followee') into a graph store, or with --per-creator a "
                     "directory of follower exports, one file per creator (CSV, JSON, JSONL, "
                     "optionally .gz; the creator is the file name or a creator column). "
                     "Malformed rows fail the ingest with their file and line unless --skip-bad.")
    sp.add_argument("edges", nargs="?", help="edge list file, or a directory or glob of "
                    "Parquet parts")
    sp.add_argument("--per-creator", metavar="DIR", help="a directory of follower exports, one "
                    "file per creator (instead of an edge list)")
    sp.add_argument("--creator-col", help="--per-creator: the column naming the creator "
                    "(default: a 'creator' column, else the file name)")
    sp.add_argument("--out", "-o", required=True, help="store directory to write (e.g. graph.kg)")
    sp.add_argument("--creators", help="creator table (CSV/Parquet with id[,name,platform,category,price,avg_views])")
    sp.add_argument("--accounts", help="account attribute table (CSV/Parquet with id and canonical columns, "
                                       "or Instagram/Twitter/TikTok column names)")
    sp.add_argument("--account-columns", help="source=canonical names for --accounts columns, comma-separated")
    sp.add_argument("--edge-times", action="store_true", help="the third column is followed_at")
    sp.add_argument("--time-col", help="followed_at column (name or 0-based position)")
    sp.add_argument("--follower-col", help="follower column (name or 0-based position)")
    sp.add_argument("--followee-col", help="followee column (name or 0-based position)")
    hdr = sp.add_mutually_exclusive_group()
    hdr.add_argument("--header", dest="header", action="store_true", default=None, help="first row is a header")
    hdr.add_argument("--no-header", dest="header", action="store_false", help="no header row")
    sp.add_argument("--delimiter", help="',', 'tab', ';' or 'whitespace' (default: detected)")
    sp.add_argument("--id-type", choices=("int", "str"), help="read ids as integers or text (default: detected)")
    sp.add_argument("--skip-bad", action="store_true", help="skip malformed rows (counted and reported)")
    sp.add_argument("--interactions", metavar="FILE", help="interaction events (CSV/Parquet with "
                    "account,creator,time,kind[,post,weight,reply_to], or per-creator JSON/JSONL "
                    "exports, a file or a directory; docs/interactions.md)")
    sp.add_argument("--posts", metavar="FILE", help="creators' posts (CSV/Parquet: creator,post,time)")
    add_memory(sp, "a directory or glob of Parquet parts is always streamed")
    sp.add_argument("--force", "-f", action="store_true", help="replace an existing store")


def cmd_ingest(args) -> int:
    from kolgraph.columns import parse_mapping
    from kolgraph.exceptions import InputError
    from kolgraph.ingest import ingest, ingest_per_creator

    if (args.edges is None) == (args.per_creator is None):
        raise InputError("give an edge list file or --per-creator DIR (one of the two)")
    if args.per_creator is not None and (args.interactions or args.posts):
        raise InputError("--interactions/--posts go with an edge list; add them to the store "
                         "with `kolgraph add-interactions STORE FILE`")
    if args.per_creator is not None:
        g = ingest_per_creator(args.per_creator, args.out, overwrite=args.force,
                               progress=progress(args), creator_col=args.creator_col,
                               id_type=args.id_type, skip_bad=args.skip_bad)
        return _done(args, g)
    g = ingest(args.edges, args.out, creators=args.creators, accounts=args.accounts,
               account_columns=parse_mapping(args.account_columns),
               overwrite=args.force, progress=progress(args), follower_col=_col(args.follower_col),
               followee_col=_col(args.followee_col), time_col=_col(args.time_col),
               edge_times=args.edge_times, header=args.header, delimiter=_delim(args.delimiter),
               id_type=args.id_type, skip_bad=args.skip_bad, interactions=args.interactions,
               posts=args.posts, memory=parse_size(args.memory, "--memory"))
    return _done(args, g)


def _done(args, g) -> int:
    payload = {"store": str(args.out), **g.report}

    def human(p):
        c = console()
        c.print(f"[green]wrote[/green] {args.out}")
        _print_report(p, c)
    emit(args, payload, human)
    return 0


def _col(value: str | None):
    """A column given by 0-based position (digits) or by name."""
    return int(value) if value is not None and value.isdigit() else value


def _delim(value: str | None) -> str | None:
    if value is None or value == "whitespace":
        return None
    return {"tab": "\t", "\\t": "\t", "comma": ","}.get(value, value)


def _print_report(report: dict, console) -> None:
    rows = [("creator files", report.get("files")), ("input edges", report.get("input_edges")), ("kept edges", report.get("edges")),
            ("accounts", report.get("accounts")), ("self-follows dropped", report.get("self_follows")),
            ("duplicate edges dropped", report.get("duplicate_edges")),
            ("malformed rows skipped", report.get("bad_rows"))]
    for label, value in rows:
        if value is not None:
            console.print(f"  {label:<26}{value:>14,}")
    if report.get("peak_rss_bytes"):
        console.print(f"  {'peak memory':<26}{mib(report['peak_rss_bytes']):>14}")
    inter = report.get("interactions")
    if inter:
        for label, key in (("interaction events", "events"), ("duplicate events dropped",
                           "duplicate_events"), ("accounts added by events", "new_accounts"),
                           ("posts", "posts")):
            console.print(f"  {label:<26}{inter[key]:>14,}")
    if report.get("account_columns"):
        console.print("  account columns: " + ", ".join(f"{s} -> {c}" for s, c in report["account_columns"].items()))
    print_warnings(console, report.get("warnings", []))


def register_export(sub) -> None:
    sp = add_command(sub, "export", cmd_export,
                     "write a store's edge list (CSV/TSV/.gz/Parquet by extension)")
    sp.add_argument("store")
    sp.add_argument("--out", "-o", required=True, help="output file, e.g. edges.csv, edges.tsv.gz, edges.parquet")
    sp.add_argument("--raw", action="store_true", help="write text cells as they are (by default "
                    "cells starting with = + - @, tab or CR get a leading ' so spreadsheets do "
                    "not run them as formulas)")


def cmd_export(args) -> int:
    import kolgraph
    from kolgraph.ingest import export_edges

    out = export_edges(kolgraph.open(args.store), args.out, progress=progress(args), raw=args.raw)
    emit(args, out, lambda p: console().print(f"[green]wrote[/green] {p['edges']:,} edges to {p['path']}"))
    return 0

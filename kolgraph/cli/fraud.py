"""``kolgraph fraud``: lockstep clusters, spikes, audience quality and real reach."""

from __future__ import annotations

from kolgraph.cli._flags import add_command, add_options, options_from_args
from kolgraph.cli._output import console, emit, print_warnings, print_written, progress, table
from kolgraph.fraud.options import FraudOptions


def register_fraud(sub) -> None:
    sp = add_command(sub, "fraud", cmd_fraud,
                     "fraud review: lockstep clusters, spikes, audience quality, real reach",
                     "Find bot-like follower clusters (Fraudar dense blocks, temporal lockstep "
                     "when the store has follow times), growth spikes, bot scores, mass "
                     "followers and engagement pods (when the store has interactions); report audience quality and real reach per creator. JSON keys: "
                     "clusters, creators, creators_total, spikes, lockstep_groups, pods, flagged, "
                     "skipped, warnings, params, timings (see README).")
    sp.add_argument("store")
    sp.add_argument("--creator", action="append", metavar="ID",
                    help="report on this creator (repeatable; default: the creators with the lowest audience quality)")
    add_options(sp, FraudOptions)
    sp.add_argument("--report", metavar="HTML", help="write a self-contained HTML report for the (first) creator")
    sp.add_argument("--export", metavar="DIR", help="write report.json and CSVs of clusters and flagged accounts")
    sp.add_argument("--raw", action="store_true", help="write text cells as they are (by default "
                    "cells starting with = + - @, tab or CR get a leading ' so spreadsheets do "
                    "not run them as formulas)")
    sp.add_argument("--write-flags", action="store_true",
                    help="write the account column 'flagged' into the store (used by --exclude-flagged)")


def cmd_fraud(args) -> int:
    import kolgraph

    g = kolgraph.open(args.store)
    creators = args.creator or None
    report = g.fraud(creators=creators, progress=progress(args),
                     **options_from_args(args, FraudOptions))
    d = report.to_dict()
    if args.export:
        d["exported"] = report.export(args.export, raw=args.raw)
    if args.report:
        d["report"] = str(report.html(args.report, args.creator[0] if args.creator else None))
    if args.write_flags:
        d["flags_written"] = report.write_flags()
    emit(args, d, lambda p: _print_fraud(p, console()))
    return 0


def _print_fraud(p: dict, c) -> None:
    c.print(f"[bold]{len(p['clusters'])} lockstep cluster(s)[/bold], "
            f"{len(p['lockstep_groups'])} temporal lockstep group(s), "
            f"{len(p['pods'])} engagement pod(s), "
            f"{p['flagged']['accounts']:,} flagged accounts "
            f"({', '.join(f'{k} {v:,}' for k, v in p['flagged']['by_kind'].items())})")
    for cl in p["clusters"]:
        c.print(f"  cluster {cl['id']}: {cl['followers_count']:,} followers x {cl['creators_count']} "
                f"creators, density {cl['density']:.2f}, lift {cl['significance']['lift']:.1f}, "
                f"farm customers {len(cl['fingerprint']):,}")
    for pod in p["pods"]:
        c.print(f"  pod {pod['id']}: {pod['accounts_count']:,} accounts on {pod['posts_count']:,} "
                f"posts of {len(pod['creators'])} creator(s) "
                f"({', '.join(str(x['id']) for x in pod['creators'][:5])})")
    t = table(f"creators ({len(p['creators'])} of {p['creators_total']:,} with flagged followers)",
              ("id", "followers", "flagged", "audience quality", "real reach", "clusters", "spikes"))
    for r in p["creators"]:
        t.add_row(str(r["id"]), f"{r['followers']:,}", f"{r['flagged_followers']:,}",
                  f"{r['audience_quality']:.1%}", f"{r['real_reach']:,}",
                  " ".join(str(h["id"]) for h in r["clusters"]), str(len(r["spikes"])))
    c.print(t)
    print_warnings(c, p["skipped"], label="skipped")
    print_warnings(c, p["warnings"])
    print_written(c, p.get("exported", {}))
    if "report" in p:
        c.print(f"[green]wrote[/green] HTML report {p['report']}")
    if "flags_written" in p:
        fw = p["flags_written"]
        c.print(f"[green]wrote[/green] account column '{fw['column']}' ({fw['flagged']:,} flagged) "
                f"into {fw['store']}")

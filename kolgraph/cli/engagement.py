"""``kolgraph engagement`` and ``kolgraph add-interactions``: the interactions layer."""

from __future__ import annotations

from kolgraph.cli._flags import add_command, add_options, options_from_args
from kolgraph.cli._output import console, emit, print_warnings, table
from kolgraph.engagement import EngagementOptions


def register_add_interactions(sub) -> None:
    sp = add_command(sub, "add-interactions", cmd_add_interactions,
                     "add interaction events (and posts) to a store",
                     "Add interaction events account -> creator (CSV/Parquet with account, "
                     "creator, time, kind[, post, weight, reply_to], or per-creator JSON/JSONL "
                     "exports: a file or a directory) and creators' posts to an existing store, "
                     "through an atomic rewrite: on any error nothing is written. Accounts that "
                     "interact without following join the account table.")
    sp.add_argument("store", help="graph store")
    sp.add_argument("file", nargs="?", help="events file or directory of per-creator exports")
    sp.add_argument("--posts", metavar="FILE", help="creators' posts (CSV/Parquet: creator,post,time)")


def cmd_add_interactions(args) -> int:
    from kolgraph.interactions_io import add_interactions

    out = add_interactions(args.store, args.file, args.posts)

    def human(p):
        c = console()
        c.print(f"[green]updated[/green] {p['store']}")
        for label, key in (("events in the store", "events"), ("events read", "added_events"),
                           ("duplicate events dropped", "duplicate_events"),
                           ("accounts added", "new_accounts"), ("posts", "posts")):
            c.print(f"  {label:<26}{p[key]:>14,}")
        c.print(f"  kinds: {', '.join(p['kinds'])}")
        print_warnings(c, p["warnings"])
    emit(args, out, human)
    return 0


def register_engagement(sub) -> None:
    sp = add_command(sub, "engagement", cmd_engagement,
                     "engaged and loyal audiences, engagement rate and reply rate of creators",
                     "Per creator, in the window [--since, --until): followers, engaged accounts "
                     "(followers and non-followers), interactions by kind, engagement rate, loyal "
                     "fans, reply rate and authentic share. Definitions: docs/interactions.md.")
    sp.add_argument("store", help="graph store with interactions")
    sp.add_argument("ids", nargs="+", metavar="ID", help="creator ids")
    add_options(sp, EngagementOptions)


def cmd_engagement(args) -> int:
    import kolgraph

    g = kolgraph.open(args.store)
    out = g.engagement(args.ids, **options_from_args(args, EngagementOptions))
    emit(args, out, _print_engagement)
    return 0


def _print_engagement(p: dict) -> None:
    c = console()
    w = p["window"]
    c.print(f"window: {w['days']:.1f} days; loyal fans: >= {p['loyalty']['k']} distinct "
            f"{p['loyalty']['by']}")
    t = table("engagement", ["id", "followers", "engaged", "eng. followers", "eng. non-followers",
            "interactions", "rate", "loyal", "reply rate"])
    for r in p["creators"]:
        t.add_row(*(str(x) for x in [r["id"], r["followers"], r["engaged"], r["engaged_followers"],
             r["engaged_non_followers"], r["interactions"],
             f"{r['engagement_rate']:.4g} {'/post' if r['rate_basis'].startswith('per_post') else '/day'}",
             r["loyal_fans"], "-" if r["reply_rate"] is None else f"{r['reply_rate']:.0%}"]))
    c.print(t)
    print_warnings(c, p["warnings"])

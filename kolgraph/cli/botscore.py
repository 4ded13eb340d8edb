"""``kolgraph profiles`` and ``kolgraph score-accounts``: bot likeness from profile attributes."""

from __future__ import annotations

from kolgraph.cli._flags import add_command
from kolgraph.cli._output import console, emit, error, json_and_csv, warn, write_csv


def register_profiles(sub) -> None:
    sp = add_command(sub, "profiles", cmd_profiles,
                     "convert a labelled public profile set to canonical account columns",
                     "Map the MIB 'Fame for sale' profiles (a folder with users.csv and "
                     "fusers.csv) or the Instagram fake/genuine train.csv to kolgraph's "
                     "canonical account columns plus 'label' (1 = fake), for `kolgraph ingest "
                     "--accounts` and bot scoring.")
    sp.add_argument("kind", choices=("mib", "instagram"))
    sp.add_argument("path", help="MIB folder or Instagram CSV")
    sp.add_argument("--out", "-o", required=True, help="output table (.parquet or .csv)")


def cmd_profiles(args) -> int:
    from kolgraph import datasets
    from kolgraph.ingest import write_table_file

    load = {"mib": datasets.mib_accounts, "instagram": datasets.instagram_accounts}[args.kind]
    table = load(args.path)
    write_table_file(table, args.out)
    labels = table.column("label").to_numpy()
    payload = {"path": str(args.out), "accounts": table.num_rows, "fake": int(labels.sum()),
               "columns": table.column_names}
    emit(args, payload, lambda p: console().print(
        f"[green]wrote[/green] {p['accounts']:,} accounts ({p['fake']:,} labelled fake) to {p['path']}: "
        f"{', '.join(p['columns'])}"))
    return 0


def register_score_accounts(sub) -> None:
    sp = add_command(sub, "score-accounts", cmd_score_accounts,
                     "score accounts 0-1 for bot likeness from profile attributes",
                     "Score an account attribute table (CSV/Parquet: id plus any of posts, "
                     "followers, following, has_avatar, username, bio, private, created_at, "
                     "verified, ...) with transparent rules: one row per account with id, score "
                     "and the reasons. --evaluate prints precision, recall, F1 and ROC AUC of "
                     "every rule and the combined score on the labelled MIB and Instagram sets.")
    sp.add_argument("accounts", nargs="?", help="account attribute table (CSV or Parquet)")
    sp.add_argument("--csv", action="store_true", help="print one CSV row per account (with each rule's contribution)")
    sp.add_argument("--threshold", type=float, default=None, help="flag accounts scoring at least T (default 0.5)")
    sp.add_argument("--top", type=int, default=20, help="accounts listed in the readable output (default 20)")
    sp.add_argument("--evaluate", action="store_true", help="evaluate the rules on the labelled profile sets")
    sp.add_argument("--mib", help="MIB folder for --evaluate (default: the copy in tests/data)")
    sp.add_argument("--instagram", help="Instagram train.csv for --evaluate (default: the copy in tests/data)")


def cmd_score_accounts(args) -> int:
    import warnings

    from kolgraph import botscore

    if json_and_csv(args):
        return 2
    if args.evaluate:
        return _evaluate(args)
    if not args.accounts:
        error("give an ACCOUNTS table (CSV/Parquet with an id column) or --evaluate")
        return 2
    rules = botscore.BotRules()
    if args.threshold is not None:
        if not 0 <= args.threshold <= 1:
            error(f"--threshold must be in [0, 1], got {args.threshold}")
            return 2
        rules = botscore.BotRules(threshold=args.threshold)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = botscore.score_accounts(args.accounts, rules=rules)
    for w in caught:
        warn(str(w.message))
    df.insert(2, "flagged", df["score"] >= rules.threshold)
    if args.csv:
        write_csv(df)
        return 0
    rule_cols = [c for c in df.columns if c not in ("id", "score", "flagged", "reasons")]
    payload = {
        "accounts": [{"id": _plain(r.id), "score": float(r.score), "flagged": bool(r.flagged),
                      "reasons": r.reasons.split("; ") if r.reasons else [],
                      "contributions": {c: float(getattr(r, c)) for c in rule_cols}}
                     for r in df.itertuples(index=False)],
        "threshold": rules.threshold, "flagged": int(df["flagged"].sum()),
        "rules_used": df.attrs["rules_used"], "rules_skipped": df.attrs["rules_skipped"],
        "ignored_columns": df.attrs["ignored_columns"], "rules": df.attrs["rules"]}
    emit(args, payload, lambda p: _print_scores(p, console(), args.top))
    return 0


def _evaluate(args) -> int:
    from kolgraph import botscore

    paths = botscore.default_datasets()
    paths.update({k: v for k, v in (("mib", args.mib), ("instagram", args.instagram)) if v})
    table = botscore.evaluate(paths)
    summary = botscore.beats_every_rule(table)
    if args.csv:
        write_csv(table)
        return 0
    payload = {"evaluation": _records(table), "summary": _records(summary),
               "datasets": {k: str(v) for k, v in paths.items()}}
    emit(args, payload, lambda p: _print_bot_evaluation(table, summary, console()))
    return 0


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def _records(df) -> list[dict]:
    return [{k: (None if isinstance(v, float) and v != v else _plain(v)) for k, v in row.items()}
            for row in df.to_dict(orient="records")]


def _print_scores(p: dict, console, top: int) -> None:
    from rich.table import Table

    n = len(p["accounts"])
    console.print(f"{n:,} accounts scored, [bold]{p['flagged']:,}[/bold] at or above "
                  f"{p['threshold']:g}; rules used: {', '.join(p['rules_used']) or 'none'}")
    if p["rules_skipped"]:
        console.print(f"[yellow]skipped (missing columns):[/yellow] {', '.join(p['rules_skipped'])}")
    ranked = sorted(p["accounts"], key=lambda a: -a["score"])[:top]
    table = Table(title=f"top {len(ranked)} by score")
    for col in ("id", "score", "reasons"):
        table.add_column(col, justify="right" if col == "score" else "left")
    for a in ranked:
        table.add_row(str(a["id"]), f"{a['score']:.3f}", "; ".join(a["reasons"]) or "-")
    console.print(table)


def _print_bot_evaluation(table, summary, console) -> None:
    from rich.table import Table

    for (ds, w), g in table.groupby(["dataset", "weights"], sort=False):
        t = Table(title=f"{ds} ({g['accounts'].iloc[0]:,} accounts), weights: {w}")
        for col in ("rule", "flagged", "precision", "recall", "F1", "ROC AUC"):
            t.add_column(col, justify="left" if col == "rule" else "right")
        for r in g.itertuples(index=False):
            if not r.available:
                t.add_row(r.rule, "-", "n/a (no column)", "", "", "")
                continue
            t.add_row(f"[bold]{r.rule}[/bold]" if r.rule == "combined" else r.rule, f"{r.flagged:,}",
                      f"{r.precision:.3f}", f"{r.recall:.3f}", f"{r.f1:.3f}", f"{r.roc_auc:.3f}")
        console.print(t)
    for r in summary.itertuples(index=False):
        verdict = lambda ok: "[green]beats[/green]" if ok else "[red]does not beat[/red]"  # noqa: E731
        console.print(f"{r.dataset}, {r.weights}: combined F1 {r.combined_f1:.3f} {verdict(r.beats_f1)} "
                      f"the best rule ({r.best_f1_rule} {r.best_rule_f1:.3f}); combined AUC "
                      f"{r.combined_auc:.3f} {verdict(r.beats_auc)} {r.best_rule_auc:.3f}")

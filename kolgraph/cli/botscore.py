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
                     "Score an account attribute table (CSV/Parquet: an id plus any of followers, "
                     "following, posts, has_avatar, private, verified, username, full_name, bio, "
                     "created_at, external_url, or the counts username_digits, username_length, "
                     "bio_length; Instagram, Twitter/X and TikTok column names are recognised) with "
                     "the fitted logistic model: one row per account with id, score (probability "
                     "of a bot), the largest contributions to it, and the profile rules that fired "
                     "as evidence. --evaluate prints AUC and F1 of the model, the naive heuristic "
                     "and every rule, leaving one labelled set out.")
    sp.add_argument("accounts", nargs="?", help="account attribute table (CSV or Parquet)")
    sp.add_argument("--columns", help="source=canonical column names, comma-separated "
                                      "(e.g. 'Fans=followers,Handle=username'); over the built-in aliases")
    sp.add_argument("--csv", action="store_true", help="print one CSV row per account (with each feature's contribution)")
    sp.add_argument("--raw", action="store_true", help="write text cells as they are (by default "
                    "cells starting with = + - @, tab or CR get a leading ' so spreadsheets do "
                    "not run them as formulas)")
    sp.add_argument("--threshold", type=float, default=None, help="flag accounts scoring at least T (default: the model's, 0.5)")
    sp.add_argument("--top", type=int, default=20, help="accounts listed in the readable output (default 20)")
    sp.add_argument("--evaluate", action="store_true",
                    help="evaluate on the labelled profile sets (leave one set out, 5-fold CV, rules, naive heuristic)")
    sp.add_argument("--mib", help="MIB folder for --evaluate (default: the copy in tests/data)")
    sp.add_argument("--instagram", help="Instagram train.csv for --evaluate (default: the copy in tests/data)")


def cmd_score_accounts(args) -> int:
    import warnings

    from kolgraph import botscore
    from kolgraph.columns import parse_mapping

    if json_and_csv(args):
        return 2
    if args.evaluate:
        return _evaluate(args)
    if not args.accounts:
        error("give an ACCOUNTS table (CSV/Parquet with an id column) or --evaluate")
        return 2
    if args.threshold is not None and not 0 <= args.threshold <= 1:
        error(f"--threshold must be in [0, 1], got {args.threshold}")
        return 2
    mapping = parse_mapping(args.columns)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        df = botscore.score_accounts(args.accounts, columns=mapping)
    for w in caught:
        warn(str(w.message))
    threshold = df.attrs["threshold"] if args.threshold is None else args.threshold
    df.insert(2, "flagged", df["score"] >= threshold)
    if args.csv:
        write_csv(df, raw=args.raw)
        return 0
    feats = [c for c in df.columns if c not in ("id", "score", "flagged", "reasons", "rules", "logit")]
    a = df.attrs
    payload = {
        "accounts": [{"id": _plain(r["id"]), "score": float(r["score"]), "flagged": bool(r["flagged"]),
                      "reasons": r["reasons"].split("; ") if r["reasons"] else [],
                      "rule_hits": r["rules"].split("; ") if r["rules"] else [],
                      "contributions": {c: float(r[c]) for c in feats}}
                     for r in df.to_dict(orient="records")],
        "threshold": threshold, "flagged": int(df["flagged"].sum()),
        "columns": a["columns"], "conversions": a["conversions"],
        "features_used": a["features_used"], "features_missing": a["features_missing"],
        "rules_used": a["rules_used"], "rules_skipped": a["rules_skipped"],
        "ignored_columns": a["ignored_columns"], "model": a["model"]}
    emit(args, payload, lambda p: _print_scores(p, console(), args.top))
    return 0


def _evaluate(args) -> int:
    from kolgraph import boteval, botmodel, botscore

    paths = botscore.default_datasets()
    paths.update({k: v for k, v in (("mib", args.mib), ("instagram", args.instagram)) if v})
    table = boteval.evaluate(paths)
    summary = boteval.summary(table)
    if args.csv:
        write_csv(table, raw=args.raw)
        return 0
    model = botmodel.default_model()
    payload = {"evaluation": _records(table), "summary": _records(summary),
               "datasets": {k: str(v) for k, v in paths.items()},
               "model": {"version": model["version"], "threshold": model["threshold"],
                         "fitted_on": model.get("fitted_on")}}
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
                  f"{p['threshold']:g}; features used: {', '.join(p['features_used']) or 'none'}")
    if p["columns"]:
        console.print("columns: " + ", ".join(f"{s} -> {c}" for s, c in p["columns"].items()))
    if p["features_missing"]:
        console.print("[yellow]missing features (contribute 0):[/yellow] "
                      + ", ".join(f"{k} (needs {v})" for k, v in p["features_missing"].items()))
    ranked = sorted(p["accounts"], key=lambda a: -a["score"])[:top]
    table = Table(title=f"top {len(ranked)} by score")
    for col in ("id", "score", "reasons", "rules fired"):
        table.add_column(col, justify="right" if col == "score" else "left")
    for a in ranked:
        table.add_row(str(a["id"]), f"{a['score']:.3f}", "; ".join(a["reasons"]) or "-",
                      "; ".join(a["rule_hits"]) or "-")
    console.print(table)


def _print_bot_evaluation(table, summary, console) -> None:
    from rich.table import Table

    for ds, g in table.groupby("dataset", sort=False):
        t = Table(title=f"{ds} ({g['accounts'].iloc[0]:,} accounts)")
        for col in ("protocol", "method", "trained on", "flagged", "precision", "recall", "F1", "ROC AUC"):
            t.add_column(col, justify="left" if col in ("protocol", "method", "trained on") else "right")
        for r in g.itertuples(index=False):
            name = f"[bold]{r.method}[/bold]" if r.method == "model" else r.method
            t.add_row(r.protocol, name, r.trained_on, f"{r.flagged:,}", f"{r.precision:.3f}",
                      f"{r.recall:.3f}", f"{r.f1:.3f}", f"{r.roc_auc:.3f}")
        console.print(t)
    for r in summary.itertuples(index=False):
        verdict = "[green]>=[/green]" if r.model_beats_naive_auc else "[red]<[/red]"
        console.print(f"{r.dataset}, left out: model AUC {r.model_auc:.4f} {verdict} naive heuristic "
                      f"{r.naive_auc:.4f}; F1 {r.model_f1:.3f} vs {r.naive_f1:.3f}")

"""Fit and evaluate the profile bot model on the public labelled sets.

- :func:`fit_default` refits the shipped model (``kolgraph/data/botscore_model.json``)
  on every labelled set pooled: ``python -m kolgraph.boteval fit [--out PATH]``.
- :func:`evaluate` scores each set with the model fitted on the *other* sets
  (leave one data set out: the out-of-sample figures), and, labelled as such, with a
  5-fold cross-validation inside each set and with the shipped model (in-sample). Beside
  the model: two variants with a feature the model leaves out, the naive heuristic
  ``log((following+1)/(followers+1)) + [posts == 0] + [no picture]``, the eight rules
  combined by noisy-OR, and each rule alone.

``python -m kolgraph.boteval evaluate`` prints the table (the CLI's
``kolgraph score-accounts --evaluate`` does the same).
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from kolgraph import botmodel, botscore
from kolgraph.botscore import RULES, binary_metrics, roc_auc
from kolgraph.tables import KolgraphWarning

ALL_FEATURES = tuple(f.name for f in botmodel.FEATURES + botmodel.EXTRA_FEATURES)
VARIANTS = {
    "model": botmodel.MODEL_FEATURES,
    "model + followers": botmodel.MODEL_FEATURES + ("followers",),
    "model + digit share": botmodel.MODEL_FEATURES + ("digit_share",),
    "model + name = username": botmodel.MODEL_FEATURES + ("name_equals_username",),
}
PROTOCOLS = ("leave one set out", "5-fold CV within set", "in-sample (shipped model)")


def labelled_features(name: str, path) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Every feature (NaN = missing), the labels and the canonical table of one labelled set."""
    df = botscore.load_labelled(name, path)
    inputs = botscore._inputs(df)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KolgraphWarning)
        _, cols, *_ = botscore._prepare(inputs)
    values, _ = botmodel.feature_values(cols)
    X = pd.DataFrame({f: values.get(f, np.full(len(df), np.nan)) for f in ALL_FEATURES})
    return X, df["label"].to_numpy().astype(int), inputs


def _score(model: dict, X: pd.DataFrame) -> np.ndarray:
    logit, _ = botmodel.contributions(model, {c: X[c].to_numpy() for c in X.columns}, len(X))
    return botmodel.sigmoid(logit)


def naive_heuristic(X: pd.DataFrame) -> np.ndarray:
    """``log((following+1)/(followers+1)) + [posts == 0] + [no picture]`` (missing terms: 0)."""
    return (X["follow_ratio"].fillna(0) + X["no_posts"].fillna(0) + X["no_avatar"].fillna(0)).to_numpy()


def _best_cut(y: np.ndarray, s: np.ndarray) -> float:
    """The cut maximising F1 on training data (for the naive heuristic, which has no threshold)."""
    cuts = np.unique(s)
    if len(cuts) > 400:
        cuts = np.quantile(s, np.linspace(0, 1, 401))
    f1 = [binary_metrics(y, s >= c)["f1"] for c in cuts]
    return float(cuts[int(np.argmax(f1))])


def fit_default(paths: dict | None = None, out: str | Path | None = None, *, lam: float = 10.0) -> dict:
    """Fit the model on every labelled set pooled; write it to ``out`` when given."""
    paths = paths or botscore.default_datasets()
    sets = {n: labelled_features(n, p) for n, p in paths.items()}
    feats = list(botmodel.MODEL_FEATURES)
    X = np.vstack([s[0][feats].to_numpy() for s in sets.values()])
    y = np.concatenate([s[1] for s in sets.values()])
    model = botmodel.fit_model(X, y, feats, lam=lam, meta={
        "fitted_on": {n: {"accounts": int(len(s[1])), "bots": int(s[1].sum())} for n, s in sets.items()},
        "refit": "python -m kolgraph.boteval fit"})
    if out is not None:
        Path(out).write_text(json.dumps(model, indent=1) + "\n")
    return model


def _folds(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Stratified fold number per row."""
    rng = np.random.default_rng(seed)
    fold = np.empty(len(y), int)
    for label in (0, 1):
        idx = np.flatnonzero(y == label)
        rng.shuffle(idx)
        fold[idx] = np.arange(len(idx)) % k
    return fold


def _row(ds, protocol, method, trained_on, y, s, threshold) -> dict:
    pred = s >= threshold
    return {"dataset": ds, "protocol": protocol, "method": method, "trained_on": trained_on,
            "accounts": int(len(y)), "flagged": int(pred.sum()), **binary_metrics(y, pred),
            "roc_auc": roc_auc(y, s), "threshold": float(threshold)}


def evaluate(paths: dict | None = None, *, folds: int = 5, seed: int = 0, lam: float = 10.0,
             shipped: dict | None = None) -> pd.DataFrame:
    """AUC and F1 of the model (and variants, the naive heuristic, the rules) on every set.

    Columns ``dataset, protocol, method, trained_on, accounts, flagged, precision, recall,
    f1, roc_auc, threshold``. ``protocol``: ``leave one set out`` (trained on the other
    sets: out of sample), ``5-fold CV within set`` (trained on the other folds of the same
    set), ``in-sample (shipped model)`` (the shipped model, fitted on every set, this one
    included). The model predicts "bot" at probability >= 0.5; the naive heuristic at the
    cut maximising F1 on its training data; a rule when it fires; the noisy-OR at 0.5.
    """
    paths = paths or botscore.default_datasets()
    sets = {n: labelled_features(n, p) for n, p in paths.items()}
    shipped = shipped or botmodel.default_model()
    rows = []
    for name, (X, y, inputs) in sets.items():
        others = [o for o in sets if o != name]
        Xo = pd.concat([sets[o][0] for o in others], ignore_index=True) if others else None
        yo = np.concatenate([sets[o][1] for o in others]) if others else None
        tag = " + ".join(others)
        if others:
            for method, feats in VARIANTS.items():
                m = botmodel.fit_model(Xo[list(feats)].to_numpy(), yo, feats, lam=lam)
                rows.append(_row(name, PROTOCOLS[0], method, tag, y, _score(m, X[list(feats)]), 0.5))
            rows.append(_row(name, PROTOCOLS[0], "naive heuristic", f"cut: {tag}", y, naive_heuristic(X),
                             _best_cut(yo, naive_heuristic(Xo))))
        fold = _folds(y, folds, seed)
        for method, feats in VARIANTS.items():
            s = np.empty(len(y))
            for k in range(folds):
                tr, te = fold != k, fold == k
                m = botmodel.fit_model(X.loc[tr, list(feats)].to_numpy(), y[tr], feats, lam=lam)
                s[te] = _score(m, X.loc[te, list(feats)])
            rows.append(_row(name, PROTOCOLS[1], method, f"{name} (other folds)", y, s, 0.5))
        s = naive_heuristic(X)
        cut = np.empty(len(y), bool)
        for k in range(folds):
            tr, te = fold != k, fold == k
            cut[te] = s[te] >= _best_cut(y[tr], s[tr])
        rows.append(_row(name, PROTOCOLS[1], "naive heuristic", f"cut: {name} (other folds)", y,
                         s, 0.5) | {**binary_metrics(y, cut), "flagged": int(cut.sum()), "threshold": np.nan})
        rows.append(_row(name, PROTOCOLS[2], "model", "all sets", y,
                         _score(shipped, X[[f["name"] for f in shipped["features"]]]),
                         shipped.get("threshold", 0.5)))
        rows += _rule_rows(name, inputs, y)
    return pd.DataFrame(rows)


def _rule_rows(name: str, inputs: pd.DataFrame, y: np.ndarray) -> list[dict]:
    """The noisy-OR of the rules (default strengths) and each rule alone: nothing fitted."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", KolgraphWarning)
        _, fired, _, _, _ = botscore.rule_hits(inputs)
        s = botscore.rule_score(inputs)["score"].to_numpy()
    rows = [_row(name, "not fitted", "rules (noisy-OR)", "hand-set strengths", y, s, 0.5)]
    for r in RULES:
        if r in fired:
            rows.append(_row(name, "not fitted", f"rule: {r}", "-", y, fired[r].astype(float), 0.5))
    return rows


def summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per set: the model's and the naive heuristic's out-of-sample AUC and F1 side by side."""
    out = []
    loso = table[table["protocol"] == PROTOCOLS[0]]
    for ds, g in loso.groupby("dataset", sort=False):
        m = g[g["method"] == "model"].iloc[0]
        n = g[g["method"] == "naive heuristic"].iloc[0]
        out.append({"dataset": ds, "model_auc": m["roc_auc"], "naive_auc": n["roc_auc"],
                    "model_f1": m["f1"], "naive_f1": n["f1"],
                    "model_beats_naive_auc": bool(m["roc_auc"] >= n["roc_auc"])})
    return pd.DataFrame(out)


def _main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("fit", "evaluate"):
        print("usage: python -m kolgraph.boteval fit [--out PATH] | evaluate", file=sys.stderr)
        return 2
    if argv[0] == "fit":
        out = argv[argv.index("--out") + 1] if "--out" in argv else \
            Path(__file__).resolve().parent / "data" / "botscore_model.json"
        model = fit_default(out=out)
        print(f"wrote {out}: intercept {model['intercept']:+.3f}, "
              + ", ".join(f"{f['name']} {f['coef']:+.3f}" for f in model["features"]))
        return 0
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        t = evaluate()
        print(t[["dataset", "protocol", "method", "trained_on", "roc_auc", "f1", "precision", "recall"]]
              .round(4).to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main(sys.argv[1:]))

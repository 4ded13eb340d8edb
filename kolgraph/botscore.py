# size: the eight rules, their noisy-OR and the model score share one input preparation (mapping, coercion)
"""Per-account bot signals from profile attributes: a fitted, explained score plus rules as evidence.

:func:`score_accounts` scores with the logistic model of :mod:`kolgraph.botmodel`
(coefficients shipped as ``kolgraph/data/botscore_model.json``, refitted by
``python -m kolgraph.boteval fit``): ``score`` is the probability of a bot (threshold
0.5), ``reasons`` the account's largest positive contributions to the logit, e.g.
``following/followers ratio 35 (+2.1)``. Column names are read as platforms and scrapers
write them (:mod:`kolgraph.columns`); a feature without a column contributes 0.

The eight binary rules below stay as *evidence*: ``rules`` lists those that fired, with
their values. :func:`rule_score` still combines them by noisy-OR (the score before the
model): rule r fires with strength p_r and ``score = 1 - prod(1 - p_r)`` over the rules
that fired, a verified account's score multiplied by ``1 - verified_discount``; each
rule's contribution column is its share of that score. Its strengths were set by hand
after seeing the two labelled sets (docs/fraud.md); :func:`fit_rules` fits them on one
set, :func:`evaluate_rules` reports them cross-fitted.

>>> import pandas as pd, kolgraph
>>> t = pd.DataFrame({"id": [1, 2], "posts": [0, 120], "followers": [3, 800],
...                   "following": [4210, 300]})
>>> s = kolgraph.score_accounts(t)
>>> s.loc[0, "reasons"]
'following/followers ratio 1,403 (+11.7); posts 0 (+4.7); no posts (+2.4)'
>>> s.loc[0, "rules"]
'mass following (following=4,210 > 1,500); following/followers ratio (4,210/3 = 1,403 > 10); no posts (posts=0 < 1)'
>>> round(float(s.loc[0, "score"]), 3), round(float(s.loc[1, "score"]), 3)
(1.0, 0.001)
>>> r = rule_score(t)
>>> round(float(r.loc[0, "score"]), 3), float(r.loc[1, "score"])
(0.83, 0.0)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kolgraph import botmodel
from kolgraph.columns import ColumnMapping, apply_columns
from kolgraph.exceptions import InputError
from kolgraph.tables import ACCOUNT_COLUMNS, KolgraphWarning, coerce_column

# Columns score_accounts reads, and their types (beyond ACCOUNT_COLUMNS: the derived forms
# of username and bio that data sets without the raw text publish).
INPUT_COLUMNS: dict[str, pa.DataType] = {
    **ACCOUNT_COLUMNS,
    "username_digits": pa.float64(),
    "username_length": pa.float64(),
    "username_digit_ratio": pa.float64(),
    "bio_length": pa.float64(),
    "fullname_words": pa.float64(),
    "external_url": pa.bool_(),
    "full_name": pa.string(),
    "name_equals_username": pa.bool_(),
}
# Canonical columns no rule or feature uses: accepted silently (they are not "unknown").
_UNUSED_CANONICAL = {"country", "language", "fullname_words"}

RULES = ("mass_following", "follow_ratio", "no_posts", "no_avatar", "digit_username",
         "short_bio", "young_account", "private")

DEFAULT_STRENGTHS = {"mass_following": 0.15, "follow_ratio": 0.6, "no_posts": 0.5, "no_avatar": 0.6,
                     "digit_username": 0.4, "short_bio": 0.3, "young_account": 0.3, "private": 0.15}


@dataclass(frozen=True)
class BotRules:
    """Thresholds and strengths of the profile rules (defaults: see the module docstring).

    Parameters
    ----------
    max_following : mass following fires when ``following > max_following``
    max_follow_ratio : fires when ``following / max(followers, 1) > max_follow_ratio``
    min_posts : no posts fires when ``posts < min_posts``
    min_digit_ratio : digit-heavy username when digits / length >= this
    min_bio_length : short or empty bio when the bio has fewer characters
    young_days : young account when created fewer days than this before ``as_of``
    as_of : reference time for account age (anything pandas.Timestamp reads; UTC when
        naive); None: the newest ``created_at`` in the table
    strengths : rule name -> noisy-OR strength in [0, 1), over :data:`DEFAULT_STRENGTHS`
        (rules not named keep theirs); 0 switches a rule off
    verified_discount : a verified account's score is multiplied by ``1 - verified_discount``
    threshold : score at or above which an account is flagged (CLI, evaluation)
    """

    max_following: float = 1500
    max_follow_ratio: float = 10
    min_posts: float = 1
    min_digit_ratio: float = 0.3
    min_bio_length: float = 10
    young_days: float = 90
    as_of: object = None
    strengths: dict = field(default_factory=dict)
    verified_discount: float = 0.9
    threshold: float = 0.5

    def __post_init__(self):
        object.__setattr__(self, "strengths", {**DEFAULT_STRENGTHS, **self.strengths})
        unknown = set(self.strengths) - set(RULES)
        if unknown:
            raise InputError(f"BotRules: unknown rule(s) {sorted(unknown)}; rules are {list(RULES)}")
        for name, p in self.strengths.items():
            if not 0 <= p < 1:
                raise InputError(f"BotRules: strength of {name!r} must be in [0, 1), got {p!r}")
        if not 0 <= self.verified_discount <= 1:
            raise InputError(f"BotRules: verified_discount must be in [0, 1], got {self.verified_discount!r}")

    def strength(self, rule: str) -> float:
        return float(self.strengths.get(rule, 0.0))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["as_of"] = None if self.as_of is None else str(self.as_of)
        return d


# --- rules: each maps the coerced columns to (fired mask, reason texts of the fired rows) ---
# Reason texts are built column-wise: numbers are formatted once per distinct value, then the
# pieces are concatenated as numpy object arrays (a Python f-string per row costs 10x more).
def _fmt(x: float) -> str:
    return f"{x:,.0f}" if float(x).is_integer() or abs(x) >= 100 else f"{x:,.2f}"


def _fmt_all(values: np.ndarray, fmt: Callable = _fmt) -> np.ndarray:
    codes, uniques = pd.factorize(values)
    return np.array([fmt(v) for v in uniques] or [""], dtype=object)[codes]


def _cat(*parts) -> np.ndarray:
    out = parts[0]
    for p in parts[1:]:
        out = out + p
    return out


def _num(cols: dict, name: str) -> np.ndarray:
    """A numeric column as float64 with NaN for nulls."""
    return cols[name].to_numpy(zero_copy_only=False).astype(np.float64)


def _flag(cols: dict, name: str) -> np.ndarray:
    """A boolean column as a mask, nulls False."""
    return pc.fill_null(cols[name], False).to_numpy(zero_copy_only=False)


def _mass_following(cols, r: BotRules):
    f = _num(cols, "following")
    fired = f > r.max_following
    return fired, _cat("mass following (following=", _fmt_all(f[fired]), f" > {_fmt(r.max_following)})")


def _follow_ratio(cols, r: BotRules):
    f, fol = _num(cols, "following"), _num(cols, "followers")
    ratio = f / np.maximum(fol, 1)
    fired = ratio > r.max_follow_ratio
    shown = np.where(ratio[fired] >= 100, np.round(ratio[fired]), np.round(ratio[fired], 2))
    return fired, _cat("following/followers ratio (", _fmt_all(f[fired]), "/", _fmt_all(fol[fired]),
                       " = ", _fmt_all(shown), f" > {_fmt(r.max_follow_ratio)})")


def _no_posts(cols, r: BotRules):
    p = _num(cols, "posts")
    fired = p < r.min_posts
    return fired, _cat("no posts (posts=", _fmt_all(p[fired]), f" < {_fmt(r.min_posts)})")


def _no_avatar(cols, r: BotRules):
    has = cols["has_avatar"]
    fired = pc.fill_null(pc.invert(has), False).to_numpy(zero_copy_only=False)
    return fired, np.full(int(fired.sum()), "no avatar", dtype=object)


def _digit_username(cols, r: BotRules):
    cut = f" >= {r.min_digit_ratio:g})"
    if "username" in cols:
        name = cols["username"]
        digits = pc.count_substring_regex(name, r"\d").to_numpy(zero_copy_only=False).astype(float)
        length = pc.utf8_length(name).to_numpy(zero_copy_only=False).astype(float)
        ratio = np.where(length > 0, digits / np.where(length > 0, length, 1), np.nan)
        fired = ratio >= r.min_digit_ratio
        names = pc.filter(name, pa.array(fired)).to_numpy(zero_copy_only=False)
        return fired, _cat("digit-heavy username (", _fmt_all(names, repr), ": ",
                           _fmt_all(digits[fired], "{:.0f}".format), "/",
                           _fmt_all(length[fired], "{:.0f}".format), " digits = ",
                           _fmt_all(ratio[fired], "{:.2f}".format), cut)
    if "username_digit_ratio" in cols:
        ratio = _num(cols, "username_digit_ratio")
    else:
        d, n = _num(cols, "username_digits"), _num(cols, "username_length")
        ratio = np.where(n > 0, d / np.where(n > 0, n, 1), np.nan)
    fired = ratio >= r.min_digit_ratio
    return fired, _cat("digit-heavy username (digit ratio ", _fmt_all(ratio[fired], "{:.2f}".format), cut)


def _short_bio(cols, r: BotRules):
    if "bio" in cols:
        length = pc.utf8_length(pc.utf8_trim_whitespace(cols["bio"])).to_numpy(zero_copy_only=False)
        length = np.asarray(length, dtype=np.float64)
    else:
        length = _num(cols, "bio_length")
    fired = length < r.min_bio_length
    kind = np.where(length[fired] == 0, "empty bio", "short bio").astype(object)
    return fired, _cat(kind, " (bio length ", _fmt_all(length[fired]), f" < {_fmt(r.min_bio_length)})")


def _young_account(cols, r: BotRules):
    created = cols["created_at"].cast(pa.int64()).to_numpy(zero_copy_only=False).astype(np.float64)
    if r.as_of is not None:
        ts = pd.Timestamp(r.as_of)
        ref = (ts.tz_localize("UTC") if ts.tz is None else ts).timestamp()
    else:
        ref = np.nanmax(created) if np.isfinite(created).any() else np.nan
    days = (ref - created) / 86400.0
    fired = days < r.young_days
    return fired, _cat("young account (", _fmt_all(np.maximum(days[fired], 0), "{:.0f}".format),
                       f" days old < {_fmt(r.young_days)})")


def _private(cols, r: BotRules):
    fired = _flag(cols, "private")
    return fired, np.full(int(fired.sum()), "private account", dtype=object)


# rule -> (needed columns: any one alternative suffices, each a tuple of columns; rule function)
_RULE_DEFS: dict[str, tuple[tuple[tuple[str, ...], ...], Callable]] = {
    "mass_following": ((("following",),), _mass_following),
    "follow_ratio": ((("following", "followers"),), _follow_ratio),
    "no_posts": ((("posts",),), _no_posts),
    "no_avatar": ((("has_avatar",),), _no_avatar),
    "digit_username": ((("username",), ("username_digit_ratio",), ("username_digits", "username_length")),
                       _digit_username),
    "short_bio": ((("bio",), ("bio_length",)), _short_bio),
    "young_account": ((("created_at",),), _young_account),
    "private": ((("private",),), _private),
}


def _needs(rule: str) -> str:
    return " or ".join("+".join(alt) for alt in _RULE_DEFS[rule][0])


# --- input ---------------------------------------------------------------------------
def _as_table(table) -> tuple[pa.Table, str]:
    if isinstance(table, str | Path):
        from kolgraph.ingest import read_table_file

        return read_table_file(table, "accounts"), str(table)
    if isinstance(table, pd.DataFrame):
        try:
            return pa.Table.from_pandas(table, preserve_index=False), "accounts table"
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            # mixed types in one object column (e.g. numbers and 'abc'): find the culprit
            for name in table.columns:
                try:
                    pa.array(table[name])
                except (pa.ArrowInvalid, pa.ArrowTypeError):
                    return _mixed_column(table, name)
            raise InputError(f"accounts table: cannot be read: {exc}") from None
    if isinstance(table, pa.Table):
        return table, "accounts table"
    raise InputError(f"score_accounts: expected a pandas DataFrame, pyarrow Table or a path, "
                     f"got {type(table).__name__}")


def _mixed_column(df: pd.DataFrame, name) -> tuple[pa.Table, str]:
    """An object column pyarrow cannot type: read it as text, so coercion names the bad row."""
    df = df.copy()
    df[name] = df[name].map(lambda v: None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v))
    return pa.Table.from_pandas(df, preserve_index=False), "accounts table"


def _prepare(table, columns: dict[str, str] | None = None
             ) -> tuple[pa.ChunkedArray, dict, list[str], list[str], list[str], ColumnMapping]:
    t, where = _as_table(table)
    t, mapping = apply_columns(t, columns, where=where)
    if "id" not in t.column_names:
        raise InputError(f"{where}: no 'id' column (columns: {', '.join(map(str, t.column_names))}); "
                         "name it with --columns SOURCE=id")
    unknown = [c for c in t.column_names if c != "id" and c not in INPUT_COLUMNS]
    if unknown:
        warnings.warn(f"{where}: unknown column(s) ignored: {', '.join(map(str, unknown))}",
                      KolgraphWarning, stacklevel=3)
    cols = {name: coerce_column(t.column(name), typ, name, where)
            for name, typ in INPUT_COLUMNS.items()
            if name in t.column_names and name not in _UNUSED_CANONICAL}
    used, skipped = [], []
    for rule, (alternatives, _) in _RULE_DEFS.items():
        if any(all(c in cols for c in alt) for alt in alternatives):
            used.append(rule)
        else:
            skipped.append(rule)
    return t.column("id"), cols, used, skipped, unknown, mapping


# --- scoring --------------------------------------------------------------------------
def rule_hits(table, rules: BotRules | None = None, *, columns: dict[str, str] | None = None
              ) -> tuple[pa.ChunkedArray, dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray | None, dict]:
    """Evaluate every applicable rule: ids, fired masks, reason texts (fired rows, in order),
    the verified mask (None without the column) and what was skipped or ignored."""
    rules = rules or BotRules()
    ids, cols, used, skipped, unknown, mapping = _prepare(table, columns)
    _warn_skipped(skipped)
    return _hits(ids, cols, used, skipped, unknown, rules, mapping)


def _warn_skipped(skipped: list[str]) -> None:
    if skipped:
        warnings.warn("rule(s) skipped for lack of columns: "
                      + "; ".join(f"{r} (needs {_needs(r)})" for r in skipped), KolgraphWarning, stacklevel=4)


def _hits(ids, cols, used, skipped, unknown, rules: BotRules, mapping: ColumnMapping):
    fired, reasons = {}, {}
    for rule in used:
        mask, text = _RULE_DEFS[rule][1](cols, rules)
        fired[rule], reasons[rule] = np.asarray(mask, dtype=bool), text
    verified = _flag(cols, "verified").astype(bool) if "verified" in cols else None
    info = {"rules_used": used, "rules_skipped": skipped, "ignored_columns": unknown,
            "columns": mapping.renamed(), "conversions": dict(mapping.conversions)}
    return ids, fired, reasons, verified, info


def rule_score(table, *, rules: BotRules | None = None, weights: dict | None = None,
               columns: dict[str, str] | None = None) -> pd.DataFrame:
    """The eight rules combined by noisy-OR (the score before the fitted model; evidence now).

    Parameters
    ----------
    table : pandas DataFrame, pyarrow Table, or path (CSV/Parquet) with an ``id`` column and
        any subset of ``posts, followers, following, has_avatar, username`` (or
        ``username_digits`` + ``username_length``, or ``username_digit_ratio``), ``bio`` (or
        ``bio_length``), ``private, created_at, verified`` (``fullname_words``,
        ``external_url``, ``country``, ``language`` are accepted and not used).
    rules : thresholds and strengths (:class:`BotRules`); default ``BotRules()``
    weights : rule name -> strength, overriding ``rules.strengths`` for those rules

    Returns
    -------
    pandas.DataFrame
        One row per input row: ``id``, ``score`` (0-1), ``reasons`` (the rules that fired,
        '; '-joined, with the values that made them fire), then one column per rule with
        its contribution to the score (``verified`` negative); the contributions sum to
        the score. Rules whose columns are missing are skipped: no column, listed in
        ``df.attrs["rules_skipped"]`` and in a warning; unknown input columns are listed in
        ``df.attrs["ignored_columns"]`` and a warning.

    Raises
    ------
    InputError
        No ``id`` column, or a value that does not fit its column (names column, row, value).
    """
    rules = rules or BotRules()
    if weights:
        rules = replace(rules, strengths={**rules.strengths, **weights})
    ids, fired, reasons, verified, info = rule_hits(table, rules, columns=columns)
    n = len(ids)
    evidence = {r: m * -math.log1p(-rules.strength(r)) for r, m in fired.items()}
    total = np.zeros(n) if not evidence else np.sum(list(evidence.values()), axis=0)
    pre = -np.expm1(-total)  # 1 - prod(1 - p_r) over the rules that fired
    share = np.divide(pre, total, out=np.zeros(n), where=total > 0)
    out = {"id": ids.to_pandas() if n else pd.Series([], dtype=object)}
    contrib = {r: e * share for r, e in evidence.items()}
    score = pre
    text = np.full(n, "", dtype=object)
    for r, mask in fired.items():
        if rules.strength(r) > 0:
            _append(text, mask, reasons[r])
    if verified is not None:
        cut = pre * rules.verified_discount * verified
        score = pre - cut
        contrib["verified"] = -cut
        hit = verified & (pre > 0)
        _append(text, hit, f"verified (score x{1 - rules.verified_discount:g})")
    out["score"] = np.clip(score, 0.0, 1.0)
    out["reasons"] = text
    out.update(contrib)
    df = pd.DataFrame(out)
    df.attrs.update(info, rules=rules.to_dict())
    return df


def score_accounts(table, *, columns: dict[str, str] | None = None, model: dict | None = None,
                   rules: BotRules | None = None, top_reasons: int = 3) -> pd.DataFrame:
    """Score accounts 0-1 for bot likeness with the fitted logistic model (:mod:`kolgraph.botmodel`).

    Parameters
    ----------
    table : pandas DataFrame, pyarrow Table, or path (CSV/Parquet) with an id column and any
        profile columns, named canonically (``followers, following, posts, has_avatar, private,
        verified, username, full_name, bio, created_at, external_url``, or the counts
        ``username_digits, username_length, bio_length``) or as Instagram, Twitter/X and TikTok
        name them (:mod:`kolgraph.columns`).
    columns : explicit ``source -> canonical`` names, over the aliases (CLI ``--columns``)
    model : a model dict (:func:`kolgraph.botmodel.load_model`); default: the shipped one
    rules : the rules reported as evidence (default ``BotRules()``; they do not change the score)
    top_reasons : how many contributions ``reasons`` lists

    Returns
    -------
    pandas.DataFrame
        One row per input row: ``id``; ``score``, the model's probability of a bot;
        ``reasons``, the largest positive contributions to the logit, ``'; '``-joined
        (e.g. ``following/followers ratio 35 (+2.1)``); ``rules``, the rules that fired
        with their values (evidence, not part of the score); ``logit``; then one column
        per model feature with its contribution (0 where the value is missing).
        ``df.attrs``: ``columns`` (source -> canonical mapping applied), ``conversions``,
        ``features_used``, ``features_missing`` (feature -> the columns it needs),
        ``rules_used``, ``rules_skipped``, ``ignored_columns``, ``threshold``, ``model``.

    Raises
    ------
    InputError
        No id column, a bad ``columns`` mapping, or a value that does not fit its column.
    """
    model = model or botmodel.default_model()
    rules = rules or BotRules()
    ids, cols, used, skipped, unknown, mapping = _prepare(table, columns)
    _, fired, rule_text, _, info = _hits(ids, cols, used, skipped, unknown, rules, mapping)
    n = len(ids)
    as_of = None
    if rules.as_of is not None:
        ts = pd.Timestamp(rules.as_of)
        as_of = (ts.tz_localize("UTC") if ts.tz is None else ts).timestamp()
    values, shown = botmodel.feature_values(cols, as_of)
    logit, contrib = botmodel.contributions(model, values, n)
    names = [f["name"] for f in model["features"]]
    missing = {f["name"]: botmodel.BY_NAME[f["name"]].needs for f in model["features"] if f["name"] not in values}
    if missing:
        warnings.warn("model feature(s) missing (they contribute 0): "
                      + "; ".join(f"{k} (needs {v})" for k, v in missing.items()), KolgraphWarning, stacklevel=2)
    labels = {f["name"]: f["label"] for f in model["features"]}
    text = np.full(n, "", dtype=object)
    rules_text = np.full(n, "", dtype=object)
    for r, mask in fired.items():
        _append(rules_text, mask, rule_text[r])
    if n and contrib:
        order = list(contrib)
        C = np.column_stack([contrib[k] for k in order])
        top = np.argsort(-C, axis=1, kind="stable")[:, :top_reasons]
        pieces = {k: _reason_texts(k, labels[k], values[k], shown.get(k), contrib[k]) for k in order}
        for j in range(top.shape[1]):
            k_idx = top[:, j]
            val = C[np.arange(n), k_idx]
            for kk, k in enumerate(order):
                sel = (k_idx == kk) & (val >= 0.05)
                if sel.any():
                    _append(text, sel, pieces[k][sel])
    out = {"id": ids.to_pandas() if n else pd.Series([], dtype=object),
           "score": botmodel.sigmoid(logit), "reasons": text, "rules": rules_text, "logit": logit}
    out.update({k: contrib.get(k, np.zeros(n)) for k in names})
    df = pd.DataFrame(out)
    df.attrs.update(info, features_used=[k for k in names if k in values], features_missing=missing,
                    threshold=float(model.get("threshold", 0.5)),
                    model={"version": model["version"], "kind": model.get("kind"),
                           "fitted_on": model.get("fitted_on")}, rules=rules.to_dict())
    return df


def _reason_texts(name: str, label: str, value: np.ndarray, shown, contrib: np.ndarray) -> np.ndarray:
    """'<label> <value> (+c)' per row (column-wise, as the rule texts)."""
    c = _fmt_all(np.round(contrib, 1), "{:+.1f}".format)
    if name in ("no_posts", "no_avatar", "private", "verified", "name_equals_username"):
        return _cat(label, " (", c, ")")
    if name == "external_url":
        return _cat(np.where(value > 0, "link in profile", "no link in profile").astype(object), " (", c, ")")
    q = shown if shown is not None else value
    q = np.where(np.isnan(q), np.nan, np.where(np.abs(q) >= 100, np.round(q), np.round(q, 1)))
    return _cat(label, " ", _fmt_all(q, _fmt_short), " (", c, ")")


def _fmt_short(x: float) -> str:
    if x != x:
        return "?"
    return f"{x:,.0f}" if float(x).is_integer() else f"{x:,.1f}"


def _append(text: np.ndarray, mask: np.ndarray, reasons) -> None:
    """Append the fired rows' reasons to ``text`` in place, '; '-separated."""
    cur = text[mask]
    text[mask] = np.where(cur == "", reasons, cur + "; " + reasons)


# --- metrics --------------------------------------------------------------------------
def binary_metrics(labels, predicted) -> dict:
    """Precision, recall and F1 of a 0/1 prediction (0 where undefined)."""
    y, p = np.asarray(labels, bool), np.asarray(predicted, bool)
    tp, fp, fn = int((y & p).sum()), int((~y & p).sum()), int((y & ~p).sum())
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def roc_auc(labels, scores) -> float:
    """ROC AUC by the rank-sum (Mann-Whitney) formula, ties counted half."""
    from scipy.stats import rankdata

    y = np.asarray(labels, bool)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if not n_pos or not n_neg:
        return float("nan")
    ranks = rankdata(np.asarray(scores, np.float64))
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


# --- fitting and evaluation -----------------------------------------------------------
def fit_rules(table, labels, rules: BotRules | None = None) -> BotRules:
    """Strengths fitted on one labelled set (thresholds of the rules and of the score kept).

    A rule's strength is its precision in excess of the training base rate,
    ``(P(bot | fired) - P(bot)) / (1 - P(bot))`` (capped at 0.99; 0 when it is no
    evidence there): in a noisy-OR whose leak is the base rate, that is the strength
    giving ``P(bot | fired)`` on its own. Rules the training set cannot evaluate keep
    their strength. The score threshold stays ``rules.threshold`` (0.5: "more likely
    a bot than not"): a cut tuned to one set's F1 did not carry over to the other
    (cross-fitted F1 0.725 on Instagram with MIB's best cut, 0.811 with 0.5).
    """
    rules = rules or BotRules()
    y = np.asarray(labels, bool)
    base = y.mean()
    _, fired, _, _, _ = rule_hits(table, rules)
    strengths = dict(rules.strengths)
    for r, mask in fired.items():
        prec = y[mask].mean() if mask.any() else 0.0
        strengths[r] = float(min(max(prec - base, 0.0) / (1.0 - base), 0.99)) if base < 1 else 0.0
    return replace(rules, strengths=strengths)


def default_datasets() -> dict[str, Path]:
    """The evaluation sets as shipped in the source tree (tests/data)."""
    data = Path(__file__).resolve().parent.parent / "tests" / "data"
    return {"mib": data / "mib-fake-twitter-profiles",
            "instagram": data / "instagram-fake-spammer-genuine" / "train.csv"}


def load_labelled(name: str, path: str | Path) -> pd.DataFrame:
    """One of the labelled evaluation sets as canonical columns plus ``label``."""
    from kolgraph import datasets

    loaders = {"mib": datasets.mib_accounts, "instagram": datasets.instagram_accounts}
    if name not in loaders:
        raise InputError(f"unknown evaluation set {name!r}; known: {', '.join(loaders)}")
    return loaders[name](path).to_pandas()


def _inputs(df: pd.DataFrame) -> pd.DataFrame:
    return df[[c for c in df.columns if c == "id" or c in INPUT_COLUMNS]]


def evaluate_rules(paths: dict[str, str | Path] | None = None, *, rules: BotRules | None = None
             ) -> pd.DataFrame:
    """Precision, recall, F1 and ROC AUC of every rule and of the combined score.

    For each labelled set (default: MIB and Instagram from :func:`default_datasets`):
    rows ``weights="default"`` score it with ``rules`` (default ``BotRules()``), and rows
    ``weights="fitted on X"`` with strengths and threshold fitted on every *other* set X
    (:func:`fit_rules`), never on the set they are reported on. A single rule predicts
    "bot" when it fires and ranks accounts by fired/not fired for its AUC; the combined
    score predicts "bot" at ``score >= threshold``.

    Returns
    -------
    pandas.DataFrame
        Columns ``dataset, weights, rule, available, accounts, flagged, precision, recall,
        f1, roc_auc, threshold``; a rule the set has no columns for is ``available=False``
        with NaN metrics. :func:`beats_every_rule` summarises it.
    """
    rules = rules or BotRules()
    paths = paths or default_datasets()
    sets = {name: load_labelled(name, p) for name, p in paths.items()}
    with warnings.catch_warnings():  # skipped rules show as available=False rows instead
        warnings.simplefilter("ignore", KolgraphWarning)
        return pd.DataFrame(_evaluate(sets, rules))


def _evaluate(sets: dict[str, pd.DataFrame], rules: BotRules) -> list[dict]:
    rows = []
    for name, df in sets.items():
        y = df["label"].to_numpy().astype(bool)
        configs = [("default", rules)]
        configs += [(f"fitted on {other}", fit_rules(_inputs(o), o["label"].to_numpy(), rules))
                    for other, o in sets.items() if other != name]
        for weights, cfg in configs:
            _, fired, _, _, _ = rule_hits(_inputs(df), cfg)
            s = rule_score(_inputs(df), rules=cfg)["score"].to_numpy()
            base = {"dataset": name, "weights": weights, "accounts": len(y)}
            for r in RULES:
                if r not in fired:
                    rows.append({**base, "rule": r, "available": False, "flagged": 0,
                                 "precision": np.nan, "recall": np.nan, "f1": np.nan,
                                 "roc_auc": np.nan, "threshold": np.nan})
                    continue
                rows.append({**base, "rule": r, "available": True, "flagged": int(fired[r].sum()),
                             **binary_metrics(y, fired[r]), "roc_auc": roc_auc(y, fired[r]),
                             "threshold": np.nan})
            pred = s >= cfg.threshold
            rows.append({**base, "rule": "combined", "available": True, "flagged": int(pred.sum()),
                         **binary_metrics(y, pred), "roc_auc": roc_auc(y, s),
                         "threshold": cfg.threshold})
    return rows


def beats_every_rule(table: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, weights): the combined F1 and AUC against the best single rule's."""
    out = []
    for (ds, w), g in table.groupby(["dataset", "weights"], sort=False):
        single = g[(g["rule"] != "combined") & g["available"]]
        comb = g[g["rule"] == "combined"].iloc[0]
        best_f1, best_auc = single["f1"].max(), single["roc_auc"].max()
        out.append({"dataset": ds, "weights": w, "combined_f1": comb["f1"], "best_rule_f1": best_f1,
                    "best_f1_rule": single.loc[single["f1"].idxmax(), "rule"],
                    "combined_auc": comb["roc_auc"], "best_rule_auc": best_auc,
                    "beats_f1": bool(comb["f1"] > best_f1), "beats_auc": bool(comb["roc_auc"] > best_auc)})
    return pd.DataFrame(out)

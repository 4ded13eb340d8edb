"""Profile bot score: rules against a naive per-row oracle, properties, evaluation, CLI, bad input."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kolgraph
from kolgraph import botmodel, botscore
from kolgraph.botscore import RULES, BotRules, rule_score, score_accounts
from kolgraph.tables import KolgraphWarning

DATA = Path(__file__).parent / "data"
MIB = DATA / "mib-fake-twitter-profiles"
IG = DATA / "instagram-fake-spammer-genuine" / "train.csv"
pytestmark = pytest.mark.filterwarnings("ignore::kolgraph.tables.KolgraphWarning")


# --- the oracle: every rule and the score, one account at a time in plain Python ----------
def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT


def naive_fired(row: dict, r: BotRules, as_of: float | None) -> set[str]:
    out = set()
    fol, ing = row.get("followers"), row.get("following")
    if not _missing(ing) and ing > r.max_following:
        out.add("mass_following")
    if not _missing(ing) and not _missing(fol) and ing / max(fol, 1) > r.max_follow_ratio:
        out.add("follow_ratio")
    if not _missing(row.get("posts")) and row["posts"] < r.min_posts:
        out.add("no_posts")
    if row.get("has_avatar") is False:
        out.add("no_avatar")
    name = row.get("username")
    if isinstance(name, str) and name and sum(c.isdigit() for c in name) / len(name) >= r.min_digit_ratio:
        out.add("digit_username")
    ratio = row.get("username_digit_ratio")
    if "username" not in row and not _missing(ratio) and ratio >= r.min_digit_ratio:
        out.add("digit_username")
    if "bio" in row:
        if isinstance(row["bio"], str) and len(row["bio"].strip()) < r.min_bio_length:
            out.add("short_bio")
    elif not _missing(row.get("bio_length")) and row["bio_length"] < r.min_bio_length:
        out.add("short_bio")
    created = row.get("created_at")
    if not _missing(created) and (as_of - created.timestamp()) / 86400 < r.young_days:
        out.add("young_account")
    if row.get("private") is True:
        out.add("private")
    return out


def naive_scores(df: pd.DataFrame, r: BotRules) -> list[tuple[float, set[str]]]:
    as_of = None
    if "created_at" in df:
        as_of = (pd.Timestamp(r.as_of).timestamp() if r.as_of is not None
                 else max(t.timestamp() for t in df["created_at"] if not _missing(t)))
    out = []
    for row in df.to_dict(orient="records"):
        row = {k: (None if _missing(v) else v) for k, v in row.items()}
        fired = naive_fired(row, r, as_of)
        not_bot = 1.0
        for rule in fired:
            not_bot *= 1 - r.strength(rule)
        score = 1 - not_bot
        if row.get("verified") is True:
            score *= 1 - r.verified_discount
        out.append((score, fired))
    return out


def _reason_rules(text: str) -> set[str]:
    starts = {"mass following": "mass_following", "following/followers": "follow_ratio",
              "no posts": "no_posts", "no avatar": "no_avatar", "digit-heavy": "digit_username",
              "short bio": "short_bio", "empty bio": "short_bio", "young account": "young_account",
              "private account": "private"}
    return {rule for part in filter(None, text.split("; ")) for s, rule in starts.items()
            if part.startswith(s)}


def check_against_oracle(df: pd.DataFrame, r: BotRules | None = None) -> pd.DataFrame:
    r = r or BotRules()
    got = rule_score(df, rules=r)
    want = naive_scores(df, r)
    assert len(got) == len(df)
    assert list(got["id"]) == list(df["id"])
    np.testing.assert_allclose(got["score"], [s for s, _ in want], atol=1e-12)
    for text, (_, fired) in zip(got["reasons"], want, strict=True):
        assert _reason_rules(text) == {f for f in fired if r.strength(f) > 0}, text
    contrib = [c for c in got.columns if c in RULES or c == "verified"]
    np.testing.assert_allclose(got[contrib].sum(axis=1), got["score"], atol=1e-12)
    return got


def random_accounts(rng: np.random.Generator, n: int) -> pd.DataFrame:
    names = ["anna", "bob_1987", "x72819340", "kol.official", "a1b2c3", "", "user_000123"]
    bios = ["", "  ", "hi", "travel | food | photography", "dm for promo", None]
    created = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    df = pd.DataFrame({
        "id": np.arange(n) * 7 + 1,
        "posts": rng.integers(0, 3, n) * rng.integers(0, 500, n),
        "followers": rng.integers(0, 5000, n) // rng.integers(1, 200, n),
        "following": rng.integers(0, 8000, n),
        "has_avatar": pd.array(rng.random(n) < 0.8, dtype="boolean"),
        "username": [names[i] for i in rng.integers(0, len(names), n)],
        "bio": [bios[i] for i in rng.integers(0, len(bios), n)],
        "private": rng.random(n) < 0.3,
        "verified": rng.random(n) < 0.05,
        "created_at": created,
    })
    df.loc[rng.random(n) < 0.1, "followers"] = np.nan  # unknown values: no evidence
    df.loc[rng.random(n) < 0.1, "has_avatar"] = pd.NA
    return df


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_rules_match_the_naive_oracle_on_random_tables(seed):
    df = random_accounts(np.random.default_rng(seed), 400)
    got = check_against_oracle(df)
    assert (got["score"] >= 0.5).any() and (got["score"] < 0.5).any()  # both kinds occur
    check_against_oracle(df, BotRules(max_following=500, max_follow_ratio=2, min_posts=10,
                                      min_digit_ratio=0.1, min_bio_length=3, young_days=300,
                                      as_of="2026-01-01", verified_discount=0.5,
                                      strengths={"no_posts": 0.9, "private": 0.0}))


def test_derived_username_and_bio_columns_match_the_oracle():
    df = random_accounts(np.random.default_rng(5), 200)
    digits = df["username"].str.count(r"\d")
    lengths = df["username"].str.len()
    alt = df.drop(columns=["username", "bio"]).assign(
        username_digit_ratio=np.where(lengths > 0, digits / lengths.where(lengths > 0, 1), np.nan),
        bio_length=df["bio"].str.strip().str.len())
    check_against_oracle(alt)
    pair = alt.drop(columns=["username_digit_ratio"]).assign(username_digits=digits,
                                                             username_length=lengths)
    np.testing.assert_allclose(rule_score(pair)["score"], rule_score(alt)["score"])


@pytest.mark.parametrize("name", ["mib", "instagram"])
def test_rules_match_the_naive_oracle_on_the_real_sets(name):
    df = botscore.load_labelled(name, MIB if name == "mib" else IG)
    check_against_oracle(botscore._inputs(df))


def test_reasons_name_the_values():
    t = pd.DataFrame({"id": ["a"], "posts": [0], "followers": [12], "following": [4210],
                      "has_avatar": [False], "username": ["x12345"], "bio": [""],
                      "created_at": ["2024-05-01"], "private": [True]})
    s = rule_score(t, rules=BotRules(as_of="2024-05-13")).loc[0, "reasons"]
    for part in ("mass following (following=4,210 > 1,500)",
                 "following/followers ratio (4,210/12 = 351 > 10)", "no posts (posts=0 < 1)",
                 "no avatar", "digit-heavy username ('x12345': 5/6 digits = 0.83 >= 0.3)",
                 "empty bio (bio length 0 < 10)", "young account (12 days old < 90)",
                 "private account"):
        assert part in s.split("; "), (part, s)


# --- properties ----------------------------------------------------------------------------
account = st.fixed_dictionaries({
    "posts": st.integers(0, 10_000), "followers": st.integers(0, 10**6),
    "following": st.integers(0, 20_000), "has_avatar": st.booleans(),
    "username": st.text("ab1_9", max_size=12), "bio": st.text("ab 1", max_size=30),
    "private": st.booleans(), "verified": st.booleans(),
    "age_days": st.integers(0, 3000)})


def _one(acc: dict) -> float:
    row = {k: v for k, v in acc.items() if k != "age_days"}
    row["created_at"] = pd.Timestamp("2025-01-01", tz="UTC") - pd.Timedelta(days=acc["age_days"])
    df = pd.DataFrame([{"id": 1, **row}])
    return float(rule_score(df, rules=BotRules(as_of="2025-01-01"))["score"].iloc[0])


# each signal moved towards "more bot-like"
MORE_BOTLIKE = {
    "following": lambda a, k: {**a, "following": a["following"] + k},
    "followers": lambda a, k: {**a, "followers": max(a["followers"] - k * 50, 0)},
    "posts": lambda a, k: {**a, "posts": max(a["posts"] - k, 0)},
    "has_avatar": lambda a, k: {**a, "has_avatar": False},
    "username": lambda a, k: {**a, "username": a["username"] + "7" * (k % 13)},
    "bio": lambda a, k: {**a, "bio": a["bio"][: max(len(a["bio"]) - k, 0)]},
    "age": lambda a, k: {**a, "age_days": max(a["age_days"] - k, 0)},
    "private": lambda a, k: {**a, "private": True},
    "verified": lambda a, k: {**a, "verified": False},
}


@settings(max_examples=40, deadline=None)
@given(account, st.sampled_from(sorted(MORE_BOTLIKE)), st.integers(0, 5000))
def test_score_is_in_unit_interval_and_monotone_in_each_signal(acc, signal, step):
    before, after = _one(acc), _one(MORE_BOTLIKE[signal](acc, step))
    assert 0.0 <= before <= 1.0 and 0.0 <= after <= 1.0
    assert after >= before - 1e-12, (signal, acc)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**16))
def test_missing_columns_are_skipped_and_never_add_evidence(seed):
    rng = np.random.default_rng(seed)
    df = random_accounts(rng, 30)
    keep = [c for c in df.columns if c == "id" or rng.random() < 0.5]
    full = rule_score(df)
    part = rule_score(df[keep])
    have = set(keep)
    expect_skipped = [r for r in RULES if not any(set(alt) <= have for alt in botscore._RULE_DEFS[r][0])]
    assert part.attrs["rules_skipped"] == expect_skipped
    assert not set(expect_skipped) & set(part.columns)
    if "verified" in have:  # a skipped rule only removes evidence (verified only lowers scores)
        assert (part["score"] <= full["score"] + 1e-12).all()
    check_against_oracle(df[keep])


def test_no_signal_columns_scores_zero_with_every_rule_skipped():
    with pytest.warns(KolgraphWarning, match="skipped"):
        got = rule_score(pd.DataFrame({"id": [1, 2]}))
    assert got["score"].tolist() == [0.0, 0.0] and got["reasons"].tolist() == ["", ""]
    assert got.attrs["rules_skipped"] == list(RULES)


def test_accepts_arrow_tables_and_paths(tmp_path):
    df = random_accounts(np.random.default_rng(3), 50)
    import pyarrow as pa

    want = rule_score(df)["score"].to_numpy()
    np.testing.assert_allclose(rule_score(pa.Table.from_pandas(df))["score"], want)
    df.assign(bio=df["bio"].fillna("")).to_csv(tmp_path / "a.csv", index=False)  # CSV: no null text
    back = rule_score(tmp_path / "a.csv")["score"].to_numpy()
    np.testing.assert_allclose(back, rule_score(df.assign(bio=df["bio"].fillna("")))["score"])


def test_weights_override_strengths():
    t = pd.DataFrame({"id": [1], "posts": [0]})
    assert rule_score(t, weights={"no_posts": 0.9})["score"].iloc[0] == pytest.approx(0.9)
    assert rule_score(t, weights={"no_posts": 0.0})["reasons"].iloc[0] == ""


# --- bad input -----------------------------------------------------------------------------
def test_non_numeric_value_names_column_row_and_value():
    t = pd.DataFrame({"id": [1, 2, 3], "followers": [10, "many", 3]})
    with pytest.raises(kolgraph.InputError, match=r"'followers'.*row 2.*'many'"):
        rule_score(t)
    with pytest.raises(kolgraph.InputError, match=r"'posts'.*row 1 .*'1.5'"):
        rule_score(pd.DataFrame({"id": ["a"], "posts": ["1.5"]}))


def test_unknown_columns_are_listed_and_ignored():
    t = pd.DataFrame({"id": [1], "posts": [0], "shoe_size": [44], "label": [1]})
    with pytest.warns(KolgraphWarning, match="unknown column.*shoe_size, label"):
        got = rule_score(t)
    assert got.attrs["ignored_columns"] == ["shoe_size", "label"]
    assert "shoe_size" not in got.columns


def test_bad_tables_and_rules_are_input_errors(tmp_path):
    with pytest.raises(kolgraph.InputError, match="no 'id' column"):
        rule_score(pd.DataFrame({"posts": [1]}))
    with pytest.raises(kolgraph.InputError, match="no such file"):
        rule_score(tmp_path / "missing.csv")
    with pytest.raises(kolgraph.InputError, match="expected a pandas DataFrame"):
        rule_score([1, 2])
    with pytest.raises(kolgraph.InputError, match="unknown rule"):
        BotRules(strengths={"lucky_number": 0.5})
    with pytest.raises(kolgraph.InputError, match=r"\[0, 1\)"):
        BotRules(strengths={"no_posts": 1.0})
    with pytest.raises(kolgraph.InputError, match="'created_at'.*row 1"):
        rule_score(pd.DataFrame({"id": [1], "created_at": ["last tuesday"]}))


# --- metrics and the evaluation ------------------------------------------------------------
def naive_prf(y, p):
    tp = sum(1 for a, b in zip(y, p, strict=True) if a and b)
    fp = sum(1 for a, b in zip(y, p, strict=True) if not a and b)
    fn = sum(1 for a, b in zip(y, p, strict=True) if a and not b)
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    return prec, rec, (2 * prec * rec / (prec + rec) if prec + rec else 0.0)


def naive_auc(y, s):
    """P(score of a random positive > a random negative), ties half: every pair counted."""
    pos = [v for v, a in zip(s, y, strict=True) if a]
    neg = [v for v, a in zip(s, y, strict=True) if not a]
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.integers(0, 6)), min_size=2, max_size=60))
def test_metrics_match_the_naive_oracle(pairs):
    y = [a for a, _ in pairs]
    s = [b / 6 for _, b in pairs]
    m = botscore.binary_metrics(y, [v >= 0.5 for v in s])
    assert (m["precision"], m["recall"], m["f1"]) == pytest.approx(naive_prf(y, [v >= 0.5 for v in s]))
    if any(y) and not all(y):
        assert botscore.roc_auc(y, s) == pytest.approx(naive_auc(y, s))
    else:
        assert math.isnan(botscore.roc_auc(y, s))


@pytest.fixture(scope="module")
def evaluation():
    return botscore.evaluate_rules({"mib": MIB, "instagram": IG})


def test_evaluation_numbers_match_the_oracle(evaluation):
    for name, path in (("mib", MIB), ("instagram", IG)):
        df = botscore.load_labelled(name, path)
        y = df["label"].astype(bool).tolist()
        other = "instagram" if name == "mib" else "mib"
        o = botscore.load_labelled(other, MIB if other == "mib" else IG)
        fitted = botscore.fit_rules(botscore._inputs(o), o["label"].to_numpy())
        for weights, cfg in (("default", BotRules()), (f"fitted on {other}", fitted)):
            rows = evaluation[(evaluation["dataset"] == name) & (evaluation["weights"] == weights)]
            scored = naive_scores(botscore._inputs(df), cfg)
            for r in rows.itertuples(index=False):
                if r.rule == "combined":
                    s = [v for v, _ in scored]
                    pred = [v >= cfg.threshold for v in s]
                    assert r.threshold == cfg.threshold
                else:
                    s = pred = [r.rule in fired for _, fired in scored]
                    if not r.available:
                        assert not any(pred) and math.isnan(r.f1)
                        continue
                assert r.flagged == sum(pred)
                assert (r.precision, r.recall, r.f1) == pytest.approx(naive_prf(y, pred))
                if r.rule == "combined" or len(y) < 1000:  # O(n^2) pairs: single rules on the small set only
                    assert r.roc_auc == pytest.approx(naive_auc(y, s))


def test_fitted_weights_never_see_the_set_they_are_reported_on(evaluation, monkeypatch):
    seen = []
    real = botscore.fit_rules

    def spy(table, labels, rules=None):
        seen.append(len(labels))
        return real(table, labels, rules)

    monkeypatch.setattr(botscore, "fit_rules", spy)
    got = botscore.evaluate_rules({"mib": MIB, "instagram": IG})
    sizes = got.groupby("dataset")["accounts"].first()
    # fitted once per reported set, each time on the other set's rows
    assert seen == [sizes["instagram"], sizes["mib"]]
    pd.testing.assert_frame_equal(got, evaluation)


def test_combined_score_ranks_better_than_every_single_rule(evaluation):
    summary = botscore.beats_every_rule(evaluation)
    assert len(summary) == 4
    for r in summary.itertuples(index=False):
        single = evaluation[(evaluation["dataset"] == r.dataset) & (evaluation["weights"] == r.weights)
                            & (evaluation["rule"] != "combined") & evaluation["available"]]
        assert r.combined_auc > single["roc_auc"].max(), r
        assert r.beats_f1 == (r.combined_f1 > single["f1"].max())
    default = summary[summary["weights"] == "default"].set_index("dataset")
    assert default["beats_f1"].all()  # the default score's F1 beats every rule on both sets


# --- CLI ----------------------------------------------------------------------------------
def run(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kolgraph", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def test_cli_scores_a_table(tmp_path):
    df = random_accounts(np.random.default_rng(9), 40).assign(favourite_colour="red")
    df["bio"] = df["bio"].fillna("")  # a CSV has no null text
    path = tmp_path / "accounts.csv"
    df.to_csv(path, index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = score_accounts(path)
    r = run("score-accounts", path, "--json", "--threshold", "0.4")
    assert r.returncode == 0, r.stderr
    assert "unknown column(s) ignored: favourite_colour" in r.stderr
    doc = json.loads(r.stdout)
    assert [a["id"] for a in doc["accounts"]] == df["id"].tolist()
    np.testing.assert_allclose([a["score"] for a in doc["accounts"]], want["score"])
    assert ["; ".join(a["reasons"]) for a in doc["accounts"]] == want["reasons"].tolist()
    assert ["; ".join(a["rule_hits"]) for a in doc["accounts"]] == want["rules"].tolist()
    assert doc["threshold"] == 0.4 and doc["flagged"] == int((want["score"] >= 0.4).sum())
    assert {"id", "score", "reasons", "flagged", "contributions", "rule_hits"} <= set(doc["accounts"][0])
    assert {"columns", "features_missing", "features_used", "rules_used", "model"} <= set(doc)

    r = run("score-accounts", path, "--csv")
    assert r.returncode == 0, r.stderr
    back = pd.read_csv(__import__("io").StringIO(r.stdout), keep_default_na=False)
    assert list(back.columns[:4]) == ["id", "score", "flagged", "reasons"]
    np.testing.assert_allclose(back["score"], want["score"])

    r = run("score-accounts", path)
    assert r.returncode == 0 and "accounts scored" in r.stdout


def test_cli_bad_input_exit_codes(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("id,posts\na,1\nb,lots\n")
    r = run("score-accounts", bad)
    assert r.returncode == 3 and "'posts'" in r.stderr and "row 2" in r.stderr and "'lots'" in r.stderr
    assert run("score-accounts", bad, "--json", "--csv").returncode == 2
    assert run("score-accounts").returncode == 2
    assert run("score-accounts", bad, "--threshold", "2").returncode == 2


def test_young_is_relative_to_the_newest_account_by_default():
    t = pd.DataFrame({"id": [1, 2], "created_at": [datetime(2019, 1, 1, tzinfo=timezone.utc),
                                                   datetime(2020, 3, 1, tzinfo=timezone.utc)]})
    got = rule_score(t)
    assert got["young_account"].tolist() == [0.0, pytest.approx(0.3)]


def test_empty_table_gives_an_empty_result():
    t = pd.DataFrame({"id": pd.Series([], dtype="int64"), "posts": pd.Series([], dtype="int64"),
                      "created_at": pd.Series([], dtype="datetime64[s, UTC]")})
    got = rule_score(t)
    assert len(got) == 0 and list(got.columns) == ["id", "score", "reasons", "no_posts", "young_account"]


def test_docstring_examples_run():
    import doctest

    result = doctest.testmod(botscore)
    assert result.attempted >= 3 and result.failed == 0


# --- the fitted model ---------------------------------------------------------------------
MODEL = botmodel.load_model()


def naive_model_row(row: dict, as_of: float | None) -> tuple[float, dict]:
    """One account in plain Python: raw features, standardised, dot product, sigmoid."""
    def val(k):
        v = row.get(k)
        return None if _missing(v) else v

    x = {}
    fol, ing, posts = val("followers"), val("following"), val("posts")
    if fol is not None and ing is not None:
        x["follow_ratio"] = math.log((ing + 1) / (fol + 1))
    if posts is not None:
        x["posts"] = math.log1p(posts)
        x["no_posts"] = 1.0 if posts == 0 else 0.0
    if val("has_avatar") is not None:
        x["no_avatar"] = 0.0 if val("has_avatar") else 1.0
    for k in ("private", "verified", "external_url"):
        if val(k) is not None:
            x[k] = 1.0 if val(k) else 0.0
    if val("username") is not None:
        x["username_length"] = float(len(val("username")))
    elif val("username_length") is not None:
        x["username_length"] = float(val("username_length"))
    if val("bio") is not None:
        x["bio"] = math.log1p(len(val("bio").strip()))
    elif val("bio_length") is not None:
        x["bio"] = math.log1p(val("bio_length"))
    if val("created_at") is not None and as_of is not None:
        x["account_age"] = math.log1p(max((as_of - val("created_at").timestamp()) / 86400, 0))
    logit, contrib = MODEL["intercept"], {}
    for f in MODEL["features"]:
        if f["name"] in x:
            contrib[f["name"]] = f["coef"] * (x[f["name"]] - f["mean"]) / f["scale"]
            logit += contrib[f["name"]]
    return 1 / (1 + math.exp(-logit)), contrib


@pytest.mark.parametrize("seed", [0, 1])
def test_model_score_is_the_naive_per_row_dot_product(seed):
    df = random_accounts(np.random.default_rng(seed), 300)
    got = score_accounts(df)
    as_of = max(t.timestamp() for t in df["created_at"])
    for (_, g), row in zip(got.iterrows(), df.to_dict(orient="records"), strict=True):
        p, contrib = naive_model_row(row, as_of)
        assert g["score"] == pytest.approx(p, rel=1e-9, abs=1e-12)
        for k, c in contrib.items():
            assert g[k] == pytest.approx(c, abs=1e-9)
        top = sorted((c, k) for k, c in contrib.items() if round(c, 1) >= 0.05)
        want = [k for c, k in sorted(top, key=lambda t: -t[0])[:3]]
        shown = [part.rsplit(" (", 1)[1] for part in filter(None, g["reasons"].split("; "))]
        assert shown == [f"{contrib[k]:+.1f})" for k in want], (g["reasons"], contrib)
        assert set(_reason_rules(g["rules"])) == naive_fired({k: (None if _missing(v) else v)
                                                              for k, v in row.items()}, BotRules(), as_of)


def test_reasons_read_like_the_issue_asks():
    t = pd.DataFrame({"id": [1], "followers": [10], "following": [350], "posts": [0], "has_avatar": [False]})
    reasons = score_accounts(t).loc[0, "reasons"].split("; ")
    assert len(reasons) == 3 and any(r.startswith("following/followers ratio 35 (+") for r in reasons)
    assert any(r.startswith("no profile picture (+") for r in reasons)


@settings(max_examples=60, deadline=None)
@given(fol=st.integers(0, 10**6), ing=st.integers(0, 10**6), more=st.integers(1, 10**6),
       posts=st.integers(1, 10**6), avatar=st.booleans())
def test_model_is_monotone_in_the_ratio_and_in_no_posts(fol, ing, more, posts, avatar):
    base = {"id": [1, 2], "followers": [fol, fol], "has_avatar": [avatar, avatar]}
    s = score_accounts(pd.DataFrame({**base, "following": [ing, ing + more], "posts": [posts, posts]}))["score"]
    assert s[1] >= s[0]  # more following per follower never lowers the score
    s = score_accounts(pd.DataFrame({**base, "following": [ing, ing], "posts": [posts, 0]}))["score"]
    assert s[1] >= s[0]  # posts == 0 never lowers it
    s = score_accounts(pd.DataFrame({**base, "following": [ing, ing], "posts": [posts, posts + more]}))["score"]
    assert s[1] <= s[0]


PLATFORM_CSVS = {
    "instagram": ("pk,username,full_name,follower_count,following_count,media_count,is_private,is_verified,"
                  "profile_pic_url,biography,external_url\n"
                  "11,anna.k,Anna K,1200,300,85,false,false,http://cdn/a.jpg,Photographer in Rome,https://anna.it\n"
                  "12,user83749201,,3,4100,0,false,false,,,\n",
                  {"follow_ratio", "posts", "no_posts", "no_avatar", "private", "username_length", "bio",
                   "verified", "external_url"}),
    "twitter": ("id,screen_name,name,followers_count,friends_count,statuses_count,default_profile_image,"
                "verified,protected,created_at,description,url\n"
                "21,braddd,Davide,5470,2385,20370,0,0,0,Fri Apr 06 10:58:22 +0000 2007,Founder,http://b.it\n"
                "22,lisa55,Lisa,2,900,0,1,0,0,Mon Jan 07 10:00:00 +0000 2013,,\n",
                {"follow_ratio", "posts", "no_posts", "no_avatar", "private", "username_length", "bio",
                 "verified", "account_age", "external_url"}),
    "tiktok": ("id,uniqueId,nickname,followerCount,followingCount,videoCount,verified,privateAccount,"
               "signature,avatarThumb\n"
               "31,dancer,Dancer,88000,120,300,true,false,dance every day,https://p16/a.jpg\n"
               "32,user9981,,0,2000,0,false,false,,\n",
               {"follow_ratio", "posts", "no_posts", "no_avatar", "private", "username_length", "bio",
                "verified"}),
    "counts only": ("ID,Followers Count,Following Count,Posts,has profile picture,private,"
                    "username_digits,username_length,bio_length\n"
                    "41,500,200,40,1,0,0,8,30\n42,2,800,0,0,0,6,10,0\n",
                    {"follow_ratio", "posts", "no_posts", "no_avatar", "private", "username_length", "bio"}),
}


@pytest.mark.parametrize("platform", list(PLATFORM_CSVS))
def test_platform_column_names_feed_every_feature_they_can(platform, tmp_path):
    text, want = PLATFORM_CSVS[platform]
    path = tmp_path / f"{platform}.csv"
    path.write_text(text)
    got = score_accounts(path)
    assert set(got.attrs["features_used"]) == want
    assert set(got.attrs["features_missing"]) == set(botmodel.MODEL_FEATURES) - want
    assert got["score"].iloc[1] > 0.9 > 0.1 > got["score"].iloc[0]  # the second row is the bot
    # the same table under canonical names scores the same
    canon = pd.read_csv(path).rename(columns=got.attrs["columns"])
    for src, conv in got.attrs["conversions"].items():
        dst = got.attrs["columns"].get(src, src)
        if conv == "negate":
            canon[dst] = canon[dst] == 0
        elif conv == "non-empty":
            canon[dst] = canon[dst].notna() & (canon[dst].astype(str).str.strip() != "")
    if "bio" in canon:
        canon["bio"] = canon["bio"].fillna("")
    np.testing.assert_allclose(score_accounts(canon)["score"], got["score"])


def test_column_aliases_ignore_case_and_separators():
    from kolgraph.columns import resolve_columns

    for name in ("followerCount", "follower_count", "Followers Count", "FOLLOWERS-COUNT", "edge_followed_by"):
        assert resolve_columns(["id", name]).columns[name] == "followers"
    m = resolve_columns(["id", "has_profile_pic", "profile_pic_url"])
    assert m.columns == {"id": "id", "has_profile_pic": "has_avatar"} and m.shadowed == {"profile_pic_url": "has_avatar"}


def test_columns_flag_maps_and_rejects_bad_mappings(tmp_path):
    path = tmp_path / "odd.csv"
    path.write_text("Handle,Fans,Follows,Uploads\nanna,1200,300,85\nx99,3,4100,0\n")
    r = run("score-accounts", path, "--json", "--columns", "Handle=id,Fans=followers,Follows=following,Uploads=posts")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["columns"] == {"Handle": "id", "Fans": "followers", "Follows": "following", "Uploads": "posts"}
    assert "no_avatar" in doc["features_missing"] and doc["accounts"][1]["flagged"]
    r = run("score-accounts", path, "--columns", "Handle=id,Fans=fans_total")
    assert r.returncode == 3 and "'fans_total'" in r.stderr and "not a canonical" in r.stderr
    r = run("score-accounts", path, "--columns", "Handle=id,Likes=followers")
    assert r.returncode == 3 and "'Likes'" in r.stderr and "does not have" in r.stderr
    r = run("score-accounts", path, "--columns", "Handle")
    assert r.returncode == 3 and "SOURCE=CANONICAL" in r.stderr
    r = run("score-accounts", path)
    assert r.returncode == 3 and "no 'id' column" in r.stderr


@pytest.fixture(scope="module")
def model_evaluation():
    from kolgraph import boteval

    return boteval.evaluate({"mib": MIB, "instagram": IG})


def test_left_out_auc_of_the_model_is_at_least_the_naive_heuristics(model_evaluation):
    loso = model_evaluation[model_evaluation["protocol"] == "leave one set out"]
    for ds in ("mib", "instagram"):
        g = loso[loso["dataset"] == ds].set_index("method")
        assert g.loc["model", "trained_on"] == ("instagram" if ds == "mib" else "mib")
        assert g.loc["model", "roc_auc"] >= g.loc["naive heuristic", "roc_auc"], ds


def test_naive_heuristic_rows_are_the_three_term_formula(model_evaluation):
    for name, path in (("mib", MIB), ("instagram", IG)):
        df = botscore.load_labelled(name, path)
        s = (np.log((df["following"] + 1) / (df["followers"] + 1)) + (df["posts"] == 0)
             + (~df["has_avatar"].astype(bool)))
        row = model_evaluation[(model_evaluation["dataset"] == name)
                               & (model_evaluation["protocol"] == "leave one set out")
                               & (model_evaluation["method"] == "naive heuristic")].iloc[0]
        assert row["roc_auc"] == pytest.approx(botscore.roc_auc(df["label"], s))


def test_shipped_model_is_what_fit_reproduces():
    from kolgraph import boteval

    again = boteval.fit_default({"mib": MIB, "instagram": IG})
    assert again["intercept"] == pytest.approx(MODEL["intercept"], abs=1e-4)
    for a, b in zip(again["features"], MODEL["features"], strict=True):
        assert a["name"] == b["name"] and a["coef"] == pytest.approx(b["coef"], abs=1e-4)
        assert b["coef"] * b["sign"] >= 0  # monotone by construction


def test_cli_evaluate_json_end_to_end(model_evaluation):
    r = run("score-accounts", "--evaluate", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    got = pd.DataFrame(doc["evaluation"])
    assert set(got["protocol"]) >= {"leave one set out", "5-fold CV within set", "in-sample (shipped model)"}
    np.testing.assert_allclose(got["roc_auc"].astype(float), model_evaluation["roc_auc"], equal_nan=True)
    assert {s["dataset"] for s in doc["summary"]} == {"mib", "instagram"}
    assert all(s["model_beats_naive_auc"] for s in doc["summary"])
    r = run("score-accounts", "--evaluate")
    assert r.returncode == 0 and re.search(r"instagram, left out: model AUC 0\.\d+ >= naive", r.stdout)


def test_ingest_accounts_use_the_same_aliases(tmp_path):
    from kolgraph.ingest import read_graph

    (tmp_path / "e.txt").write_text("11 12\n12 11\n")
    (tmp_path / "a.csv").write_text(PLATFORM_CSVS["instagram"][0])
    g = read_graph(tmp_path / "e.txt", accounts=tmp_path / "a.csv")
    assert g.report["account_columns"]["follower_count"] == "followers"
    assert {"followers", "following", "posts", "has_avatar", "bio"} <= set(g.accounts.column_names)
    direct = score_accounts(tmp_path / "a.csv")["score"].to_numpy()
    np.testing.assert_allclose(score_accounts(g.accounts)["score"], direct)
    r = run("ingest", tmp_path / "e.txt", "--accounts", tmp_path / "a.csv", "--out", tmp_path / "g.kg",
            "--account-columns", "nope=followers")
    assert r.returncode == 3 and "'nope'" in r.stderr

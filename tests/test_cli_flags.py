"""The flag generator: one argparse flag per field of a pydantic options model."""

from __future__ import annotations

import argparse
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from kolgraph.cli._flags import add_options, options_from_args


class ReachLike(BaseModel):
    """The options of ``kolgraph reach``, declared once."""

    view_rates: float | list[float] | None = Field(
        None, description="probability a follower sees one post: one value or one per creator",
        json_schema_extra={"cli": {"flags": ["--view-rate"], "metavar": "R"}})
    posts: int | list[int] | None = Field(
        None, description="posts booked: one or one per creator",
        json_schema_extra={"cli": {"metavar": "N"}})
    where: str | None = Field(None, description="account filter",
                              json_schema_extra={"cli": {"metavar": "EXPR"}})
    exclude_flagged: bool = Field(False, description="drop followers flagged as bots")
    skip_unknown: bool = Field(False, description="skip unknown ids with a warning")
    mode: Literal["exact", "sketch"] = Field("exact", description="exact counts or sketches")
    confidence: float = Field(0.95, description="confidence of the sketch intervals")
    min_count: int = Field(0, description="hide regions below this many followers")
    tiers: list[Literal["nano", "micro", "mid"]] = Field(default_factory=list,
                                                         description="tiers to keep")


class Required(BaseModel):
    budget: float = Field(description="total spend allowed")
    quota: list[str] = Field(default_factory=list, description="tier quotas",
                             json_schema_extra={"cli": {"flags": ["--tier-quota", "-t"],
                                                        "nargs": "*"}})


def parser(model=ReachLike, **kwargs) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="t", exit_on_error=False)
    add_options(p, model, **kwargs)
    return p


def action(p: argparse.ArgumentParser, dest: str) -> argparse.Action:
    return next(a for a in p._actions if a.dest == dest)


def test_flags_follow_the_fields():
    p = parser()
    assert action(p, "view_rates").option_strings == ["--view-rate"]
    assert action(p, "exclude_flagged").option_strings == ["--exclude-flagged"]
    assert action(p, "min_count").option_strings == ["--min-count"]
    vr = action(p, "view_rates")
    assert (vr.type, vr.nargs, vr.metavar, vr.default) == (float, "+", "R", None)
    assert action(p, "posts").type is int and action(p, "posts").metavar == "N"
    assert action(p, "where").metavar == "EXPR" and action(p, "where").type is None
    assert isinstance(action(p, "skip_unknown"), argparse._StoreTrueAction)
    mode = action(p, "mode")
    assert (mode.choices, mode.default, mode.help) == (("exact", "sketch"), "exact",
                                                       "exact counts or sketches")
    assert action(p, "confidence").type is float and action(p, "confidence").default == 0.95
    tiers = action(p, "tiers")
    assert tiers.choices == ("nano", "micro", "mid") and tiers.nargs == "+" and tiers.default == []
    text = p.format_help()
    for line in ("--view-rate R [R ...]", "--posts N [N ...]", "--where EXPR",
                 "--mode {exact,sketch}", "account filter"):
        assert line in text


def test_defaults_give_no_options():
    args = parser().parse_args([])
    assert args.mode == "exact" and args.view_rates is None and args.exclude_flagged is False
    assert options_from_args(args, ReachLike) == {}


def test_options_the_user_set():
    args = parser().parse_args(["--view-rate", "0.2", "--posts", "1", "2", "--where",
                                "country == 'NL'", "--exclude-flagged", "--mode", "sketch",
                                "--min-count", "5", "--tiers", "nano", "mid"])
    opts = options_from_args(args, ReachLike)
    assert opts == {"view_rates": 0.2, "posts": [1, 2], "where": "country == 'NL'",
                    "exclude_flagged": True, "mode": "sketch", "min_count": 5,
                    "tiers": ["nano", "mid"]}
    assert ReachLike(**opts).view_rates == 0.2  # the model accepts what the flags produced


def test_several_view_rates_stay_a_list():
    args = parser().parse_args(["--view-rate", "0.2", "0.3"])
    assert options_from_args(args, ReachLike) == {"view_rates": [0.2, 0.3]}


def test_bad_values_are_usage_errors():
    p = parser()
    with pytest.raises(argparse.ArgumentError, match="invalid choice: 'fuzzy'"):
        p.parse_args(["--mode", "fuzzy"])
    with pytest.raises(argparse.ArgumentError, match="invalid int value"):
        p.parse_args(["--min-count", "many"])


def test_exclude_skips_fields():
    p = parser(exclude=("mode", "confidence"))
    assert "--mode" not in p.format_help() and "--confidence" not in p.format_help()
    args = p.parse_args(["--min-count", "3"])
    assert options_from_args(args, ReachLike) == {"min_count": 3}


def test_required_fields_and_explicit_flags_and_nargs():
    p = parser(Required)
    assert action(p, "budget").required and action(p, "budget").type is float
    args = p.parse_args(["--budget", "100", "-t", "micro:>=2", "nano:>=1"])
    assert options_from_args(args, Required) == {"budget": 100.0,
                                                 "quota": ["micro:>=2", "nano:>=1"]}
    assert action(p, "quota").nargs == "*"


def test_flags_go_to_a_subcommand():
    top = argparse.ArgumentParser(prog="kolgraph")
    sp = top.add_subparsers(dest="command").add_parser("reach")
    sp.add_argument("store")
    add_options(sp, ReachLike)
    args = top.parse_args(["reach", "g.kg", "--skip-unknown"])
    assert args.store == "g.kg" and options_from_args(args, ReachLike) == {"skip_unknown": True}


def test_the_reach_command_takes_its_flags_from_the_options_model():
    """`kolgraph reach` declares no option of its own: its flags are SketchModeOptions'."""
    from kolgraph.cli import build_parser
    from kolgraph.reach import SketchModeOptions

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    reach = {a.option_strings[0]: a for a in sub.choices["reach"]._actions if a.option_strings}
    generated = parser(SketchModeOptions)
    assert "--view-rate" in reach and "--where" in reach and "--p" not in reach  # p is hidden
    for field in SketchModeOptions.model_fields:
        if field in ("p", "k", "seed"):
            continue
        new = action(generated, field)
        old = reach[new.option_strings[0]]
        for attr in ("option_strings", "type", "nargs", "metavar", "choices", "default", "help",
                     "required"):
            assert getattr(new, attr) == getattr(old, attr), (field, attr)
        assert type(new) is type(old)
        assert old.help == SketchModeOptions.model_fields[field].description


def _command_flags(name: str) -> dict[str, argparse.Action]:
    from kolgraph.cli import build_parser

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return {a.option_strings[0]: a for a in sub.choices[name]._actions if a.option_strings}


COMMON = {"-h", "--json", "--quiet", "--debug"}


def _assert_flags_are_the_models(name: str, model, own: set[str]) -> None:
    """Command ``name``'s option flags are ``model``'s (non-hidden) fields plus ``own``, the
    inputs the command reads itself; each generated flag is the field's declaration."""
    flags = _command_flags(name)
    generated = parser(model)
    fields = [f for f, info in model.model_fields.items()
              if not (info.json_schema_extra or {}).get("cli", {}).get("hidden")]
    declared = {action(generated, f).option_strings[0] for f in fields}
    assert set(flags) - COMMON == declared | own, name
    for field in fields:
        new = action(generated, field)
        old = flags[new.option_strings[0]]
        for attr in ("option_strings", "dest", "type", "nargs", "metavar", "choices", "default",
                     "help", "required"):
            assert getattr(new, attr) == getattr(old, attr), (name, field, attr)
        assert type(new) is type(old)
        assert old.help == model.model_fields[field].description


def test_the_spread_command_takes_its_flags_from_the_options_model():
    from kolgraph.propagation.options import SpreadOptions

    _assert_flags_are_the_models("spread", SpreadOptions,
                                 {"--seeds", "--plot", "--view-rates-from-table"})
    flags = _command_flags("spread")
    assert (flags["--view-rate"].metavar, flags["--view-rate"].nargs) == ("R", "+")
    assert flags["--runs"].default == 10_000 and flags["--model"].choices == ("ic", "lt")
    assert "--edge-probs" not in flags  # library only


def test_the_seeds_command_takes_its_flags_from_the_options_model():
    from kolgraph.propagation.options import SeedsOptions

    _assert_flags_are_the_models("seeds", SeedsOptions,
                                 {"--candidates", "--among", "--costs", "--view-rates-from-table"})
    flags = _command_flags("seeds")
    assert flags["-k"].default == 10 and flags["--evaluate"].metavar == "RUNS"
    assert flags["--method"].choices == ("imm", "opim-c") and flags["--epsilon"].default == 0.5


def test_the_fraud_command_takes_its_flags_from_the_options_model():
    from kolgraph.fraud.options import FraudOptions

    _assert_flags_are_the_models("fraud", FraudOptions,
                                 {"--creator", "--report", "--export", "--raw", "--write-flags"})
    flags = _command_flags("fraud")
    assert flags["--top"].default == 100 and flags["--mass-following"].default == 1500
    assert flags["--bot-threshold"].type is float and flags["--max-blocks"].type is int


def test_the_plan_command_takes_its_flags_from_the_options_model():
    """`kolgraph plan`'s option flags are PlanOptions' own (the library-only ones hidden, the
    repeatable --tier-quota hand-written), with the names the command always had."""
    from kolgraph.cli import build_parser
    from kolgraph.plan import PlanOptions

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    plan = {a.dest: a for a in sub.choices["plan"]._actions if a.option_strings}
    hidden = {"k", "seed", "lazy", "exact"}
    assert hidden.isdisjoint(plan)
    assert plan["tier_quota"].option_strings == ["--tier-quota"]
    assert isinstance(plan["tier_quota"], argparse._AppendAction)
    assert plan["must_include"].option_strings == ["--include"]
    assert plan["must_exclude"].option_strings == ["--exclude"]
    assert plan["budget"].required and plan["budget"].type is float
    generated = parser(PlanOptions, exclude=("tier_quota",))
    for field in set(PlanOptions.model_fields) - hidden - {"tier_quota"}:
        new, old = action(generated, field), plan[field]
        for attr in ("option_strings", "type", "nargs", "metavar", "choices", "default", "help",
                     "required"):
            assert getattr(new, attr) == getattr(old, attr), (field, attr)
        assert old.help == PlanOptions.model_fields[field].description
    names = {s for a in plan.values() for s in a.option_strings}
    assert {"--budget", "--objective", "--include", "--exclude", "--max-creators",
            "--max-overlap", "--overlap-by", "--where", "--exclude-flagged", "--method",
            "--shapley", "--permutations", "--candidates", "--curve"} <= names
    args = sub.choices["plan"].parse_args(["g.kg", "--candidates", "p.csv", "--budget", "100",
                                           "--include", "1", "2", "--max-overlap", "0.5",
                                           "--tier-quota", "micro:>=2", "--tier-quota", "mega:<=1"])
    assert options_from_args(args, PlanOptions) == {  # the hand-written --tier-quota too
        "budget": 100.0, "must_include": ["1", "2"], "max_overlap": 0.5,
        "tier_quota": ["micro:>=2", "mega:<=1"]}
    PlanOptions.check(options_from_args(args, PlanOptions))

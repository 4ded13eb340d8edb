"""Options models: every capability declares its options once, here checked once.

A capability's options are one pydantic model (``ReachOptions``, ``PlanOptions``,
...): the field's type, bounds, default and description are the only declaration.
The library checks a call's options with :meth:`Options.check`; the service's
request models subclass the model (adding the store and the ids); the CLI builds
its flags from the fields (``kolgraph.cli._flags``), with the flag names and
metavars given by :func:`cli` in ``json_schema_extra``.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from kolgraph.exceptions import InputError


class Options(BaseModel):
    """Base of the capabilities' options: unknown options are errors, values are checked."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    @classmethod
    def check(cls, values: dict[str, Any]):
        """The options in ``values``, checked; a bad or unknown one raises
        :class:`~kolgraph.InputError` naming it."""
        try:
            return cls(**values)
        except ValidationError as exc:
            raise InputError(describe(exc)) from None

    def set_values(self) -> dict[str, Any]:
        """The options the caller gave (defaults left out), as keyword arguments."""
        return {name: getattr(self, name) for name in self.model_fields_set}

    def options_of(self, model: type[Options]) -> dict[str, Any]:
        """This model's values of ``model``'s fields, as keyword arguments: a request that
        embeds an options model passes them on in one call."""
        return {name: getattr(self, name) for name in model.model_fields}


def describe(exc: ValidationError) -> str:
    """One line per problem: ``option: what is wrong, got value``; a check across options (a model
    validator's ``ValueError``) gives its own message, which names the options."""
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(str(x) for x in err["loc"])
        if err["type"] == "extra_forbidden":
            msg = "unknown option"
        elif err["type"] == "value_error":  # without pydantic's "Value error, " prefix
            msg = str(err.get("ctx", {}).get("error", err["msg"]))
        else:
            msg = err["msg"]
            if isinstance(err.get("input"), int | float | str) and err["type"] != "missing":
                msg += f", got {err['input']!r}"
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


def cli(*flags: str, metavar: str | None = None, nargs: str | None = None,
        hidden: bool = False, const: Any = None) -> dict[str, Any]:
    """``json_schema_extra`` of a field whose command-line flag differs from ``--field-name``
    (``nargs="?"`` with ``const``: the bare flag gives ``const``, e.g. ``--weighted-cascade``
    alone is True and ``--weighted-cascade observed`` the choice)."""
    spec: dict[str, Any] = {}
    if flags:
        spec["flags"] = list(flags)
    if metavar:
        spec["metavar"] = metavar
    if nargs:
        spec["nargs"] = nargs
    if hidden:
        spec["hidden"] = True
    if const is not None:
        spec["const"] = const
    return {"cli": spec}


# --- options several capabilities share: declared once, here -----------------------------
def _listify(value: Any) -> Any:
    """numpy arrays and tuples become lists, so callers may pass them."""
    if hasattr(value, "tolist") and not isinstance(value, str | bytes):
        return value.tolist()
    return list(value) if isinstance(value, tuple) else value


Where = Annotated[str | dict[str, Any] | None, Field(
    description="account filter: an expression such as \"country == 'NL' and posts > 0\" "
    "(comparisons, `in [...]`, and/or/not, dates and durations) or a dict {column: value or "
    "[values]}; applied to each follower before deduplication",
    json_schema_extra=cli(metavar="EXPR"))]
ExcludeFlagged = Annotated[bool, Field(
    description="drop followers flagged as bots (account column 'flagged'): real reach")]
SkipUnknown = Annotated[bool, Field(
    description="skip unknown creator ids with a warning instead of failing")]
ViewRates = Annotated[float | list[float] | dict[Any, float] | None, BeforeValidator(_listify),
                      Field(description="probability a follower sees one post: one value, one "
                            "per creator or {id: rate} (default avg_views/followers, else 1)",
                            json_schema_extra=cli("--view-rate", metavar="R", nargs="+"))]
Posts = Annotated[float | list[float] | dict[Any, float] | None, BeforeValidator(_listify),
                  Field(description="posts booked: one value, one per creator or {id: n} "
                        "(default 1)", json_schema_extra=cli(metavar="N", nargs="+"))]


class FilterOptions(Options):
    """The account filter every audience capability takes."""

    where: Where = None
    exclude_flagged: ExcludeFlagged = False

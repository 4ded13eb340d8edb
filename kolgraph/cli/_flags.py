"""Command-line flags: the flags every command shares, and flags generated from an options model.

:func:`add_options` turns each field of a pydantic model into one argparse flag, so an option
is declared once (name, type, choices, default, help) and the CLI, the library and the API
request read the same declaration. :func:`options_from_args` gives back what the user set.
pydantic is not imported here: the models bring it, and ``kolgraph --help`` stays fast.
"""

from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, Literal, Union


def add_command(sub, name: str, func: Callable, help_: str, description: str | None = None,
                json_flag: bool = True) -> argparse.ArgumentParser:
    """Add subcommand ``name`` run by ``func(args)``, with the flags every command takes."""
    sp = sub.add_parser(name, help=help_, description=description or help_)
    sp.set_defaults(func=func)
    if json_flag:
        sp.add_argument("--json", action="store_true", help="print JSON to stdout")
    sp.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    sp.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                    help="show tracebacks on errors")
    return sp


def add_options(parser, model, exclude: Iterable[str] = ()) -> None:
    """Add one flag per field of the pydantic model ``model`` (fields in ``exclude`` skipped).

    The flag is ``--field-name`` unless the field says otherwise in
    ``json_schema_extra={"cli": {"flags": [...], "metavar": ..., "nargs": ...}}``; its help is
    the field's ``description`` and its default the field's default (a field without one
    makes a required flag). ``bool`` gives a ``store_true`` flag, ``Literal[...]`` its
    choices, ``list[X]`` (alone or in a union such as ``float | list[float]``) ``nargs="+"``
    of ``X``; ``int``, ``float`` and ``str`` are converted with that type. ``None`` in a union
    only means the option may be left out.

    Examples
    --------
    >>> import argparse
    >>> from typing import Literal
    >>> from pydantic import BaseModel, Field
    >>> class Opts(BaseModel):
    ...     mode: Literal["exact", "sketch"] = Field("exact", description="how to count")
    >>> p = argparse.ArgumentParser()
    >>> add_options(p, Opts)
    >>> options_from_args(p.parse_args(["--mode", "sketch"]), Opts)
    {'mode': 'sketch'}
    """
    skip = set(exclude)
    for name, field in model.model_fields.items():
        if name not in skip and not _cli(field).get("hidden"):
            flags, kwargs = _flag(name, field)
            parser.add_argument(*flags, **kwargs)


def options_from_args(args: argparse.Namespace, model) -> dict[str, Any]:
    """The values of ``model``'s options that the user set (differing from the defaults).

    A single value given to a field typed ``X | list[X]`` comes back as ``X``.
    """
    out = {}
    for name, field in model.model_fields.items():
        if not hasattr(args, name) or _cli(field).get("hidden"):  # excluded here, or no flag
            continue  # (a hidden field's name may be a hand-made flag's, read by the command)
        value = getattr(args, name)
        if value == _default(field):
            continue
        scalar, listed = _members(field.annotation)
        if isinstance(value, list) and len(value) == 1 and scalar is not None and listed:
            value = value[0]
        out[name] = value
    return out


def _cli(field) -> dict[str, Any]:
    extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
    return extra.get("cli", {})


def _flag(name: str, field) -> tuple[list[str], dict[str, Any]]:
    cli = _cli(field)
    flags = list(cli.get("flags") or ["--" + name.replace("_", "-")])
    kwargs: dict[str, Any] = {"dest": name, "help": field.description}
    if field.is_required():
        kwargs["required"] = True
    else:
        kwargs["default"] = _default(field)
    scalar, listed = _members(field.annotation)
    base = listed or scalar
    if base is bool and not listed:
        kwargs["action"] = "store_true"
        return flags, kwargs
    if typing.get_origin(base) is Literal:
        kwargs["choices"] = typing.get_args(base)
        base = type(kwargs["choices"][0])
    if base in (int, float):  # str needs no conversion
        kwargs["type"] = base
    if listed:
        kwargs["nargs"] = "+"
    for key in ("metavar", "nargs", "const"):
        if key in cli:
            kwargs[key] = cli[key]
    return flags, kwargs


def _default(field):
    return None if field.is_required() else field.get_default(call_default_factory=True)


def _members(annotation) -> tuple[Any, Any]:
    """``(X, Y)`` for an annotation ``X | list[Y] | None``: the scalar and the list item type
    (``None`` where absent)."""
    options = typing.get_args(annotation) if _is_union(annotation) else (annotation,)
    scalar = listed = None
    for t in options:
        t = _bare(t)
        if t is type(None):
            continue
        if typing.get_origin(t) in (list, tuple, set, frozenset):
            listed = _bare(typing.get_args(t)[0]) if typing.get_args(t) else str
        else:
            scalar = t
    return scalar, listed


def _bare(annotation):
    """``X`` of ``Annotated[X, ...]`` (e.g. ``Annotated[float, Field(ge=0)]``), else as is."""
    return typing.get_args(annotation)[0] if typing.get_origin(annotation) is typing.Annotated \
        else annotation


def _is_union(annotation) -> bool:
    return typing.get_origin(annotation) in (Union, types.UnionType)


def add_memory(sp, also: str = "") -> None:
    """``--memory SIZE``: build the store out of core within it."""
    sp.add_argument("--memory", metavar="SIZE", help="build the store out of core within this "
                    "much memory, e.g. 8G or 512M (default: in memory when the edges fit in half "
                    "the available memory, else out of core within that half"
                    + (f"; {also})" if also else ")"))


def parse_size(value: str | None, flag: str) -> int | None:
    """Bytes of ``8G``, ``512M``, ``1.5GiB``, ``64k`` or a plain number."""
    import re

    from kolgraph.exceptions import InputError

    if value is None:
        return None
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([KMGT]?)(I?B)?\s*", value.upper())
    if not m:
        raise InputError(f"{flag} {value!r}: give a size such as 8G, 512M or 1000000")
    return int(float(m.group(1)) * 1024 ** " KMGT".index(m.group(2) or " "))

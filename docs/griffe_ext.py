"""Griffe extension for the API reference: reads kolgraph's docstrings the way they are written.

The docstrings are numpydoc, but many parameters put their description on the name line
(``where : account filter, ...``), which numpydoc would read as a type, and some use
Sphinx roles (``:class:`FollowerGraph```) and reST literal blocks (``text::``), which
Markdown does not know (an indented block after a blank line is code in both). Rewriting the
text before griffe parses it keeps the source docstrings unchanged (they also run as
doctests and read well in ``help()``).
"""

from __future__ import annotations

import re

import griffe

_LITERAL = re.compile(r"(?m)(\S)::$")
_ROLE = re.compile(r":(?:class|func|meth|data|attr|mod|exc|obj|ref):`(~?)([^`]+)`")
_NAMED_SECTIONS = {"parameters", "other parameters", "attributes", "returns", "yields",
                   "receives", "keyword arguments"}
_ONE_TYPE = r"[\w.]+(?:\[[^\]]*\])?"
_TYPE = re.compile(rf"{_ONE_TYPE}(?:\s*(?:\||or)\s*{_ONE_TYPE})*(?:, optional)?")
_ITEM = re.compile(r"(\S[^:]*?) : (.+)")


def _role(match: re.Match) -> str:
    target = match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if match.group(1) else target}`"


def rewrite(text: str) -> str:
    """The docstring with roles as code and name-line descriptions moved under the name."""
    lines = _LITERAL.sub(r"\1:", _ROLE.sub(_role, text)).split("\n")
    out, section = [], None
    for i, line in enumerate(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if nxt.strip() and set(nxt.strip()) == {"-"} and line.strip():
            section = line.strip().lower()
        item = _ITEM.fullmatch(line) if section in _NAMED_SECTIONS else None
        if item and not _TYPE.fullmatch(item.group(2).strip()):
            out += [item.group(1), "    " + item.group(2)]
        else:
            out.append(line)
    return "\n".join(out)


class KolgraphDocstrings(griffe.Extension):
    def on_instance(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)

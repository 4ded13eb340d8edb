"""One exception hierarchy for kolgraph.

Every error a user can cause derives from :class:`KolgraphError`, so callers
(the CLI, the service) catch one base class and map the subclasses to exit
codes or HTTP statuses in a single place.
"""

from __future__ import annotations


class KolgraphError(Exception):
    """Base class of every error kolgraph raises on purpose."""

    exit_code = 1


class InputError(KolgraphError, ValueError):
    """The caller's input is wrong (bad argument, bad file, bad column)."""

    exit_code = 3


class MalformedInputError(InputError):
    """A data file has rows that cannot be parsed.

    ``errors`` holds ``(path, line_number, text, reason)`` tuples for the first
    bad rows, ``count`` the number of bad rows seen.
    """

    def __init__(self, message: str, errors: list[tuple[str, int, str, str]] | None = None,
                 count: int = 0):
        super().__init__(message)
        self.errors = errors or []
        self.count = count


class EmptyInputError(InputError):
    """A data file holds no data rows."""


class UnknownAccountError(InputError, KeyError):
    """One or more external account ids are not in the graph."""

    def __init__(self, missing: list):
        self.missing = list(missing)
        shown = ", ".join(repr(m) for m in self.missing[:10])
        more = f" (and {len(self.missing) - 10} more)" if len(self.missing) > 10 else ""
        super().__init__(f"{len(self.missing)} unknown account id(s): {shown}{more}")

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return self.args[0]


class StoreError(KolgraphError):
    """A graph store cannot be opened or written."""

    exit_code = 4


class StoreNotFoundError(StoreError, FileNotFoundError):
    """The store directory does not exist (a directory without a manifest is corrupted)."""


class StoreCorruptedError(StoreError):
    """A store file is missing, truncated, altered, or of another format version."""

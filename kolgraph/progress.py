"""Progress reporting for long work: a rich bar on a terminal, silence elsewhere.

Library code takes an optional ``progress`` argument (a :class:`Progress`),
defaulting to :data:`SILENT`, so only the CLI decides whether a bar shows.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager


class Progress:
    """Reports named stages of work; this base class reports nothing."""

    @contextmanager
    def task(self, description: str, total: float | None = None) -> Iterator[Task]:
        yield Task()


class Task:
    def advance(self, amount: float = 1) -> None:
        """Record ``amount`` more units of work done."""


SILENT = Progress()


class RichProgress(Progress):
    """A rich progress bar per stage, on stderr."""

    def __init__(self):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )
        from rich.progress import Progress as _Bar

        self._bar = _Bar(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                         TimeElapsedColumn(), TimeRemainingColumn(),
                         console=Console(stderr=True), transient=False)

    @contextmanager
    def task(self, description: str, total: float | None = None) -> Iterator[Task]:
        with self._bar:
            tid = self._bar.add_task(description, total=total)
            bar = self._bar

            class _T(Task):
                def advance(self, amount: float = 1) -> None:
                    bar.advance(tid, amount)

            yield _T()
            done = total if total is not None else 1  # a finished open-ended stage shows full
            bar.update(tid, total=done, completed=done)


def for_terminal(quiet: bool = False) -> Progress:
    """A rich bar when stderr is a terminal and not ``quiet``; otherwise silent."""
    if quiet or not sys.stderr.isatty():
        return SILENT
    return RichProgress()

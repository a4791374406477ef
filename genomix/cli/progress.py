"""Progress on stderr, and the command line of a run for its provenance."""

from __future__ import annotations

import shlex
import sys


def command_line() -> str:
    return shlex.join(["genomix"] + sys.argv[1:])


class Progress:
    """A rich progress line on stderr when it is a terminal; silent otherwise or with --quiet."""

    def __init__(self, label: str, quiet: bool, total: int | None = None, unit: str = "variants"):
        self._bar, self._unit = None, unit
        if not quiet and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            self._bar = Progress(
                SpinnerColumn(),
                TextColumn(label),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]}"),
                TextColumn("{task.fields[shards]}"),
                TimeElapsedColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._task = self._bar.add_task(label, total=total, rate="", shards="")

    def __enter__(self):
        if self._bar:
            self._bar.start()
        return self

    def advance(self, n: int, shards: int | None = None) -> None:
        """`n` more done; `shards`: how many shards of the run are finished."""
        if self._bar:
            self._bar.advance(self._task, n)
            if shards is not None:
                self._bar.update(self._task, shards=f"{shards} shard{'s' if shards != 1 else ''}")
            task = self._bar.tasks[0]
            if task.elapsed:
                self._bar.update(self._task, rate=f"{task.completed / task.elapsed:.1f} {self._unit}/s")

    def update(self, completed: int, **fields) -> None:
        if self._bar:
            self._bar.update(self._task, completed=completed, **fields)

    def __exit__(self, *exc) -> None:
        if self._bar:
            self._bar.stop()


def summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "none"

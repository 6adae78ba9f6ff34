"""A rich progress bar on stderr for `post(show_progress=True)`.

Imported only when a bar is asked for: rich takes a while to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from ._reporter import ProgressReporter

if TYPE_CHECKING:
    from ..wire.request import DataRequest

__all__ = ["RichProgress"]


class RichProgress(ProgressReporter):
    """Requests done (of the total when known), docs done, errors and request rate."""

    def __init__(self, endpoint: str, total_requests: int | None = None) -> None:
        self._endpoint = endpoint
        self._total = total_requests
        self._progress: Progress | None = None
        self._task: Any = None
        self._docs = 0
        self._errors = 0

    def start(self) -> None:
        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("requests"),
            TextColumn("{task.fields[docs]} docs"),
            TextColumn("{task.fields[errors]} errors"),
            _RateColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._task = self._progress.add_task(
            f"POST {self._endpoint}", total=self._total, docs=0, errors=0
        )
        self._progress.start()

    def advance(self, response: DataRequest) -> None:
        if self._progress is None:
            return
        self._docs += len(response.docs)
        self._errors += int(response.is_error)
        self._progress.update(self._task, advance=1, docs=self._docs, errors=self._errors)

    def stop(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None


class _RateColumn(ProgressColumn):
    """Requests per second, from rich's moving window."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("-- req/s" if speed is None else f"{speed:.1f} req/s")

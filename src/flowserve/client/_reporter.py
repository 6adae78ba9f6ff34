"""The progress hook a post reports to; `_progress.RichProgress` draws it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..wire.request import DataRequest

__all__ = ["ProgressReporter"]


class ProgressReporter:
    """Receives one call per outcome; the base class shows nothing."""

    def start(self) -> None:
        """Called before the first request is sent."""

    def advance(self, response: DataRequest) -> None:
        """Called once per outcome (successful or not)."""

    def stop(self) -> None:
        """Called once the post finished, failed or was cancelled."""

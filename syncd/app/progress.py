"""A one-line progress display for long reads (the first sync of a large address book), in a terminal only.

Nothing is shown when stderr is not a terminal (a pipe, a file, journald) or for short reads: the daemon's
log stays clean.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from syncd.app.logs import under_journald

MIN_ITEMS = 200  # fewer items than this read fast enough to need no display
EVERY = 0.2  # seconds between redraws


class Progress:
    """`total` None: not known in advance (a streamed answer); then the count is shown once the read has
    taken a second."""

    def __init__(
        self, total: int | None, label: str, stream: TextIO | None = None, *, min_items: int = MIN_ITEMS
    ) -> None:
        self.total = total
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.done = 0
        self.started = time.monotonic()
        self._drawn = 0.0 if total is not None else self.started + 1.0 - EVERY
        self.shown = (total is None or total >= min_items) and _is_terminal(self.stream)
        self._visible = False  # something was drawn (and is cleared at the end)

    def __enter__(self) -> Progress:
        if self.total is not None:
            self._draw()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.shown and self._visible:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.shown and time.monotonic() - self._drawn >= EVERY:
            self._draw()

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        rate = f", {self.done / elapsed:.0f}/s" if elapsed > 0.5 and self.done else ""
        if self.total is None:
            return f"{self.label}: {self.done}{rate}"
        share = self.done / self.total if self.total else 1.0
        return f"{self.label}: {self.done}/{self.total} ({share:.0%}{rate})"

    def _draw(self) -> None:
        if not self.shown:
            return
        self._drawn = time.monotonic()
        self._visible = True
        self.stream.write("\r\x1b[K" + self.line())
        self.stream.flush()


def _is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty() and not under_journald(stream)
    except (AttributeError, ValueError):
        return False

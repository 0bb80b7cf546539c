"""Progress display for the command line: rich's bar when installed, a plain line otherwise.

rich comes with the ``cli`` extra (``pip install 'textlens-client[cli]'``); the library
never needs it. The bar goes to stderr and only when stderr is a terminal, so piped or
redirected output carries none of it. Lines for stdout go through ``write`` so that
they land above the bar instead of through it.
"""

from __future__ import annotations

import sys
from typing import Any, Protocol, TextIO


class Progress(Protocol):
    def advance(self, amount: int = 1) -> None: ...

    def update(self, completed: int, total: int | None = None) -> None: ...

    def write(self, line: str) -> None: ...

    def close(self) -> None: ...


class _Silent:
    def __init__(self, out: TextIO) -> None:
        self._out = out

    def advance(self, amount: int = 1) -> None:
        return None

    def update(self, completed: int, total: int | None = None) -> None:
        return None

    def write(self, line: str) -> None:
        print(line, file=self._out)

    def close(self) -> None:
        return None


class _Plain:
    """``label 1234/10000`` rewritten in place on stderr, about ten times a second."""

    def __init__(self, label: str, total: int | None, out: TextIO, err: TextIO) -> None:
        self._label = label
        self._total = total
        self._done = 0
        self._out = out
        self._err = err
        self._shown = ""
        self._last = 0.0

    def _draw(self, force: bool = False) -> None:
        import time  # noqa: PLC0415 - only a terminal session pays for it

        now = time.monotonic()
        if not force and now - self._last < 0.1:
            return
        self._last = now
        of = f"/{self._total}" if self._total is not None else ""
        self._shown = f"{self._label} {self._done}{of}"
        self._err.write("\r\x1b[K" + self._shown)
        self._err.flush()

    def advance(self, amount: int = 1) -> None:
        self._done += amount
        self._draw()

    def update(self, completed: int, total: int | None = None) -> None:
        self._done = completed
        if total is not None:
            self._total = total
        self._draw()

    def write(self, line: str) -> None:
        if not self._out.isatty():
            print(line, file=self._out)
            return
        if self._shown:
            self._err.write("\r\x1b[K")
            self._err.flush()
        print(line, file=self._out, flush=True)
        if self._shown:
            self._draw(force=True)

    def close(self) -> None:
        if self._shown:
            self._err.write("\r\x1b[K")
            self._err.flush()


class _Rich:
    def __init__(
        self, label: str, total: int | None, rich_progress: Any, console: Any, out: TextIO
    ) -> None:
        self._out = out
        columns = (
            rich_progress.TextColumn("{task.description}"),
            rich_progress.BarColumn(),
            rich_progress.MofNCompleteColumn(),
            rich_progress.TimeElapsedColumn(),
        )
        self._bar = rich_progress.Progress(
            *columns,
            console=console,
            transient=True,
            redirect_stdout=False,
            redirect_stderr=False,
        )
        self._task = self._bar.add_task(label, total=total)
        self._bar.start()

    def advance(self, amount: int = 1) -> None:
        self._bar.advance(self._task, amount)

    def update(self, completed: int, total: int | None = None) -> None:
        self._bar.update(self._task, completed=completed, total=total)

    def write(self, line: str) -> None:
        if self._out.isatty():
            # Most likely the bar's own terminal: print above the bar through its console.
            self._bar.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            print(line, file=self._out)

    def close(self) -> None:
        self._bar.stop()


def progress(
    label: str,
    total: int | None,
    *,
    enabled: bool,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> Progress:
    """A progress display, or a silent one when disabled or stderr is not a terminal."""
    out = out or sys.stdout
    err = err or sys.stderr
    if not enabled or not err.isatty():
        return _Silent(out)
    try:
        import rich.console  # noqa: PLC0415 - optional, from the cli extra
        import rich.progress  # noqa: PLC0415
    except ImportError:
        return _Plain(label, total, out, err)
    return _Rich(label, total, rich.progress, rich.console.Console(file=err), out)

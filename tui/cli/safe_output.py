"""Provides guarded_output(): the CLI's stdout and stderr with terminal controls neutralised.

Most of what a command prints came from a host, a recording or a log; an escape sequence in it
would reach the terminal as a command (clear the screen, set the title, OSC 52, C1 CSI). While a
command runs, both streams pass every write through core.textsafe.printable_keep_colors: the
plain colour SGR sequences vfio-tui prints itself stay, every other control shows as a visible
stand-in (ESC as "␛"). JSON output needs nothing: json.dumps escapes controls as \\u00XX.
The interactive app is not wrapped: Textual writes its own escape sequences to the terminal
(its text is made safe by tui.safe_text instead).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from vfio_tui.core.textsafe import printable_keep_colors


class GuardedStream:
    """A text stream that neutralises terminal controls in everything written to it."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(printable_keep_colors(text))
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def unguarded(stream: TextIO) -> TextIO:
    """The stream under the guard, for text that cannot hold a control (json.dumps escapes every
    one as \\u00XX): scanning megabytes of inventory JSON for them cost more than making it."""
    inner = getattr(stream, "_stream", None) if isinstance(stream, GuardedStream) else None
    return inner if inner is not None else stream


@contextmanager
def guarded_output() -> Iterator[None]:
    out, err = sys.stdout, sys.stderr
    sys.stdout = GuardedStream(out)
    sys.stderr = GuardedStream(err)
    try:
        yield
    finally:
        if isinstance(sys.stdout, GuardedStream):
            sys.stdout = out
        if isinstance(sys.stderr, GuardedStream):
            sys.stderr = err

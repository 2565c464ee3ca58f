"""Provides the helpers every config-file editor shares: lossless decoding, diffs, parse errors.

Files are read as bytes and decoded with `surrogateescape`, so any byte sequence (Latin-1
comments, CRLF line ends, a missing final newline) comes back out exactly as it went in.
"""

from __future__ import annotations

import bisect
import re

from vfio_tui.core.errors import HostDataError
from vfio_tui.core.textcodec import decode, encode, unified_diff

__all__ = ["ConfigParseError", "LineIndex", "append_line", "decode", "encode", "line_of", "unified_diff"]


class ConfigParseError(HostDataError):
    """A config file that cannot be understood well enough to read or edit it safely."""

    def __init__(self, detail: str, *, line: int | None = None, path: str | None = None) -> None:
        where = f"line {line}: " if line is not None else ""
        super().__init__(f"{where}{detail}", path=path,
                         fix="fix the file by hand (or restore it from a backup) and run the check again")
        self.line = line
        self.reason = detail


def line_of(text: str, offset: int) -> int:
    """1-based line number of a character offset (one count over the text: for an error, not a loop)."""
    return text.count("\n", 0, offset) + 1


class LineIndex:
    """1-based line numbers of many offsets in one text: the newlines are found once, each lookup is a
    bisection. (line_of() per statement made a 1 MB line of `a=1;a=1;...` quadratic.)"""

    def __init__(self, text: str) -> None:
        self._newlines = [m.start() for m in re.finditer("\n", text)]

    def __call__(self, offset: int) -> int:
        return bisect.bisect_left(self._newlines, offset) + 1


def append_line(text: str, line: str) -> str:
    """`text` with `line` added as a new last line (adding the missing newline before it, if any)."""
    if text and not text.endswith("\n"):
        text += "\r\n" if text.endswith("\r") else "\n"
    return text + line + "\n"

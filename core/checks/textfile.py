"""Provides the helpers every config-file editor shares: lossless decoding, diffs, parse errors.

Files are read as bytes and decoded with `surrogateescape`, so any byte sequence (Latin-1
comments, CRLF line ends, a missing final newline) comes back out exactly as it went in.
"""

from __future__ import annotations

from core.errors import HostDataError
from core.textcodec import decode, encode, unified_diff

__all__ = ["ConfigParseError", "append_line", "decode", "encode", "line_of", "unified_diff"]


class ConfigParseError(HostDataError):
    """A config file that cannot be understood well enough to read or edit it safely."""

    def __init__(self, detail: str, *, line: int | None = None, path: str | None = None) -> None:
        where = f"line {line}: " if line is not None else ""
        super().__init__(f"{where}{detail}", path=path,
                         fix="fix the file by hand (or restore it from a backup) and run the check again")
        self.line = line
        self.reason = detail


def line_of(text: str, offset: int) -> int:
    """1-based line number of a character offset."""
    return text.count("\n", 0, offset) + 1


def append_line(text: str, line: str) -> str:
    """`text` with `line` added as a new last line (adding the missing newline before it, if any)."""
    if text and not text.endswith("\n"):
        text += "\r\n" if text.endswith("\r") else "\n"
    return text + line + "\n"

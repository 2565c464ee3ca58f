"""Provides the helpers every config-file editor shares: lossless decoding, diffs, parse errors.

Files are read as bytes and decoded with `surrogateescape`, so any byte sequence (Latin-1
comments, CRLF line ends, a missing final newline) comes back out exactly as it went in.
"""

from __future__ import annotations

import difflib

from core.errors import HostDataError


class ConfigParseError(HostDataError):
    """A config file that cannot be understood well enough to read or edit it safely."""

    def __init__(self, detail: str, *, line: int | None = None, path: str | None = None) -> None:
        where = f"line {line}: " if line is not None else ""
        super().__init__(f"{where}{detail}", path=path,
                         fix="fix the file by hand (or restore it from a backup) and run the check again")
        self.line = line
        self.reason = detail


def decode(data: bytes) -> str:
    """Bytes → text that encodes back to exactly the same bytes."""
    return data.decode("utf-8", "surrogateescape")


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def line_of(text: str, offset: int) -> int:
    """1-based line number of a character offset."""
    return text.count("\n", 0, offset) + 1


def unified_diff(path: str, old: str | None, new: str) -> str:
    """A unified diff of one file, in the form `diff -u` prints (a/ and b/ prefixes)."""
    old_lines = (old or "").splitlines(keepends=True)
    new_lines = new.splitlines(keepends=True)
    out = []
    for line in difflib.unified_diff(old_lines, new_lines,
                                     fromfile="/dev/null" if old is None else f"a{path}",
                                     tofile=f"b{path}"):
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def append_line(text: str, line: str) -> str:
    """`text` with `line` added as a new last line (adding the missing newline before it, if any)."""
    if text and not text.endswith("\n"):
        text += "\r\n" if text.endswith("\r") else "\n"
    return text + line + "\n"

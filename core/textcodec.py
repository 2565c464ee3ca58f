"""Provides lossless text for config files: bytes decoded with `surrogateescape` (any byte sequence —
Latin-1 comments, CRLF line ends, a missing final newline — comes back out exactly as it went in),
and unified diffs in the form `diff -u` prints."""

from __future__ import annotations

import difflib


def decode(data: bytes) -> str:
    """Bytes → text that encodes back to exactly the same bytes."""
    return data.decode("utf-8", "surrogateescape")


def encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


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

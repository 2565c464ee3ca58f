"""Provides FormatMatcher: recognise a printf format string from the sources in a log line, in linear time.

A format ("vfio %s: group %d is not viable") is split into literal chunks and conversions. Matching
is a left-to-right str.find of each chunk, with the gap between two chunks checked against the
conversion's type (an integer for %d, hex for %x, any text up to MAX_GAP characters for %s/%pe/%m).
There is no regex and no backtracking: the work per line is bounded by MAX_STARTS occurrences of
the first chunk times (chunks x MAX_GAP), whatever the line holds. Values come back named by the
words before them ("group %d" -> group, "BAR %d" -> bar) or by their shape (a PCI address -> bdf).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_GAP = 240
"""The longest text a %s may stand for (paths, device names, an inner error message)."""
MAX_STARTS = 8
"""Occurrences of the first chunk tried per line; hostile lines repeat it a million times."""
MIN_LITERAL = 10
"""Formats with fewer literal characters than this are too generic to recognise out of context."""

_CONV = re.compile(
    r"%(?:%|[-+ #0']*(?:\d+|\*)?(?:\.(?:\d+|\*))?(?:hh|h|ll|l|L|q|j|z|Z|t)?"
    r"(?:p[A-Za-z][A-Za-z0-9]*|[diouxXcsfFeEgGaAmpn]))"
)
_INT = re.compile(r"[-+]?\d{1,40}")
_HEX = re.compile(r"(?:0[xX])?[0-9a-fA-F]{1,40}")
_BDF = re.compile(r"(?<![\w:])(?:[0-9a-fA-F]{4}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7](?!\w|:\w)")
_WORD = re.compile(r"[a-z0-9]++")
_SPACES = re.compile(r" {2,}+")
_NAMES = (
    ("iommu_group ", "group"), ("group ", "group"), ("group", "group"), ("bar ", "bar"), ("domain ", "dom"),
    ("driver ", "drv"), ("from ", "drv"), ("module ", "mod"), ("vm='", "vm"), ("process ", "pid"),
    ("memlock (", "bytes"), ("vfio_dma_map(", "dma"),
)


@dataclass(frozen=True)
class _Conv:
    kind: str
    """int, hex, char or text."""
    name: str
    """The value's name in the finding (group, bdf, err...) or sN."""


def _kind(spec: str) -> str:
    conv = spec[-1]
    if spec.startswith("%p") or "%p" in spec:
        return "text"
    if conv in "diu":
        return "int"
    if conv in "xXo":
        return "hex"
    if conv == "c":
        return "char"
    return "text"


def collapse(text: str) -> str:
    """Runs of spaces → one (web pages and chat tools collapse them; so do we, on both sides)."""
    return _SPACES.sub(" ", text) if "  " in text else text


class FormatMatcher:
    """One format string, compiled into chunks and typed gaps."""

    __slots__ = ("anchor", "chunks", "convs", "errno_tail", "first", "first_idx", "format", "lead", "literal")

    def __init__(self, fmt: str, *, errno_tail: bool = False) -> None:
        self.format = fmt
        text = collapse(fmt.replace("\n", " ").strip())
        chunks: list[str] = []
        convs: list[_Conv] = []
        pos = 0
        lit = ""
        for m in _CONV.finditer(text):
            lit += text[pos:m.start()]
            pos = m.end()
            if m.group(0) == "%%":
                lit += "%"
                continue
            kind = _kind(m.group(0))
            if convs and not lit and len(chunks) == len(convs):  # "%llx%s": one gap of any text
                convs[-1] = _Conv("text", convs[-1].name)
                continue
            if (convs and lit in (":", ".") and kind in ("int", "hex") and convs[-1].kind == "text"
                    and len(chunks) == len(convs)):  # "%s:%u:%u": a SCSI/PCI-style address, one gap of text
                lit = ""
                continue
            chunks.append(lit)
            convs.append(_Conv(kind, _name_for(lit, len(convs))))
            lit = ""
        chunks.append(lit + text[pos:])
        if errno_tail:  # virReportSystemError / error_setg_errno / LOGE append ": <strerror>"
            chunks[-1] += ": "
            convs.append(_Conv("text", "err"))
            chunks.append("")
        self.lead = chunks[0] == "" and bool(convs)
        self.chunks = tuple(chunks)
        self.convs = tuple(convs)
        self.literal = sum(len(c.strip()) for c in chunks)
        self.errno_tail = errno_tail
        self.anchor = max(chunks, key=len)  # a line without it cannot match: the scanner's cheap pre-test
        self.first_idx = next((i for i, c in enumerate(chunks) if c), -1)
        self.first = chunks[self.first_idx] if self.first_idx >= 0 else ""

    def words(self) -> list[str]:
        """Whole lowercase words of the literal text (a word cut by a conversion is not whole)."""
        out: list[str] = []
        for i, chunk in enumerate(self.chunks):
            low = chunk.lower()
            for m in _WORD.finditer(low):
                if len(m.group(0)) < 3:
                    continue
                if m.start() == 0 and i > 0:
                    continue
                if m.end() == len(low) and i < len(self.chunks) - 1:
                    continue
                out.append(m.group(0))
        return out

    def match(self, line: str, lo: int = 0, hi: int | None = None) -> tuple[int, int, dict[str, str]] | None:
        """(start, end, values) of the first place in line[lo:hi] where the format matches, or None."""
        hi = len(line) if hi is None else hi
        idx, first = self.first_idx, self.first
        if idx < 0:
            return None
        at = line.find(first, lo, hi)
        tries = 0
        while at != -1 and tries < MAX_STARTS:
            tries += 1
            got = self._match_from(line, idx, at, hi)
            if got is not None:
                return got
            at = line.find(first, at + 1, hi)
        return None

    def _match_from(self, line: str, idx: int, at: int, hi: int) -> tuple[int, int, dict[str, str]] | None:
        values: dict[str, str] = {}
        start = at
        if idx > 0:  # leading conversion(s): take the value just before the first chunk
            conv = self.convs[idx - 1]
            value, start = _value_before(line, at, conv.kind)
            if value:
                values[conv.name] = value
        end = at + len(self.chunks[idx])
        for i in range(idx + 1, len(self.chunks)):
            conv = self.convs[i - 1]
            chunk = self.chunks[i]
            if not chunk:  # a trailing conversion: the rest of the line, bounded
                tail = _value_at(line, end, min(hi, end + MAX_GAP), conv.kind)
                if tail is None:
                    return None
                if tail:
                    values[conv.name] = tail
                end += len(tail)
                continue
            limit = min(hi, end + (MAX_GAP if conv.kind == "text" else 40) + len(chunk))
            nxt = line.find(chunk, end, limit)
            while nxt != -1 and not _fits(line[end:nxt], conv.kind):
                if conv.kind == "text":
                    nxt = -1
                    break
                nxt = line.find(chunk, nxt + 1, limit)
            if nxt == -1:
                return None
            if nxt > end:
                values[conv.name] = line[end:nxt]
            end = nxt + len(chunk)
        if "bdf" not in values:
            m = _BDF.search(line, max(0, start - 160), min(len(line), end + 40))
            if m:
                values["bdf"] = m.group(0)
        return start, end, values


def _name_for(literal: str, index: int) -> str:
    low = literal.lower()
    for suffix, name in _NAMES:
        if low.endswith(suffix):
            return name
    return f"s{index}"


def _fits(gap: str, kind: str) -> bool:
    if kind == "int":
        return bool(_INT.fullmatch(gap))
    if kind == "hex":
        return bool(_HEX.fullmatch(gap))
    if kind == "char":
        return len(gap) == 1
    return len(gap) <= MAX_GAP


def _value_at(line: str, pos: int, hi: int, kind: str) -> str | None:
    piece = line[pos:hi]
    if kind == "text":
        return piece.rstrip()
    rx = _INT if kind == "int" else _HEX if kind == "hex" else None
    if rx is None:
        return piece[:1] if piece else None
    m = rx.match(piece)
    return m.group(0) if m else None


def _value_before(line: str, at: int, kind: str) -> tuple[str, int]:
    if kind in ("int", "hex"):
        j = at
        while j > 0 and j > at - 20 and (line[j - 1].isalnum() or line[j - 1] == "-"):
            j -= 1
        return line[j:at], j
    # text: back to the previous ": " or the start of the line, at most 80 characters
    lo = max(0, at - 80)
    cut = line.rfind(": ", lo, max(lo, at - 1))
    j = cut + 2 if cut != -1 else lo
    return line[j:at].strip(), j

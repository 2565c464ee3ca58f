"""What the explain scanner (core/explain/scan.py) found: matched lines and the counts around them."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from vfio_tui.core.explain.model import CauseEntry

MAX_KEPT_LINES = 200


@dataclass
class LineMatch:
    """One pattern of one cause matched in one line."""

    entry: CauseEntry
    values: dict[str, str]
    line: str
    matched: str
    offset: int
    message_id: str = ""
    """The inventory message (project:hash) when a source format matched, else ""."""


@dataclass
class ScanResult:
    matches: list[LineMatch] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    """Matches not kept per cause id (beyond MAX_PER_CAUSE), still counted as occurrences."""
    context_lines: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_KEPT_LINES))
    unmatched_candidates: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_KEPT_LINES))
    supporting: deque[tuple[str, str]] = field(default_factory=lambda: deque(maxlen=MAX_KEPT_LINES))
    """(cause id or "", line) for source messages mapped to "context"."""
    tail: bytes = b""
    candidates: int = 0
    bytes: int = 0
    repeats: int = 0
    """Candidate lines skipped because an identical line (digits aside) matched nothing before."""
    truncated: bool = False
    budget_lines: int = 0
    """Lines where MAX_TRIES_PER_LINE stopped the matching (only hostile or pasted-document lines)."""

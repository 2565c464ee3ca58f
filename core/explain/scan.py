"""Provides Scanner: a streaming, prefiltered line matcher over bytes of any encoding.

Speed comes from never running a regex on a line that cannot match: each block of input is
searched with bytes.find for a few case-exact gate literals (GATES); only the lines around a hit
are decoded, checked for the catalog's keywords in one regex call, and then tried against the
patterns of the causes whose keywords they contain. A 50 MB log is one find() pass per gate.
Memory stays bounded: per cause only the first MAX_PER_CAUSE matches and the latest one are kept.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from core.explain.model import CauseEntry

BLOCK = 4 << 20
"""Bytes read per step."""
MAX_LINE = 64 << 10
"""A line longer than this is cut into pieces (binary garbage, minified JSON)."""
EVIDENCE_CHARS = 400
MAX_PER_CAUSE = 50
MAX_KEPT_LINES = 200
TAIL_BYTES = 64 << 10
"""The end of the input is kept to pick "relevant lines" when nothing matched."""

#: The prefilter: case-exact literals, one bytes.find pass each over every block. Every catalog message
#: contains one of them (QEMU prefixes its VFIO errors with "vfio:" / "vfio <BDF>:", the kernel with
#: "vfio-pci <BDF>:" or "vfio_iommu_type1_..."); the catalog tests prove it for each real message.
#: Few gates is what makes a 50 MB log take well under a second; the per-cause keywords and regexes
#: only run on the lines a gate let through.
GATES: tuple[bytes, ...] = (
    b"vfio", b"VFIO", b"iommu", b"IOMMU", b"not viable", b"PCI d", b"locked memory", b"write error",
    b"assignable", b"Performance may", b"AMD-Vi", b"passthrough", b"could not access", b"active device",
    b"matching", b"DMAR-IR", b"bus reset",
    # SR-IOV (catalog/sriov.toml): sriov_numvfs writes, the PF driver's refusals, libvirt's VF MAC/VLAN
    b"SR-IOV", b"SRIOV", b"sriov_numvfs", b"VFs already", b"Cannot set interface",
)

#: Lines worth remembering for the checks even when no cause matches them
#: (the QEMU command line, interrupt-remapping status, the libvirt URI).
CONTEXT_KEYWORDS: tuple[str, ...] = ("guest=", "qemu:///", "dmar-ir", "interrupt remapping", "irq remapping",
                                     "intremap")

#: libvirt quotes QEMU's stderr after "qemu unexpectedly closed the monitor: ..." (L14); QEMU prefixes
#: each of its messages with the binary name. Splitting there keeps one message's "(?P<err>.+)" from
#: swallowing the next one. The seed's copy lost the space before "qemu-kvm:" ("...627255Zqemu-kvm:").
QEMU_PREFIX = re.compile(r"(?:qemu-system-[\w.+-]+|qemu-kvm|qemu-kvm-rhev): ")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


@dataclass
class LineMatch:
    """One pattern of one cause matched in one line."""

    entry: CauseEntry
    values: dict[str, str]
    line: str
    matched: str
    offset: int


@dataclass
class ScanResult:
    matches: list[LineMatch] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    """Matches not kept per cause id (beyond MAX_PER_CAUSE), still counted as occurrences."""
    context_lines: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_KEPT_LINES))
    unmatched_candidates: deque[str] = field(default_factory=lambda: deque(maxlen=MAX_KEPT_LINES))
    tail: bytes = b""
    candidates: int = 0
    bytes: int = 0


def clean_line(raw: bytes) -> str:
    """Decode a line for display and matching: invalid UTF-8 and control characters are replaced."""
    text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
    # blog/web copies turn spaces into NBSP ("for\u00a0Container" in the seed)
    return _CONTROL.sub(" ", text).replace("\u00a0", " ")


class Scanner:
    """Feed bytes in any chunking; call finish() for the result."""

    def __init__(self, catalog: tuple[CauseEntry, ...]) -> None:
        self.catalog = catalog
        self._needles = list(GATES)
        words = sorted({k for e in catalog for k in e.keywords}, key=len, reverse=True)
        self._any_keyword = re.compile("|".join(re.escape(w) for w in words))
        self._context = tuple(CONTEXT_KEYWORDS)
        self._pending = b""
        self._offset = 0
        self._tail = b""
        self._kept: dict[str, int] = {}
        self._latest: dict[str, LineMatch] = {}
        self.result = ScanResult()

    def feed(self, data: bytes) -> None:
        if not data:
            return
        self.result.bytes += len(data)
        self._remember_tail(data)
        buf = self._pending + data if self._pending else data
        cut = buf.rfind(b"\n")
        if cut == -1:
            if len(buf) > MAX_LINE:  # a huge line: scan what we have, keep a little overlap
                self._scan_block(buf[:-256])
                self._pending = buf[-256:]
            else:
                self._pending = buf
            return
        self._scan_block(buf[: cut + 1])
        self._pending = buf[cut + 1:]
        if len(self._pending) > MAX_LINE:
            self._scan_block(self._pending[:-256])
            self._pending = self._pending[-256:]

    def finish(self) -> ScanResult:
        if self._pending:
            self._scan_block(self._pending + b"\n")
            self._pending = b""
        self.result.tail = self._tail
        # the most recent occurrence of a frequent cause decides its rank ("most recent attempt first")
        self.result.matches.extend(self._latest.values())
        self._latest.clear()
        return self.result

    def _remember_tail(self, data: bytes) -> None:
        self._tail = (self._tail + data[-TAIL_BYTES:])[-TAIL_BYTES:]

    def _scan_block(self, block: bytes) -> None:
        base = self._offset
        self._offset += len(block)
        spans: set[tuple[int, int]] = set()
        for needle in self._needles:
            pos = block.find(needle)
            while pos != -1:
                start = block.rfind(b"\n", 0, pos) + 1
                end = block.find(b"\n", pos)
                if end == -1:
                    end = len(block)
                if end - start > MAX_LINE:  # keep the neighbourhood of the hit only
                    start, end = max(start, pos - 2048), min(end, pos + 2048)
                spans.add((start, end))
                pos = block.find(needle, end)
        self.result.candidates += len(spans)
        for start, end in sorted(spans):
            self._match_line(clean_line(block[start:end]), base + start)

    def _match_line(self, line: str, offset: int) -> None:
        low = line.lower()
        if any(k in low for k in self._context):
            self.result.context_lines.append(line[:4096])
        found = False
        if self._any_keyword.search(low) is None:  # most gated lines: "Adding to iommu group 13" and such
            self.result.unmatched_candidates.append(line)
            return
        parts = QEMU_PREFIX.split(line)
        for part in parts:
            plow = part.lower()
            for entry in self.catalog:
                if not any(k in plow for k in entry.keywords):
                    continue
                for rx in entry.patterns:
                    m = rx.search(part)
                    if m is None:
                        continue
                    values = {k: v.strip() for k, v in m.groupdict().items() if v}
                    self._keep(LineMatch(entry, values, _evidence(line, m.group(0)), m.group(0), offset))
                    found = True
                    break
        if not found:
            self.result.unmatched_candidates.append(line)

    def _keep(self, match: LineMatch) -> None:
        cid = match.entry.id
        kept = self._kept.get(cid, 0)
        if kept < MAX_PER_CAUSE:
            self._kept[cid] = kept + 1
            self.result.matches.append(match)
            return
        if cid in self._latest:
            self.result.dropped[cid] = self.result.dropped.get(cid, 0) + 1
        self._latest[cid] = match


def _evidence(line: str, matched: str) -> str:
    """The line as evidence, cut around the match when it is very long."""
    line = line.strip()
    if len(line) <= EVIDENCE_CHARS:
        return line
    at = line.find(matched)
    start = max(0, at - 120) if at >= 0 else 0
    piece = line[start:start + EVIDENCE_CHARS]
    return ("…" if start else "") + piece + ("…" if start + EVIDENCE_CHARS < len(line) else "")

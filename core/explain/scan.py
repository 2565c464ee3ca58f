"""Provides Scanner: a streaming, prefiltered, linear-time line matcher over bytes of any encoding.

Speed: each block is lowercased once and searched with bytes.find for a few gate literals (GATES);
only the lines around a hit are decoded, normalized (core/explain/normalize.py: escapes, typography,
JSON records, wrapped lines) and looked up in a word index that names the few causes and source
messages (core/explain/sources.py) whose text could be in the line. A line that matched nothing is
remembered with its digits removed, so the thousandth "DMAR: DRHD: handling fault status reg 2"
costs a dict lookup.

Safety: work per line is bounded whatever the input holds. A physical line is cut at MAX_LINE for
matching (longer ones are matched in windows around at most MAX_HITS_PER_LINE gate hits); catalog
regexes run only in a window around their keyword; source formats are matched without regexes
(core/explain/fmtmatch.py). Memory is bounded too: per cause the first MAX_PER_CAUSE matches and the
latest one are kept, at most MAX_KEPT_LINES other lines, and the last TAIL_BYTES of input.
"""

from __future__ import annotations

import re

from vfio_tui.core.explain.gates import CONTEXT_KEYWORDS, FOLLOW, FOLLOW_AT, FOLLOW_NEEDLE, GATES, NEEDLES, SEARCHED
from vfio_tui.core.explain.model import CauseEntry
from vfio_tui.core.explain.normalize import is_record_start, join_wrapped, normalize_line
from vfio_tui.core.explain.scanresult import LineMatch, ScanResult
from vfio_tui.core.explain.sources import MessageMatcher
from vfio_tui.core.explain.wordindex import WORDS, IndexItem, build_index

__all__ = ["BLOCK", "GATES", "SEARCHED", "LineMatch", "ScanResult", "Scanner", "clean_line"]

BLOCK = 4 << 20
"""Bytes read per step."""
MAX_LINE = 16 << 10
"""The per-line cap: a longer line is only matched in windows around its gate hits."""
MAX_HITS_PER_LINE = 32
MAX_WORDS_PER_LINE = 96
"""Indexed words looked up per line at most, in order of appearance (real lines have at most ~25)."""
MAX_TRIES_PER_LINE = 200
"""Source formats and catalog regexes tried per line at most (real lines need a few dozen; a hostile line
that names every indexed word stops here)."""
MAX_SCAN_PER_LINE = 1 << 20
"""Characters the anchor pre-tests of one line may read (a 16 KiB line: 64 pre-tests, a 200-byte line: 5000)."""
WINDOW = 2048
"""Bytes either side of a gate hit inside an over-long line; also the regex window around a keyword."""
EVIDENCE_CHARS = 400
MAX_PER_CAUSE = 50
TAIL_BYTES = 64 << 10
"""The end of the input is kept to pick "relevant lines" when nothing matched."""
MAX_WRAP = 3
"""Continuation lines joined to a record wrapped by a terminal, `fold` or a browser."""
MAX_WRAPPED = 1024
"""Physical lines longer than this are never joined with their neighbours (a wrapped line is short)."""

#: libvirt quotes QEMU's stderr after "qemu unexpectedly closed the monitor: ..." (L14); QEMU prefixes
#: each of its messages with the binary name (Proxmox's is "kvm"). Splitting there keeps one message's
#: "(?P<err>.+)" from swallowing the next one. The seed's copy lost the space before "qemu-kvm:".
QEMU_PREFIX = re.compile(r"(?:qemu-(?:system-[\w.+-]{1,40}|kvm(?:-rhev)?)|(?<![\w-])kvm): ")
#: The PCI address right before a message ("vfio 0000:02:00.0: group 13 is not viable"), for the catalog
#: patterns that start at the message itself.
_BDF_BEFORE = re.compile(r"([0-9a-fA-F]{4}:[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7])[:,]? {0,2}(?:vfio:? ?)?$")
_DIGITS = b"0123456789"


class Scanner:
    """Feed bytes in any chunking; call finish() for the result."""

    def __init__(self, catalog: tuple[CauseEntry, ...], messages: tuple[MessageMatcher, ...] = (),
                 *, max_bytes: int | None = None) -> None:
        self.index = build_index(catalog, messages)
        self._context = CONTEXT_KEYWORDS
        self._pending = b""
        self._offset = 0
        self._tail = b""
        self._kept: dict[str, int] = {}
        self._latest: dict[str, LineMatch] = {}
        self._nothing: set[bytes] = set()
        self._follow_next = False
        self.max_bytes = max_bytes
        self.result = ScanResult()

    @property
    def full(self) -> bool:
        """The size cap is reached: the caller stops reading."""
        return self.max_bytes is not None and self.result.bytes >= self.max_bytes

    def feed(self, data: bytes) -> None:
        if not data:
            return
        if self.max_bytes is not None and self.result.bytes + len(data) > self.max_bytes:
            data = data[: max(0, self.max_bytes - self.result.bytes)]
            self.result.truncated = True
            if not data:
                return
        self.result.bytes += len(data)
        self._tail = (self._tail + data[-TAIL_BYTES:])[-TAIL_BYTES:]
        buf = self._pending + data if self._pending else data
        cut = buf.rfind(b"\n")
        if cut == -1:
            if len(buf) > MAX_LINE:  # a huge line: scan what we have, keep a little overlap
                self._scan_block(buf[:-256])
                self._pending = buf[-256:]
            else:
                self._pending = buf
            return
        cut = self._record_cut(buf, cut)
        if cut >= 0:
            self._scan_block(buf[: cut + 1])
        self._pending = buf[cut + 1:]
        if len(self._pending) > MAX_LINE:
            self._scan_block(self._pending[:-256])
            self._pending = self._pending[-256:]

    @staticmethod
    def _record_cut(buf: bytes, cut: int) -> int:
        """Where this block ends: before the last record start among its last few short lines.

        A record wrapped over several physical lines (a terminal, `fold`, an e-mail) must reach the
        matcher in one piece, so its start line waits in `_pending` with the lines that follow it.
        """
        end = cut
        for _ in range(2 * MAX_WRAP + 1):
            start = buf.rfind(b"\n", max(0, end - MAX_WRAPPED - 1), end) + 1
            if start == 0 and end > MAX_WRAPPED:
                return cut  # a long line: never wrapped, nothing to keep together
            if is_record_start(buf[start:min(end, start + 160)].decode("utf-8", errors="replace")):
                return start - 1  # -1: the whole buffer is one record still being written
            if start == 0:
                return cut
            end = start - 1
        return cut

    def finish(self) -> ScanResult:
        if self._pending:
            self._scan_block(self._pending + b"\n")
            self._pending = b""
        self.result.tail = self._tail
        # the most recent occurrence of a frequent cause decides its rank ("most recent attempt first")
        self.result.matches.extend(self._latest.values())
        self._latest.clear()
        return self.result

    # ------------------------------------------------------------------ blocks and lines

    def _scan_block(self, block: bytes) -> None:
        base = self._offset
        self._offset += len(block)
        low = block.lower()
        spans: dict[int, int] = {}
        long_hits: dict[int, list[int]] = {}
        find, rfind, size = low.find, low.rfind, len(low)
        # phase 1: where the gates are, one C call per hit. Hits close together may be a hostile
        # over-long line ("vfio vfio vfio ..."): there, only one hit per WINDOW bytes is kept.
        hits: list[int] = []
        add = hits.append
        follow: list[int] = []
        for needle in NEEDLES:
            step = len(needle)
            prev = -WINDOW
            pos = find(needle)
            if needle == FOLLOW_NEEDLE:
                start_of_follow = len(hits)
            while pos != -1:
                add(pos)
                if pos - prev < 256 and pos > MAX_LINE and rfind(b"\n", pos - MAX_LINE, pos) == -1:
                    prev, pos = pos, find(needle, pos + WINDOW)
                else:
                    prev, pos = pos, find(needle, pos + step)
            if needle == FOLLOW_NEEDLE:
                at = FOLLOW_AT
                follow = [p for p in hits[start_of_follow:] if p >= at and low.startswith(FOLLOW, p - at)]
        # the line after virsh's "Failed to start domain 'NAME'" holds libvirt's reason
        if self._follow_next and size:  # the previous block ended with such a line
            add(0)
        self._follow_next = False
        for pos in follow:
            end = find(b"\n", pos, pos + 300)
            if end != -1 and low[end - 1:end] == b"'":
                if end + 1 < size:
                    add(end + 1)
                else:
                    self._follow_next = True
        # phase 2: the lines they are in, each once
        hits.sort()
        line_end = long_start = long_end = -1
        for pos in hits:
            if pos < line_end:
                continue
            if long_start <= pos < long_end:  # inside the over-long line of the previous hit
                line_hits = long_hits[long_start]
                if len(line_hits) < MAX_HITS_PER_LINE:
                    line_hits.append(pos)
                continue
            start = rfind(b"\n", 0, pos) + 1
            end = find(b"\n", pos)
            if end == -1:
                end = size
            if end - start <= MAX_LINE:
                spans[start] = line_end = end
                continue
            # an over-long line: only the neighbourhood of a bounded number of hits is matched
            long_start, long_end = start, end
            long_hits[start] = [pos]
        for start, line_hits in long_hits.items():
            line_end = low.find(b"\n", start)
            line_end = len(low) if line_end == -1 else line_end
            covered = -1
            for pos in line_hits:  # windows that do not overlap: each byte is matched once at most
                if pos < covered:
                    continue
                lo, hi = max(start, pos - WINDOW, covered), min(line_end, pos + WINDOW)
                spans[lo] = hi
                covered = hi
        self.result.candidates += len(spans)
        done_until = -1
        nothing = self._nothing
        repeats = 0
        for start, end in sorted(spans.items()) if long_hits else spans.items():  # phase 2 added them in order
            if end <= done_until:
                continue
            key = block[start:end].translate(None, _DIGITS)
            if key in nothing:  # most candidate lines of a big log are copies of one seen (digits aside)
                repeats += 1
                continue
            first, last, text = self._record(block, start, end)
            done_until = last
            if not self._match_line(normalize_line(text), base + first):
                nothing.add(key)  # nothing, or only context: the next copy costs a set lookup
        self.result.repeats += repeats

    def _record(self, block: bytes, start: int, end: int) -> tuple[int, int, str]:
        """The logical record around block[start:end]: joined with wrapped continuation lines.

        Only short physical lines (at most MAX_WRAPPED bytes, as a terminal, `fold` or a browser cuts
        them) are joined, so a record never grows beyond (2 * MAX_WRAP + 1) * MAX_WRAPPED bytes.
        """
        text = block[start:end].decode("utf-8", errors="replace")
        if end - start > MAX_WRAPPED:
            return start, end, text
        parts = [text]
        first, last = start, end
        # a continuation line (no timestamp or program prefix) belongs to the line before it
        lines_back = 0
        while lines_back < MAX_WRAP and first > 0 and parts[0].strip() and not is_record_start(parts[0]):
            cut = block.rfind(b"\n", max(0, first - 2 - MAX_WRAPPED), first - 1)
            if cut == -1 and first - 1 > MAX_WRAPPED:
                break  # the line before is not a short physical line
            prev_start = cut + 1
            prev = block[prev_start:first - 1].decode("utf-8", errors="replace")
            if len(prev.rstrip()) < 60:
                break
            parts.insert(0, prev)
            first = prev_start
            lines_back += 1
        while len(parts) < 2 * MAX_WRAP + 1 and len(parts[-1].rstrip()) >= 60 and last < len(block):
            nxt_end = block.find(b"\n", last + 1, last + 2 + MAX_WRAPPED)
            if nxt_end == -1:
                if len(block) - last - 1 > MAX_WRAPPED:
                    break
                nxt_end = len(block)
            nxt = block[last + 1:nxt_end].decode("utf-8", errors="replace")
            if not nxt.strip() or is_record_start(nxt):
                break
            parts.append(nxt)
            last = nxt_end
        return first, last, join_wrapped(parts) if len(parts) > 1 else text

    def _match_line(self, line: str, offset: int) -> bool:
        """Try the line; True when a cause matched (each copy of such a line counts and may be evidence).

        The work is bounded whatever the line holds: a source format is only tried when its longest
        literal is in the line, and at most MAX_TRIES_PER_LINE formats/regexes are tried, in the order
        their index words first appear in the line (a real line needs a few dozen at most).
        """
        low = line.lower()
        if any(k in low for k in self._context):
            self.result.context_lines.append(line[:4096])
        by_word = self.index.by_word
        items: list[IndexItem] = []
        words = MAX_WORDS_PER_LINE
        for word in dict.fromkeys(WORDS.findall(low)):
            got = by_word.get(word)
            if got:
                items.extend(got)
                words -= 1
                if not words:
                    self.result.budget_lines += 1
                    break
        if not items:
            self.result.unmatched_candidates.append(line[:4096])
            return False
        parts = QEMU_PREFIX.split(line) if len(line) < MAX_LINE else [line]
        found = False
        tried: set[str] = set()  # one match per cause and line: its own regex or a source format, not both
        regexed: set[str] = set()
        budget = MAX_TRIES_PER_LINE
        scans = MAX_SCAN_PER_LINE // max(1, len(line))  # pre-tests of anchors, each a pass over the line
        for item in items:
            entry = item.entry
            if entry is not None and entry.id in tried:
                continue
            mm = item.message
            if mm is not None:
                scans -= 1
                if scans < 0:
                    self.result.budget_lines += 1
                    break
                if mm.matcher.anchor not in line:
                    continue
                budget -= 1
                if budget < 0:
                    self.result.budget_lines += 1
                    break
                if self._try_message(item, line, low, parts, offset):
                    found = True
                    tried.add(entry.id if entry else "")
                continue
            assert entry is not None
            if item.keyword not in low or item.keyword in regexed:
                continue
            budget -= 1
            if budget < 0:
                self.result.budget_lines += 1
                break
            regexed.add(item.keyword)
            if self._try_regexes(entry, line, parts, offset):
                found = True
                tried.add(entry.id)
        if not found:
            self.result.unmatched_candidates.append(line[:4096])
        return found

    def _try_regexes(self, entry: CauseEntry, line: str, parts: list[str], offset: int) -> bool:
        for part in parts:
            plow = part.lower()
            hit = next((plow.find(k) for k in entry.keywords if k in plow), -1)
            if hit < 0:
                continue
            lo, hi = (0, len(part)) if len(part) <= 2 * WINDOW else (max(0, hit - WINDOW // 2), hit + WINDOW)
            for rx in entry.patterns:
                m = rx.search(part, lo, hi)
                if m is None:
                    continue
                values = {k: v.strip() for k, v in m.groupdict().items() if v}
                if "bdf" not in values:  # the device is named before the message ("vfio 0000:02:00.0: ...")
                    near = _BDF_BEFORE.search(part, max(0, m.start() - 160), m.start())
                    if near:
                        values["bdf"] = near.group(1)
                self._keep(LineMatch(entry, values, _evidence(line, m.group(0)), m.group(0), offset))
                return True
        return False

    def _try_message(self, item: IndexItem, line: str, low: str, parts: list[str], offset: int) -> bool:
        mm = item.message
        assert mm is not None
        req = mm.mapping.requires
        if req and not any(r in low for r in req.split("|")):
            return False
        for part in parts:
            got = mm.matcher.match(part)
            if got is None:
                continue
            start, end, values = got
            matched = part[start:end]
            if item.entry is None:  # a "context" message: it supports a cause, it is not one
                self.result.supporting.append((mm.mapping.cause or "", _evidence(line, matched)))
                return False
            values = {k: v.strip() for k, v in values.items() if v.strip()}
            self._keep(LineMatch(item.entry, values, _evidence(line, matched), matched, offset,
                                 mm.mapping.message.id))
            return True
        return False

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


def clean_line(raw: bytes) -> str:
    """Decode and normalize one line for display (kept for callers outside the scanner)."""
    return normalize_line(raw.decode("utf-8", errors="replace"))

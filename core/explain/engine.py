"""Provides explain_text() and explain_stream(): text in, ranked findings out.

Precision over recall: a finding needs a catalog pattern built from a real message; everything
else only appears among the "relevant lines" of a report with no known cause.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING

from vfio_tui.core.address import PciAddress
from vfio_tui.core.errors import VfioError
from vfio_tui.core.explain.catalog import load_catalog
from vfio_tui.core.explain.checks import run_check
from vfio_tui.core.explain.model import (
    SEVERITY_RANK,
    Candidate,
    CauseEntry,
    CheckOutcome,
    ExplainContext,
    ExplainReport,
    Finding,
)
from vfio_tui.core.explain.normalize import safe_text
from vfio_tui.core.explain.scan import BLOCK, LineMatch, Scanner, ScanResult, clean_line
from vfio_tui.core.explain.sources import message_matchers
from vfio_tui.core.loginput import MAX_INPUT

if TYPE_CHECKING:
    from vfio_tui.core.host import Host

MAX_EVIDENCE = 6

#: Placeholders left in a title or fix when the log did not say the value.
_PLACEHOLDER = {"group": "N", "bdf": "BDF", "drv": "DRIVER", "dom": "the other domain", "err": "error",
                "bytes": "N", "mod": "vfio-pci", "vm": "VM", "bar": "N", "rc": "error", "name": "NAME",
                "nodedev": "pci_DDDD_BB_SS_F"}
_FIELD = re.compile(r"\{(\w{1,32})\}")

_RAM = re.compile(r"(?:^|\s)-m (?:size=)?(\d{1,12})([kKmMgGtT]?)\b")
_GUEST = re.compile(r"guest=([^,\s\\]{1,200})|\(vm='([^']{1,200})'\)")
_HOSTDEV = re.compile(r"\"host\":\"([0-9A-Fa-f:.]{1,16})\"|host=([0-9A-Fa-f]{2,4}:[0-9A-Fa-f:.]{1,16})")
_URI = re.compile(r"qemu:///(?:system|session)|qemu\+\w{1,16}://[^\s'\"]{1,200}")
_VFIO_DEVICE = re.compile(r"vfio-pci|<hostdev|hostpci\d|\bhostdev\d", re.IGNORECASE)
MAX_SEEN = 20
COLLECT = (
    "virsh start VM 2>&1 | vfio-tui explain -        (libvirt's own error for the failed start)",
    "vfio-tui explain --vm VM                        (libvirt's last error, the QEMU log, the kernel lines)",
    "vfio-tui explain /var/log/libvirt/qemu/VM.log   (QEMU's stderr from the start attempt)",
    "journalctl -k -b --no-pager | vfio-tui explain -  (kernel: vfio-pci, DMAR/AMD-Vi, IOMMU, PCI reset lines)",
    "journalctl -u libvirtd -u virtqemud -b --no-pager | vfio-tui explain -",
    "vfio-tui snapshot host.json                     (this host's groups, drivers and settings, for a bug report)",
)
_RELEVANT = re.compile(r"error|fail|denied|cannot|could not|unable|not permitted|not viable|vfio|iommu")
"""Searched in the lowercased line (faster than IGNORECASE on long lines)."""


def substitute(template: str, values: dict[str, str]) -> str:
    """Fill {name} placeholders from the captured groups; unknown names get a readable placeholder."""

    def repl(m: re.Match[str]) -> str:
        key = m.group(1)
        if key in values:
            return values[key]
        return _PLACEHOLDER.get(key, m.group(0))

    return _FIELD.sub(repl, template)


def _normalise_values(values: dict[str, str]) -> dict[str, str]:
    """Fold alternates (bdf2 → bdf) and drop stray quotes/punctuation."""
    out: dict[str, str] = {}
    for key, value in values.items():
        base = key.rstrip("0123456789") or key
        out.setdefault(base, value.strip().rstrip(".,;:'\""))
    if "bdf" in out:
        try:
            out.setdefault("nodedev", PciAddress.parse(out["bdf"]).nodedev_name)
        except VfioError:
            pass
    return out


def _context(result: ScanResult, uri: str | None) -> ExplainContext:
    ctx = ExplainContext(uri=uri)
    # newest first: the QEMU command line of the last start attempt wins
    lines = [*result.context_lines, *(m.line for m in result.matches), *result.unmatched_candidates,
             *(line for _, line in result.supporting)]
    for line in reversed(lines):
        if ctx.vm is None and (g := _GUEST.search(line)):
            ctx.vm = g.group(1) or g.group(2)
        if "vfio-pci" in line or "guest=" in line:
            if ctx.ram_bytes is None and (r := _RAM.search(line)):
                unit = (r.group(2) or "m").lower()
                ctx.ram_bytes = int(r.group(1)) * {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[unit]
            for h in _HOSTDEV.finditer(line):
                bdf = h.group(1) or h.group(2)
                if bdf not in ctx.hostdevs:
                    ctx.hostdevs.append(bdf)
        if not ctx.vfio_device and _VFIO_DEVICE.search(line):
            ctx.vfio_device = True
        if ctx.uri is None and (u := _URI.search(line)):
            ctx.uri = u.group(0)
        low = line.lower()
        if any(k in low for k in ("dmar-ir", "interrupt remapping", "irq remapping", "intremap")):
            ctx.kernel_lines.append(line)
    return ctx


@dataclass
class _Acc:
    entry: CauseEntry
    values: dict[str, str]
    evidence: list[str]
    matched: list[str]
    first: int
    last: int
    count: int = 1
    messages: list[str] | None = None


def _finding_key(entry: CauseEntry, values: dict[str, str]) -> tuple[str, str]:
    for name in ("group", "bdf", "vid", "mod", "name"):
        if name in values:
            return entry.id, values[name]
    return entry.id, ""


def _accumulate(matches: list[LineMatch], dropped: dict[str, int]) -> list[_Acc]:
    accs: dict[tuple[str, str], _Acc] = {}
    for m in matches:
        values = _normalise_values(m.values)
        key = _finding_key(m.entry, values)
        if key[1] == "" and any(k[0] == m.entry.id for k in accs):
            # a hint line without the number (E05's "Please ensure...") joins the numbered finding
            key = max((k for k in accs if k[0] == m.entry.id), key=lambda k: accs[k].last)
            hint = True
        else:
            hint = False
        acc = accs.get(key)
        if acc is None:
            accs[key] = _Acc(m.entry, values, [m.line], [m.matched], m.offset, m.offset,
                             messages=[m.message_id] if m.message_id else [])
            continue
        if m.message_id and acc.messages is not None and m.message_id not in acc.messages:
            acc.messages.append(m.message_id)
        if not hint:
            acc.count += 1
            acc.last = m.offset
        for k, v in values.items():
            acc.values.setdefault(k, v)
        if m.line not in acc.evidence and len(acc.evidence) < MAX_EVIDENCE:
            acc.evidence.append(m.line)
            acc.matched.append(m.matched)
    for cid, extra in dropped.items():
        for key, acc in accs.items():
            if key[0] == cid:
                acc.count += extra
                break
    return list(accs.values())


def _rank(acc: _Acc) -> tuple[int, int, int, int]:
    # Specific causes before wrappers, errors before warnings, then the entry's priority, then the
    # most recent occurrence (a log often holds several start attempts; the last one matters).
    return (1 if acc.entry.wrapper else 0, SEVERITY_RANK[acc.entry.severity], -acc.entry.priority, -acc.last)


def _build(acc: _Acc, host: Host | None, ctx: ExplainContext, cache: dict[str, object],
           wraps: str | None = None, catalog: dict[str, CauseEntry] | None = None) -> Finding:
    entry, values = acc.entry, acc.values
    title, explanation, fix, check_id = entry.title, entry.explanation, entry.fix, entry.check
    for variant in entry.variants:
        if variant.applies(values):
            title = variant.title or title
            explanation = variant.explanation or explanation
            fix = variant.fix or fix
            check_id = check_id if variant.check is None else (variant.check or None)
            break
    check = _safe_check(run_check(check_id, host, values, ctx, cache)) if check_id and host is not None else None
    could_be: list[Candidate] = []
    if entry.wrapper and wraps is None and catalog:
        for cid in entry.could_be:
            other = catalog.get(cid)
            if other is None:
                continue
            outcome = (_safe_check(run_check(other.check, host, values, ctx, cache))
                       if other.check and host is not None else None)
            could_be.append(Candidate(cid, safe_text(substitute(other.title, values)), outcome))
    # Everything that came from the log or the host is inert text: no escape sequence or control
    # (ESC[2J, OSC 52, BEL, the 8-bit CSI U+009B) reaches a terminal, the JSON or the app's markup.
    return Finding(
        cause_id=entry.id, title=safe_text(substitute(title, values)),
        explanation=safe_text(substitute(explanation, values)), fix=_safe_lines(substitute(fix, values)),
        evidence=[safe_text(e) for e in acc.evidence], check=check, source=entry.source,
        severity=entry.severity, seed_note=entry.seed, wrapper=entry.wrapper, occurrences=acc.count,
        values={k: safe_text(v) for k, v in values.items()}, matched=[safe_text(m) for m in acc.matched],
        wraps=wraps, could_be=could_be, messages=list(acc.messages or []),
    )


def _safe_lines(text: str) -> str:
    return "\n".join(safe_text(line) for line in text.split("\n"))


def _safe_check(outcome: CheckOutcome | None) -> CheckOutcome | None:
    if outcome is None:
        return None
    return CheckOutcome(outcome.id, outcome.status, safe_text(outcome.summary),
                        tuple(safe_text(d) for d in outcome.details))


def _relevant(result: ScanResult, limit: int = 12) -> list[str]:
    """When nothing is known: candidate lines the prefilter caught, then error-looking tail lines."""
    picked: list[str] = []
    tail_lines = [clean_line(b) for b in result.tail.split(b"\n")]
    for line in [*result.unmatched_candidates, *tail_lines]:
        line = line.strip()
        if line and _RELEVANT.search(line.lower()) and line not in picked:
            picked.append(safe_text(line[:400]))
    return picked[-limit:]


def _seen(result: ScanResult) -> list[str]:
    """VFIO-related lines nobody claimed, newest last, without repeats."""
    picked: list[str] = []
    for line in [*(line for _, line in result.supporting), *result.unmatched_candidates]:
        line = safe_text(line.strip()[:400])
        if line and line not in picked:
            picked.append(line)
    return picked[-MAX_SEEN:]


def report_from_scan(result: ScanResult, host: Host | None = None, uri: str | None = None) -> ExplainReport:
    """Turn raw matches into ranked findings (and run the checks when a host is given)."""
    ctx = _context(result, uri)
    accs = sorted(_accumulate(sorted(result.matches, key=lambda m: m.offset), result.dropped), key=_rank)
    # a generic wrapper ("Failed to start domain") says nothing about VFIO unless a VFIO device is in play
    accs = [a for a in accs if not a.entry.needs_vfio_context or ctx.vfio_device
            or any(not b.entry.wrapper for b in accs)]
    if not any(a.entry.standalone and (ctx.vfio_device or not a.entry.needs_vfio_context) for a in accs):
        # e.g. only "qemu unexpectedly closed the monitor: <an unrelated QEMU error>": not ours to diagnose
        result.unmatched_candidates.extend(a.evidence[0] for a in accs)
        accs = []
    for acc in accs:
        if acc.entry.check == "memlock" and acc.values.get("bytes", "").isdigit():
            ctx.memlock_bytes = int(acc.values["bytes"])
    cache: dict[str, object] = {}
    specific = next((a.entry.id for a in accs if not a.entry.wrapper), None)
    catalog = {e.id: e for e in load_catalog()}
    findings = [_build(a, host, ctx, cache, specific if a.entry.wrapper else None, catalog) for a in accs]
    relevant = [] if findings else _relevant(result)
    seen = [] if findings else _seen(result)
    return ExplainReport(findings=findings, relevant_lines=relevant, candidate_lines=result.candidates,
                         bytes_scanned=result.bytes, seen=seen, collect=[] if findings else list(COLLECT),
                         truncated=result.truncated)


def new_scanner(max_bytes: int | None = MAX_INPUT) -> Scanner:
    return Scanner(load_catalog(), message_matchers(), max_bytes=max_bytes)


def explain_stream(fileobj: IO[bytes] | IO[str], host: Host | None = None, *, uri: str | None = None,
                   max_bytes: int | None = MAX_INPUT) -> ExplainReport:
    """Explain a file object (binary or text), read in blocks; never loads it whole, stops at max_bytes."""
    scanner = new_scanner(max_bytes)
    reader = getattr(fileobj, "buffer", None)
    source = reader if reader is not None and hasattr(reader, "read") else fileobj
    while not scanner.full:
        chunk = source.read(BLOCK)
        if not chunk:
            break
        scanner.feed(chunk if isinstance(chunk, bytes) else chunk.encode("utf-8", errors="replace"))
    if scanner.full and source.read(1):
        scanner.result.truncated = True
    return report_from_scan(scanner.finish(), host, uri)


def explain_text(text: str | bytes | Iterable[str], host: Host | None = None, *,
                 uri: str | None = None, max_bytes: int | None = MAX_INPUT) -> ExplainReport:
    """Explain a pasted virsh error, QEMU log, journal or dmesg excerpt (any mix, any order).

    `text` is a str, raw bytes (invalid UTF-8 is fine) or an iterable of lines. With a `host`,
    each finding carries the result of its automatic check against that host.
    """
    scanner = new_scanner(max_bytes)
    if isinstance(text, bytes | bytearray | memoryview):
        data = bytes(text)
        for i in range(0, len(data), BLOCK):
            scanner.feed(data[i:i + BLOCK])
    elif isinstance(text, str):
        scanner.feed(text.encode("utf-8", errors="replace"))
    else:
        buf: list[bytes] = []
        size = 0
        for item in text:  # gathered into blocks: a wrapped record must reach the scanner in one piece
            piece = (item if isinstance(item, str) else str(item)).encode("utf-8", errors="replace")
            buf.append(piece if piece.endswith(b"\n") else piece + b"\n")
            size += len(buf[-1])
            if size >= BLOCK:
                scanner.feed(b"".join(buf))
                buf, size = [], 0
        scanner.feed(b"".join(buf))
    return report_from_scan(scanner.finish(), host, uri)

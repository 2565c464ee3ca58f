"""Provides format_report(): the human-readable explain output (root cause first)."""

from __future__ import annotations

import textwrap

from vfio_tui.core.explain.model import ExplainReport, Finding

_BOLD, _RED, _YELLOW, _GREEN, _DIM, _RESET = "\x1b[1m", "\x1b[31m", "\x1b[33m", "\x1b[32m", "\x1b[2m", "\x1b[0m"
_STATUS = {"fail": "FAIL", "pass": "ok", "warn": "WARN", "unknown": "?"}


class _Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, *codes: str) -> str:
        return "".join(codes) + text + _RESET if self.color and codes else text


def _highlight(line: str, matched: str, s: _Style) -> str:
    at = line.find(matched) if matched else -1
    if at < 0 or not s.color:
        return line
    return line[:at] + s(matched, _BOLD, _RED) + line[at + len(matched):]


def _indent(text: str, prefix: str = "    ") -> str:
    return textwrap.indent(text.strip("\n"), prefix)


def _finding(f: Finding, s: _Style, *, primary: bool, with_seed: bool) -> list[str]:
    out: list[str] = []
    sev = {"error": _RED, "warning": _YELLOW, "info": _DIM}[f.severity]
    head = f"[{f.cause_id}] {f.title}"
    out.append(s(head, _BOLD, sev) if primary else s(head, _BOLD))
    if f.occurrences > 1:
        out.append(s(f"    (seen {f.occurrences} times)", _DIM))
    out.append("  Evidence:")
    for i, line in enumerate(f.evidence):
        matched = f.matched[i] if i < len(f.matched) else ""
        out.append("    > " + _highlight(line, matched, s))
    if primary:
        out.append("  Why:")
        out.append(_indent(textwrap.fill(" ".join(f.explanation.split()), 96)))
        out.append("  Fix:")
        out.append(_indent(f.fix))
    if f.check is not None:
        colour = {"fail": _RED, "pass": _GREEN, "warn": _YELLOW}.get(f.check.status, _DIM)
        out.append(f"  Check on this host: {s(_STATUS[f.check.status], _BOLD, colour)} {f.check.summary}")
        for detail in f.check.details:
            out.append(f"    - {detail}")
    if with_seed and f.seed_note:
        out.append("  The 2015 seed blog:")
        out.append(_indent(textwrap.fill(" ".join(f.seed_note.split()), 96)))
    if not primary:
        out.append("  Fix: " + f.fix.strip().splitlines()[0] + (" …" if len(f.fix.strip().splitlines()) > 1 else ""))
    out.append(s(f"  Source: {f.source}", _DIM))
    return out


def format_report(report: ExplainReport, *, color: bool = False, verbose: bool = False) -> str:
    """Root cause first (one sentence), its evidence, the fix, the check; then secondary findings."""
    s = _Style(color)
    lines: list[str] = []
    if not report.findings:
        lines.append(s("No known cause.", _BOLD) + " Nothing in the input matches a known VFIO/libvirt/QEMU/kernel "
                     "passthrough error, so vfio-tui does not guess.")
        if report.relevant_lines:
            lines.append("Lines that look most relevant:")
            lines += ["  > " + ln for ln in report.relevant_lines]
        else:
            lines.append("No line looks like an error.")
        if report.seen:
            lines.append("VFIO-related lines seen:")
            lines += ["  > " + ln for ln in report.seen]
        if report.collect:
            lines.append("Collect next:")
            lines += ["  " + c for c in report.collect]
        lines.append(s(f"({report.bytes_scanned} bytes scanned, {report.candidate_lines} candidate lines)", _DIM))
        return "\n".join(lines) + "\n"
    root = report.findings[0]
    lines.append(s("Root cause: ", _BOLD) + root.title)
    lines.append("")
    lines += _finding(root, s, primary=True, with_seed=True)
    rest = report.findings[1:]
    if rest:
        lines.append("")
        lines.append(s(f"Also found ({len(rest)}):", _BOLD))
        for f in rest:
            lines.append("")
            lines += [ln if not ln.startswith("[") else "- " + ln
                      for ln in _finding(f, s, primary=verbose, with_seed=verbose or bool(f.seed_note))]
    return "\n".join(lines) + "\n"

"""Provides the explain domain objects: catalog entries, findings, check outcomes and the report."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

Severity: TypeAlias = Literal["error", "warning", "info"]
CheckStatus: TypeAlias = Literal["fail", "pass", "warn", "unknown"]

SEVERITY_RANK: dict[str, int] = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Variant:
    """A more specific reading of a cause, chosen by the value of a named group (e.g. the errno text)."""

    when: tuple[tuple[str, re.Pattern[str]], ...]
    """(group name, regex) pairs that must all match the captured values."""
    title: str | None = None
    explanation: str | None = None
    fix: str | None = None
    check: str | None = None
    """None: inherit the entry's check; "": no check for this variant."""

    def applies(self, values: dict[str, str]) -> bool:
        return all(name in values and rx.search(values[name]) for name, rx in self.when)


@dataclass(frozen=True)
class CauseEntry:
    """One cause of the catalog (core/explain/catalog/*.toml)."""

    id: str
    title: str
    """One sentence, with {named group} placeholders."""
    severity: Severity
    priority: int
    """Higher is more specific; a wrapper (E02, E03, L14) ranks below the cause it wraps."""
    keywords: tuple[str, ...]
    """Lowercase literals; a line is only tried when it contains one of them."""
    patterns: tuple[re.Pattern[str], ...]
    explanation: str
    fix: str
    source: str
    check: str | None = None
    seed: str = ""
    """What the 2015 seed blog said about this error and whether its fix still holds."""
    wrapper: bool = False
    standalone: bool = True
    """False: only reported next to another finding (L14 says nothing by itself about VFIO)."""
    variants: tuple[Variant, ...] = ()
    could_be: tuple[str, ...] = ()
    """For a wrapper: the specific causes it may stand for (their checks tell them apart on a host)."""
    needs_vfio_context: bool = False
    """A generic wrapper ("Failed to start domain") only counts when the input shows a VFIO device."""


@dataclass(frozen=True)
class CheckOutcome:
    """The result of an automatic check against the host."""

    id: str
    status: CheckStatus
    """fail: the cause is present on this host; pass: it is not (now); warn; unknown: cannot tell."""
    summary: str
    details: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "summary": self.summary, "details": list(self.details)}


@dataclass(frozen=True)
class Candidate:
    """One specific cause a wrapper-only finding may stand for, with its check on this host."""

    cause_id: str
    title: str
    check: CheckOutcome | None

    def to_json(self) -> dict[str, Any]:
        return {"cause_id": self.cause_id, "title": self.title,
                "check": self.check.to_json() if self.check else None}


@dataclass
class ExplainContext:
    """Facts gathered from the whole input that the checks use (VM name, RAM, hostdevs, URI)."""

    vm: str | None = None
    ram_bytes: int | None = None
    hostdevs: list[str] = field(default_factory=list)
    uri: str | None = None
    kernel_lines: list[str] = field(default_factory=list)
    """Interrupt-remapping and similar kernel status lines seen in the input."""
    memlock_bytes: int | None = None
    """The locked-memory limit a kernel (K02) or libvirt (L11) line reported."""
    vfio_device: bool = False
    """The input shows a VFIO device (a vfio-pci -device, a <hostdev>, a hostpci line)."""


@dataclass(frozen=True)
class Finding:
    """One diagnosed cause with the lines that show it."""

    cause_id: str
    title: str
    explanation: str
    fix: str
    evidence: list[str]
    check: CheckOutcome | None
    source: str
    severity: Severity = "error"
    seed_note: str = ""
    wrapper: bool = False
    occurrences: int = 1
    values: dict[str, str] = field(default_factory=dict)
    """The named groups the patterns captured (group, bdf, err...)."""
    matched: list[str] = field(default_factory=list)
    """The exact matched text in each evidence line (for highlighting)."""
    wraps: str | None = None
    """For a wrapper: the cause id of the specific finding it wraps in this input."""
    could_be: list[Candidate] = field(default_factory=list)
    """For a wrapper with nothing specific in the input: what it may stand for, checked on this host."""
    messages: list[str] = field(default_factory=list)
    """Inventory ids (project:hash) of the source messages that matched."""

    def to_json(self) -> dict[str, Any]:
        return {
            "cause_id": self.cause_id,
            "title": self.title,
            "explanation": self.explanation,
            "fix": self.fix,
            "evidence": list(self.evidence),
            "check": self.check.to_json() if self.check else None,
            "source": self.source,
            "severity": self.severity,
            "seed_note": self.seed_note or None,
            "wrapper": self.wrapper,
            "occurrences": self.occurrences,
            "values": dict(self.values),
            "wraps": self.wraps,
            "could_be": [c.to_json() for c in self.could_be],
            "messages": list(self.messages),
        }


@dataclass(frozen=True)
class ExplainReport:
    """Findings best first ([] = no known cause) and, when nothing matched, the most relevant lines."""

    findings: list[Finding]
    relevant_lines: list[str]
    candidate_lines: int = 0
    """Lines the prefilter let through to the regexes."""
    bytes_scanned: int = 0
    seen: list[str] = field(default_factory=list)
    """VFIO-related lines of the input that no cause claimed (given when findings == [])."""
    collect: list[str] = field(default_factory=list)
    """What to collect next when nothing matched (exact commands)."""
    truncated: bool = False
    """The input was longer than the size cap; only its beginning was read."""

    @property
    def root_cause(self) -> Finding | None:
        return self.findings[0] if self.findings else None

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "vfio-tui/explain/1",
            "findings": [f.to_json() for f in self.findings],
            "relevant_lines": list(self.relevant_lines),
            "candidate_lines": self.candidate_lines,
            "bytes_scanned": self.bytes_scanned,
            "seen": list(self.seen),
            "collect": list(self.collect),
            "truncated": self.truncated,
        }

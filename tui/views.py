"""Provides the small records screens show (VMs, checks, plans, steps, explanations).

Backend fills them from core's objects; reading those through `attr()` keeps the screens
working while core's parts are still settling their field names.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypeAlias

StepStatus: TypeAlias = Literal["started", "done", "failed", "log"]


def attr(obj: Any, name: str) -> Any:
    """obj.name, obj[name] for mappings, or None."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def lines_of(value: Any) -> list[str]:
    """Any plan/result field as display lines: a string, a list of things, or an object with lines()."""
    if value is None:
        return []
    if isinstance(value, str):
        return value.splitlines()
    describe = getattr(value, "describe", None) or getattr(value, "lines", None)
    if callable(describe):
        return lines_of(describe())
    if isinstance(value, dict):
        return [f"{k}: {v}" for k, v in value.items()]
    if isinstance(value, list | tuple | set | frozenset):
        out: list[str] = []
        for item in value:
            out.extend(lines_of(item) if not isinstance(item, str) else [item])
        return out
    return [str(value)]


@dataclass(frozen=True)
class VmRow:
    """A libvirt domain as the VM list shows it."""

    name: str
    state: str
    hostdevs: tuple[str, ...] = ()
    """PCI addresses of the domain's <hostdev> devices."""


@dataclass(frozen=True)
class CheckRow:
    """One prerequisite check result."""

    id: str
    title: str
    status: str
    """pass, warn, fail or skip."""
    evidence: list[str] = field(default_factory=list)
    fix: str = ""
    summary: str = ""
    """One sentence: what the check concluded."""


@dataclass(frozen=True)
class PassthroughPlan:
    """What the wizard will do: shown in full before the confirm step."""

    address: str
    vm: str | None
    members: list[str]
    driver_changes: list[str]
    xml_diff: str
    undo: list[str]
    problems: list[str] = field(default_factory=list)
    """Reasons the plan is refused; a refused plan cannot be confirmed."""
    warnings: list[str] = field(default_factory=list)
    """Things to know that do not block (shown with the plan)."""
    bind_plan: Any = None
    attach_plan: Any = None


@dataclass(frozen=True)
class StepUpdate:
    """A step of the run started, finished, failed, or printed a log line."""

    name: str
    status: StepStatus
    elapsed: float = 0.0
    detail: str = ""


def step_update_from(event: Any) -> StepUpdate:
    """A core StepEvent (binding: kind/step/elapsed/error; libvirt: step/state/detail/seconds) as a
    log line of the current wizard step."""
    step = attr(event, "step") or attr(event, "name") or attr(event, "title") or "step"
    describe = getattr(step, "describe", None)
    name = str(describe()) if callable(describe) else str(step)
    status = str(attr(event, "state") or attr(event, "status") or attr(event, "kind") or "log")
    detail = str(attr(event, "detail") or attr(event, "error") or attr(event, "message") or "")
    elapsed = float(attr(event, "elapsed") or attr(event, "seconds") or 0.0)
    text = f"{name}: {status}" + (f" ({detail})" if detail else "") + (f" {elapsed:.2f}s" if elapsed else "")
    return StepUpdate(name, "log", elapsed, text)


@dataclass(frozen=True)
class Finding:
    """One probable cause of a failure, with its fix."""

    title: str
    explanation: str
    fix: str
    evidence: list[str]
    check: str
    """The automatic check's result on this host, if one ran."""


@dataclass(frozen=True)
class ExplainView:
    """The explanation panel's content."""

    findings: list[Finding]
    lines: list[str]
    """The relevant lines of the log or error."""
    note: str = ""

    @staticmethod
    def from_report(report: Any) -> ExplainView:
        findings = []
        for f in attr(report, "findings") or []:
            check = attr(f, "check")
            check_text = ""
            if check is not None:
                status = attr(check, "status")
                detail = attr(check, "summary") or attr(check, "title") or ""
                check_text = f"{status}: {detail}".strip() if status else str(check)
            findings.append(Finding(str(attr(f, "title") or attr(f, "cause_id") or "cause"),
                                    str(attr(f, "explanation") or ""), str(attr(f, "fix") or ""),
                                    lines_of(attr(f, "evidence")), check_text))
        return ExplainView(findings, lines_of(attr(report, "relevant_lines")))


@dataclass
class RunOutcome:
    """How a wizard run ended."""

    ok: bool
    steps_done: list[str]
    explanation: ExplainView | None
    cancelled: bool = False
    message: str = ""

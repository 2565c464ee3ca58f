"""Provides the result types of `vfio-tui check`: CheckResult and FixResult."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal, TypeAlias

from vfio_tui.core.configfiles import FileChange

Status: TypeAlias = Literal["pass", "warn", "fail", "n/a"]
STATUSES: Final[tuple[Status, ...]] = ("pass", "warn", "fail", "n/a")


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What one check found: its verdict, what it read, and what to do about it."""

    id: str
    """Stable identifier ("iommu-kernel"); `--fix` and the JSON use it."""
    title: str
    status: Status
    summary: str
    """One sentence: what the check concluded (or "cannot tell, because ...")."""
    evidence: tuple[str, ...] = ()
    """What was read, each "source: value" (a file, a sysfs attribute, the hypervisor)."""
    fix: str = ""
    """For warn/fail: the exact commands or file edits, for this host's bootloader and distribution."""
    fix_id: str | None = None
    """Set when `vfio-tui check --fix ID` can apply the fix (a file edit, a module load)."""
    notes: tuple[str, ...] = ()
    """Background worth knowing: obsolete advice, why a default is fine."""

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "title": self.title, "status": self.status, "summary": self.summary,
            "evidence": list(self.evidence), "fix": self.fix, "fix_id": self.fix_id, "notes": list(self.notes),
        }


def cannot_tell(check_id: str, title: str, because: str, *, evidence: tuple[str, ...] = (),
                status: Status = "n/a", fix: str = "") -> CheckResult:
    """A check that could not decide: says why instead of guessing (or raising)."""
    return CheckResult(check_id, title, status, f"cannot tell, because {because}", evidence, fix)


@dataclass(frozen=True, slots=True)
class FixResult:
    """A fix as planned (applied=False: the preview) or as applied/undone."""

    check_id: str
    fix_id: str
    applied: bool
    changes: tuple[FileChange, ...] = ()
    actions: tuple[str, ...] = ()
    """Other things done or to be done (e.g. "load module vfio_pci")."""
    messages: tuple[str, ...] = ()
    """What happened beyond the edits (a module that could not be loaded now, ...)."""
    followup: tuple[str, ...] = ()
    """Commands the user must run afterwards (update-grub, reboot). vfio-tui never runs them."""
    journal_id: str | None = None
    """The id `vfio-tui check --undo ID` / `vfio-tui restore --config ID` takes."""

    @property
    def diff(self) -> str:
        return "".join(c.diff for c in self.changes)

    def to_json(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id, "fix_id": self.fix_id, "applied": self.applied,
            "changes": [{"path": c.path, "diff": c.diff, "created": c.created, "backup": c.backup}
                        for c in self.changes],
            "actions": list(self.actions), "messages": list(self.messages), "followup": list(self.followup),
            "journal_id": self.journal_id,
        }


@dataclass(frozen=True)
class CheckSpec:
    """A registered check: its id, title and which runs it belongs to."""

    id: str
    title: str
    scope: Literal["host", "device", "vm"] = "host"
    tags: tuple[str, ...] = field(default=())

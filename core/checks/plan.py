"""Provides FixPlan: what a fix would change (file edits, module loads, follow-up commands)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from vfio_tui.core.checks.context import CheckContext
from vfio_tui.core.configfiles import FileChange


@dataclass(frozen=True)
class FixPlan:
    """A fix, fully computed from the host's current files, not yet applied."""

    fix_id: str
    check_id: str
    title: str
    edits: tuple[FileChange, ...] = ()
    load_modules: tuple[str, ...] = ()
    followup: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())


#: fix_id -> planner. Filled by the check modules (register_fix).
FIX_PLANNERS: dict[str, Callable[[CheckContext], FixPlan]] = {}


def register_fix(fix_id: str) -> Callable[[Callable[[CheckContext], FixPlan]], Callable[[CheckContext], FixPlan]]:
    def deco(fn: Callable[[CheckContext], FixPlan]) -> Callable[[CheckContext], FixPlan]:
        FIX_PLANNERS[fix_id] = fn
        return fn

    return deco

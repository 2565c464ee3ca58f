"""The binding engine: plan -> preview -> apply -> verify -> undo, with the host-usage guard,
a journal for crash recovery and a one-writer lock.

Public API (the CLI and the TUI call only these):
  plan_bind(host, address, *, force_host_devices=()) -> BindPlan
  apply_plan(host, plan, *, on_step=None, cancel=None, timeout=...) -> BindResult
  undo_plan(host, plan, *, on_step=None, timeout=...) -> {address: error}
  restore(host, addresses=None, *, all=False, on_step=None, timeout=...) -> RestoreResult
  pending_recovery(host) -> list[PendingRun]
"""

from __future__ import annotations

from typing import TYPE_CHECKING

# `restore` is also the name of a submodule: importing core.binding.restore from anywhere sets the
# package's `restore` to that module, so the function is bound here, after it (as it always was).
from vfio_tui.core.binding.restore import restore
from vfio_tui.core.lazyexports import lazy_exports

if TYPE_CHECKING:
    from vfio_tui.core.binding.apply import BindFailedError, BindResult, apply_plan, undo_plan
    from vfio_tui.core.binding.journal import LockedError
    from vfio_tui.core.binding.plan import BindPlan, DevicePlan, Refusal, Step, plan_bind
    from vfio_tui.core.binding.restore import PendingRun, RestoreResult, pending_recovery
    from vfio_tui.core.errors import PlanRefusedError
    from vfio_tui.core.steps import StepEvent

_WHERE = {
    "BindFailedError": "apply", "BindResult": "apply", "apply_plan": "apply", "undo_plan": "apply",
    "LockedError": "journal",
    "BindPlan": "plan", "DevicePlan": "plan", "Refusal": "plan", "Step": "plan", "plan_bind": "plan",
    "PendingRun": "restore", "RestoreResult": "restore", "pending_recovery": "restore",
    "PlanRefusedError": "vfio_tui.core.errors", "StepEvent": "vfio_tui.core.steps",
}
# Loaded on first use: the journal and lock are needed by every command, the engine only by `bind`.
__getattr__ = lazy_exports(__name__, _WHERE, globals())

__all__ = [
    "BindFailedError", "BindPlan", "BindResult", "DevicePlan", "LockedError", "PendingRun", "PlanRefusedError",
    "Refusal", "RestoreResult", "Step", "StepEvent", "apply_plan", "pending_recovery", "plan_bind", "restore",
    "undo_plan",
]

"""The binding engine: plan -> preview -> apply -> verify -> undo, with the host-usage guard,
a journal for crash recovery and a one-writer lock.

Public API (the CLI and the TUI call only these):
  plan_bind(host, address, *, force_host_devices=()) -> BindPlan
  apply_plan(host, plan, *, on_step=None, cancel=None, timeout=...) -> BindResult
  undo_plan(host, plan, *, on_step=None, timeout=...) -> {address: error}
  restore(host, addresses=None, *, all=False, on_step=None, timeout=...) -> RestoreResult
  pending_recovery(host) -> list[PendingRun]
"""

from vfio_tui.core.binding.apply import BindFailedError, BindResult, apply_plan, undo_plan
from vfio_tui.core.binding.journal import LockedError
from vfio_tui.core.binding.plan import BindPlan, DevicePlan, Refusal, Step, plan_bind
from vfio_tui.core.binding.restore import PendingRun, RestoreResult, pending_recovery, restore
from vfio_tui.core.errors import PlanRefusedError
from vfio_tui.core.steps import StepEvent

__all__ = [
    "BindFailedError", "BindPlan", "BindResult", "DevicePlan", "LockedError", "PendingRun", "PlanRefusedError",
    "Refusal", "RestoreResult", "Step", "StepEvent", "apply_plan", "pending_recovery", "plan_bind", "restore",
    "undo_plan",
]

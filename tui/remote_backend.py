"""Provides the app's changes to a named host: the passthrough transaction and its undo run by vfio-tui
on that host (core.remote.transaction), its steps streamed to the run screen as they happen."""

from __future__ import annotations

from vfio_tui.core.errors import InputError
from vfio_tui.core.passthrough import PassthroughPlan, RunResult, UndoResult
from vfio_tui.core.remote.hosts import load_hosts
from vfio_tui.core.remote.transaction import remote_pass, remote_undo
from vfio_tui.core.steps import OnStep


def remote_run(name: str, plan: PassthroughPlan, on_step: OnStep) -> RunResult:
    """Run the plan's passthrough on host `name` (it plans again there, against its live state)."""
    if plan.vm is None:
        raise InputError(f"binding without a VM on {name} is made from the command line",
                         fix=f"vfio-tui bind {plan.address} --on {name}")
    entry = load_hosts().get(name)
    result, _explanation = remote_pass(entry, str(plan.address), plan.vm, on_step, mode=plan.mode,
                                       start=plan.start)
    return result


def remote_undo_run(name: str, run_id: str | None, on_step: OnStep | None, *, live: bool, stop_vm: bool,
                    force: bool) -> UndoResult:
    return remote_undo(load_hosts().get(name), run_id, on_step, live=live, stop_vm=stop_vm, force=force)

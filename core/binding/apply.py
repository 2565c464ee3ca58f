"""Provides apply_plan() and undo_plan(): make a BindPlan happen, verify it, or roll it all back.

Every step is journaled before it is made (the originals fsynced once, before the first write; why
not each step: Journal.step); a step that fails, hangs past its timeout or is cancelled triggers a
rollback of everything done so far, by state (core.binding.state).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vfio_tui.core.binding.journal import APPLIED, APPLYING, JOURNAL_SCHEMA, Journal, load_journals, writer_lock
from vfio_tui.core.binding.plan import BindPlan, Step
from vfio_tui.core.binding.state import StepRunner, driver_of, override_of, return_devices, verify_group
from vfio_tui.core.clock import utc
from vfio_tui.core.errors import NeedsRootError, PlanRefusedError, VfioError
from vfio_tui.core.kernel import DEFAULT_WRITE_TIMEOUT
from vfio_tui.core.steps import OnStep

if TYPE_CHECKING:
    from vfio_tui.core.host import Host

Cancel = Callable[[], bool] | threading.Event


class BindFailedError(VfioError):
    """A bind failed and was rolled back (or could not be: then `restore --all` is the way)."""


@dataclass(frozen=True)
class BindResult:
    """What apply_plan did."""

    plan: BindPlan
    step_times: tuple[tuple[Step, float], ...]
    verify_seconds: float
    total_seconds: float
    journal: str | None
    """The journal file that records the originals (for restore); None when nothing was done."""
    problems: tuple[str, ...] = field(default=())


def needs_root(host: Host) -> bool:
    return host.paths.is_live and not host.simulated and os.geteuid() != 0


def check_interrupted(host: Host) -> None:
    """Refuse to start while an earlier run's journal says it was interrupted (or is corrupt)."""
    pending = [j for j in load_journals(host.paths) if j.status == APPLYING]
    if pending:
        raise VfioError(
            f"an interrupted vfio-tui run left group {pending[0].group} half-done "
            f"({host.paths.display(pending[0].path)})",
            fix="run `vfio-tui restore --all` first",
        )


def _cancelled(cancel: Cancel | None) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


def apply_plan(host: Host, plan: BindPlan, *, on_step: OnStep | None = None, cancel: Cancel | None = None,
               timeout: float = DEFAULT_WRITE_TIMEOUT, run_id: str | None = None) -> BindResult:
    """Apply a plan: journal, write each step, verify; on any failure roll everything back.

    Raises:
        PlanRefusedError: the plan has refusals (exit 3).
        NeedsRootError: live host, not root (lists the writes).
        LockedError: another vfio-tui holds the lock.
        BindFailedError: a step failed, hung, was cancelled, or verification failed; rolled back.
    """
    if not plan.ok:
        raise PlanRefusedError(
            "plan refused: " + "; ".join(f"{r.address}: {r.reason}" for r in plan.refused),
            fix="free the devices, or --force-host-device ADDR for one you accept to lose")
    if needs_root(host):
        raise NeedsRootError("needs root for: " + "; ".join(s.describe() for s in plan.steps),
                             fix="run it again with sudo")
    t_start = time.perf_counter()
    runner = StepRunner(host.paths, host.kernel, timeout, on_step)
    with writer_lock(host.paths, f"bind group {plan.group}"):
        check_interrupted(host)
        changed = [d.address for d in plan.devices
                   if driver_of(host.paths, d.address) != d.from_driver
                   or override_of(host.paths, d.address) != d.from_override]
        if changed:
            raise VfioError(f"the host changed since the plan was made ({changed[0]} has another driver now)",
                            fix="plan again")
        if plan.nothing_to_do:
            problems = verify_group(host.paths, plan.group, plan.endpoints, plan.kernel)
            return BindResult(plan, (), 0.0, time.perf_counter() - t_start, None, tuple(problems))
        journal = Journal.create(host.paths, hold=True, data={
            "schema": JOURNAL_SCHEMA, "group": plan.group, "target": plan.target, "pid": os.getpid(),
            "started": utc(),
            "devices": [{"address": d.address, "driver": d.from_driver, "override": d.from_override}
                        for d in plan.devices],
            "run": run_id,
            # The first step's intent rides on the journal's first (durable) save: one save fewer.
            "steps": [{"path": s.path, "value": s.value, "state": "intent" if i == 0 else "planned",
                       **({"at": time.time()} if i == 0 else {})} for i, s in enumerate(plan.steps)],
        })
        try:
            for i, step in enumerate(plan.steps):
                if _cancelled(cancel):
                    _rollback(host, runner, journal, f"cancelled before step {i + 1}/{len(plan.steps)}"
                              f" ({step.describe()})")
                if i > 0:
                    journal.step(i, "intent")
                try:
                    runner.run(step)
                except VfioError as exc:
                    journal.step(i, "failed", durable=False, error=str(exc))
                    _rollback(host, runner, journal,
                              f"step {i + 1}/{len(plan.steps)} ({step.describe()}) failed: {exc.detail}")
                except KeyboardInterrupt:
                    # Ctrl-C: put everything back before leaving (a kill -9 is left to `restore --all`).
                    _rollback(host, runner, journal, f"interrupted during step {i + 1}/{len(plan.steps)}")
            if plan.steps:
                # Not saved on its own: the status says it (mark(APPLIED) below, or the rollback's removal);
                # step records only say how far an interrupted run got, and the file is saved again when
                # restore drops some of its devices.
                journal.data["steps"][len(plan.steps) - 1]["state"] = "done"
            t_verify = time.perf_counter()
            problems = verify_group(host.paths, plan.group, plan.endpoints, plan.kernel)
            verify_seconds = time.perf_counter() - t_verify
            if problems:
                _rollback(host, runner, journal, "verification failed: " + "; ".join(problems))
            journal.mark(APPLIED)
        finally:
            journal.release()
        return BindResult(plan, tuple(runner.times), verify_seconds, time.perf_counter() - t_start,
                          host.paths.display(journal.path))


def _rollback(host: Host, runner: StepRunner, journal: Journal, why: str) -> None:
    """Put every device of the journal back, then raise BindFailedError saying why."""
    failed = return_devices(runner, journal.originals)
    if failed:
        # Leave the journal as `.applying`: the next start offers `restore --all`.
        raise BindFailedError(
            f"{why}; rollback incomplete: " + "; ".join(f"{a}: {e}" for a, e in failed.items()),
            fix="run `vfio-tui restore --all` once the device is released")
    journal.remove()
    raise BindFailedError(f"{why}; rolled back: every device is on its original driver again")


def undo_plan(host: Host, plan: BindPlan, *, on_step: OnStep | None = None,
              timeout: float = DEFAULT_WRITE_TIMEOUT) -> dict[str, str]:
    """Undo an applied plan: every device of its group back to the driver recorded before it.

    Returns {address: error} for devices that could not be put back (empty on success).
    """
    from vfio_tui.core.binding.restore import restore

    result = restore(host, [d.address for d in plan.devices], on_step=on_step, timeout=timeout)
    return dict(result.failed)


__all__ = ["APPLIED", "BindFailedError", "BindResult", "PlanRefusedError", "apply_plan", "undo_plan"]

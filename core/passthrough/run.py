"""Provides run_passthrough(): bind → verify → attach → start, with live steps and a run record.

Each phase is recorded ("intent") before it touches anything and marked done after, in the run
record that `undo_passthrough` works from. A phase that fails stops the run: binding rolls its
own writes back (the group is as it was), a failed attach leaves the definition as it was, and a
failed start leaves everything in place for the explanation (and for undo). The summary never
claims more than what happened.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vfio_tui.core.binding.apply import apply_plan, check_interrupted, needs_root
from vfio_tui.core.binding.journal import writer_lock
from vfio_tui.core.binding.state import verify_group
from vfio_tui.core.errors import NeedsRootError, PlanRefusedError, VfioError
from vfio_tui.core.kernel import DEFAULT_WRITE_TIMEOUT
from vfio_tui.core.libvirt.attach import apply_attach
from vfio_tui.core.libvirt.failure import FailureRecord, save_failure
from vfio_tui.core.libvirt.start import start_domain
from vfio_tui.core.passthrough import gpu_phase
from vfio_tui.core.passthrough.plan import PassthroughPlan
from vfio_tui.core.passthrough.records import RunRecord, new_run
from vfio_tui.core.steps import OnStep, Phase, StepEvent, StepReporter

if TYPE_CHECKING:
    import threading

Cancel = Callable[[], bool]


@dataclass(frozen=True)
class RunResult:
    """How a passthrough run ended."""

    run_id: str | None
    """The record `vfio-tui undo` takes (None when nothing was started)."""
    ok: bool
    done: tuple[str, ...]
    """The phases that completed, in order (bind, verify, attach, start)."""
    failed_phase: str | None = None
    error: str = ""
    """What went wrong, in one sentence (empty on success)."""
    failure: FailureRecord | None = None
    """The failed start's evidence (libvirt's error, QEMU log, kernel lines) for explain."""
    cancelled: bool = False
    message: str = ""
    """One line for the user: what is true now."""
    events: tuple[StepEvent, ...] = field(default=(), repr=False)

    def to_json(self) -> dict[str, object]:
        return {"run_id": self.run_id, "ok": self.ok, "done": list(self.done), "failed_phase": self.failed_phase,
                "error": self.error, "cancelled": self.cancelled, "message": self.message,
                "failure": self.failure.to_json() if self.failure is not None else None}


class _Stop(Exception):
    """A phase failed or the user cancelled: end the run here (the record says how far it got)."""

    def __init__(self, phase: str, error: str, *, cancelled: bool = False) -> None:
        super().__init__(error)
        self.phase = phase
        self.error = error
        self.cancelled = cancelled


def _as_cancel(cancel: Cancel | threading.Event | None) -> Cancel:
    if cancel is None:
        return lambda: False
    is_set = getattr(cancel, "is_set", None)
    if callable(is_set):
        return lambda: bool(is_set())
    return cancel  # type: ignore[return-value]


def run_passthrough(plan: PassthroughPlan, on_step: OnStep | None = None, *,
                    cancel: Cancel | threading.Event | None = None,
                    timeout: float = DEFAULT_WRITE_TIMEOUT) -> RunResult:
    """Run a plan made by plan_passthrough (see the module docstring).

    Raises:
        PlanRefusedError: the plan has refusals (exit 3); nothing was changed.
        LockedError: another vfio-tui is changing this host.
        NeedsRootError: the live host, not root.
    """
    if not plan.ok:
        raise PlanRefusedError("refused: " + "; ".join(str(r) for r in plan.refusals[:3])
                               + (f" (+{len(plan.refusals) - 3} more)" if len(plan.refusals) > 3 else ""),
                               fix=plan.refusals[0].fix or "see the plan")
    host, hv = plan.host, plan.hypervisor
    if needs_root(host) and plan.bind.steps:
        raise NeedsRootError("needs root for: " + "; ".join(s.describe() for s in plan.bind.steps),
                             fix="run it again with sudo")
    is_cancelled = _as_cancel(cancel)
    reporter = StepReporter(on_step)
    done: list[str] = []

    def phase(name: Phase, record: RunRecord, work: Callable[[StepReporter], str | None]) -> None:
        if is_cancelled():
            raise _Stop(name, f"cancelled before {name}", cancelled=True)
        record.set_phase(name, "intent")
        sub = StepReporter(reporter.emit, phase=name)
        sub.emit(StepEvent(name, "started"))
        t0 = time.perf_counter()
        try:
            error = work(sub)
        except VfioError as exc:
            error = str(exc)
        if error:
            sub.emit(StepEvent(name, "failed", error, time.perf_counter() - t0))
            record.set_phase(name, "failed", error=error)
            raise _Stop(name, error)
        sub.emit(StepEvent(name, "done", seconds=time.perf_counter() - t0))
        record.set_phase(name, "done")
        done.append(name)

    with writer_lock(host.paths, f"pass {plan.address} to {plan.vm or 'vfio-pci'}"):
        check_interrupted(host)
        record = new_run(host.paths, {
            "address": str(plan.address), "vm": plan.vm, "mode": plan.mode, "start": plan.start,
            "group": plan.bind.group, "devices": [d.address for d in plan.bind.devices], "host": host.label,
            "managed": plan.attach.managed if plan.attach is not None else None,
            "vm_was_running": plan.attach.running if plan.attach is not None else None,
        })
        failure: FailureRecord | None = None
        message = ""
        try:
            gpu = plan.gpu
            if gpu is not None and gpu.release:
                def gpu_release(rep: StepReporter) -> str | None:
                    return gpu_phase.release(host, gpu, record, rep, timeout)

                phase("gpu", record, gpu_release)

            def bind(rep: StepReporter) -> str | None:
                result = apply_plan(host, plan.bind, on_step=rep.emit, cancel=is_cancelled, timeout=timeout,
                                    run_id=record.id)
                record.data["bind_journal"] = result.journal
                return None

            phase("bind", record, bind)

            def verify(rep: StepReporter) -> str | None:
                problems = verify_group(host.paths, plan.bind.group, plan.bind.endpoints, plan.bind.kernel)
                for p in problems:
                    rep.info("verify", p)
                return "; ".join(problems) or None

            phase("verify", record, verify)
            if plan.attach is not None and hv is not None:
                attach_plan = plan.attach

                def attach(rep: StepReporter) -> str | None:
                    # What undo must take out is recorded before libvirt is asked (a crash in between).
                    record.data["attach"] = {"hostdevs": [str(a) for a in attach_plan.addresses],
                                             "controllers": [c.index for c in attach_plan.new_controllers],
                                             "mode": attach_plan.mode}
                    record.save()
                    result = apply_attach(hv, attach_plan, on_step=rep.emit)
                    hv.save_state()
                    record.data["attach"]["method"] = result.method
                    return None

                phase("attach", record, attach)
                if plan.start and plan.vm is not None:
                    vm = plan.vm

                    def start(rep: StepReporter) -> str | None:
                        nonlocal failure, message
                        started = start_domain(hv, vm, host, on_step=rep.emit)
                        if started.already_running:
                            message = (f"{vm} was already running: the device is in its definition and reaches"
                                       " the guest at its next start")
                            return None
                        record.data["started_vm"] = started.ok
                        if not started.ok:
                            failure = started.record
                            if failure is not None:
                                saved = save_failure(host, failure)
                                record.data["failure_saved"] = host.paths.display(saved) if saved else None
                            return (failure.error_message if failure is not None else "") or "the VM did not start"
                        return None

                    phase("start", record, start)
        except _Stop as stop:
            rolled_back = stop.phase in ("gpu", "bind")
            left: list[str] = []
            if stop.phase == "bind" and gpu_phase.done_steps(record):
                # The drivers are back (the bind rolled itself back): the console and the display too.
                left = gpu_phase.restore(host, record, reporter, timeout)
            if left:
                rolled_back = False
                stop.error += f"; could not put back: {'; '.join(left)}"
            record.set_status("rolled-back" if rolled_back else "failed", failed_phase=stop.phase, error=stop.error)
            what = ("nothing was changed (binding rolled itself back)" if rolled_back and stop.phase == "bind" else
                    "nothing was changed (what the GPU step had done was put back)" if rolled_back else
                    f"done so far: {', '.join(done)}; `vfio-tui undo {record.id}` takes it back")
            return RunResult(record.id, False, tuple(done), stop.phase, stop.error, failure, stop.cancelled,
                             message=("Cancelled" if stop.cancelled else f"{stop.phase} failed") + f"; {what}",
                             events=tuple(reporter.events))
        record.set_status("done")
    if not message:
        if plan.vm is None:
            message = f"group {plan.bind.group} is on vfio-pci"
        elif plan.start:
            message = f"{plan.vm} is running with {plan.address}"
        else:
            message = f"{plan.address} is in {plan.vm}'s definition ({plan.mode})"
    return RunResult(record.id, True, tuple(done), message=message, events=tuple(reporter.events))

"""Provides plan_undo() and undo_passthrough(): take one passthrough run back — the VM first, then
the drivers — and say exactly what was undone.

Order and guards (the same for the CLI, the app and the journal screen):
1. the VM: while it runs with the device, refuse — unless `live` (hot-unplug, wait for the guest)
   or `stop_vm` (ACPI shutdown, wait; power off only with `force`); then take the run's hostdevs
   (and the controllers added for them) out of its definition;
2. the drivers: every device of the run's bind journal back to its original driver — refused
   while any is still held (a running domain, or a process with its /dev/vfio node open).
A step that fails stops the undo: the result lists what was done and what was not, and the run
stays open so `undo` can be run again once the cause is fixed. It says "undone" only when
everything was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vfio_tui.core.address import PciAddress
from vfio_tui.core.binding.journal import load_journals, writer_lock
from vfio_tui.core.binding.restore import restore
from vfio_tui.core.binding.state import driver_of
from vfio_tui.core.errors import PlanRefusedError, VfioError
from vfio_tui.core.kernel import DEFAULT_WRITE_TIMEOUT
from vfio_tui.core.libvirt.errors import UnknownDomainError
from vfio_tui.core.libvirt.for_host import domain_facts
from vfio_tui.core.libvirt.lifecycle import (
    SHUTDOWN_TIMEOUT,
    UNPLUG_TIMEOUT,
    domain_state,
    remove_from_definition,
    stop_domain,
    unplug_live,
)
from vfio_tui.core.passthrough import gpu_phase
from vfio_tui.core.passthrough.records import FINISHED, RunRecord, find_run
from vfio_tui.core.steps import OnStep, StepEvent, StepReporter

if TYPE_CHECKING:
    from vfio_tui.core.host import Host
    from vfio_tui.core.libvirt.connection import Hypervisor


@dataclass(frozen=True)
class UndoPlan:
    """What undoing a run will do (shown before it runs), or why it cannot."""

    run: RunRecord = field(repr=False)
    steps: tuple[str, ...]
    refusal: str = ""
    fix: str = ""
    vm_running: bool = False

    @property
    def ok(self) -> bool:
        return not self.refusal


@dataclass(frozen=True)
class UndoResult:
    """What an undo did."""

    run_id: str
    ok: bool
    """True only when everything of the run was undone."""
    done: tuple[str, ...]
    left: tuple[str, ...] = ()
    """What is still in place (when not ok)."""
    error: str = ""
    events: tuple[StepEvent, ...] = field(default=(), repr=False)

    @property
    def summary(self) -> str:
        if self.ok:
            return f"Undone ({self.run_id}): " + "; ".join(self.done)
        done = "; ".join(self.done) or "nothing"
        return (f"Undo of {self.run_id} stopped: {self.error}. Done: {done}. Still in place: "
                + ("; ".join(self.left) or "?") + f". Fix the cause, then `vfio-tui undo {self.run_id}` again.")

    def to_json(self) -> dict[str, object]:
        return {"run_id": self.run_id, "ok": self.ok, "done": list(self.done), "left": list(self.left),
                "error": self.error, "summary": self.summary}


def _bound_devices(host: Host, run: RunRecord) -> list[str]:
    """The devices of the run's bind journal that have not been given back yet."""
    for j in load_journals(host.paths):
        if j.data.get("run") == run.id:
            return list(j.originals)
    return []


def plan_undo(host: Host, hv: Hypervisor | None, run_id: str | None, *, live: bool = False,
              stop_vm: bool = False, force: bool = False) -> UndoPlan:
    """What undo would do now (nothing is changed)."""
    run = find_run(host.paths, run_id)
    steps: list[str] = []
    if run.status in FINISHED:
        return UndoPlan(run, (), f"{run.id} is {run.status}: nothing is left to undo")
    attached = [PciAddress.parse(a) for a in run.attached]
    running = False
    if run.vm and attached:
        if hv is None:
            return UndoPlan(run, (), f"{run.id} attached {', '.join(run.attached)} to {run.vm}, and no libvirt is"
                                     " reachable to take it out", "give --connect URI")
        try:
            running, config, live_set = domain_state(hv, run.vm)
        except UnknownDomainError:
            steps.append(f"{run.vm} no longer exists: nothing to take out of it")
            running, config, live_set = False, set(), set()
        held_live = running and bool(live_set & set(attached))
        if held_live and not (live or stop_vm):
            return UndoPlan(run, (), f"{run.vm} is running with {', '.join(run.attached)}",
                            f"stop {run.vm} first, or undo with --live (hot-unplug) or --stop-vm (shut it down)",
                            vm_running=True)
        if held_live and stop_vm:
            steps.append(f"shut down {run.vm} (ACPI), wait up to {SHUTDOWN_TIMEOUT:g} s"
                         + ("; then power it off" if force else "; refuse if it does not stop (--force powers off)"))
        elif held_live:
            steps.append(f"hot-unplug {', '.join(run.attached)} from running {run.vm}, wait up to {UNPLUG_TIMEOUT:g} s"
                         " for the guest")
        if config & set(attached) or run.added_controllers:
            steps.append(f"remove {', '.join(run.attached)} from {run.vm}'s definition")
    devices = _bound_devices(host, run)
    if devices:
        steps.append(f"give {', '.join(devices)} back to their original drivers")
    restored = (run.data.get("gpu") or {}).get("restored", [])
    steps += [u.describe() for u in (s.undo() for s in reversed(gpu_phase.done_steps(run)))
              if u is not None and u.to_json() not in restored]
    if not steps:
        steps.append("nothing is left in place: mark the run undone")
    return UndoPlan(run, tuple(steps), vm_running=running)


def undo_passthrough(host: Host, hv: Hypervisor | None, run_id: str | None, on_step: OnStep | None = None, *,
                     live: bool = False, stop_vm: bool = False, force: bool = False,
                     timeout: float = DEFAULT_WRITE_TIMEOUT, shutdown_timeout: float = SHUTDOWN_TIMEOUT,
                     unplug_timeout: float = UNPLUG_TIMEOUT) -> UndoResult:
    """Undo a run (run-N; None: the newest one not yet undone). See the module docstring.

    Raises:
        InputError: no such run.
        PlanRefusedError: the VM runs with the device (and neither live nor stop_vm), or a device is
            still held by a VM or a process; nothing was changed.
        LockedError: another vfio-tui is changing this host.
    """
    rep = StepReporter(on_step)
    with writer_lock(host.paths, f"undo {run_id or 'the last run'}"):
        plan = plan_undo(host, hv, run_id, live=live, stop_vm=stop_vm, force=force)
        run = plan.run
        if not plan.ok:
            raise PlanRefusedError(f"not undoing {run.id}: {plan.refusal}", fix=plan.fix)
        done: list[str] = []
        left: list[str] = []
        attached = [PciAddress.parse(a) for a in run.attached]
        devices = _bound_devices(host, run)
        try:
            if run.vm and attached and hv is not None:
                _undo_vm(host, hv, run, attached, rep, live=live, stop_vm=stop_vm, force=force,
                         shutdown_timeout=shutdown_timeout, unplug_timeout=unplug_timeout, done=done)
            if devices:
                sub = StepReporter(rep.emit, phase="restore")
                result = restore(host, devices, on_step=sub.emit, timeout=timeout,
                                 domains=domain_facts(hv) if hv is not None else None)
                if result.failed:
                    raise VfioError("; ".join(f"{a}: {e}" for a, e in result.failed))
                done.append("drivers back: " + ", ".join(f"{a} on {d or 'no driver'}" for a, d in result.restored))
            if gpu_phase.done_steps(run):
                made: list[str] = []
                left_gpu = gpu_phase.restore(host, run, rep, timeout, made)
                if made:
                    unloaded = ((run.data.get("gpu") or {}).get("plan") or {}).get("unloaded") or {}
                    taken = [f"{a} on {driver_of(host.paths, a) or 'no driver'}" for a in unloaded]
                    done.append("host GPU use back: " + ", ".join(made + taken))
                if left_gpu:
                    raise VfioError("could not put back: " + "; ".join(left_gpu))
        except VfioError as exc:
            if attached and not any(d.startswith("removed") for d in done) and run.vm:
                left.append(f"{', '.join(run.attached)} in {run.vm}")
            if _bound_devices(host, run):
                left.append(f"{', '.join(_bound_devices(host, run))} on vfio-pci")
            restored = (run.data.get("gpu") or {}).get("restored", [])
            left += [u.describe() for u in (s.undo() for s in gpu_phase.done_steps(run))
                     if u is not None and u.to_json() not in restored]
            run.set_status("undo-failed", undo_error=str(exc))
            if isinstance(exc, PlanRefusedError) and not done:
                raise
            return UndoResult(run.id, False, tuple(done), tuple(left), str(exc), tuple(rep.events))
        run.set_status("undone")
        return UndoResult(run.id, True, tuple(done) or ("nothing was left in place",), (), "", tuple(rep.events))


def _undo_vm(host: Host, hv: Hypervisor, run: RunRecord, attached: list[PciAddress], rep: StepReporter, *,
             live: bool, stop_vm: bool, force: bool, shutdown_timeout: float, unplug_timeout: float,
             done: list[str]) -> None:
    vm = run.vm or ""
    sub = StepReporter(rep.emit, phase="detach")
    try:
        running, _config, live_set = domain_state(hv, vm)
    except UnknownDomainError:
        done.append(f"{vm} no longer exists")
        return
    if running and live_set & set(attached):
        if stop_vm:
            stop_domain(hv, vm, StepReporter(rep.emit, phase="stop"), host=host, force=force,
                        timeout=shutdown_timeout)
            done.append(f"shut down {vm}")
        else:
            unplug_live(hv, vm, attached, sub, host=host, timeout=unplug_timeout)
            done.append(f"hot-unplugged {', '.join(map(str, attached))} from {vm}")
    removed = remove_from_definition(hv, vm, attached, run.added_controllers, sub)
    if removed:
        done.append(f"removed {', '.join(map(str, removed))} from {vm}'s definition")

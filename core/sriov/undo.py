"""Provides plan_sriov_undo() and undo_sriov(): take an SR-IOV run back — the PF to the number of VFs
(and sriov_drivers_autoprobe) it had before, and its --persist rule out again.

Undo is the change back, so it is planned like one (plan_sriov): refused while a VF that would go is
held by a VM, open through /dev/vfio, or bound by another vfio-tui run (`vfio-tui undo` that one
first), and when the host uses the PF. It works from the state it finds, so a run cut short by a
crash (between the write of 0 and the write of N) is taken back too. The same UndoPlan/UndoResult
as a passthrough run's undo, so the CLI and the app show both alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vfio_tui.core.binding.journal import writer_lock
from vfio_tui.core.configfiles import list_changes, undo_changes
from vfio_tui.core.errors import PlanRefusedError, VfioError
from vfio_tui.core.model import DomainFacts
from vfio_tui.core.passthrough.records import FINISHED, RunRecord, find_run
from vfio_tui.core.passthrough.undo import UndoPlan, UndoResult
from vfio_tui.core.sriov.apply import DEFAULT_SRIOV_TIMEOUT
from vfio_tui.core.sriov.plan import SriovPlan, plan_sriov
from vfio_tui.core.sriov.state import restore_count
from vfio_tui.core.steps import OnStep, StepReporter

if TYPE_CHECKING:
    from vfio_tui.core.host import Host


def _back_plan(host: Host, run: RunRecord, domains: DomainFacts | None) -> SriovPlan:
    want = run.data.get("sriov") or {}
    autoprobe = want.get("from_autoprobe")
    return plan_sriov(host, run.address, int(want.get("from_vfs") or 0),
                      autoprobe=autoprobe if isinstance(autoprobe, bool) else None, domains=domains,
                      assume_unused=True)


def _config_id(host: Host, run: RunRecord) -> str | None:
    cid = run.data.get("config_id")
    if not isinstance(cid, str):
        return None
    return cid if any(e.get("id") == cid for e in list_changes(host)) else None


def plan_sriov_undo(host: Host, run_id: str | None, *, domains: DomainFacts | None = None) -> UndoPlan:
    """What undoing an SR-IOV run would do now (nothing is changed)."""
    run = find_run(host.paths, run_id)
    if run.kind != "sriov":
        raise VfioError(f"{run.id} is a passthrough run, not an SR-IOV change")
    if run.status in FINISHED:
        return UndoPlan(run, (), f"{run.id} is {run.status}: nothing is left to undo")
    back = _back_plan(host, run, domains)
    if not back.ok:
        r = back.refused[0]
        return UndoPlan(run, (), f"{r.address}: {r.reason}", r.fix)
    steps = [s.describe() + f"   ({s.why})" for s in back.steps]
    cid = _config_id(host, run)
    if cid:
        steps.append(f"take the --persist rule out again (vfio-tui restore --config {cid})")
    if not steps:
        steps.append(f"nothing is left in place: {run.address} has {back.current_vfs} VFs already; mark the run undone")
    return UndoPlan(run, tuple(steps))


def undo_sriov(host: Host, run_id: str | None, on_step: OnStep | None = None, *,
               domains: DomainFacts | None = None, timeout: float = DEFAULT_SRIOV_TIMEOUT) -> UndoResult:
    """Undo an SR-IOV run (run-N; None: the newest run not yet undone).

    Raises:
        InputError: no such run.
        PlanRefusedError: a VF that would go is still held, or the host uses the PF; nothing was changed.
        LockedError: another vfio-tui is changing this host.
    """
    rep = StepReporter(on_step, phase="sriov")
    with writer_lock(host.paths, f"undo {run_id or 'the last run'}"):
        plan = plan_sriov_undo(host, run_id, domains=domains)
        run = plan.run
        if not plan.ok:
            raise PlanRefusedError(f"not undoing {run.id}: {plan.refusal}", fix=plan.fix)
        want = run.data.get("sriov") or {}
        done: list[str] = []
        left = restore_count(host, run, rep, timeout=timeout)
        if left:
            run.set_status("undo-failed", undo_error=left)
            return UndoResult(run.id, False, (), (f"{run.address} at its new count",), left, tuple(rep.events))
        done.append(f"{run.address} has {want.get('from_vfs', 0)} VFs again")
        cid = _config_id(host, run)
        if cid:
            try:
                with StepReporter(rep.emit, phase="persist").step(f"restore --config {cid}"):
                    undo_changes(host, cid)
            except VfioError as exc:
                run.set_status("undo-failed", undo_error=str(exc))
                return UndoResult(run.id, False, tuple(done), ("the --persist rule",), str(exc), tuple(rep.events))
            done.append("the --persist rule is gone")
        run.set_status("undone")
        return UndoResult(run.id, True, tuple(done), (), "", tuple(rep.events))

"""Provides apply_sriov(): make an SriovPlan happen as one run (run-N, kind "sriov"), verify that the
VFs appeared with IOMMU groups, and go back to the previous count when anything fails.

The run record is written before the first write and holds what undo needs (the count and autoprobe
before, the config journal of --persist). Undo and rollback work from the state they find
(core.sriov.undo.restore_count), so a run cut short anywhere — kill -9 between the write of 0 and
the write of N — is taken back by `vfio-tui undo run-N`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vfio_tui.core.address import PciAddress
from vfio_tui.core.binding.apply import check_interrupted, needs_root
from vfio_tui.core.binding.journal import writer_lock
from vfio_tui.core.configfiles import apply_changes
from vfio_tui.core.errors import NeedsRootError, PlanRefusedError, VfioError
from vfio_tui.core.model import VfInfo
from vfio_tui.core.passthrough.records import new_run
from vfio_tui.core.sriov.plan import SriovPlan
from vfio_tui.core.sriov.state import read_state, restore_count, write_step
from vfio_tui.core.steps import OnStep, StepEvent, StepReporter

if TYPE_CHECKING:
    from vfio_tui.core.host import Host

DEFAULT_SRIOV_TIMEOUT = 60.0
"""Seconds one sriov_numvfs write may take: the kernel waits 100 ms to 1 s per change (sriov_enable(),
sriov_disable()) and probes every new VF inside the write."""


class SriovFailedError(VfioError):
    """A change failed or did not verify; the PF is back at its previous count (or the message says how
    to get it there)."""


@dataclass(frozen=True)
class SriovResult:
    """What apply_sriov did."""

    plan: SriovPlan
    run_id: str | None
    vfs: tuple[VfInfo, ...]
    warnings: tuple[str, ...] = ()
    config_id: str | None = None
    seconds: float = 0.0
    events: tuple[StepEvent, ...] = field(default=(), repr=False)

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "pf": self.plan.pf, "vfs": [
            {"address": str(v.address), "index": v.index, "iommu_group": v.iommu_group, "driver": v.driver,
             "own_group": v.own_group} for v in self.vfs],
            "warnings": list(self.warnings), "config_id": self.config_id, "seconds": round(self.seconds, 3)}


def verify(host: Host, plan: SriovPlan) -> tuple[list[str], list[str], tuple[VfInfo, ...]]:
    """(problems, warnings, VFs): the count the plan asked for, every VF present and in an IOMMU group."""
    state = read_state(host, plan.pf)
    problems: list[str] = []
    warnings: list[str] = []
    if state.num_vfs != plan.target_vfs:
        problems.append(f"sriov_numvfs reads {state.num_vfs}, not {plan.target_vfs}")
    if plan.target_autoprobe is not None and state.autoprobe is not None and state.autoprobe != plan.target_autoprobe:
        problems.append(f"sriov_drivers_autoprobe reads {int(state.autoprobe)}, not {int(plan.target_autoprobe)}")
    pf = PciAddress.parse(plan.pf)
    inv = host.inventory(names=False, focus=pf)
    info = inv.sriov.get(pf)
    vfs = info.vfs if info is not None else ()
    if len(vfs) != plan.target_vfs:
        problems.append(f"{len(vfs)} VFs appeared, not {plan.target_vfs}")
    grouped = inv.iommu_enabled
    for vf in vfs:
        if grouped and vf.iommu_group is None:
            problems.append(f"VF {vf.address} has no IOMMU group")
        elif grouped and not vf.own_group:
            group = inv.group_of(vf.address)
            others = ", ".join(str(m) for m in (group.members if group else ()) if m != vf.address)
            warnings.append(f"VF {vf.address} shares IOMMU group {vf.iommu_group} with {others}: a port above the PF"
                            " has no ACS (SV RR CR UF), so the VF can only be passed together with them")
    return problems, warnings, vfs


def apply_sriov(host: Host, plan: SriovPlan, *, on_step: OnStep | None = None,
                timeout: float = DEFAULT_SRIOV_TIMEOUT) -> SriovResult:
    """Apply a plan: record the run, write each step, verify, persist; on any failure go back.

    Raises:
        PlanRefusedError: the plan has refusals (exit 3).
        NeedsRootError: the live host, not root.
        LockedError: another vfio-tui is changing this host.
        SriovFailedError: a write failed or hung, or the VFs did not verify; rolled back.
    """
    if not plan.ok:
        raise PlanRefusedError("plan refused: " + "; ".join(f"{r.address}: {r.reason}" for r in plan.refused),
                               fix=next((r.fix for r in plan.refused if r.fix), ""))
    if needs_root(host) and (plan.steps or plan.persist):
        raise NeedsRootError("needs root for: " + "; ".join(s.describe() for s in plan.steps)
                             + "".join(f"; edit {c.path}" for c in plan.persist), fix="run it again with sudo")
    rep = StepReporter(on_step, phase="sriov")
    t0 = time.perf_counter()
    with writer_lock(host.paths, f"sriov {plan.pf}"):
        check_interrupted(host)
        now = read_state(host, plan.pf)
        if (now.num_vfs, now.autoprobe) != (plan.current_vfs, plan.current_autoprobe):
            raise VfioError(f"the host changed since the plan was made ({plan.pf} has {now.num_vfs} VFs now)",
                            fix="plan again")
        if plan.nothing_to_do:
            _, warnings, vfs = verify(host, plan)
            return SriovResult(plan, None, vfs, tuple(warnings), seconds=time.perf_counter() - t0)
        run = new_run(host.paths, {
            "kind": "sriov", "address": plan.pf, "group": plan.group, "vm": None, "devices": [],
            "phases": {"sriov": "planned", "verify": "planned", "persist": "planned"},
            "sriov": {"from_vfs": plan.current_vfs, "to_vfs": plan.target_vfs, "from_autoprobe": plan.current_autoprobe,
                      "to_autoprobe": plan.target_autoprobe, "removed_vfs": list(plan.removed_vfs),
                      "new_vfs": list(plan.new_vfs), "steps": [s.describe() for s in plan.steps]},
        })

        def back(why: str) -> SriovFailedError:
            left = restore_count(host, run, rep, timeout=timeout)
            if left:
                run.set_status("failed", error=why, rollback_error=left)
                return SriovFailedError(f"{why}; going back to {plan.current_vfs} VFs failed too: {left}",
                                        fix=f"vfio-tui undo {run.id} once the cause is fixed")
            run.set_status("rolled-back", error=why)
            return SriovFailedError(f"{why}; rolled back: {plan.pf} has {plan.current_vfs} VFs again")

        run.set_phase("sriov", "intent")
        for i, step in enumerate(plan.steps, 1):
            try:
                write_step(host, step, rep, timeout=timeout)
            except VfioError as exc:
                raise back(f"step {i}/{len(plan.steps)} ({step.describe()}) failed: {exc.detail}") from None
            except KeyboardInterrupt:
                raise back(f"interrupted during step {i}/{len(plan.steps)}") from None
        run.set_phase("sriov", "done")
        run.set_phase("verify", "intent")
        problems, warnings, vfs = verify(host, plan)
        if problems:
            raise back("verification failed: " + "; ".join(problems))
        rep.info(f"{plan.pf}: {len(vfs)} VFs", ", ".join(f"{v.address} (group {v.iommu_group}, "
                                                           f"{v.driver or 'no driver'})" for v in vfs))
        run.set_phase("verify", "done", vfs=[str(v.address) for v in vfs])
        config_id = None
        if plan.persist:
            run.set_phase("persist", "intent")
            with StepReporter(rep.emit, phase="persist").step(f"edit {', '.join(c.path for c in plan.persist)}"):
                try:
                    config_id = apply_changes(host, plan.persist, what=f"sriov {plan.pf} --persist").journal_id
                except VfioError as exc:
                    raise back(f"--persist failed: {exc.detail}") from None
            run.set_phase("persist", "done", config_id=config_id)
        run.set_status("done")
        return SriovResult(plan, run.id, vfs, tuple(warnings), config_id, time.perf_counter() - t0, tuple(rep.events))

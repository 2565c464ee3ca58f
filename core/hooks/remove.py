"""Provides plan_remove()/apply_remove() and hook_status(): taking a VM's libvirt hook away again (its plan,
the shared script when no other VM has one, the hostdevs install added, the hook dirs it made), refused while
the hook holds the GPU on vfio-pci; and what is installed. The install side is core/hooks/install.py."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vfio_tui.core import safefile
from vfio_tui.core.address import PciAddress
from vfio_tui.core.configfiles import AppliedChanges, FileChange, apply_changes, guard_writes, read_current
from vfio_tui.core.errors import InputError, PlanRefusedError, VfioError
from vfio_tui.core.gpu.hookplan import HOOK_SCRIPT
from vfio_tui.core.hooks.layout import check_vm_name, created_dirs, plan_path, read_record, recorded_vms, survey

if TYPE_CHECKING:
    from vfio_tui.core.host import Host
    from vfio_tui.core.libvirt.connection import Hypervisor


@dataclass
class RemovePlan:
    vm: str
    changes: tuple[FileChange, ...]
    hostdevs: tuple[str, ...]
    controllers: tuple[int, ...]
    refusal: str = ""
    fix: str = ""
    dirs: tuple[str, ...] = ()
    """Hook dirs install created, removed with the script when they are empty (deepest first)."""

    def lines(self) -> list[str]:
        out = [f"Plan: remove the libvirt hook of {self.vm}"]
        if self.refusal:
            out += ["REFUSED — nothing will change:", f"  ✗ {self.refusal}"] + ([f"      fix: {self.fix}"]
                                                                               if self.fix else [])
        for c in self.changes:
            out.append(f"  {c.path}: removed" + (" (no other VM has a hook plan)" if c.path == HOOK_SCRIPT else ""))
        for d in self.dirs:
            out.append(f"  {d}/: removed when empty (install created it)")
        if self.hostdevs:
            out.append(f"  take {', '.join(self.hostdevs)} out of {self.vm}'s definition (install added them)")
        return out

    def to_json(self) -> dict[str, Any]:
        return {"vm": self.vm, "ok": not self.refusal, "refusal": self.refusal, "fix": self.fix,
                "files": [c.to_json() for c in self.changes], "hostdevs": list(self.hostdevs), "dirs": list(self.dirs)}


def hook_run_of(host: Host, vm: str) -> str | None:
    """The passthrough run the hook made for `vm` that is not undone yet (its GPU is on vfio-pci)."""
    from vfio_tui.core.passthrough import list_runs
    from vfio_tui.core.passthrough.records import FINISHED

    for run in reversed(list_runs(host)):
        if run.data.get("hook") == vm and run.status not in FINISHED:
            return run.id
    return None


def plan_remove(host: Host, vm: str) -> RemovePlan:
    check_vm_name(vm)
    record = read_record(host, vm)
    if record is None:
        installed = recorded_vms(host)
        raise InputError(f"{vm} has no vfio-tui hook" + (f" (hooks: {', '.join(installed)})" if installed else
                                                          " (none is installed)"), fix="vfio-tui hooks status")
    changes = [FileChange(plan_path(vm), read_current(host, plan_path(vm)), None)]
    dirs: list[str] = []
    if not [v for v in recorded_vms(host) if v != vm] and survey(host).ours:
        changes.append(FileChange(HOOK_SCRIPT, read_current(host, HOOK_SCRIPT), None))
        dirs = created_dirs(record.data.get("dirs_created"))
    run = hook_run_of(host, vm)
    refusal = fix = ""
    if run is not None:
        refusal = (f"{vm}'s GPU is on vfio-pci through the hook ({run}): without the hook nothing would give it"
                   " back when the VM stops")
        fix = f"shut {vm} down first (the hook gives the GPU back), or `vfio-tui undo {run}` once it is stopped"
    return RemovePlan(vm, tuple(changes), record.hostdevs_added, record.controllers_added, refusal, fix,
                      tuple(dirs))


def apply_remove(host: Host, hv: Hypervisor | None, plan: RemovePlan) -> AppliedChanges | None:
    from vfio_tui.core.libvirt.lifecycle import remove_from_definition
    from vfio_tui.core.steps import StepReporter

    if plan.refusal:
        raise PlanRefusedError(f"not removing the hook of {plan.vm}: {plan.refusal}", fix=plan.fix)
    guard_writes(host, [c.path for c in plan.changes])
    if plan.hostdevs and hv is not None:
        from vfio_tui.core.libvirt.errors import UnknownDomainError

        try:
            remove_from_definition(hv, plan.vm, [PciAddress.parse(a) for a in plan.hostdevs], plan.controllers,
                                   StepReporter(None))
            hv.save_state()
        except UnknownDomainError:
            pass  # the VM is gone: nothing to take out of it
    applied = apply_changes(host, plan.changes, what=f"hooks remove {plan.vm}", check_id="hooks",
                            fix_id=f"hooks-remove-{plan.vm}")
    for d in plan.dirs:
        try:
            safefile.rmdir(host.paths.root, host.paths.under(d))
        except (OSError, safefile.UnsafePathError):
            pass  # not empty (someone else's files), or gone: left as it is
    return applied


def hook_status(host: Host) -> dict[str, Any]:
    """What is installed: the script, each VM's plan (and whether its GPU is on vfio-pci now), and what else
    is in libvirt's hook dir. Read-only; never asks libvirt."""
    others = survey(host)
    plans: list[dict[str, Any]] = []
    for vm in recorded_vms(host):
        try:
            rec = read_record(host, vm)
        except VfioError as exc:
            plans.append({"vm": vm, "error": str(exc)})
            continue
        if rec is None:
            continue
        plans.append({"vm": vm, "gpu": rec.gpu, "group": rec.group, "members": list(rec.members),
                      "installed": rec.data.get("installed"), "watchdog": rec.watchdog,
                      "interpreter": rec.data.get("interpreter"),
                      "interpreter_ok": os.access(str(rec.data.get("interpreter", "")), os.X_OK),
                      "active_run": hook_run_of(host, vm), "at_start": [s.describe() for s in rec.release]})
    script = {"path": HOOK_SCRIPT, "present": others.ours is not None, "ours": bool(others.ours),
              "mode": f"{others.ours_mode:04o}" if others.ours_mode is not None else None,
              "executable": bool(others.ours_mode and others.ours_mode & 0o111)}
    return {"script": script, "plans": plans, "others": others.to_json(), "other_lines": others.lines()}

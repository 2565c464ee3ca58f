"""Provides plan_install()/apply_install(): the libvirt hook's files, shown as a diff first, then written the
journaled way (core.configfiles: backed up, undone by `vfio-tui hooks remove VM` (core/hooks/remove.py) or
`vfio-tui check --undo cfg-N`).

Install writes two files under the host root: the one script `/etc/libvirt/hooks/qemu.d/vfio-tui` (0755,
shared by every VM; never over a file of that name vfio-tui did not write) and the VM's recorded plan
`/var/lib/vfio-tui/hooks/VM.json` (0600). When the VM's definition does not pass the GPU's group yet, it
adds the group's functions as <hostdev managed='no'> (the hook binds them; managed='yes' would make libvirt
give them back itself when the VM stops, before the hook) and `remove` takes them out again.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vfio_tui.core import private_state, safefile
from vfio_tui.core.address import PciAddress
from vfio_tui.core.clock import utc
from vfio_tui.core.configfiles import (
    AppliedChanges,
    FileChange,
    apply_changes,
    guard_writes,
    read_current,
    undo_changes,
)
from vfio_tui.core.errors import InputError, PlanRefusedError, VfioError
from vfio_tui.core.gpu.hookplan import HOOK_PLANS, HOOK_SCRIPT
from vfio_tui.core.gpu.inventory import cards
from vfio_tui.core.hooks.layout import (
    HOOKS_DIR,
    PLAN_SCHEMA,
    QEMU_D,
    OtherHooks,
    check_vm_name,
    created_dirs,
    plan_path,
    read_record,
    script_text,
    survey,
)

if TYPE_CHECKING:
    from vfio_tui.core.host import Host
    from vfio_tui.core.libvirt.attach import AttachPlan
    from vfio_tui.core.libvirt.connection import Hypervisor

DEFAULT_WATCHDOG = 120.0
RESTART_NOTE = ("libvirt reads its hook dir when the daemon starts: restart it so it sees the new script"
                " (systemctl restart libvirtd, or virtqemud on a host with the modular daemons) — vfio-tui does"
                " not restart it for you")


@dataclass
class InstallPlan:
    """What `hooks install VM` writes and changes (shown before anything is done)."""

    vm: str
    gpu: str
    group: int
    record: dict[str, Any]
    changes: tuple[FileChange, ...]
    attach: AttachPlan | None
    at_start: tuple[str, ...]
    at_stop: tuple[str, ...]
    others: OtherHooks
    refusals: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def new_script(self) -> bool:
        return any(c.path == HOOK_SCRIPT and c.created for c in self.changes)

    @property
    def ok(self) -> bool:
        return not self.refusals

    def lines(self) -> list[str]:
        return [text for text, _content in self.blocks()]

    def blocks(self) -> list[tuple[str, bool]]:
        """The plan as lines, each with whether it is a file's or the definition's content (a diff line: to
        be printed exactly as it is, never rewritten as a hint)."""
        out: list[tuple[str, bool]] = []
        for line in self._lines():
            out.append((line.removeprefix("\0"), line.startswith("\0")))
        return out

    def _lines(self) -> list[str]:
        out = [f"Plan: install the libvirt hook for {self.vm} (GPU {self.gpu}, IOMMU group {self.group})"]
        if self.refusals:
            out.append("REFUSED — nothing will change:")
            for reason, fix in self.refusals:
                out.append(f"  ✗ {reason}")
                if fix:
                    out.append(f"      fix: {fix}")
        out.append("Files (diff):" if self.changes else "Files: already installed as planned (nothing to write)")
        for c in self.changes:
            what = "new, 0755" if c.path == HOOK_SCRIPT else "new, 0600 (private)"
            out.append(f"  {c.path} ({what if c.created else 'changed'})")
            out += [f"\0    {line}" for line in c.diff.splitlines()]
        if self.attach is not None:
            out.append(f"VM definition change ({self.vm}: the group's functions, managed='no': the hook binds them):")
            out += [f"\0    {line}" for line in self.attach.diff.splitlines()]
        out.append(f"When libvirt starts {self.vm} (prepare begin), after checking this plan against the host:")
        out += [f"  {i}. {s}" for i, s in enumerate(self.at_start, 1)]
        out.append(f"When {self.vm} has stopped (stopped end / release end), and when it fails to start:")
        out += [f"  {i}. {s}" for i, s in enumerate(self.at_stop, 1)]
        for line in self.others.lines(self.vm):
            out.append(f"  already there: {line}")
        for n in self.notes:
            out.append(f"  note: {n}")
        return out

    def to_json(self) -> dict[str, Any]:
        return {"vm": self.vm, "gpu": self.gpu, "group": self.group, "ok": self.ok,
                "refusals": [{"reason": r, "fix": f} for r, f in self.refusals],
                "files": [c.to_json() for c in self.changes],
                "definition_diff": self.attach.diff if self.attach is not None else None,
                "at_start": list(self.at_start), "at_stop": list(self.at_stop), "others": self.others.to_json(),
                "notes": list(self.notes), "new_script": self.new_script, "record": self.record}


def interpreter_and_package() -> tuple[str, str]:
    """The interpreter running vfio-tui now (absolute, not resolved: a venv's python is a link) and the
    directory holding the `vfio_tui` package (the checkout, or site-packages), which the script puts on
    PYTHONPATH."""
    import vfio_tui

    return os.path.abspath(sys.executable), str(Path(vfio_tui.__file__).resolve().parent.parent)


def _pick_gpu(host: Host, hv: Hypervisor, vm: str, gpu: str | None) -> tuple[PciAddress, list[str]]:
    from vfio_tui.core.libvirt.xml import DomainXml

    inv = host.inventory(names=False)
    all_cards = cards(inv)
    defined = {h.address for h in DomainXml(hv.xml(vm, inactive=True)).hostdevs()}
    notes: list[str] = []
    if gpu is not None:
        addr = PciAddress.parse(gpu)
        dev = inv.device(addr)
        if dev is None:
            raise InputError(f"--gpu {gpu}: no PCI device {addr} on {host.label}",
                             fix="`vfio-tui inventory` lists the devices")
        card = next((c for c, fns in all_cards.items() if any(f.address == addr for f in fns)), None)
        if card is None:
            raise InputError(f"--gpu {addr}: not a GPU (class {dev.class_name or dev.class_short})",
                             fix="give the card's display function (`vfio-tui inventory` marks GPUs)")
        return card, notes
    in_vm = [c for c, fns in all_cards.items() if any(f.address in defined for f in fns)]
    if len(in_vm) == 1:
        return in_vm[0], notes
    if len(in_vm) > 1:
        raise InputError(f"{vm} passes {len(in_vm)} GPUs ({', '.join(map(str, in_vm))}): say which one the hook"
                         " takes from the host", fix=f"vfio-tui hooks install {vm} --gpu {in_vm[0]}")
    if len(all_cards) == 1:
        only = next(iter(all_cards))
        notes.append(f"{vm} has no GPU hostdev yet: the host's only GPU {only} is added to its definition")
        return only, notes
    raise InputError(f"{vm} has no GPU hostdev, and this host has {len(all_cards) or 'no'} GPUs to choose from",
                     fix=(f"say which: vfio-tui hooks install {vm} --gpu ADDR; `vfio-tui inventory` lists the GPUs"
                          if all_cards else "the hook is for passing a GPU: this host has none"))


def plan_install(host: Host, hv: Hypervisor, vm: str, *, gpu: str | None = None,
                 watchdog: float = DEFAULT_WATCHDOG, allow_other_hooks: bool = False,
                 interpreter: tuple[str, str] | None = None) -> InstallPlan:
    """Plan installing the hook for `vm` (nothing is changed).

    Raises:
        InputError: a bad VM name, no GPU to take, a bad --gpu.
        UnknownDomainError: no such VM.
    """
    from vfio_tui.core.libvirt.attach import plan_attach
    from vfio_tui.core.libvirt.xml import DomainXml
    from vfio_tui.core.passthrough import plan_passthrough

    check_vm_name(vm)
    hv.lookup(vm)
    addr, notes = _pick_gpu(host, hv, vm, gpu)
    plan = plan_passthrough(host, None, addr, None, stop_display_manager=True, from_hook=True, checks=False)
    gp = plan.gpu
    if gp is None:
        raise InputError(f"{addr} is not a GPU", fix="give the card's display function with --gpu ADDR")
    refusals = [(str(r), "") for r in plan.refusals]
    endpoints = [d.address for d in plan.bind.devices if not d.is_bridge]
    defined = DomainXml(hv.xml(vm, inactive=True)).hostdevs()
    missing = [a for a in endpoints if a not in {str(h.address) for h in defined}]
    attach: AttachPlan | None = None
    if missing:
        attach = plan_attach(host, hv, addr, vm, mode="config", managed=False)
        attach.problems = [p for p in attach.problems
                           if p.kind not in ("host-uses", "group-blocked", "needs-binding", "already-attached")]
        refusals += [(str(p), "") for p in attach.problems]
    for h in defined:
        if str(h.address) in endpoints and h.managed:
            notes.append(f"{h.address} is managed='yes' in {vm}: libvirt gives it back to the host itself when"
                         f" the VM stops, before the hook; set managed='no' (virsh edit {vm})")
    at_start = [s.describe() for s in gp.release]
    at_start.append(f"bind group {plan.bind.group} to vfio-pci: {', '.join(endpoints)} (every function of the card)")
    at_stop = ["give the group back to its drivers"] + [s.describe() for s in gp.restore()]
    at_stop.append("(the run's undo, as undo does it; a watchdog does it too when the VM has not started"
                   f" {watchdog:g} s after the bind)" if watchdog else "(the run's undo, as undo does it)")
    python, package = interpreter or interpreter_and_package()
    record: dict[str, Any] = {
        "schema": PLAN_SCHEMA, "vm": vm, "gpu": str(addr), "group": plan.bind.group, "members": endpoints,
        "functions": list(gp.functions), "cards": list(gp.cards), "release": [s.to_json() for s in gp.release],
        "watchdog": watchdog, "hostdevs_added": [str(a) for a in attach.addresses] if attach is not None else [],
        "controllers_added": [c.index for c in attach.new_controllers] if attach is not None else [],
        "interpreter": python, "package_dir": package, "installed": utc(), "host": host.label,
    }
    # The hook dirs the script's write creates: `remove` takes them out again when they are empty, so the hook
    # dir is as it was (libvirt reads an absent and an empty qemu.d alike).
    record["dirs_created"] = [d for d in (QEMU_D, HOOKS_DIR) if not safefile.exists(host.paths.root,
                                                                                   host.paths.under(d))]
    others = survey(host)
    if others.ours is False:
        refusals.append((f"{HOOK_SCRIPT} exists and is not vfio-tui's script: vfio-tui never overwrites it",
                         f"move it aside (or rename it) and run `vfio-tui hooks install {vm}` again"))
    conflicts = others.conflicts(vm)
    if conflicts and not allow_other_hooks:
        refusals.append((f"the per-VM hook scripts of {vm} ({', '.join(conflicts)}) run too, through"
                         f" {'/etc/libvirt/hooks/qemu'}: they would unbind the GPU as well",
                         f"move /etc/libvirt/hooks/qemu.d/{vm} aside, or add --allow-other-hooks"))
    root = None if host.paths.is_live else host.paths.root
    script = script_text(python, package, root)
    changes: list[FileChange] = []
    current_script = read_current(host, HOOK_SCRIPT) if others.ours is not False else None
    if others.ours is not False and (current_script != script or others.ours_mode != 0o755):
        changes.append(FileChange(HOOK_SCRIPT, current_script, script, mode=0o755))
    old = read_current(host, plan_path(vm))
    previous = read_record(host, vm) if old is not None else None
    if previous is not None:
        # Installed again: the definition changes it made stay recorded (remove takes them out).
        record["hostdevs_added"] = sorted(set(record["hostdevs_added"]) | set(previous.hostdevs_added))
        record["controllers_added"] = sorted(set(record["controllers_added"]) | set(previous.controllers_added))
        record["dirs_created"] = created_dirs(previous.data.get("dirs_created")) or record["dirs_created"]
        same = {**previous.data, "installed": record["installed"]} == record
        if same:
            record["installed"] = previous.data.get("installed", record["installed"])
    text = json.dumps(record, indent=1) + "\n"
    if old != text:
        changes.append(FileChange(plan_path(vm), old, text, mode=0o600))
    if not host.paths.is_live and python and not os.path.isabs(python):
        notes.append(f"the interpreter {python} is not an absolute path")
    return InstallPlan(vm, str(addr), plan.bind.group, record, tuple(changes), attach, tuple(at_start),
                       tuple(at_stop), others, refusals, notes)


def apply_install(host: Host, hv: Hypervisor, plan: InstallPlan) -> AppliedChanges | None:
    """Write the plan's files (journaled) and add the hostdevs to the definition.

    Raises:
        PlanRefusedError: the plan has refusals; nothing was changed.
        NeedsRootError: the live host, not root.
    """
    from vfio_tui.core.libvirt.attach import apply_attach

    if not plan.ok:
        raise PlanRefusedError(f"not installing the hook for {plan.vm}: {plan.refusals[0][0]}",
                               fix=plan.refusals[0][1])
    guard_writes(host, [c.path for c in plan.changes])
    applied = None
    if plan.changes:
        private_state.private_dir(host.paths.root, host.paths.state_dir)
        private_state.private_dir(host.paths.root, host.paths.under(HOOK_PLANS))
        applied = apply_changes(host, plan.changes, what=f"hooks install {plan.vm}", check_id="hooks",
                                fix_id=f"hooks-{plan.vm}")
    if plan.attach is not None:
        try:
            apply_attach(hv, plan.attach)
            hv.save_state()
        except VfioError:
            if applied is not None:
                undo_changes(host, applied.journal_id)
            raise
    return applied

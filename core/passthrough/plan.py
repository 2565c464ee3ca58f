"""Provides plan_passthrough(): one typed plan for passing a device to a VM — the group's bind plan,
the attach plan (the <hostdev> diff), the relevant checks, and the refusals, first.

Nothing changes while planning. The plan carries the host and the hypervisor it was made for,
so that run_passthrough(plan, on_step) runs exactly what was shown.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vfio_tui.core.address import PciAddress
from vfio_tui.core.binding.plan import BindPlan, plan_bind
from vfio_tui.core.gpu.plan import GpuPlan, plan_gpu
from vfio_tui.core.libvirt.attach import AttachPlan, Mode, parse_mode, plan_attach
from vfio_tui.core.libvirt.for_host import domain_facts
from vfio_tui.core.libvirt.vfnic import NicOptions

if TYPE_CHECKING:
    from vfio_tui.core.checks.result import CheckResult
    from vfio_tui.core.host import Host
    from vfio_tui.core.libvirt.connection import Hypervisor


@dataclass(frozen=True)
class Refusal:
    """Why the plan cannot run as it stands, what to do about it, and whether --force-host-device helps."""

    reason: str
    fix: str = ""
    address: str = ""

    def __str__(self) -> str:
        where = f"{self.address}: " if self.address and self.address not in self.reason else ""
        return f"{where}{self.reason}" + (f" (fix: {self.fix})" if self.fix else "")


@dataclass(frozen=True)
class PassthroughPlan:
    """Everything a passthrough run will do, shown before it runs (see module docstring)."""

    host: Host = field(repr=False, compare=False)
    hypervisor: Hypervisor | None = field(repr=False, compare=False)
    address: PciAddress
    vm: str | None
    """None: bind the group to vfio-pci only."""
    mode: Mode
    start: bool
    """Start the VM after attaching (when it is not running)."""
    bind: BindPlan
    attach: AttachPlan | None
    refusals: tuple[Refusal, ...]
    """Why it cannot run, most important first; empty when it can."""
    checks: tuple[CheckResult, ...] = ()
    """The prerequisite checks for this device and VM that did not pass (warn/fail)."""
    warnings: tuple[str, ...] = ()
    undo: tuple[str, ...] = ()
    """What `vfio-tui undo` will do afterwards, in order."""
    gpu: GpuPlan | None = None
    """The group holds a GPU: what the host needs first (console, display manager, driver modules)."""

    @property
    def ok(self) -> bool:
        return not self.refusals

    @property
    def members(self) -> tuple[str, ...]:
        """The group's members and what happens to each, one line each."""
        out = []
        for d in self.bind.devices:
            if d.is_bridge:
                change = "stays (bridge)" if d.to_driver == d.from_driver else f"unbound from {d.from_driver} (bridge)"
            elif d.from_driver == d.to_driver:
                change = f"already on {d.to_driver}"
            else:
                change = f"{d.from_driver or 'no driver'} -> {d.to_driver}"
            out.append(f"{d.address}  {change}" + (f"  ({d.note})" if d.note and not d.is_bridge else ""))
        return tuple(out)

    @property
    def driver_changes(self) -> tuple[str, ...]:
        return tuple(s.describe() for s in self.bind.steps)

    @property
    def xml_diff(self) -> str:
        return self.attach.diff if self.attach is not None else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "vfio-tui/passthrough-plan/1",
            "host": self.host.label, "address": str(self.address), "vm": self.vm, "mode": self.mode,
            "start": self.start, "ok": self.ok,
            "refusals": [{"reason": r.reason, "fix": r.fix, "address": r.address} for r in self.refusals],
            "bind": self.bind.to_json(),
            "attach": self.attach.to_json() if self.attach is not None else None,
            "checks": [c.to_json() for c in self.checks],
            "warnings": list(self.warnings), "undo": list(self.undo),
            "gpu": self.gpu.to_json() if self.gpu is not None else None,
        }


def _undo_lines(bind: BindPlan, attach: AttachPlan | None, vm: str | None, start: bool,
                gpu: GpuPlan | None = None) -> tuple[str, ...]:
    lines: list[str] = []
    if vm and attach is not None:
        if start or attach.running:
            lines.append(f"{vm} must not hold the device: undo refuses while it runs, unless --stop-vm (shut it"
                         " down first) or --live (hot-unplug)")
        lines.append(f"remove {', '.join(str(a) for a in attach.addresses) or 'the hostdevs'} from {vm}'s"
                     " definition" + (f" (and the {len(attach.new_controllers)} controller(s) added for them)"
                                      if attach.new_controllers else ""))
    for d in bind.devices:
        if gpu is not None and d.address in gpu.unloaded:
            lines.append(f"{d.address}: driver_override cleared; its driver takes it again when"
                         f" {gpu.unloaded[d.address].split(', ')[-1]} is loaded (below)")
        elif not d.is_bridge and d.from_driver != d.to_driver:
            back = d.from_driver or "no driver"
            override = f", driver_override {d.from_override}" if d.from_override else ", driver_override cleared"
            lines.append(f"{d.address}: back to {back}{override}")
    if gpu is not None:
        lines += [f"{s.describe()}  ({s.why})" if s.why else s.describe() for s in gpu.restore()]
    if not lines:
        lines.append("nothing to undo: the group is on vfio-pci already")
    return tuple(lines)


def plan_passthrough(host: Host, hv: Hypervisor | None, address: str | PciAddress, vm: str | None,
                     mode: str = "config", start: bool = False, *, managed: bool = True,
                     force_host_devices: Iterable[str | PciAddress] = (), assume_unused: bool = False,
                     checks: bool = True, stop_display_manager: bool = False,
                     nic: NicOptions | None = None, from_hook: bool = False) -> PassthroughPlan:
    """Plan passing `address` (its whole IOMMU group) to `vm` (None: bind only).

    Raises:
        InputError: a malformed or unknown address, a bridge, no IOMMU, no vfio-pci in this kernel, a
            VM given without a hypervisor.
        UnknownDomainError: no such VM.
    """
    addr = address if isinstance(address, PciAddress) else PciAddress.parse(address)
    mode_ = parse_mode(mode)
    if vm is not None and hv is None:
        from vfio_tui.core.errors import InputError

        raise InputError(f"cannot pass {addr} to {vm}: no libvirt for {host.label}",
                         fix="give --connect URI, or bind only (no VM)")
    if nic is not None and vm is None:
        from vfio_tui.core.errors import InputError

        raise InputError("--as-interface/--mac/--vlan describe how a VM gets the VF: name the VM")
    domains = domain_facts(hv) if hv is not None else None
    inv = host.inventory(names=False, focus=addr)
    # A GPU first: what the host must let go of (display manager, console, framebuffer, driver modules).
    gpu = plan_gpu(host, inv, addr, vm=vm, stop_display_manager=stop_display_manager, from_hook=from_hook)
    bind = plan_bind(host, addr, force_host_devices=force_host_devices, domains=domains,
                     assume_unused=assume_unused, inventory=inv,
                     released={PciAddress.parse(a): frozenset(k) for a, k in gpu.released.items()} if gpu else None,
                     unloaded={PciAddress.parse(a): v for a, v in gpu.unloaded.items()} if gpu else None)
    refusals = [Refusal(r.reason, r.fix, r.address) for r in gpu.refusals] if gpu else []
    refusals += [Refusal(r.reason, r.fix, r.address) for r in bind.refused]
    attach = None
    warnings = list(gpu.warnings) if gpu else []
    warnings += bind.warnings
    if vm is not None and hv is not None:
        attach = plan_attach(host, hv, addr, vm, mode=mode_, managed=managed, nic=nic)
        # The bind plan decides about host use (what the GPU plan releases, what --force-host-device
        # accepts); the attach plan's own host-use lines only repeat it, and must not stop its apply.
        attach.problems = [p for p in attach.problems if p.kind not in ("host-uses", "group-blocked")]
        refusals += [Refusal(p.message, p.fix) for p in attach.problems]
        warnings += attach.notes
        if attach.running and mode_ == "config":
            warnings.append(f"{vm} is running: the device is added to its definition and reaches the guest at its"
                            " next start (--live or --both hot-plugs it now)")
    results: tuple[CheckResult, ...] = ()
    if checks:
        from vfio_tui.core.checks.runner import run_checks

        # The group's own readiness check is what the plan's bind answers: not repeated as a warning.
        answered = {"device-group"} if bind.steps else set()
        # The bind plan decides about host use; for a GPU, its plan has said what holds the card.
        answered.add("device-host-use")
        if gpu is not None:
            answered |= {"device-boot-vga", "gpu-reset"}  # said by the GPU plan (console, framebuffer, RESET)
        results = tuple(r for r in run_checks(host, for_address=str(addr), vm=vm, hypervisor=hv)
                        if r.status in ("fail", "warn") and r.id not in answered)
    return PassthroughPlan(
        host=host, hypervisor=hv, address=addr, vm=vm, mode=mode_, start=start and vm is not None,
        bind=bind, attach=attach, refusals=tuple(refusals), checks=results, warnings=tuple(warnings),
        undo=_undo_lines(bind, attach, vm, start, gpu), gpu=gpu,
    )

"""Provides plan_attach / apply_attach / detach: putting PCI hostdevs into a domain.

A plan is computed first (checks, the edited XML, the diff) and nothing changes until it is
applied. Applying uses virDomainAttachDeviceFlags where the driver has it; libvirt's test
driver (9.0) does not ("this function is not supported by the connection driver",
VIR_ERR_NO_SUPPORT), and then the persistent definition is edited and redefined, which is
what virt-xml does for persistent edits.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

from vfio_tui.core.address import PciAddress
from vfio_tui.core.errors import InputError, PlanRefusedError
from vfio_tui.core.libvirt.devicexml import PciController
from vfio_tui.core.libvirt.errors import VIR_ERR_NO_SUPPORT, error_fields, operation_error
from vfio_tui.core.libvirt.policy import needed_functions, place_hostdevs
from vfio_tui.core.libvirt.vfnic import NicOptions, as_interfaces, nic_problems, vf_token_problem
from vfio_tui.core.libvirt.xml import DomainXml, Hostdev, element_text, hostdev_text, print_diff
from vfio_tui.core.steps import OnStep, StepEvent, StepReporter

if TYPE_CHECKING:
    from vfio_tui.core.host import Host
    from vfio_tui.core.libvirt.connection import Hypervisor

Mode: TypeAlias = Literal["config", "live", "both"]
MODES: Final = ("config", "live", "both")


@dataclass(frozen=True, slots=True)
class Problem:
    """Why a plan cannot be applied as it stands."""

    kind: str
    """bridge, no-iommu-group, group-blocked, host-uses, in-use, already-attached, not-running,
    needs-binding, no-guest-slot."""
    message: str
    fix: str = ""

    def __str__(self) -> str:
        return f"{self.message} ({self.fix})" if self.fix else self.message


@dataclass
class AttachPlan:
    """What attaching a device to a domain would do."""

    vm: str
    address: PciAddress
    mode: Mode
    managed: bool
    hostdevs: list[Hostdev]
    """Every hostdev to add: the device and the group members it needs."""
    new_controllers: list[PciController] = field(default_factory=list)
    """PCI controllers added first to make room (pcie-root-ports on q35, pci-bridges on i440fx)."""
    before: str = ""
    after: str = ""
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    running: bool = False

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def diff(self) -> str:
        """The change to the domain XML, as `virt-xml --print-diff` shows it."""
        return print_diff(self.before, self.after)

    @property
    def new_root_ports(self) -> list[int]:
        """Indexes of the pcie-root-ports among new_controllers (the original key)."""
        return [c.index for c in self.new_controllers if c.model == "pcie-root-port"]

    @property
    def addresses(self) -> list[PciAddress]:
        return [h.address for h in self.hostdevs]

    def to_json(self) -> dict[str, Any]:
        return {
            "vm": self.vm, "address": str(self.address), "mode": self.mode, "managed": self.managed,
            "hostdevs": [str(a) for a in self.addresses],
            "xml": [hostdev_text(h) for h in self.hostdevs],
            "new_root_ports": self.new_root_ports,
            "new_controllers": [{"index": c.index, "model": c.model} for c in self.new_controllers],
            "diff": self.diff,
            "problems": [{"kind": p.kind, "message": p.message, "fix": p.fix} for p in self.problems],
            "notes": self.notes,
        }


def parse_mode(text: str) -> Mode:
    if text not in MODES:
        raise InputError(f"unknown mode {text!r}", fix="use config, live or both")
    return text  # type: ignore[return-value]


def _owner_problems(host_groups: dict[PciAddress, int | None], hv: Hypervisor, vm: str,
                    addresses: list[PciAddress]) -> list[Problem]:
    """Other domains holding any of `addresses` or another member of their groups (libvirt L04)."""
    wanted_groups = {host_groups.get(a) for a in addresses} - {None}
    problems: list[Problem] = []
    for other, infos in sorted(hv.hostdev_owners().items()):
        for info in infos:
            if info.name == vm:
                continue
            same_group = host_groups.get(other) in wanted_groups
            if other in addresses or same_group:
                how = "" if other in addresses else f" (same IOMMU group {host_groups.get(other)})"
                problems.append(Problem(
                    "in-use", f"{other}{how} is assigned to VM {info.name!r} ({info.state})",
                    fix=f"detach it there first: vfio-tui detach {other} {info.name}"))
    return problems


def plan_attach(host: Host, hv: Hypervisor, address: PciAddress | str, vm: str, *, mode: str = "config",
                managed: bool = True, rom_bar: bool | None = None, nic: NicOptions | None = None) -> AttachPlan:
    """Check and prepare attaching `address` (and the group members it needs) to `vm`; with `nic`, an
    SR-IOV NIC VF as <interface type='hostdev'> with that MAC/VLAN (core.libvirt.vfnic).

    Raises:
        InputError: malformed address or mode, or a device the host does not have.
        UnknownDomainError: no such VM.
    """
    addr = address if isinstance(address, PciAddress) else PciAddress.parse(address)
    mode_ = parse_mode(mode)
    inv = host.inventory()
    dev = inv.device(addr)
    if dev is None:
        raise InputError(f"no PCI device {addr} on {host.label}", fix="`vfio-tui inventory` lists the devices")
    dom = hv.lookup(vm)
    running = bool(dom.isActive())
    plan = AttachPlan(vm=vm, address=addr, mode=mode_, managed=managed, hostdevs=[], running=running)
    problems = plan.problems
    if mode_ != "config" and not running:
        problems.append(Problem("not-running", f"VM {vm!r} is not running: --{mode_} changes the running VM",
                                fix="use --config (the default) to change its definition"))
    if dev.is_bridge:
        problems.append(Problem("bridge", f"{addr} is a bridge/port: libvirt refuses it"
                                " ('Non-endpoint PCI devices cannot be assigned to guests')",
                                fix="pass the endpoint devices behind it instead"))
    if dev.iommu_group is None:
        problems.append(Problem("no-iommu-group", f"{addr} has no IOMMU group: the IOMMU is off, and libvirt"
                                " will say 'host doesn't support VFIO PCI passthrough'",
                                fix="enable it (intel_iommu=on or amd_iommu=on), reboot; `vfio-tui check`"))
    else:
        verdict = inv.verdicts.get(dev.iommu_group)
        if verdict is not None and verdict.kind == "blocked":
            for reason in verdict.reasons:
                problems.append(Problem("group-blocked", f"group {dev.iommu_group}: {reason}",
                                        fix="see `vfio-tui inventory --group "
                                            f"{dev.iommu_group}`"))
    needed = needed_functions(inv, addr)
    for a in needed:
        token = vf_token_problem(inv, a)
        if token is not None:
            problems.append(Problem("vf-token", *token))
    if nic is not None:
        problems.extend(Problem("not-a-nic-vf", text, fix=fix) for text, fix in nic_problems(inv, addr))
    if not any(p.kind == "group-blocked" for p in problems):
        # managed='yes' means libvirt takes these devices from the host at start: say what would go
        for a in needed:
            for use in (u for u in inv.uses_of(a) if u.blocking):
                problems.append(Problem("host-uses", f"the host uses {a}: {use.describe()}",
                                        fix=use.fix or "free it first, or pick a device the host does not need"))
    if len(needed) > 1:
        plan.notes.append(
            f"group {dev.iommu_group} also holds {', '.join(str(a) for a in needed[1:])}: QEMU needs every device"
            " of the group on vfio-pci ('group N is not viable'), so they go to the same VM")
    base_xml = hv.xml(dom, inactive=mode_ != "live")
    domain = DomainXml(base_xml)
    plan.before = DomainXml(base_xml).to_string()
    present = {h.address for h in domain.hostdevs()}
    if addr in present:
        problems.append(Problem("already-attached", f"{addr} is already in VM {vm!r}",
                                fix=f"nothing to do; `vfio-tui detach {addr} {vm}` removes it"))
    to_add = sorted(a for a in needed if a not in present)
    groups = {d.address: d.iommu_group for d in inv}
    problems.extend(_owner_problems(groups, hv, vm, needed))
    for a in needed:
        member = inv.device(a)
        if member is None:
            continue
        if not managed and not member.on_vfio:
            on = member.driver or "no driver"
            problems.append(Problem(
                "needs-binding", f"managed='no': {a} must already be on vfio-pci (it is on {on})",
                fix=f"bind group {dev.iommu_group} first: vfio-tui bind {addr}; or use --managed yes"))
        elif managed and member.on_vfio and a == addr:
            plan.notes.append(f"{a} is already on vfio-pci; with managed='yes' libvirt gives it back to its host"
                              " driver when the VM stops (use --managed no to keep it on vfio-pci)")
    if not managed:
        for m in inv.members(dev.iommu_group) if dev.iommu_group is not None else []:
            if m.address not in needed and not m.keeps_group_viable:
                problems.append(Problem("needs-binding", f"{m.address} (group {dev.iommu_group}) is on {m.driver}",
                                        fix=f"vfio-tui bind {addr}"))
    hostdevs, layout = place_hostdevs(to_add, managed=managed, rom_bar=rom_bar, domain=domain,
                                      place=mode_ != "live")
    if layout.problem:
        problems.append(Problem("no-guest-slot", layout.problem, fix=layout.fix))
    if mode_ != "config" and len({a.slot_key for a in to_add}) < len(to_add):
        plan.notes.append("hot-plug gives each function its own guest slot (libvirt cannot hot-plug a"
                          " multi-function device); --config keeps their function numbers")
    if nic is not None:
        hostdevs = as_interfaces(hostdevs, addr, nic)
    for controller in layout.new_controllers:
        domain.add_controller(controller)
    for h in hostdevs:
        domain.add_hostdev(h)
    plan.hostdevs, plan.new_controllers = hostdevs, layout.new_controllers
    plan.after = domain.to_string()
    return plan


def _is_no_support(hv: Hypervisor, exc: BaseException) -> bool:
    return isinstance(exc, hv.libvirt.libvirtError) and error_fields(exc)[0] == VIR_ERR_NO_SUPPORT


def _define_with(hv: Hypervisor, dom: Any, plan: AttachPlan) -> None:
    """The fallback: edit the current persistent XML the same way and define it."""
    current = DomainXml(hv.xml(dom, inactive=True))
    for controller in plan.new_controllers:
        current.add_controller(controller)
    for h in plan.hostdevs:
        current.add_hostdev(h)
    hv.define(current.to_string())


def _attach_config(hv: Hypervisor, dom: Any, plan: AttachPlan, rep: StepReporter) -> str:
    lv = hv.libvirt
    flags = lv.VIR_DOMAIN_AFFECT_CONFIG
    done: list[str] = []
    elements: list[tuple[str, str]] = []
    for controller in plan.new_controllers:
        holder = DomainXml("<domain><devices/></domain>")
        holder.add_controller(controller)
        elements.append((f"add {controller.model} {controller.index} to {plan.vm} (config)",
                         element_text(holder.devices[0])))
    for h in plan.hostdevs:
        elements.append((f"attach {h.address} to {plan.vm} (config)", hostdev_text(h)))
    for i, (name, xml) in enumerate(elements):
        rep.emit(StepEvent(name, "started"))
        t0 = time.perf_counter()
        try:
            dom.attachDeviceFlags(xml, flags)
        except lv.libvirtError as exc:
            if i == 0 and _is_no_support(hv, exc):
                rep.emit(StepEvent(name, "info", "this driver has no attachDeviceFlags (libvirt's test driver);"
                                   " editing the definition instead, as virt-xml does"))
                with rep.step(f"define {plan.vm} with the edited XML"):
                    _define_with(hv, dom, plan)
                return "defineXML"
            error = operation_error(name, exc)
            rep.emit(StepEvent(name, "failed", error.message, time.perf_counter() - t0))
            for xml_done in reversed(done):
                try:
                    dom.detachDeviceFlags(xml_done, flags)
                except lv.libvirtError:
                    pass
            raise error from None
        rep.emit(StepEvent(name, "done", seconds=time.perf_counter() - t0))
        done.append(xml)
    return "attachDeviceFlags"


def _attach_live(hv: Hypervisor, dom: Any, plan: AttachPlan, rep: StepReporter) -> None:
    lv = hv.libvirt
    for h in plan.hostdevs:
        name = f"hot-plug {h.address} into {plan.vm} (live)"
        with rep.step(name):
            live = replace(h, guest=None)  # hot-plug: libvirt picks the slot (an interface keeps its MAC/VLAN)
            try:
                dom.attachDeviceFlags(hostdev_text(live), lv.VIR_DOMAIN_AFFECT_LIVE)
            except lv.libvirtError as exc:
                fix = ("this hypervisor cannot hot-plug; use --config and restart the VM"
                       if _is_no_support(hv, exc) else "")
                raise operation_error(name, exc, fix=fix) from None


@dataclass
class AttachResult:
    """What apply_attach did."""

    method: str
    """attachDeviceFlags or defineXML (for the config part)."""
    events: list[Any] = field(default_factory=list)


def apply_attach(hv: Hypervisor, plan: AttachPlan, on_step: OnStep | None = None) -> AttachResult:
    """Apply a plan made by plan_attach.

    Raises:
        PlanRefusedError: the plan has problems (exit code 3); nothing was changed.
        LibvirtError: libvirt refused (already-attached config changes are rolled back).
    """
    if plan.problems:
        raise PlanRefusedError(f"not attaching {plan.address} to {plan.vm}: {plan.problems[0]}"
                               + (f" (+{len(plan.problems) - 1} more)" if len(plan.problems) > 1 else ""))
    rep = StepReporter(on_step)
    dom = hv.lookup(plan.vm)
    method = "attachDeviceFlags"
    if plan.mode in ("live", "both"):
        _attach_live(hv, dom, plan, rep)
    if plan.mode in ("config", "both"):
        method = _attach_config(hv, dom, plan, rep)
    return AttachResult(method=method, events=rep.events)


def detach(hv: Hypervisor, address: PciAddress | str, vm: str, mode: str = "config", *,
           host: Host | None = None, on_step: OnStep | None = None) -> list[PciAddress]:
    """Remove `address` from `vm`, with the other functions of its slot (and, given the host, the
    other members of its IOMMU group) that the VM holds: a group left half in a VM cannot start.

    Returns the addresses removed.

    Raises:
        InputError: the VM does not hold the device.
    """
    addr = address if isinstance(address, PciAddress) else PciAddress.parse(address)
    mode_ = parse_mode(mode)
    lv = hv.libvirt
    rep = StepReporter(on_step)
    dom = hv.lookup(vm)
    if mode_ != "config" and not dom.isActive():
        raise InputError(f"VM {vm!r} is not running", fix="use --config")
    xml = DomainXml(hv.xml(dom, inactive=mode_ != "live"))
    held = [h.address for h in xml.hostdevs()]
    if addr not in held:
        raise InputError(f"VM {vm!r} has no hostdev {addr}",
                         fix=f"its hostdevs: {', '.join(map(str, held)) or 'none'}")
    related = {a for a in held if a.slot_key == addr.slot_key}
    if host is not None:
        related |= {a for a in held if a in set(needed_functions(host.inventory(), addr))}
    targets = [addr, *sorted(related - {addr})]
    flags = {"config": lv.VIR_DOMAIN_AFFECT_CONFIG, "live": lv.VIR_DOMAIN_AFFECT_LIVE,
             "both": lv.VIR_DOMAIN_AFFECT_CONFIG | lv.VIR_DOMAIN_AFFECT_LIVE}[mode_]
    for a in targets:
        element = xml.find_hostdev(a)
        assert element is not None
        name = f"detach {a} from {vm} ({mode_})"
        with rep.step(name):
            try:
                dom.detachDeviceFlags(element_text(element), flags)
            except lv.libvirtError as exc:
                if not (_is_no_support(hv, exc) and mode_ == "config"):
                    raise operation_error(name, exc) from None
                current = DomainXml(hv.xml(dom, inactive=True))
                current.remove_hostdev(a)
                hv.define(current.to_string())
    if mode_ != "config":
        live_left = {h.address for h in DomainXml(hv.xml(dom, inactive=False)).hostdevs()} & set(targets)
        if live_left:
            rep.info("live detach pending", f"the guest has not released {', '.join(map(str, sorted(live_left)))}"
                     " yet (ACPI unplug); libvirt does not give it back to the host until it does")
    return targets

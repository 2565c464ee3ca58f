"""Provides plan_bind(): what binding a device's whole IOMMU group to vfio-pci takes.

The plan is by address, never by vendor:device id (kernel-semantics A2: new_id and
vfio-pci.ids claim every unbound device with those ids). Per endpoint, libvirt's sequence:
driver_override <- vfio-pci, driver/unbind, drivers_probe. All overrides are written before
any unbind, so that nothing can re-probe a half-done multi-function group to its host driver;
then all unbinds, then all probes. Bridges stay (vfio-pci refuses them, A1); a bridge on a
driver that breaks viability (>= 5.19: anything but pcieport) is unbound.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from vfio_tui.core.address import PciAddress
from vfio_tui.core.errors import InputError
from vfio_tui.core.model import VFIO_DRIVER, DomainFacts, HostInventory, HostUse, PciDevice
from vfio_tui.core.sriovinfo.checks import vf_token_problem
from vfio_tui.core.viability import member_keeps_viable

if TYPE_CHECKING:
    from vfio_tui.core.host import Host

_CHIPSET_CLASSES = {"0600": "Host bridge", "0601": "ISA bridge"}
"""pci.ids' names of the chipset classes, for the plan's refusal (it reads no pci.ids)."""

StepKind = Literal["modprobe", "override", "unbind", "probe"]


@dataclass(frozen=True, slots=True)
class Step:
    """One change to the host: a sysfs write (path <- value) or a module load."""

    kind: StepKind
    address: str
    """The device this step is for ("" for a module load)."""
    path: str
    """Host-absolute sysfs path ("/sys/bus/pci/devices/0000:0b:00.0/driver_override"), or "modprobe"."""
    value: str
    undo: str
    """What undoes it, in the same "path <- value" form (restore does this by state, not blindly)."""

    def describe(self) -> str:
        if self.kind == "modprobe":
            return f"modprobe {self.value}"
        return f"{self.path} <- {self.value}"


@dataclass(frozen=True, slots=True)
class DevicePlan:
    """What happens to one member of the group."""

    address: str
    from_driver: str | None
    to_driver: str | None
    from_override: str | None
    is_bridge: bool
    note: str = ""


@dataclass(frozen=True, slots=True)
class Refusal:
    """A member that blocks the plan, and why."""

    address: str
    reason: str
    fix: str = ""
    forceable: bool = False
    """Whether --force-host-device ADDR may override it (host usage; never chipset or SR-IOV)."""


@dataclass(frozen=True)
class BindPlan:
    """Binding a whole IOMMU group to vfio-pci: the devices, the exact steps, refusals."""

    target: str
    group: int
    devices: tuple[DevicePlan, ...]
    steps: tuple[Step, ...]
    refused: tuple[Refusal, ...] = ()
    forced: tuple[str, ...] = ()
    """Members whose host usage the user overrode with --force-host-device (loudly)."""
    warnings: tuple[str, ...] = ()
    kernel: str | None = None
    endpoints: tuple[str, ...] = field(default=())
    """Members that must end on vfio-pci."""
    bridges: tuple[str, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.refused

    @property
    def writes(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if s.kind != "modprobe")

    @property
    def nothing_to_do(self) -> bool:
        return not self.steps

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "vfio-tui/bind-plan/1",
            "target": self.target,
            "group": self.group,
            "devices": [{"address": d.address, "from_driver": d.from_driver, "to_driver": d.to_driver,
                         "from_override": d.from_override, "is_bridge": d.is_bridge, "note": d.note}
                        for d in self.devices],
            "modules": [s.value for s in self.steps if s.kind == "modprobe"],
            "writes": [{"path": s.path, "value": s.value, "undo": s.undo} for s in self.writes],
            "refused": [{"address": r.address, "reason": r.reason, "fix": r.fix} for r in self.refused],
            "forced": list(self.forced),
            "warnings": list(self.warnings),
        }


def vfio_pci_loaded(host: Host) -> bool:
    return host.paths.pci_driver(VFIO_DRIVER).is_dir()


def vfio_pci_loadable(host: Host, release: str | None) -> bool:
    """Whether modprobe vfio-pci can work (module file or built in) without trying it."""
    if vfio_pci_loaded(host):
        return True
    if host.simulated:
        avail = host.metadata.get("modules_available") or []
        return "vfio_pci" in {str(m).replace("-", "_") for m in avail}
    moddir = host.paths.lib_modules / (release or os.uname().release)
    for name in ("modules.dep", "modules.builtin"):
        try:
            text = (moddir / name).read_text()
        except OSError:
            continue
        if "vfio-pci.ko" in text or "vfio_pci.ko" in text:
            return True
    return False


def _sysfs(host: Host, *parts: str) -> str:
    return host.paths.display(host.paths.pci_bus.joinpath(*parts))


_PASSTHROUGH_DRIVERS = frozenset({"pci-stub", "pciback", "xen-pciback"})
"""Drivers besides vfio's that hold a function for a guest (legacy KVM assignment, Xen)."""


def running_domain_uses(domains: DomainFacts | None, addresses: set[PciAddress]
                        ) -> dict[PciAddress, tuple[HostUse, ...]]:
    """Members of the group that a running libvirt domain holds as a <hostdev>, when libvirt answers.

    Unbinding such a device under a running QEMU blocks in vfio-pci's remove() until the VM lets
    go (kernel-semantics K07), so it is refused like any other host use. No libvirt, no answer
    (the /dev/vfio open check of core.holders still sees QEMU's open group).
    """
    if domains is None:
        return {}
    try:
        holds = domains()
    except Exception:  # noqa: BLE001 - an unreachable libvirt only means no domain facts
        return {}
    out: dict[PciAddress, tuple[HostUse, ...]] = {}
    for address, infos in holds.items():
        if address in addresses:
            uses = tuple(HostUse("domain", f"<hostdev> of running VM {i.vm!r}",
                                 fix=f"shut down {i.vm} or detach it: vfio-tui detach {address} {i.vm} --live")
                         for i in infos if i.active and i.live)
            if uses:
                out[address] = uses
    return out


def plan_bind(host: Host, address: str | PciAddress, *, force_host_devices: Iterable[str | PciAddress] = (),
              domains: DomainFacts | None = None, assume_unused: bool = False,
              released: Mapping[PciAddress, frozenset[str]] | None = None,
              unloaded: Mapping[PciAddress, str] | None = None,
              inventory: HostInventory | None = None) -> BindPlan:
    """Plan binding the IOMMU group of `address` to vfio-pci.

    Args:
        domains: which libvirt domains hold which devices (hypervisor_for(host) gives them); a
            member a running domain holds is refused.
        assume_unused: on a host whose usage facts are not recorded, plan as if the host used none
            of the group's devices (the user's word; said in the plan's warnings).
        released: host uses (by kind, per member) that a GPU plan takes away before binding (the
            console, the display server): not refusals here.
        unloaded: members whose driver a GPU plan removes by unloading its modules first: no unbind
            step for them (they are driverless by then), and the plan says why.
        inventory: the host's inventory read for this plan already (names=False, focus=address).

    Raises:
        InputError: a malformed or unknown address, a bridge as the target, no IOMMU, a device
            without an IOMMU group, or vfio-pci not available in this kernel.
    """
    addr = address if isinstance(address, PciAddress) else PciAddress.parse(address)
    forced_set = {a if isinstance(a, PciAddress) else PciAddress.parse(a) for a in force_host_devices}
    # No pci.ids names (the plan speaks in addresses and drivers); only this group's functions (and the
    # PFs of its VFs) read, and host usage gathered for them alone.
    inv = inventory if inventory is not None else host.inventory(names=False, focus=addr, group_only=True)
    dev = inv.device(addr)
    if dev is None:
        raise InputError(f"no PCI device {addr} on {host.label}",
                         fix="see `vfio-tui inventory` for the addresses this host has")
    if not inv.iommu_enabled:
        raise InputError("the IOMMU is off on this host: there are no IOMMU groups, so nothing can be bound to"
                         " vfio-pci", fix="enable VT-d/AMD-Vi in the firmware and boot with intel_iommu=on")
    if dev.is_bridge:
        raise InputError(f"{addr} is a bridge ({dev.kind_label}); vfio-pci refuses bridges and libvirt cannot"
                         " assign them", fix="bind the endpoint device behind it instead")
    group = inv.group_of(addr)
    if group is None or dev.iommu_group is None:
        raise InputError(f"{addr} has no IOMMU group, so vfio-pci cannot take it",
                         fix="check that the IOMMU covers this device (dmesg | grep -i -e DMAR -e AMD-Vi)")
    loaded = vfio_pci_loaded(host)
    if not loaded and not vfio_pci_loadable(host, inv.kernel):
        raise InputError("vfio-pci is not available in this kernel (not loaded, no module to load)",
                         fix="install a kernel with CONFIG_VFIO_PCI (Debian/Ubuntu kernels have it)")
    # A read of the group alone (partial_group) holds no other device: ask sysfs whether one exists.
    unknown = [str(a) for a in forced_set if inv.device(a) is None
               and (inv.partial_group is None or not host.paths.pci_device(str(a)).exists())]
    if unknown:
        raise InputError(f"--force-host-device {unknown[0]}: no such device on this host")
    outside = [str(a) for a in forced_set if a not in group.members]
    if outside:
        raise InputError(f"--force-host-device {outside[0]}: not in IOMMU group {dev.iommu_group}")

    members = inv.members(dev.iommu_group)
    # A running VM can hold a PCI function only through a driver that hands it over (vfio-pci or a variant,
    # Xen's pciback): a group wholly on host drivers or none is held by no VM, and libvirt is not asked
    # (a connection was a third of a bind's time on the lab's kernel).
    held_possible = any(m.on_vfio or m.driver in _PASSTHROUGH_DRIVERS for m in members)
    in_domains = running_domain_uses(domains if held_possible else None, {m.address for m in members})
    released = released or {}
    unloaded = unloaded or {}
    notices: list[str] = []
    refused: list[Refusal] = []
    forced: list[str] = []
    devices: list[DevicePlan] = []
    endpoints: list[PciDevice] = []
    bridges: list[PciDevice] = []
    for m in members:
        a = str(m.address)
        all_uses = inv.uses_of(m.address) + in_domains.get(m.address, ())
        handled = released.get(m.address, frozenset())
        uses = tuple(u for u in all_uses if u.blocking and u.kind not in handled)
        notices += [f"{a}: {u.describe()}" + (f" ({u.fix})" if u.fix else "") for u in all_uses if not u.blocking]
        if uses and m.address in forced_set:
            forced.append(a)
        elif uses:
            refused.append(Refusal(a, "used by the host: " + "; ".join(u.describe() for u in uses),
                                   "; ".join(dict.fromkeys(u.fix for u in uses if u.fix)), forceable=True))
        if m.is_bridge:
            bridges.append(m)
            keep = member_keeps_viable(m, inv.kernel)
            devices.append(DevicePlan(a, m.driver, m.driver if keep else None, m.driver_override, True,
                                      "bridge: stays" if keep else f"bridge: unbound from {m.driver}"))
            continue
        if m.is_chipset:
            what = m.class_name or _CHIPSET_CLASSES.get(m.class_short, f"class {m.class_short}")
            refused.append(Refusal(a, f"part of the chipset ({what}); the host needs it",
                                   "this group cannot be passed through"))
        if m.sriov_num_vfs:
            refused.append(Refusal(a, f"PF with {m.sriov_num_vfs} SR-IOV VFs enabled; vfio-pci refuses it (EBUSY)",
                                   f"echo 0 > {_sysfs(host, 'devices', a, 'sriov_numvfs')}, or pass a VF"))
        endpoints.append(m)
        if m.address in unloaded and m.driver is not None:
            # The GPU plan unloads the driver's modules first: the device is driverless when binding starts.
            devices.append(DevicePlan(a, None, VFIO_DRIVER, m.driver_override, False,
                                      f"{m.driver}: unloaded with {unloaded[m.address]} first, reloaded on undo"))
            continue
        devices.append(DevicePlan(a, m.driver, VFIO_DRIVER, m.driver_override, False,
                                  "already on vfio-pci" if m.driver == VFIO_DRIVER else ""))

    # After the members' own reasons: a chipset or SR-IOV refusal is the more specific one.
    if not inv.host_use_known and not assume_unused:
        refused.append(Refusal(str(addr), "host use not recorded: nothing says whether the host needs these"
                               " devices (its root disk, the NIC of your SSH session, the console)",
                               "run vfio-tui on that host itself, record it with `vfio-tui snapshot`, or add"
                               " --assume-unused if you know the host does not use them"))

    steps: list[Step] = []
    if not loaded:
        steps.append(Step("modprobe", "", "modprobe", "vfio-pci", "(left loaded)"))
    probe = _sysfs(host, "drivers_probe")
    todo = [m for m in endpoints if m.driver != VFIO_DRIVER]
    for m in todo:
        if m.driver_override != VFIO_DRIVER:
            a = str(m.address)
            steps.append(Step("override", a, _sysfs(host, "devices", a, "driver_override"), VFIO_DRIVER,
                              f"{_sysfs(host, 'devices', a, 'driver_override')} <- {m.driver_override or ''!r}"))
    for m in todo:
        if m.driver is not None and m.address not in unloaded:
            a = str(m.address)
            steps.append(Step("unbind", a, _sysfs(host, "devices", a, "driver", "unbind"), a,
                              f"{_sysfs(host, 'drivers', m.driver, 'bind')} <- {a}"))
    for b in bridges:
        if b.driver is not None and not member_keeps_viable(b, inv.kernel):
            a = str(b.address)
            steps.append(Step("unbind", a, _sysfs(host, "devices", a, "driver", "unbind"), a,
                              f"{_sysfs(host, 'drivers', b.driver, 'bind')} <- {a}"))
    for m in todo:
        a = str(m.address)
        steps.append(Step("probe", a, probe, a, f"{_sysfs(host, 'drivers', VFIO_DRIVER, 'unbind')} <- {a}"))

    warnings = [f"--force-host-device {a}: the host is using it and will lose it" for a in forced]
    warnings += notices
    token = vf_token_problem(inv, addr)
    if token is not None:  # binding works; opening it later needs the PF user's VF token
        warnings.append(f"{token[0]} (fix: {token[1]})")
    if not inv.host_use_known and assume_unused:
        warnings.append("--assume-unused: host use is not recorded here; planned as if the host used none of"
                        " these devices")
    return BindPlan(
        target=str(addr), group=dev.iommu_group, devices=tuple(devices), steps=tuple(steps),
        refused=tuple(refused), forced=tuple(forced), warnings=tuple(warnings), kernel=inv.kernel,
        endpoints=tuple(str(m.address) for m in endpoints), bridges=tuple(str(b.address) for b in bridges),
    )

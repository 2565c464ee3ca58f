"""Provides the fleet view: per host, its IOMMU state and which devices are free to pass through
(`vfio-tui fleet`), read from each host's recording — the same facts `inventory --on NAME` shows.

"Free" is the strict answer to "which host has a GPU I can pass through now": the device's whole
IOMMU group is bindable or already on vfio-pci (the host uses none of it, no chipset part, no
SR-IOV PF with VFs), the host's use of its devices is recorded (unknown is not free), and no VM has
any member of the group in its definition. Devices are counted per endpoint, by class.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from vfio_tui.core.model import DomainHolds, HostInventory, PciDevice

if TYPE_CHECKING:
    from vfio_tui.core.host import Host
    from vfio_tui.core.remote.hosts import HostEntry

FLEET_SCHEMA: Final = "vfio-tui/fleet/1"
CLASSES: Final = ("gpu", "nic", "nvme", "hba", "usb", "audio", "other")
# The checks a recording can answer without talking to the host's libvirt.
FLEET_CHECKS: Final = ("cpu-virt", "kvm", "iommu-firmware", "iommu-kernel", "iommu-cmdline", "cmdline-flags",
                       "vfio-modules", "interrupt-remapping")
MAX_WORKERS: Final = 8


def device_class(dev: PciDevice) -> str:
    """gpu, nic, nvme, hba, usb, audio or other, from the PCI class code."""
    base, sub, prog = dev.class_code[:2], dev.class_code[2:4], dev.class_code[4:6]
    if base == "03":
        return "gpu"
    if base == "02":
        return "nic"
    if base == "01":
        return "nvme" if sub == "08" and prog == "02" else "hba"
    if base == "0c":
        if sub == "03":
            return "usb"
        if sub == "04":
            return "hba"  # Fibre Channel
    if base == "04":
        return "audio"
    return "other"


@dataclass(frozen=True)
class FreeDevice:
    address: str
    device_class: str
    name: str
    group: int
    ids: str
    """vendor:device"""
    mates: tuple[str, ...] = ()
    """The other endpoints of its group (they go with it)."""

    def to_json(self) -> dict[str, Any]:
        return {"address": self.address, "class": self.device_class, "name": self.name, "group": self.group,
                "ids": self.ids, "group_mates": list(self.mates)}


@dataclass(frozen=True)
class HostSummary:
    """One host's line of the fleet; `error` set (and the rest empty) when it could not be read."""

    name: str
    target: str
    error: str | None = None
    error_kind: str | None = None
    reader: str | None = None
    node: str | None = None
    label: str | None = None
    kernel: str | None = None
    iommu: bool | None = None
    iommu_units: tuple[str, ...] = ()
    interrupt_remapping: str = "unknown"
    """on, off or unknown (from the interrupt-remapping check on the recording)."""
    groups: int = 0
    functions: int = 0
    host_use_known: bool = True
    vms_known: bool = True
    free: tuple[FreeDevice, ...] = ()
    held: tuple[dict[str, Any], ...] = ()
    """Devices in a running VM: {address, vm, state}."""
    assigned: tuple[dict[str, Any], ...] = ()
    """Devices in a VM's definition that is not running."""
    failing_checks: tuple[str, ...] = ()
    warning_checks: tuple[str, ...] = ()
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None

    def free_by_class(self) -> dict[str, int]:
        counts = {c: 0 for c in CLASSES}
        for dev in self.free:
            counts[dev.device_class] += 1
        return {c: n for c, n in counts.items() if n}

    def to_json(self) -> dict[str, Any]:
        if not self.ok:
            return {"name": self.name, "target": self.target, "ok": False, "error": self.error,
                    "error_kind": self.error_kind}
        return {
            "name": self.name, "target": self.target, "ok": True, "reader": self.reader, "node": self.node,
            "label": self.label, "kernel": self.kernel,
            "iommu": {"enabled": self.iommu, "units": list(self.iommu_units),
                      "interrupt_remapping": self.interrupt_remapping},
            "groups": self.groups, "functions": self.functions, "host_use_recorded": self.host_use_known,
            "vms_recorded": self.vms_known,
            "free": {"by_class": self.free_by_class(), "devices": [d.to_json() for d in self.free]},
            "held_by_vms": list(self.held), "assigned_to_vms": list(self.assigned),
            "failing_checks": list(self.failing_checks), "warning_checks": list(self.warning_checks),
            "seconds": round(self.seconds, 3),
        }


def vm_holds(host: Host) -> DomainHolds | None:
    """Which VMs have which devices: as the host's recording says, else (a host opened here: this
    machine, the demo, a sim-host tree) as its libvirt says; None when neither knows."""
    from vfio_tui.core.vmholds import recorded_holds

    recorded = recorded_holds(host.extras)
    if recorded is not None or host.remote is not None:
        return recorded
    from vfio_tui.core.libvirt.for_host import domain_facts_for

    try:
        return domain_facts_for(host)()
    except Exception:  # noqa: BLE001 - no libvirt that goes with this host: VM use is unknown
        return None


def free_devices(inv: HostInventory, holds: DomainHolds | None) -> list[FreeDevice]:
    """The endpoints of every group that is free as a whole (see the module docstring)."""
    if not inv.iommu_enabled or not inv.host_use_known or holds is None:
        return []
    out: list[FreeDevice] = []
    for gid, verdict in sorted(inv.verdicts.items()):
        if verdict.kind not in ("bindable", "ready"):
            continue
        endpoints = [d for d in inv.members(gid) if not d.is_bridge]
        if any(holds.get(d.address) for d in inv.members(gid)):
            continue
        for dev in endpoints:
            mates = tuple(str(m.address) for m in endpoints if m.address != dev.address)
            out.append(FreeDevice(str(dev.address), device_class(dev), dev.name, gid,
                                  f"{dev.vendor_id}:{dev.device_id}", mates))
    return out


def _ir_state(host: Host) -> str:
    from vfio_tui.core.checks.checks_modules import interrupt_remapping
    from vfio_tui.core.checks.context import CheckContext

    on, _ = interrupt_remapping(CheckContext(host))
    return "unknown" if on is None else ("on" if on else "off")


def summarize(host: Host, name: str, target: str, *, reader: str | None = None, node: str | None = None,
              seconds: float = 0.0) -> HostSummary:
    """The fleet line of an open host (a fetched recording, or any host vfio-tui opens)."""
    from vfio_tui.core.checks import run_checks

    inv = host.inventory()
    holds = vm_holds(host)
    held: list[dict[str, Any]] = []
    assigned: list[dict[str, Any]] = []
    for addr, hs in sorted((holds or {}).items()):
        for h in hs:
            row = {"address": str(addr), "vm": h.vm, "state": h.state}
            (held if h.active and h.live else assigned).append(row)
    results = run_checks(host, only=FLEET_CHECKS)
    return HostSummary(
        name=name, target=target, reader=reader, node=node, label=host.label, kernel=inv.kernel,
        iommu=inv.iommu_enabled, iommu_units=tuple(inv.iommu_units), interrupt_remapping=_ir_state(host),
        groups=len(inv.groups), functions=len(inv.devices), host_use_known=inv.host_use_known,
        vms_known=holds is not None, free=tuple(free_devices(inv, holds)), held=tuple(held),
        assigned=tuple(assigned), failing_checks=tuple(r.id for r in results if r.status == "fail"),
        warning_checks=tuple(r.id for r in results if r.status == "warn"), seconds=seconds)


def read_host(entry: HostEntry, *, timeout: float = 120.0) -> HostSummary:
    """Fetch one host's recording and summarize it; any failure is the summary's error, never raised."""
    from vfio_tui.core.errors import VfioError
    from vfio_tui.core.open_host import remote_host
    from vfio_tui.core.remote.ssh import RemoteError

    started = time.monotonic()
    try:
        host, fetched = remote_host(entry, timeout=timeout)
        with host:
            return summarize(host, entry.name, entry.ssh_target, reader=fetched.reader, node=fetched.node,
                             seconds=time.monotonic() - started)
    except RemoteError as exc:
        return HostSummary(entry.name, entry.ssh_target, error=str(exc), error_kind=exc.kind,
                           seconds=time.monotonic() - started)
    except VfioError as exc:
        return HostSummary(entry.name, entry.ssh_target, error=str(exc), error_kind="data",
                           seconds=time.monotonic() - started)
    except Exception as exc:  # noqa: BLE001 - one broken host must not hide the others
        return HostSummary(entry.name, entry.ssh_target, error=f"{type(exc).__name__}: {exc}"[:300],
                           error_kind="internal", seconds=time.monotonic() - started)


def read_fleet(entries: Sequence[HostEntry], *, timeout: float = 120.0, workers: int = MAX_WORKERS,
               on_host: Callable[[HostSummary], None] | None = None) -> list[HostSummary]:
    """Every host in parallel (at most `workers` at once), in the order given; a host that is down
    is a summary with its reason, the others are complete."""
    if not entries:
        return []
    results: dict[str, HostSummary] = {}

    def one(entry: HostEntry) -> HostSummary:
        summary = read_host(entry, timeout=timeout)
        results[entry.name] = summary
        if on_host is not None:
            on_host(summary)
        return summary

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(entries)))) as pool:
        list(pool.map(one, entries))
    return [results[e.name] for e in entries]


def fleet_json(summaries: Sequence[HostSummary], device_class_filter: str | None = None) -> dict[str, Any]:
    hosts = [s.to_json() for s in summaries]
    if device_class_filter:
        for h in hosts:
            if h.get("ok"):
                h["free"]["devices"] = [d for d in h["free"]["devices"] if d["class"] == device_class_filter]
    return {"schema": FLEET_SCHEMA, "class": device_class_filter, "hosts": hosts,
            "down": [s.name for s in summaries if not s.ok]}


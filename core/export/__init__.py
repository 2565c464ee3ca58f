"""Provides the config snippets cluster engines take for PCI passthrough — OpenStack Nova's
`[pci] device_spec`/`alias`, KubeVirt's `permittedHostDevices`, Proxmox VE's resource mappings —
for the devices that are safe to hand over, each device in or out with the reason as a comment.

Those engines take devices by vendor:device or by address and know nothing of IOMMU groups: a
device whose group is shared is whitelisted and fails at VM start ("group N is not viable"), or
worse, its group-mate goes to another VM. So a device is exported only as part of its whole group:
- the group is free (core.fleet: bindable or on vfio-pci, the host uses none of it, no VM has any of
  it, host use and VMs recorded);
- the engine can hand the group over whole: the group-mates are exported with it in a way the
  engine keeps together (each module says how), or the device is left out, saying why.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from vfio_tui.core.fleet import device_class, vm_holds
from vfio_tui.core.textsafe import printable

if TYPE_CHECKING:
    from vfio_tui.core.host import Host

FORMATS: Final = ("nova", "kubevirt", "proxmox")


@dataclass(frozen=True)
class ExportDevice:
    address: str
    vendor: str
    device: str
    subsystem: str | None
    """subsystem vendor:device, when known"""
    name: str
    device_class: str
    group: int | None
    device_type: str
    """Nova's word: type-PCI, type-PF (SR-IOV capable) or type-VF."""
    on_vfio: bool = False
    """Bound to vfio-pci now (an engine that offers what is on vfio-pci would offer it)."""

    @property
    def ids(self) -> str:
        return f"{self.vendor}:{self.device}"

    @property
    def slot(self) -> str:
        return self.address.rpartition(".")[0]

    @property
    def label(self) -> str:
        return f"{self.address} {self.name} [{self.ids}]"


@dataclass(frozen=True)
class GroupCandidate:
    """One IOMMU group of one host, with whether it is safe to hand over and why not."""

    host: str
    """The vfio-tui host name (or this machine's label)."""
    node: str
    """The name the engine knows the host by (its hostname)."""
    group: int | None
    endpoints: tuple[ExportDevice, ...]
    slot_functions: dict[str, tuple[str, ...]]
    """{slot: every function of that slot on the host} (Proxmox maps a whole slot)."""
    safe: bool
    reason: str
    """Why it is out (empty when safe)."""

    @property
    def shared(self) -> bool:
        return len(self.endpoints) > 1

    def describe(self) -> str:
        where = f"group {self.group}" if self.group is not None else "no IOMMU group"
        return f"{self.host} {where}"


def one_line(text: str) -> str:
    """Host text (a name, a mount point, a VM name from a recording) made safe for one comment or
    value line of a config file: no newline can start a config line of its own, no control reaches
    a terminal."""
    return printable(text, newlines=False)


def _device_type(dev: object) -> str:
    if getattr(dev, "physfn", None) is not None:
        return "type-VF"
    if (getattr(dev, "sriov_total_vfs", None) or 0) > 0:
        return "type-PF"
    return "type-PCI"


def host_candidates(host: Host, name: str, node: str) -> list[GroupCandidate]:
    """Every group of `host` that has something to pass through, safe or with the reason it is not."""
    inv = host.inventory()
    holds = vm_holds(host)
    slots: dict[str, list[str]] = {}
    for dev in inv.devices.values():
        a = str(dev.address)
        slots.setdefault(a.rpartition(".")[0], []).append(a)
    slot_functions = {k: tuple(sorted(v)) for k, v in slots.items()}

    def exp(dev: object) -> ExportDevice:
        from vfio_tui.core.model import PciDevice

        assert isinstance(dev, PciDevice)
        sub = (f"{dev.subsystem_vendor_id}:{dev.subsystem_device_id}"
               if dev.subsystem_vendor_id and dev.subsystem_device_id else None)
        return ExportDevice(str(dev.address), dev.vendor_id, dev.device_id, sub, one_line(dev.name), device_class(dev),
                            dev.iommu_group, _device_type(dev), dev.on_vfio)

    out: list[GroupCandidate] = []
    if not inv.iommu_enabled:
        for dev in sorted(inv.devices.values(), key=lambda d: d.address):
            if not dev.is_bridge:
                out.append(GroupCandidate(name, node, None, (exp(dev),), slot_functions, False,
                                          "the IOMMU is off on this host: nothing can be passed through"))
        return out
    for gid in sorted(inv.groups):
        members = inv.members(gid)
        endpoints = tuple(exp(d) for d in members if not d.is_bridge)
        if not endpoints:
            continue
        verdict = inv.verdicts.get(gid)
        reason = ""
        in_vms = sorted({f"{h.vm} ({h.state})" for d in members for h in (holds or {}).get(d.address, ())})
        if verdict is None or verdict.kind not in ("bindable", "ready"):
            reason = "; ".join(verdict.reasons) if verdict is not None and verdict.reasons else "blocked"
        elif not inv.host_use_known:
            reason = "the host's use of its devices is not recorded (unknown is not free)"
        elif holds is None:
            reason = "which VMs hold which devices is not recorded"
        elif in_vms:
            reason = f"in a libvirt VM already: {', '.join(in_vms)}"
        out.append(GroupCandidate(name, node, gid, endpoints, slot_functions, not reason, one_line(reason)))
    return out


_NODE_NAME: Final = re.compile(r"[^A-Za-z0-9-]+")


def node_name(text: str) -> str:
    """A host name as the engines take it (letters, digits, '-'; Proxmox's pve-node)."""
    cleaned = _NODE_NAME.sub("-", text.split(".")[0]).strip("-")
    return cleaned[:63] or "host"


def header(fmt: str, hosts: Sequence[str]) -> list[str]:
    return [f"vfio-tui export --format {fmt} ({', '.join(hosts)})",
            "Only whole IOMMU groups are handed over: a device whose group is shared goes with its group-mates",
            "or is left out, and each device below says which and why."]


def local_node(host: Host) -> str:
    """The node name of a host opened locally: this machine's name, or the recording's host name
    (the demo's label "demo: host192 (...)" -> host192)."""
    import os

    if host.paths.is_live:
        return node_name(os.uname().nodename)
    words = host.label.rpartition(": ")[2].split()
    return node_name(words[0] if words else "host")


def render(fmt: str, per_host: dict[str, list[GroupCandidate]], *, domain: str | None = None) -> str:
    """The snippet in `fmt` for the candidates of every host (insertion order kept)."""
    if fmt == "nova":
        from vfio_tui.core.export import nova

        return nova.render(per_host)
    every = [c for cands in per_host.values() for c in cands]
    if fmt == "kubevirt":
        from vfio_tui.core.export import kubevirt

        return kubevirt.render(every, domain or kubevirt.RESOURCE_DOMAIN)
    if fmt == "proxmox":
        from vfio_tui.core.export import proxmox

        return proxmox.render(every)
    raise ValueError(fmt)

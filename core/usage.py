"""Provides host usage: what on the host uses which PCI device (the binding guard's facts).

One code path for every host: the facts are first put in the recorded-host schema
(`vfio-tui/host-extras/1`, docs/ARCHITECTURE.md) and then mapped to devices. A recorded or
demo host carries the facts in its recording; on the live host core.usage_live gathers them
with psutil, /proc and /sys (read-only). Devices used by another libvirt domain are the
libvirt part's business (it can add HostUse(kind="domain") entries; not gathered here).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, Final

from vfio_tui.core.address import PciAddress
from vfio_tui.core.model import HostInventory, HostUse
from vfio_tui.core.virtio_mounts import VIRTIO_FSTYPES

UsageMap = Mapping[PciAddress, tuple[HostUse, ...]]
UsageSource = Callable[[HostInventory, PciAddress | None], UsageMap]
"""(inventory, the device a plan is about or None) -> {address: what on the host uses it}."""
EXTRAS_SCHEMA: Final = "vfio-tui/host-extras/1"
FACT_KEYS: Final = ("mounts", "swaps", "block_devices", "net_interfaces", "routes", "sessions", "consoles",
                    "display_servers", "keyboards")
_ESSENTIAL_MOUNTS = frozenset({"/", "/boot", "/boot/efi", "/usr", "/var", "/home"})


def facts_recorded(extras: Mapping[str, Any]) -> bool:
    """Whether a recording carries host-usage facts at all (a lab-format snapshot, or one from a
    version before them, does not: its devices' use by the host is unknown, not "none")."""
    return extras.get("schema") == EXTRAS_SCHEMA or any(key in extras for key in FACT_KEYS)


# -- facts -> uses -------------------------------------------------------------------------

def _pci(text: object) -> PciAddress | None:
    return PciAddress.try_parse(text) if isinstance(text, str) else None


def block_controllers(name: str, blocks: Mapping[str, Any], seen: set[str] | None = None) -> set[PciAddress]:
    """The PCI controllers under a block device, through partitions and dm/md/LVM slaves."""
    seen = seen if seen is not None else set()
    if name in seen:
        return set()
    seen.add(name)
    info = blocks.get(name)
    if not isinstance(info, dict):
        return set()
    out: set[PciAddress] = set()
    pci = _pci(info.get("pci"))
    if pci is not None:
        out.add(pci)
    parent = info.get("parent")
    if isinstance(parent, str):
        out |= block_controllers(parent, blocks, seen)
    for slave in info.get("slaves") or []:
        if isinstance(slave, str):
            out |= block_controllers(slave, blocks, seen)
    return out


def _block_name(source: str, blocks: Mapping[str, Any]) -> str | None:
    """"/dev/mapper/vg0-root" or "/dev/sda1" -> the block device name in `blocks`."""
    base = os.path.basename(source)
    if base in blocks:
        return base
    for name, info in blocks.items():
        if isinstance(info, dict) and info.get("name") == base:
            return name
    return None


def carriers(nics: Mapping[str, Any], ifname: str) -> list[tuple[str, PciAddress | None]]:
    """(interface, its PCI function) for each interface that carries `ifname`'s traffic: itself, and
    the interfaces it is stacked on (`lower`, the kernel's lower_* links: a bridge's ports, a bond's
    slaves, a VLAN's or macvlan's parent), down to the NICs. A bridge's address lives on its ports'
    NICs: taking one of those away cuts the host off as surely as taking a NIC with the address."""
    out: list[tuple[str, PciAddress | None]] = []
    todo, seen = [ifname], set()
    while todo:
        name = todo.pop(0)
        if name in seen:
            continue
        seen.add(name)
        info = nics.get(name)
        if not isinstance(info, dict):
            continue
        out.append((name, _pci(info.get("pci"))))
        todo += [str(n) for n in info.get("lower") or [] if isinstance(n, str)]
    return out


def _through(ifname: str, port: str) -> str:
    return "" if port == ifname else f" (through {port}, which it is stacked on)"


def uses_from_extras(extras: Mapping[str, Any], inventory: HostInventory | None = None) -> UsageMap:
    """Map recorded host facts to the devices they keep busy."""
    uses: dict[PciAddress, list[HostUse]] = {}

    def add(addr: PciAddress | None, use: HostUse) -> None:
        if addr is None or (inventory is not None and addr not in inventory.devices):
            return
        bucket = uses.setdefault(addr, [])
        if use not in bucket:
            bucket.append(use)

    blocks = extras.get("block_devices") or {}
    tags = extras.get("virtio_tags") or {}
    for mount in extras.get("mounts") or []:
        source, target = str(mount.get("source", "")), str(mount.get("target", ""))
        fix = ("the host runs from it; pass through a different controller" if target in _ESSENTIAL_MOUNTS
               else f"unmount {target} (and drop it from /etc/fstab) first")
        use = HostUse("mount", f"{target} ({mount.get('fstype', '?')}) on {source}", fix)
        if mount.get("fstype") in VIRTIO_FSTYPES and isinstance(tags, dict):
            # 9p/virtiofs: the source is a virtio mount tag, not a block device (core/virtio_mounts.py)
            add(_pci(tags.get(source)), use)
            continue
        name = _block_name(source, blocks)
        if name is None:
            continue
        for ctrl in sorted(block_controllers(name, blocks)):
            add(ctrl, use)
    for swap in extras.get("swaps") or []:
        name = _block_name(str(swap), blocks)
        if name is None:
            continue
        for ctrl in sorted(block_controllers(name, blocks)):
            add(ctrl, HostUse("swap", f"swap on {swap}", f"swapoff {swap} (and drop it from /etc/fstab) first"))

    nics = extras.get("net_interfaces") or {}
    for ifname, info in nics.items():
        if not isinstance(info, dict):
            continue
        addrs = [a for a in info.get("addresses") or [] if not str(a).lower().startswith("fe80:")]
        if addrs:
            for port, pci in carriers(nics, ifname):
                add(pci, HostUse("netdev-address", f"{ifname} has {', '.join(addrs)}" + _through(ifname, port),
                                 f"move the address off {ifname} (ip addr flush dev {ifname})"
                                 + ("" if port == ifname else f", or take {port} out from under it")))
    default_via: dict[str, list[str]] = {}
    for route in extras.get("routes") or []:
        if route.get("destination") in ("default", "0.0.0.0/0", "::/0"):
            gateways = default_via.setdefault(str(route.get("dev")), [])
            if route.get("gateway") and str(route["gateway"]) not in gateways:
                gateways.append(str(route["gateway"]))
    # One use per NIC, however many default routes (IPv4 and IPv6) it carries.
    for dev, gateways in default_via.items():
        via = f" via {', '.join(gateways)}" if gateways else ""
        for port, pci in carriers(nics, dev):
            add(pci, HostUse("default-route", f"{dev} carries the default route{via}" + _through(dev, port),
                             "route the host through another NIC first"))
    for sess in extras.get("sessions") or []:
        dev = str(sess.get("dev"))
        who = f"{sess.get('user')}@" if sess.get("user") else ""
        for port, pci in carriers(nics, dev):
            add(pci, HostUse("ssh-session", f"SSH session {who}{sess.get('remote')} on {dev}" + _through(dev, port),
                             "you would cut this session: connect through another NIC or the console first"))
    for con in extras.get("consoles") or []:
        add(_pci(con.get("pci")), HostUse(
            "console", f"{con.get('kind', 'fbcon')} on {con.get('fb')} ({con.get('driver')})",
            "use a serial/IPMI console, or unbind the console (echo 0 > /sys/class/vtconsole/vtcon1/bind)"))
    for disp in extras.get("display_servers") or []:
        add(_pci(disp.get("pci")), HostUse("display", f"{disp.get('name')} runs on it",
                                           "stop the display manager (systemctl stop display-manager)"))
    for kbd in extras.get("keyboards") or []:
        usb = f" (USB {kbd['usb']})" if kbd.get("usb") else ""
        add(_pci(kbd.get("pci")), HostUse("keyboard", f"{kbd.get('name')}{usb}",
                                          "plug the keyboard into a port of another USB controller"))
    for dom in extras.get("domains") or []:
        add(_pci(dom.get("pci")), HostUse("domain", f"assigned to running domain {dom.get('name')}",
                                          f"shut down {dom.get('name')} or detach the device from it"))
    return {addr: tuple(u) for addr, u in uses.items()}

"""Provides read_sriov(): every SR-IOV PF of an inventory with its VFs, read from sysfs (the PF's
virtfnN links, sriov_drivers_autoprobe, sriov_offset/stride/vf_device) plus the NIC settings its
driver reports; and with_holds(): which VMs hold each VF.

It reads a few small files per PF only (none per ordinary device), beside the inventory reader.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from vfio_tui.core.address import PciAddress
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.model import DomainHolds, HostInventory, PfSriov, VfInfo, VfNic
from vfio_tui.core.sriovinfo.netinfo import live_sriov_nics, recorded_sriov_nics

NicFacts = Mapping[str, tuple[str | None, Mapping[int, VfNic]]]


def _read(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _int(text: str | None, base: int = 10) -> int | None:
    try:
        return int(text, base) if text else None
    except ValueError:
        return None


def read_sriov(paths: HostPaths, inv: HostInventory, nics: NicFacts | None = None) -> dict[PciAddress, PfSriov]:
    """The SR-IOV state of every PF in `inv` (a PF: a device with sriov_totalvfs)."""
    out: dict[PciAddress, PfSriov] = {}
    nics = nics or {}
    for dev in inv:
        if dev.sriov_total_vfs is None:
            continue
        base = str(paths.pci_device(str(dev.address)))
        try:
            names = os.listdir(base)
        except OSError:
            names = []
        links: list[tuple[int, PciAddress]] = []
        for name in names:
            if name.startswith("virtfn") and name[6:].isdigit():
                try:
                    target = PciAddress.try_parse(os.path.basename(os.readlink(f"{base}/{name}")))
                except OSError:
                    target = None
                if target is not None:
                    links.append((int(name[6:]), target))
        ifname, nic_vfs = nics.get(str(dev.address), (None, {}))
        vfs = []
        for index, addr in sorted(links):
            vf = inv.device(addr)
            group = inv.group_of(addr)
            vfs.append(VfInfo(address=addr, index=index, iommu_group=vf.iommu_group if vf else None,
                              driver=vf.driver if vf else None,
                              own_group=group is not None and group.members == (addr,),
                              nic=nic_vfs.get(index)))
        autoprobe = _read(f"{base}/sriov_drivers_autoprobe")
        out[dev.address] = PfSriov(
            address=dev.address, total_vfs=dev.sriov_total_vfs, num_vfs=dev.sriov_num_vfs or 0,
            drivers_autoprobe=None if autoprobe not in ("0", "1") else autoprobe == "1",
            vfs=tuple(vfs), offset=_int(_read(f"{base}/sriov_offset")), stride=_int(_read(f"{base}/sriov_stride")),
            vf_device=_read(f"{base}/sriov_vf_device"), ifname=ifname)
    return out


def nic_facts(paths: HostPaths, inv: HostInventory, extras: Mapping[str, Any] | None,
              *, live_query: bool) -> NicFacts:
    """The VF NIC settings of a host: recorded ones (extras), or asked from this machine's kernel
    (`ip link show`, only with live_query and only for PFs with VFs and a netdev)."""
    if extras is not None:
        return recorded_sriov_nics(extras)
    if not live_query or not paths.is_live:
        return {}
    pfs = [str(d.address) for d in inv if d.sriov_num_vfs and d.net_interfaces]
    return recorded_sriov_nics({"sriov_nics": live_sriov_nics(paths, pfs)}) if pfs else {}


def with_sriov(paths: HostPaths, inv: HostInventory, extras: Mapping[str, Any] | None,
               *, live_query: bool = False) -> HostInventory:
    """The inventory with its SR-IOV PFs and VFs filled in (nothing to do on a host without PFs)."""
    if not any(d.sriov_total_vfs is not None for d in inv):
        return inv
    return replace(inv, sriov=read_sriov(paths, inv, nic_facts(paths, inv, extras, live_query=live_query)))


def with_holds(inv: HostInventory, holds: DomainHolds) -> HostInventory:
    """The inventory with each VF's VMs (from libvirt's domain facts) filled in."""
    if not inv.sriov:
        return inv
    out = {}
    for pf, info in inv.sriov.items():
        vfs = tuple(replace(v, held_by=tuple(f"{h.vm} ({h.state})" for h in holds.get(v.address, ())))
                    for v in info.vfs)
        out[pf] = replace(info, vfs=vfs)
    return replace(inv, sriov=out)


def pf_of(inv: HostInventory, address: PciAddress) -> PfSriov | None:
    """The PF state of a VF (or of the PF itself)."""
    dev = inv.device(address)
    if dev is None:
        return None
    return inv.sriov.get(dev.physfn if dev.physfn is not None else address)

"""Provides read_inventory(): the host model read from a sysfs tree (live, recorded or simulated).

Reads only what an unprivileged user may read, with few system calls per function
(bench/inventory.py measures it against lspci and a C reader of the same files): one readlink
for the sysfs path (the bridges above), the config space (the standard 256 bytes, then only the
extended capability *headers*, 8 bytes each, and only for PCIe/PCI-X functions), the
iommu_group link, driver_override and reset_method; boot_vga, SR-IOV and net only for the
functions they can concern. Drivers come from one listing per PCI driver (bound functions are
links by address there), VFs from their PF's virtfn links (only PFs have them), instead of a
readlink per function. Groups come from each function's own iommu_group link, or, where groups
are large, from one listing per /sys/kernel/iommu_groups/N/devices: a listing costs 4 system calls
against 1 readlink per function, so it is chosen when there are more than 4 functions per group
(most real groups hold one function; a board without ACS puts a dozen in one).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import replace

from vfio_tui.core.address import PciAddress
from vfio_tui.core.errors import HostDataError
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.model import HostInventory, HostUse, IommuGroup, PciDevice
from vfio_tui.core.pciids import PciIds
from vfio_tui.core.sysfs_function import (
    AddressCache,
    FunctionReader,
    list_dir,
    read_attr,
)

#: A function that says what on the host uses which device (the binding guard fills it in).
UsageProvider = Callable[[HostInventory], Mapping[PciAddress, tuple[HostUse, ...]]]


def _kernel_has_reset_method(release: str | None) -> bool | None:
    """Whether the kernel has the reset_method attribute (added in 5.15)."""
    if not release:
        return None
    parts = release.split(".")
    try:
        major, minor = int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)
    except (ValueError, IndexError):
        return None
    return (major, minor) >= (5, 15)


def _bound_drivers(drivers_dir: str, cache: AddressCache) -> dict[str, str]:
    """{function: driver} from one listing per PCI driver: its bound functions are links named by
    address beside bind/unbind/new_id (the kernel's driver_sysfs_add() makes that link together
    with the function's own `driver` link). A listing per driver instead of a readlink per
    function: a tenth of the cost on a host of thousands of functions, about even on a small one."""
    out: dict[str, str] = {}
    for driver in list_dir(drivers_dir):
        for entry in list_dir(f"{drivers_dir}/{driver}"):
            if cache[entry] is not None:
                out[entry] = driver
    return out


def _grouped(groups_dir: str, group_names: list[str]) -> dict[str, str]:
    """{function: group} from one listing per group (the kernel's iommu_group_add_device() makes the
    group's link to the function together with the function's iommu_group link)."""
    out: dict[str, str] = {}
    for group in group_names:
        if group.isdigit():
            for entry in list_dir(f"{groups_dir}/{group}/devices"):
                out[entry] = group
    return out


def read_inventory(
    paths: HostPaths,
    *,
    pci_ids: PciIds | None = None,
    unprivileged: bool | None = None,
    usage: UsageProvider | None = None,
) -> HostInventory:
    """Read every PCI function and IOMMU group under `paths`.

    Args:
        paths: the host root.
        pci_ids: names database; by default the host's (or this machine's) pci.ids.
        unprivileged: read config space as a normal user would (64 bytes). By default,
            True unless running as root.
        usage: provider of host usage (the guard); none by default.

    Raises:
        HostDataError: there is no /sys/bus/pci/devices under the root.
    """
    if unprivileged is None:
        unprivileged = os.geteuid() != 0
    ids = pci_ids if pci_ids is not None else PciIds.find(paths)
    devdir = paths.pci_devices
    try:
        names = sorted(os.listdir(devdir))
    except OSError as exc:
        raise HostDataError(
            f"no PCI devices directory ({exc.strerror})", path=paths.display(devdir),
            fix="is this a Linux host, or the right --root?",
        ) from None
    release = read_attr(str(paths.proc / "sys" / "kernel" / "osrelease"))
    cache = AddressCache()
    group_names = list_dir(str(paths.iommu_groups))
    reader = FunctionReader(paths, ids, unprivileged, _kernel_has_reset_method(release), cache,
                           _bound_drivers(str(paths.pci_drivers), cache),
                           _grouped(str(paths.iommu_groups), group_names) if 4 * len(group_names) < len(names)
                           else None)

    devices: dict[PciAddress, PciDevice] = {}
    privileged = True
    mf_slots: set[tuple[int, int, int]] = set()
    for name in names:
        addr = cache[name] or PciAddress.try_parse(name)
        if addr is None:
            continue
        dev = reader.read(addr, name)
        if not dev.config_complete:
            privileged = False
        if dev.multifunction or addr.function:
            mf_slots.add(addr.slot_key)
        devices[addr] = dev
    # A function other than 0 exists only on a multi-function device; tell every function.
    for addr, dev in devices.items():
        if addr.slot_key in mf_slots and not dev.multifunction:
            devices[addr] = replace(dev, multifunction=True)
    for vf, pf in reader.virtfns(devices).items():
        devices[vf] = replace(devices[vf], physfn=pf)

    members: dict[int, list[PciAddress]] = {}
    for dev in devices.values():
        if dev.iommu_group is not None:
            members.setdefault(dev.iommu_group, []).append(dev.address)
    for gname in group_names:
        if gname.isdigit():
            members.setdefault(int(gname), [])
    groups = {gid: IommuGroup(gid, tuple(sorted(m))) for gid, m in sorted(members.items())}
    units = tuple(sorted(list_dir(str(paths.class_iommu))))

    inventory = HostInventory(
        devices=devices,
        groups=groups,
        iommu_enabled=bool(group_names),
        kernel=release,
        privileged=privileged,
        iommu_units=units,
    )
    from vfio_tui.core.verdict import with_verdicts

    host_use = usage(inventory) if usage is not None else {}
    return with_verdicts(inventory, host_use)

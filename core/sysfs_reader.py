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
    link_name,
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


def _group_scope(paths: HostPaths, focus: str, names: list[str],
                 checked: Callable[[str], object]) -> tuple[int, list[str], list[str]] | None:
    """(group, the functions to read, the group's members) for a read of `focus`'s group: its members as
    the group's own listing has them, and the PF of every VF among them. None when there is no such
    function or group.
    `checked(name)` vets a function's link (a host tree's must stay inside it) before anything is read
    through it."""
    devdir = str(paths.pci_devices)
    if focus not in names:
        return None
    checked(focus)
    group = link_name(f"{devdir}/{focus}/iommu_group")
    if group is None or not group.isdigit():
        return None
    members = [n for n in list_dir(f"{paths.iommu_groups}/{group}/devices") if n in names]
    if focus not in members:
        return None
    pfs = []
    for n in members:
        checked(n)
        pf = link_name(f"{devdir}/{n}/physfn")
        if pf is not None and pf in names:
            checked(pf)
            pfs.append(pf)
    return int(group), sorted(set(members) | set(pfs)), members


def read_inventory(
    paths: HostPaths,
    *,
    pci_ids: PciIds | None = None,
    unprivileged: bool | None = None,
    usage: UsageProvider | None = None,
    only_group_of: PciAddress | None = None,
) -> HostInventory:
    """Read every PCI function and IOMMU group under `paths`.

    Args:
        paths: the host root.
        pci_ids: names database; by default the host's (or this machine's) pci.ids.
        unprivileged: read config space as a normal user would (64 bytes). By default,
            True unless running as root.
        usage: provider of host usage (the guard); none by default.
        only_group_of: read only this function's IOMMU group (and the PF of each VF in it): what a
            bind plan looks at. The inventory then holds those functions and that one group
            (`partial_group`); every fact of theirs is what a whole read gives. When the function or
            its group is missing, everything is read (the plan's errors speak of the whole host).

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
    reader = FunctionReader(paths, ids, unprivileged, _kernel_has_reset_method(release), cache, {})
    scope = None if only_group_of is None else _group_scope(paths, str(only_group_of), names, reader.device_link)
    # A group read found its group: the IOMMU is on, and the other groups are not read.
    group_names = list_dir(str(paths.iommu_groups)) if scope is None else [str(scope[0])]
    if scope is not None:
        # A few functions: a readlink each for the driver costs less than listing every driver.
        reader.driver_of = {n: d for n in scope[1] if (d := link_name(f"{devdir}/{n}/driver")) is not None}
        # The group's listing names its members (iommu_group_add_device() makes both links together).
        reader.group_known = dict.fromkeys(scope[2], str(scope[0]))
    else:
        reader.driver_of = _bound_drivers(str(paths.pci_drivers), cache)
        reader.group_of = _grouped(str(paths.iommu_groups), group_names) if 4 * len(group_names) < len(names) else None

    devices: dict[PciAddress, PciDevice] = {}
    privileged = True
    mf_slots: set[tuple[int, int, int]] = set()
    if scope is not None:
        # Another function of the slot makes a device multi-function, read or not.
        mf_slots = {a.slot_key for n in names if (a := cache[n]) is not None and a.function}
    for name in names if scope is None else scope[1]:
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
    if scope is not None:
        # The PF of a VF in the group was read for its driver; its own group was not.
        members = {scope[0]: members.get(scope[0], [])}
    else:
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
        partial_group=None if scope is None else scope[0],
    )
    from vfio_tui.core.verdict import with_verdicts

    host_use = usage(inventory) if usage is not None else {}
    return with_verdicts(inventory, host_use)

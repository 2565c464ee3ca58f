"""Provides read_inventory(): the host model read from a sysfs tree (live, recorded or simulated).

Reads only what an unprivileged user may read. Per function it costs a handful of
syscalls (one config read, a few readlinks and small files), which keeps a host with
thousands of functions well under a second.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from core.address import PciAddress
from core.configspace import ConfigSpaceError, parse_config
from core.errors import HostDataError
from core.hostpaths import HostPaths
from core.model import NEEDS_ROOT, AcsState, HostInventory, HostUse, IommuGroup, NeedsRoot, PciDevice
from core.pciids import PciIds

#: A function that says what on the host uses which device (the binding guard fills it in).
UsageProvider = Callable[[HostInventory], Mapping[PciAddress, tuple[HostUse, ...]]]


def _read(path: str) -> str | None:
    # os.open/os.read: a third of the cost of open() per small sysfs attribute, which adds
    # up over thousands of functions.
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 65536).decode("utf-8", "replace").strip()
    except OSError:
        return None
    finally:
        os.close(fd)


def _readlink_name(path: str) -> str | None:
    try:
        return os.path.basename(os.readlink(path))
    except OSError:
        return None


def _read_config(path: str, unprivileged: bool) -> tuple[bytes, bool]:
    """The config space bytes and whether they are the whole space (i.e. we may read as root).

    Reads the 256-byte standard space in one go and then only the extended capability
    headers (8 bytes each, enough for ACS). On real hardware every config dword is an
    uncached ECAM or port-I/O access, so reading all 4 KiB of thousands of functions is
    what makes `lspci -vvv` slow; the rest of the extended space is zeros to the parser.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        size = os.fstat(fd).st_size
        head = os.pread(fd, 64 if unprivileged else 256, 0)
        if unprivileged or len(head) <= 64:
            return head, False
        complete = len(head) >= min(size, 256) if size else True
        if size <= 256 or len(head) < 256:
            return head, complete
        buf = bytearray(min(size, 4096))
        buf[:256] = head
        off = 0x100
        seen: set[int] = set()
        while 0x100 <= off <= len(buf) - 8 and off not in seen and len(seen) < 64:
            seen.add(off)
            chunk = os.pread(fd, 8, off)
            if len(chunk) < 4:
                complete = False
                break
            buf[off:off + len(chunk)] = chunk
            hdr = int.from_bytes(chunk[:4], "little")
            if hdr in (0, 0xFFFFFFFF):
                break
            off = (hdr >> 20) & 0xFFC
        return bytes(buf), complete
    finally:
        os.close(fd)


_ADDRESS_RE = re.compile(r"^([0-9a-f]{4,8}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$")


class _AddressCache(dict[str, "PciAddress | None"]):
    """Parses the canonical sysfs spelling of addresses, once per distinct path component."""

    def __missing__(self, text: str) -> PciAddress | None:
        m = _ADDRESS_RE.match(text)
        value = None
        if m and int(m.group(3), 16) <= 0x1F:
            value = PciAddress(int(m.group(1), 16), int(m.group(2), 16), int(m.group(3), 16), int(m.group(4)))
        self[text] = value
        return value


def _kernel_has_reset_method(paths: HostPaths, release: str | None) -> bool | None:
    """Whether the kernel has the reset_method attribute (added in 5.15)."""
    if not release:
        return None
    parts = release.split(".")
    try:
        major, minor = int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)
    except (ValueError, IndexError):
        return None
    return (major, minor) >= (5, 15)


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
    release = _read(str(paths.proc / "sys" / "kernel" / "osrelease"))
    has_reset_method = _kernel_has_reset_method(paths, release)

    devices: dict[PciAddress, PciDevice] = {}
    privileged = True
    mf_slots: set[tuple[int, int, int]] = set()
    cache = _AddressCache()
    devdir_s = str(devdir)
    for name in names:
        addr = cache[name] or PciAddress.try_parse(name)
        if addr is None:
            continue
        dev = _read_device(paths, devdir_s, addr, name, ids, unprivileged, has_reset_method, cache)
        if dev is None:
            continue
        if not dev.config_complete:
            privileged = False
        if dev.multifunction or addr.function:
            mf_slots.add(addr.slot_key)
        devices[addr] = dev
    # A function other than 0 exists only on a multi-function device; tell every function.
    for addr, dev in devices.items():
        if addr.slot_key in mf_slots and not dev.multifunction:
            devices[addr] = _replace(dev, multifunction=True)

    groups_dir = paths.iommu_groups
    try:
        group_names = os.listdir(groups_dir)
    except OSError:
        group_names = []
    members: dict[int, list[PciAddress]] = {}
    for dev in devices.values():
        if dev.iommu_group is not None:
            members.setdefault(dev.iommu_group, []).append(dev.address)
    for gname in group_names:
        if gname.isdigit():
            members.setdefault(int(gname), [])
    groups = {gid: IommuGroup(gid, tuple(sorted(m))) for gid, m in sorted(members.items())}
    try:
        units = tuple(sorted(os.listdir(paths.class_iommu)))
    except OSError:
        units = ()

    inventory = HostInventory(
        devices=devices,
        groups=groups,
        iommu_enabled=bool(group_names),
        kernel=release,
        privileged=privileged,
        iommu_units=units,
    )
    from core.verdict import with_verdicts

    host_use = usage(inventory) if usage is not None else {}
    return with_verdicts(inventory, host_use)


def _replace(dev: PciDevice, **changes: object) -> PciDevice:
    from dataclasses import replace

    return replace(dev, **changes)  # type: ignore[arg-type]


def _read_device(
    paths: HostPaths,
    devdir: str,
    addr: PciAddress,
    name: str,
    ids: PciIds,
    unprivileged: bool,
    has_reset_method: bool | None,
    cache: _AddressCache,
) -> PciDevice | None:
    base = f"{devdir}/{name}"
    try:
        data, complete = _read_config(base + "/config", unprivileged)
    except OSError as exc:
        raise HostDataError(f"cannot read config space: {exc.strerror}", path=base + "/config") from None
    if data[:4] == b"\xff\xff\xff\xff":
        # SR-IOV VFs read 0xffff for vendor and device id in hardware; the kernel keeps the
        # real ids (from the PF's SR-IOV capability) in the vendor/device attributes.
        vid, did = _read(base + "/vendor"), _read(base + "/device")
        if vid and did and vid.startswith("0x") and did.startswith("0x"):
            try:
                data = int(vid, 16).to_bytes(2, "little") + int(did, 16).to_bytes(2, "little") + data[4:]
            except (ValueError, OverflowError):
                pass
    try:
        facts = parse_config(data, complete=complete)
    except ConfigSpaceError as exc:
        raise HostDataError(f"garbage config space ({exc})", path=paths.display(Path(base + "/config"))) from None

    try:
        link = os.readlink(base)
    except OSError:
        link = ""
    upstream = tuple(a for a in (cache[part] for part in reversed(link.split("/")[:-1])) if a is not None)

    vendor_id = f"{facts.vendor_id:04x}"
    device_id = f"{facts.device_id:04x}"
    class_code = f"{facts.class_code:06x}"
    if len(data) < 12:
        class_code = (_read(base + "/class") or "0x000000")[2:].rjust(6, "0")

    driver = _readlink_name(base + "/driver")
    override = _read(base + "/driver_override")
    if override in ("(null)", ""):
        override = None
    group_name = _readlink_name(base + "/iommu_group")
    group = int(group_name) if group_name and group_name.isdigit() else None

    acs: AcsState | NeedsRoot | None
    if facts.acs_cap is not None and facts.acs_ctrl is not None:
        acs = AcsState(facts.acs_cap, facts.acs_ctrl)
    elif complete:
        acs = None
    else:
        acs = NEEDS_ROOT

    raw_reset = _read(base + "/reset_method")
    reset: tuple[str, ...] | NeedsRoot
    if raw_reset is not None:
        reset = tuple(raw_reset.split())
    elif has_reset_method is True:
        reset = ()
    elif not complete:
        reset = NEEDS_ROOT
    else:
        derived = []
        if facts.pcie_flr:
            derived.append("flr")
        if facts.af_flr:
            derived.append("af_flr")
        if facts.has_pm and not facts.pm_no_soft_reset:
            derived.append("pm")
        if upstream:
            derived.append("bus")
        reset = tuple(derived)

    flr: bool | NeedsRoot
    if complete:
        flr = facts.pcie_flr or facts.af_flr
    elif isinstance(reset, tuple) and ("flr" in reset or "af_flr" in reset):
        flr = True
    else:
        flr = NEEDS_ROOT

    port_type: str | NeedsRoot | None = facts.pcie_port_type
    if port_type is None and not complete:
        port_type = NEEDS_ROOT

    boot_vga = False
    if class_code.startswith("03"):
        boot_vga = _read(base + "/boot_vga") == "1"
    total_vfs = num_vfs = None
    if facts.sriov_cap or not complete:
        tv = _read(base + "/sriov_totalvfs")
        if tv is not None and tv.isdigit():
            total_vfs = int(tv)
            nv = _read(base + "/sriov_numvfs")
            num_vfs = int(nv) if nv and nv.isdigit() else 0
    physfn_name = _readlink_name(base + "/physfn")
    physfn = cache[physfn_name] if physfn_name else None

    # Variant drivers (mlx5_vfio_pci, hisi_acc_vfio_pci, ...) show a vfio-dev directory (kernel >= 6.1).
    has_vfio_dev = driver == "vfio-pci" or (
        driver is not None and "vfio" in driver and os.path.isdir(base + "/vfio-dev"))
    nets: tuple[str, ...] = ()
    if class_code.startswith("02") and driver is not None:
        try:
            nets = tuple(sorted(os.listdir(base + "/net")))
        except OSError:
            nets = ()

    return PciDevice(
        address=addr,
        vendor_id=vendor_id,
        device_id=device_id,
        class_code=class_code,
        revision=f"{facts.revision:02x}",
        subsystem_vendor_id=None if facts.subsystem_vendor_id is None else f"{facts.subsystem_vendor_id:04x}",
        subsystem_device_id=None if facts.subsystem_device_id is None else f"{facts.subsystem_device_id:04x}",
        vendor_name=ids.vendor(vendor_id),
        device_name=ids.device(vendor_id, device_id),
        class_name=ids.class_name(class_code),
        driver=driver,
        driver_override=override,
        iommu_group=group,
        header_type=facts.header_type,
        multifunction=facts.multifunction,
        pcie_port_type=port_type,
        acs=acs,
        flr=flr,
        reset_methods=reset,
        boot_vga=boot_vga,
        sriov_total_vfs=total_vfs,
        sriov_num_vfs=num_vfs,
        physfn=physfn,
        parent=upstream[0] if upstream else None,
        upstream=upstream,
        has_vfio_dev=has_vfio_dev,
        net_interfaces=nets,
        config_complete=complete,
    )

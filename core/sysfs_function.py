"""Provides FunctionReader: one PCI function read from its sysfs directory into a PciDevice, with few
system calls (core/sysfs_reader.py's docstring says which, and bench/inventory.py measures them), and
the caches every function of a host shares (addresses, the bridges above a device path).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Final

from vfio_tui.core.address import PciAddress
from vfio_tui.core.configspace import ConfigFacts, ConfigSpaceError, parse_config
from vfio_tui.core.errors import HostDataError
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.model import NEEDS_ROOT, AcsState, NeedsRoot, PciDevice
from vfio_tui.core.pciids import PciIds

_O_RDONLY = os.O_RDONLY | os.O_NOFOLLOW
"""sysfs attributes are never symlinks: one planted in a host tree (config -> /etc/shadow) is not followed."""


def read_attr(path: str) -> str | None:
    # os.open/os.read: a third of the cost of open() per small sysfs attribute, which adds
    # up over thousands of functions.
    try:
        fd = os.open(path, _O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 65536).decode("utf-8", "replace").strip()
    except OSError:
        return None
    finally:
        os.close(fd)


def link_name(path: str) -> str | None:
    try:
        return os.readlink(path).rpartition("/")[2]
    except OSError:
        return None


def list_dir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


_ADDRESS_RE = re.compile(r"^([0-9a-f]{4,8}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$")


class AddressCache(dict[str, "PciAddress | None"]):
    """Parses the canonical sysfs spelling of addresses, once per distinct path component."""

    def __missing__(self, text: str) -> PciAddress | None:
        m = _ADDRESS_RE.match(text)
        value = None
        if m and int(m.group(3), 16) <= 0x1F:
            value = PciAddress(int(m.group(1), 16), int(m.group(2), 16), int(m.group(3), 16), int(m.group(4)))
        self[text] = value
        return value


class UpstreamCache(dict[str, tuple[PciAddress, ...]]):
    """The bridges above a device, nearest first, from its sysfs directory's parent path
    (many functions share one parent, so each distinct path is split once)."""

    def __init__(self, addresses: AddressCache) -> None:
        super().__init__()
        self._addresses = addresses

    def __missing__(self, parent_path: str) -> tuple[PciAddress, ...]:
        cache = self._addresses
        value = tuple(a for a in (cache[part] for part in reversed(parent_path.split("/"))) if a is not None)
        self[parent_path] = value
        return value


_DEVICES_LINK: Final = "../../../devices/"
"""How the kernel spells /sys/bus/pci/devices/X's target (up from bus/pci/devices to /sys, then down)."""


def _kernel_spelling(link: str) -> bool:
    """Whether a device link is ../../../devices/ followed by names only (no `.` or `..` component)."""
    rest = link[len(_DEVICES_LINK):]
    return link.startswith(_DEVICES_LINK) and not rest.startswith(".") and "/." not in rest


def tree_root_checked(paths: HostPaths) -> str:
    """The tree's root, after checking that the sysfs directories read through it resolve inside it (a
    planted `sys/devices -> /sys/devices` would read this machine's devices as the tree's)."""
    base = os.path.normpath(paths.root) + "/"
    if not any(map(_is_link, (base + p for p in _TREE_DIRS))):
        # No link among the directories between the root and the ones read: each resolves to the
        # root's own resolution plus its names, inside the tree (a realpath each costs ~10 lstats).
        return base
    root = os.path.realpath(paths.root) + "/"
    for d in (paths.sys / "devices", paths.pci_devices, paths.pci_drivers, paths.iommu_groups):
        if os.path.lexists(d) and not os.path.realpath(d).startswith(root):
            raise HostDataError("this host tree leads outside itself", path=paths.display(d),
                                fix="use an intact tree (or a recording)")
    return base


_TREE_DIRS: Final = ("sys", "sys/devices", "sys/bus", "sys/bus/pci", "sys/bus/pci/devices", "sys/bus/pci/drivers",
                     "sys/kernel", "sys/kernel/iommu_groups")
"""Every directory from a tree's root down to the four tree_root_checked reads through."""


def _is_link(path: str) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(path).st_mode)
    except OSError:
        return False  # missing: nothing below it is read through it


class FunctionReader:
    """Reads one function's directory; holds what every function shares (caches, the PFs seen)."""

    def __init__(self, paths: HostPaths, ids: PciIds, unprivileged: bool, has_reset_method: bool | None,
                 cache: AddressCache, driver_of: dict[str, str], group_of: dict[str, str] | None = None) -> None:
        self.paths = paths
        self.devdir = str(paths.pci_devices)
        self.ids = ids
        self.unprivileged = unprivileged
        self.has_reset_method = has_reset_method
        self.cache = cache
        self.upstream = UpstreamCache(cache)
        self.names: dict[tuple[str, str], tuple[str | None, str | None]] = {}
        self.class_names: dict[str, str | None] = {}
        self.pfs: list[str] = []
        self.driver_of = driver_of
        self.group_of = group_of
        """{function: group} from the group listings, when they are cheaper than a readlink per function."""
        self.group_known: dict[str, str] = {}
        """{function: group} already known (a group read's members, from the group's own listing): no readlink."""
        self._links: dict[str, str] = {}
        self.tree_root = None if paths.is_live else tree_root_checked(paths)
        """A host tree's root: its device links must stay below it (None for this machine)."""

    def config(self, base: str) -> tuple[ConfigFacts, bytes, bool]:
        """Parse the config space: 256 bytes (64 as a normal user) and the extended headers."""
        path = base + "/config"
        try:
            fd = os.open(path, _O_RDONLY)
        except OSError as exc:
            raise HostDataError(f"cannot read config space: {exc.strerror}", path=path) from None

        def read_ext(offset: int) -> bytes:
            # On real hardware every config dword is an uncached ECAM or port-I/O access, so
            # reading all 4 KiB of thousands of functions is what makes `lspci -vvv` slow.
            try:
                return os.pread(fd, 8, offset)
            except OSError:
                return b""

        try:
            # As root: the standard 256 bytes and the first extended header in one read (a
            # 256-byte file just returns 256).
            data = os.pread(fd, 64 if self.unprivileged else 0x108, 0)
            # 64 bytes is all a reader without CAP_SYS_ADMIN gets (or all a non-root recording has).
            complete = not self.unprivileged and len(data) > 64
            if complete and len(data) < 256:
                # Between 64 and 256 bytes: a short file (a recording) is whole; a long one read
                # short is the kernel's cut.
                size = os.fstat(fd).st_size
                complete = len(data) >= min(size, 256) if size else True
            if data[:4] == b"\xff\xff\xff\xff":
                data = self._vf_ids(base, data)
            try:
                facts = parse_config(data, complete=complete,
                                     read_ext=read_ext if complete and len(data) >= 256 else None)
            except ConfigSpaceError as exc:
                raise HostDataError(f"garbage config space ({exc})",
                                    path=self.paths.display(Path(path))) from None
        except OSError as exc:
            raise HostDataError(f"cannot read config space: {exc.strerror}", path=path) from None
        finally:
            os.close(fd)
        return facts, data, complete

    @staticmethod
    def _vf_ids(base: str, data: bytes) -> bytes:
        # SR-IOV VFs read 0xffff for vendor and device id in hardware; the kernel keeps the
        # real ids (from the PF's SR-IOV capability) in the vendor/device attributes.
        vid, did = read_attr(base + "/vendor"), read_attr(base + "/device")
        if vid and did and vid.startswith("0x") and did.startswith("0x"):
            try:
                return int(vid, 16).to_bytes(2, "little") + int(did, 16).to_bytes(2, "little") + data[4:]
            except (ValueError, OverflowError):
                pass
        return data

    def device_link(self, name: str) -> str:
        """The text of /sys/bus/pci/devices/NAME's link, once it is known to stay inside a host tree
        (HostDataError otherwise): nothing is read through the link before this."""
        if (known := self._links.get(name)) is not None:
            return known  # a group read vets its functions first, then reads them
        base = f"{self.devdir}/{name}"
        try:
            link = os.readlink(base)
        except OSError:
            link = ""
        if self.tree_root is not None and not _kernel_spelling(link) \
                and not os.path.normpath(os.path.join(self.devdir, link)).startswith(self.tree_root):
            # A host tree's device link must stay inside the tree (sysfs' own links all do); checked on the
            # link's text, which is read anyway: no extra system call per function. The kernel's own
            # spelling (../../../devices/..., no dot component after it) stays inside without normalising it.
            raise HostDataError(f"{name} in this host tree leads outside it ({link})",
                                path=self.paths.display(Path(base)), fix="use an intact tree (or a recording)")
        self._links[name] = link
        return link

    def read(self, addr: PciAddress, name: str) -> PciDevice:
        base = f"{self.devdir}/{name}"
        link = self.device_link(name)
        facts, data, complete = self.config(base)
        upstream = self.upstream[link.rpartition("/")[0]]

        vendor_id = f"{facts.vendor_id:04x}"
        device_id = f"{facts.device_id:04x}"
        class_code = f"{facts.class_code:06x}"
        if len(data) < 12:
            class_code = (read_attr(base + "/class") or "0x000000")[2:].rjust(6, "0")

        driver = self.driver_of.get(name)
        override = read_attr(base + "/driver_override")
        if override in ("(null)", ""):
            override = None
        group = self.group_known.get(name)
        if group is None:
            group = link_name(base + "/iommu_group") if self.group_of is None else self.group_of.get(name)

        acs: AcsState | NeedsRoot | None
        if facts.acs_cap is not None and facts.acs_ctrl is not None:
            acs = AcsState(facts.acs_cap, facts.acs_ctrl)
        elif complete:
            acs = None
        else:
            acs = NEEDS_ROOT

        reset = self._reset(base, facts, complete, upstream)
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

        boot_vga = class_code.startswith("03") and read_attr(base + "/boot_vga") == "1"
        total_vfs = num_vfs = None
        if facts.sriov_cap or not complete:
            tv = read_attr(base + "/sriov_totalvfs")
            if tv is not None and tv.isdigit():
                total_vfs = int(tv)
                nv = read_attr(base + "/sriov_numvfs")
                num_vfs = int(nv) if nv and nv.isdigit() else 0
                self.pfs.append(name)

        # Variant drivers (mlx5_vfio_pci, hisi_acc_vfio_pci, ...) show a vfio-dev directory (kernel >= 6.1).
        has_vfio_dev = driver == "vfio-pci" or (
            driver is not None and "vfio" in driver and os.path.isdir(base + "/vfio-dev"))
        nets: tuple[str, ...] = ()
        if driver is not None and class_code.startswith("02"):
            nets = tuple(sorted(list_dir(base + "/net")))

        key = (vendor_id, device_id)
        names = self.names.get(key)
        if names is None:
            names = self.names[key] = (self.ids.vendor(vendor_id), self.ids.device(vendor_id, device_id))
        class_name = self.class_names.get(class_code)
        if class_name is None and class_code not in self.class_names:
            class_name = self.class_names[class_code] = self.ids.class_name(class_code)

        return PciDevice(
            address=addr,
            vendor_id=vendor_id,
            device_id=device_id,
            class_code=class_code,
            revision=f"{facts.revision:02x}",
            subsystem_vendor_id=None if facts.subsystem_vendor_id is None else f"{facts.subsystem_vendor_id:04x}",
            subsystem_device_id=None if facts.subsystem_device_id is None else f"{facts.subsystem_device_id:04x}",
            vendor_name=names[0],
            device_name=names[1],
            class_name=class_name,
            driver=driver,
            driver_override=override,
            iommu_group=int(group) if group and group.isdigit() else None,
            header_type=facts.header_type,
            multifunction=facts.multifunction,
            pcie_port_type=port_type,
            acs=acs,
            flr=flr,
            reset_methods=reset,
            boot_vga=boot_vga,
            sriov_total_vfs=total_vfs,
            sriov_num_vfs=num_vfs,
            parent=upstream[0] if upstream else None,
            upstream=upstream,
            has_vfio_dev=has_vfio_dev,
            net_interfaces=nets,
            config_complete=complete,
        )

    def _reset(self, base: str, facts: ConfigFacts, complete: bool,
               upstream: tuple[PciAddress, ...]) -> tuple[str, ...] | NeedsRoot:
        raw = read_attr(base + "/reset_method")
        if raw is not None:
            return tuple(raw.split())
        if self.has_reset_method is True:
            return ()
        if not complete:
            return NEEDS_ROOT
        # A kernel before 5.15 has no reset_method: say what it would have listed.
        derived = []
        if facts.pcie_flr:
            derived.append("flr")
        if facts.af_flr:
            derived.append("af_flr")
        if facts.has_pm and not facts.pm_no_soft_reset:
            derived.append("pm")
        if upstream:
            derived.append("bus")
        return tuple(derived)

    def virtfns(self, devices: Mapping[PciAddress, PciDevice]) -> dict[PciAddress, PciAddress]:
        """{VF: PF} from the virtfnN links of the PFs read (the kernel makes them with each VF's physfn)."""
        out: dict[PciAddress, PciAddress] = {}
        for name in self.pfs:
            pf = self.cache[name]
            base = f"{self.devdir}/{name}"
            for entry in list_dir(base):
                if not entry.startswith("virtfn"):
                    continue
                try:
                    vf = self.cache[os.path.basename(os.readlink(f"{base}/{entry}"))]
                except OSError:
                    continue
                if vf is not None and pf is not None and vf in devices:
                    out[vf] = pf
        return out

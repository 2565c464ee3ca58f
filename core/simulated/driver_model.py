"""Provides SimDriverModel: the simulated kernel's PCI driver core (kernel-semantics A1/A2).

How a function finds its driver (driver_override, then dynamic ids from new_id, then the driver's id
table), what vfio-pci's probe refuses (bridges and other non-normal headers, a function without an IOMMU
group, a PF with VFs enabled: EINVAL/EBUSY as the lab's real kernel answers), what blocks an unbind
(a group whose /dev/vfio/N a user holds open, an NVIDIA card in use), and the /dev/vfio nodes that
come and go with vfio-pci. core.simulated.kernel dispatches sysfs writes to it.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any, Final

from vfio_tui.core import safefile
from vfio_tui.core.address import PciAddress
from vfio_tui.core.hostpaths import HostPaths

VFIO: Final = "vfio-pci"


class Refused(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class Blocked(Exception):
    """An unbind that waits for userspace to let go of the device."""


class SimDriverModel:
    """The PCI driver core of the simulation: matching (override, dynamic ids, id tables), probe and
    remove with vfio-pci's rules, /dev/vfio/N nodes, new_id's driver_attach(). SimulatedKernel adds
    the tree's locked state, the sysfs write dispatch and fault injection on top."""

    paths: HostPaths

    def _device_dir(self, addr: str) -> Path | None:
        parsed = PciAddress.try_parse(addr)
        if parsed is None or str(parsed) != addr:
            return None
        link = self.paths.pci_device(addr)
        try:
            # Resolved inside the tree: a device link that leads out of it is no device.
            return safefile.resolve(self.paths.root, link)
        except (OSError, safefile.UnsafePathError):
            return None

    @staticmethod
    def _driver_of(dev: Path) -> str | None:
        link = dev / "driver"
        return os.path.basename(os.readlink(link)) if link.is_symlink() else None

    @staticmethod
    def _ids(dev: Path) -> list[str]:
        """vendor and device as the kernel matches them: the sysfs attributes (a VF's config space
        says ffff:ffff; the kernel takes its ids from the PF's SR-IOV capability)."""
        try:
            return [f"{int((dev / name).read_text().strip(), 16):04x}" for name in ("vendor", "device")]
        except (OSError, ValueError):
            cfg = (dev / "config").read_bytes()[:4]
            return [f"{int.from_bytes(cfg[0:2], 'little'):04x}", f"{int.from_bytes(cfg[2:4], 'little'):04x}"]

    @staticmethod
    def _override(dev: Path) -> str | None:
        try:
            text = (dev / "driver_override").read_text().strip()
        except OSError:
            return None
        return None if text in ("", "(null)") else text

    def _matches(self, meta: dict[str, Any], addr: str, dev: Path, driver: str) -> bool:
        """pci_match_device(): with an override only that driver matches; else dynids, then the table."""
        override = self._override(dev)
        if override is not None:
            return override == driver
        ids = self._ids(dev)
        return ids in meta.get("dynids", {}).get(driver, []) or ids in meta.get("driver_ids", {}).get(driver, [])

    def _candidates(self, meta: dict[str, Any], addr: str, dev: Path) -> list[str]:
        override = self._override(dev)
        if override is not None:
            return [override] if self.paths.pci_driver(override).is_dir() else []
        ids = self._ids(dev)
        loaded = [d for d in meta.get("dynids", {}) if self.paths.pci_driver(d).is_dir()]
        out = [d for d in loaded if ids in meta["dynids"][d]]
        out += [d for d, table in meta.get("driver_ids", {}).items()
                if ids in table and self.paths.pci_driver(d).is_dir() and d not in out]
        return out

    def _group_of(self, dev: Path) -> str | None:
        link = dev / "iommu_group"
        return os.path.basename(os.readlink(link)) if link.is_symlink() else None

    def _probe(self, meta: dict[str, Any], addr: str, dev: Path, driver: str, *, silent: bool = False) -> int:
        """Bind `dev` to `driver`; returns 0 or the positive errno the probe failed with."""
        if driver == VFIO:
            header = (dev / "config").read_bytes()[0x0E] & 0x7F
            code = 0
            if header != 0 or self._group_of(dev) is None:  # vfio_pci_core_register_device(): only normal headers
                code = errno.EINVAL
            elif _int_attr(dev / "sriov_numvfs") > 0:  # "Cannot bind to PF with SR-IOV enabled"
                code = errno.EBUSY
            if silent and not code:
                code = errno.EINVAL
            if code:
                log_line(meta, f"{VFIO}: probe of {addr} failed with error -{code}")
                return code
        else:
            group = self._group_of(dev)
            if group is not None and int(group) in meta.get("open_groups", []):
                # iommu_device_use_default_domain(): the group is owned by VFIO.
                log_line(meta, f"{driver}: probe of {addr} failed with error -{errno.EBUSY}")
                return errno.EBUSY
            if silent:
                log_line(meta, f"{driver}: probe of {addr} failed with error -{errno.EIO}")
                return errno.EIO
        ddir = self.paths.pci_driver(driver)
        root = self.paths.root
        safefile.symlink(root, dev / "driver", os.path.relpath(ddir, dev))
        safefile.symlink(root, ddir / addr, os.path.relpath(dev, ddir))
        if driver == VFIO:
            group = self._group_of(dev)
            assert group is not None
            # A kernel >= 6.6 with VFIO_DEVICE_CDEV: the vfio-dev device has a number (its cdev,
            # /dev/vfio/devices/vfioN); on 6.1-6.5 the directory is there without one.
            safefile.mkdirs(root, dev / "vfio-dev" / f"vfio{group}")
            safefile.create_exclusive(root, dev / "vfio-dev" / f"vfio{group}" / "dev", f"511:{group}\n".encode())
            node = self.paths.dev_vfio / group
            if safefile.create_exclusive(root, node, mode=0o600):
                nodes = meta.setdefault("dev_vfio", {})
                minor = 1 + max((int(v.get("minor", 0)) for k, v in nodes.items() if k != "vfio"), default=-1)
                nodes[group] = {"major": 246, "minor": minor, "mode": "0o600", "uid": 0, "gid": 0}
        log_line(meta, f"{driver} {addr}: bound")
        return 0

    def _unbind(self, meta: dict[str, Any], addr: str, dev: Path, driver: str) -> None:
        from vfio_tui.core.simulated import gpu_kernel  # on first use: read-only commands skip its GPU tables

        group = self._group_of(dev)
        if driver == VFIO and group is not None and int(group) in meta.get("open_groups", []):
            raise Blocked()
        if driver == "nvidia" and gpu_kernel.nvidia_held(self.paths, meta, addr):
            if not any("non-zero usage count" in line for line in meta.get("kernel_log", [])[-3:]):
                log_line(meta, f"NVRM: Attempting to remove device {addr} with non-zero usage count!")
            raise Blocked()
        root = self.paths.root
        safefile.unlink(root, dev / "driver")
        safefile.unlink(root, self.paths.pci_driver(driver) / addr)
        vdir = dev / "vfio-dev"
        if vdir.is_dir() and not vdir.is_symlink():
            for child in vdir.iterdir():
                safefile.unlink(root, child / "dev")
                safefile.rmdir(root, child)
            safefile.rmdir(root, vdir)
        if driver == VFIO and group is not None and not self._group_has_vfio(group):
            # A regular file in the tree, or a link (removed itself): never what a link points to.
            safefile.unlink(root, self.paths.dev_vfio / group)
            meta.get("dev_vfio", {}).pop(group, None)
        log_line(meta, f"{driver} {addr}: unbound")

    def _group_has_vfio(self, group: str) -> bool:
        gdir = self.paths.iommu_groups / group / "devices"
        try:
            members = os.listdir(gdir)
        except OSError:
            return False
        return any(self._driver_of(gdir / m) == VFIO for m in members)

    def _new_id(self, meta: dict[str, Any], driver: str, text: str) -> None:
        ids = parse_ids(text)
        fields = len(text.split())
        dyn = meta.setdefault("dynids", {}).setdefault(driver, [])
        known = ids[:2] in dyn or ids[:2] in meta.get("driver_ids", {}).get(driver, [])
        if fields < 7 and known:
            raise Refused(errno.EEXIST)
        if ids[:2] not in dyn:
            dyn.append(ids[:2])
        # driver_attach(): every unbound device that now matches is probed.
        for name in sorted(os.listdir(self.paths.pci_devices)):
            dev = self._device_dir(name)
            if dev is None or self._driver_of(dev) is not None:
                continue
            if self._matches(meta, name, dev, driver):
                self._probe(meta, name, dev, driver)


def _int_attr(path: Path) -> int:
    try:
        return int(path.read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def parse_ids(text: str) -> list[str]:
    """new_id/remove_id fields "VVVV DDDD [...]" → [vendor, device]; EINVAL on garbage."""
    fields = text.split()
    if len(fields) < 2 or len(fields) > 7:
        raise Refused(errno.EINVAL)
    out = []
    for f in fields[:6]:
        try:
            out.append(f"{int(f, 16):04x}")
        except ValueError:
            raise Refused(errno.EINVAL) from None
    return out


def log_line(meta: dict[str, Any], line: str) -> None:
    log = meta.setdefault("kernel_log", [])
    log.append(line)
    del log[:-200]

"""Provides recorded hosts: load and check a `vfio-lab-sysfs-snapshot/1` file, and record one.
Turning a recording into a host tree is the simulation's business (core.simulated.materialize).

The format is the lab's (../shared/lab/REPORT.md, "Fixture format"). vfio-tui adds an
optional top-level "vfio_tui" object (host usage facts and small files such as
/etc/default/grub); readers of the lab format ignore it.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any, Final

from vfio_tui.core import snapshot_schema as schema
from vfio_tui.core.address import PciAddress
from vfio_tui.core.errors import HostDataError

SNAPSHOT_SCHEMA: Final = "vfio-lab-sysfs-snapshot/1"

_DEVICE_ATTRS: Final = (
    "vendor", "device", "subsystem_vendor", "subsystem_device", "class", "revision",
    "driver_override", "modalias", "irq", "numa_node", "enable", "local_cpulist",
    "d3cold_allowed", "power_state", "reset_method", "current_link_speed",
    "current_link_width", "max_link_speed", "max_link_width", "secondary_bus_number",
    "subordinate_bus_number", "sriov_totalvfs", "sriov_numvfs", "boot_vga", "msi_bus",
    "broken_parity_status",
    "sriov_drivers_autoprobe", "sriov_offset", "sriov_stride", "sriov_vf_device",
)
_DRIVER_FILES: Final = ("bind", "unbind", "new_id", "remove_id", "uevent")


def load_snapshot(path: Path) -> dict[str, Any]:
    """Read and check a recorded host.

    Raises:
        HostDataError: unreadable, not JSON, not this format, or inconsistent.
    """
    text = _read_bounded(path)
    try:
        data = json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError, bad UTF-8 and integers past Python's digit limit;
        # RecursionError a document nested deeper than the parser can go.
        what = "nested too deeply" if isinstance(exc, RecursionError) else f"{type(exc).__name__}: {exc}"
        raise HostDataError(
            f"not a JSON file ({what})"[:200], path=str(path),
            fix="was the file truncated? record it again with `vfio-tui snapshot OUT.json`",
        ) from None
    check_snapshot(data, str(path))
    return data  # type: ignore[no-any-return]


def _no_constant(word: str) -> None:
    raise ValueError(f"{word} is not a JSON number")


def _read_bounded(path: Path) -> bytes:
    """The file's bytes: a regular file only (not a FIFO or /dev/zero) and at most MAX_FILE_BYTES."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise HostDataError(f"cannot read recorded host: {exc.strerror}", path=str(path)) from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise HostDataError("a recorded host must be a regular file (this is a device, FIFO or directory)",
                                path=str(path))
        if schema.file_too_big(st.st_size):
            raise HostDataError(f"{st.st_size} bytes is too big for a recorded host"
                                f" (at most {schema.MAX_FILE_BYTES})", path=str(path))
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(schema.MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise HostDataError(f"cannot read recorded host: {exc.strerror}", path=str(path)) from None
    finally:
        os.close(fd)
    if schema.file_too_big(len(data)):
        raise HostDataError("the recorded host grew past the size limit while being read", path=str(path))
    return data


def check_snapshot(data: object, where: str = "snapshot") -> None:
    """Raise HostDataError unless `data` is a usable recorded host: the strict schema of
    core.snapshot_schema (sizes, depth, numbers, names, paths, link targets) and consistency."""

    def bad(what: str) -> HostDataError:
        return HostDataError(f"not a usable recorded host: {what}", path=where)

    if not isinstance(data, dict):
        raise bad("the top level is not an object")
    try:
        schema.check_bounds(data)
    except schema.SchemaError as exc:
        raise bad(str(exc)) from None
    if data.get("schema") != SNAPSHOT_SCHEMA:
        raise bad(f"schema is {data.get('schema')!r}, expected {SNAPSHOT_SCHEMA!r}")
    devices = data.get("pci_devices")
    if not isinstance(devices, list):
        raise bad("no pci_devices list")
    seen: set[str] = set()
    paths_seen: set[str] = set()
    for i, dev in enumerate(devices):
        if not isinstance(dev, dict):
            raise bad(f"pci_devices[{i}] is not an object")
        addr = dev.get("address")
        if not isinstance(addr, str) or PciAddress.try_parse(addr) is None or addr != str(PciAddress.parse(addr)):
            raise bad(f"pci_devices[{i}] has a bad address {addr!r}")
        if addr in seen:
            raise bad(f"device {addr} appears twice")
        seen.add(addr)
        cfg = dev.get("config_hex")
        if not isinstance(cfg, str):
            raise bad(f"device {addr} has no config_hex")
        try:
            raw = bytes.fromhex(cfg)
        except ValueError:
            raise bad(f"device {addr} has a config_hex that is not hex") from None
        if len(raw) < 16:
            raise bad(f"device {addr} has only {len(raw)} bytes of config space")
        if not schema.config_hex_ok(cfg):
            raise bad(f"device {addr} has {len(raw)} bytes of config space (at most {schema.MAX_CONFIG_BYTES})")
        grp = dev.get("iommu_group")
        if grp is not None and (not isinstance(grp, int) or isinstance(grp, bool) or grp < 0):
            raise bad(f"device {addr} has a bad iommu_group {grp!r}")
        drv = dev.get("driver")
        if drv is not None and (not isinstance(drv, str) or "/" in drv or not drv):
            raise bad(f"device {addr} has a bad driver {drv!r}")
        if grp is not None and grp > 2**31:
            raise bad(f"device {addr} has a bad iommu_group {grp!r}")
        if drv is not None and not schema.is_name(drv):
            raise bad(f"device {addr} has a bad driver {drv[:60]!r}")
        try:
            schema.check_device(dev, f"pci_devices[{i}]", _DEVICE_ATTRS)
        except schema.SchemaError as exc:
            raise bad(str(exc)) from None
        if dev["sysfs_path"] in paths_seen:
            raise bad(f"device {addr} has the sysfs_path of another device")
        paths_seen.add(dev["sysfs_path"])
    groups = data.get("iommu_groups", {})
    if not isinstance(groups, dict):
        raise bad("iommu_groups is not an object")
    for gid, g in groups.items():
        digits = str(gid).isascii() and str(gid).isdigit()
        if not digits or not isinstance(g, dict) or not isinstance(g.get("devices", []), list):
            raise bad(f"iommu group {gid!r} is malformed")
        for member in g.get("devices", []):
            if member not in seen:
                raise bad(f"iommu group {gid} lists {member!r}, which is not among the devices")
    drivers = data.get("pci_drivers", {})
    if not isinstance(drivers, dict):
        raise bad("pci_drivers is not an object")
    for name in drivers:
        if not schema.is_name(name):
            raise bad(f"bad driver name {name[:60]!r}")
    try:
        schema.check_tables(data)
        extras = data.get("vfio_tui")
        if isinstance(extras, dict) and extras.get("gpu") is not None:
            from vfio_tui.core.snapshot_gpu import check_gpu_extras

            check_gpu_extras(extras["gpu"])
    except schema.SchemaError as exc:
        raise bad(str(exc)) from None

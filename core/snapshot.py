"""Provides recorded hosts: load and check a `vfio-lab-sysfs-snapshot/1` file, record one, and
materialize one into a directory tree that behaves like the host's /sys, /dev and /proc.

The format is the lab's (../shared/lab/REPORT.md, "Fixture format"). vfio-tui adds an
optional top-level "vfio_tui" object (host usage facts and small files such as
/etc/default/grub); readers of the lab format ignore it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Final

from core.address import PciAddress
from core.errors import HostDataError
from core.hostpaths import HostPaths

SNAPSHOT_SCHEMA: Final = "vfio-lab-sysfs-snapshot/1"
SIM_METADATA: Final = ".vfio-tui-sim.json"
"""Marks a tree as a simulated host; holds the simulated kernel's state (driver id tables...)."""

_DEVICE_ATTRS: Final = (
    "vendor", "device", "subsystem_vendor", "subsystem_device", "class", "revision",
    "driver_override", "modalias", "irq", "numa_node", "enable", "local_cpulist",
    "d3cold_allowed", "power_state", "reset_method", "current_link_speed",
    "current_link_width", "max_link_speed", "max_link_width", "secondary_bus_number",
    "subordinate_bus_number", "sriov_totalvfs", "sriov_numvfs", "boot_vga", "msi_bus",
    "broken_parity_status",
)
_DRIVER_FILES: Final = ("bind", "unbind", "new_id", "remove_id", "uevent")


def load_snapshot(path: Path) -> dict[str, Any]:
    """Read and check a recorded host.

    Raises:
        HostDataError: unreadable, not JSON, not this format, or inconsistent.
    """
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise HostDataError(f"cannot read recorded host: {exc.strerror}", path=str(path)) from None
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HostDataError(
            f"not a JSON file ({type(exc).__name__}: {exc})"[:200], path=str(path),
            fix="was the file truncated? record it again with `vfio-tui snapshot OUT.json`",
        ) from None
    check_snapshot(data, str(path))
    return data  # type: ignore[no-any-return]


def check_snapshot(data: object, where: str = "snapshot") -> None:
    """Raise HostDataError unless `data` is a usable recorded host."""

    def bad(what: str) -> HostDataError:
        return HostDataError(f"not a usable recorded host: {what}", path=where)

    if not isinstance(data, dict):
        raise bad("the top level is not an object")
    if data.get("schema") != SNAPSHOT_SCHEMA:
        raise bad(f"schema is {data.get('schema')!r}, expected {SNAPSHOT_SCHEMA!r}")
    devices = data.get("pci_devices")
    if not isinstance(devices, list):
        raise bad("no pci_devices list")
    seen: set[str] = set()
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
        grp = dev.get("iommu_group")
        if grp is not None and (not isinstance(grp, int) or isinstance(grp, bool) or grp < 0):
            raise bad(f"device {addr} has a bad iommu_group {grp!r}")
        drv = dev.get("driver")
        if drv is not None and (not isinstance(drv, str) or "/" in drv or not drv):
            raise bad(f"device {addr} has a bad driver {drv!r}")
        sp = dev.get("sysfs_path")
        if not isinstance(sp, str) or not sp.startswith("/devices/") or ".." in sp.split("/"):
            raise bad(f"device {addr} has a bad sysfs_path {sp!r}")
    groups = data.get("iommu_groups", {})
    if not isinstance(groups, dict):
        raise bad("iommu_groups is not an object")
    for gid, g in groups.items():
        if not str(gid).isdigit() or not isinstance(g, dict) or not isinstance(g.get("devices", []), list):
            raise bad(f"iommu group {gid!r} is malformed")
        for member in g.get("devices", []):
            if member not in seen:
                raise bad(f"iommu group {gid} lists {member!r}, which is not among the devices")
    drivers = data.get("pci_drivers", {})
    if not isinstance(drivers, dict):
        raise bad("pci_drivers is not an object")
    for name in drivers:
        if not isinstance(name, str) or "/" in name or name in ("", ".", ".."):
            raise bad(f"bad driver name {name!r}")


def _write(path: Path | str, content: str | bytes, mode: int | None = None) -> None:
    path = str(path)
    if isinstance(content, str):
        content = content.encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, content)
    finally:
        os.close(fd)
    if mode is not None:
        os.chmod(path, mode)


def _symlink(link: Path | str, target: str) -> None:
    link = str(link)
    try:
        os.symlink(target, link)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(target, link)
    except FileExistsError:
        os.unlink(link)
        os.symlink(target, link)


def _rel(from_dir: str, to: str) -> str:
    return os.path.relpath(to, from_dir)


def materialize(snapshot: dict[str, Any], dest: Path) -> HostPaths:
    """Build a host tree under `dest` from a recorded host; returns its HostPaths.

    The tree is what read_inventory() and the simulated kernel work on. It is a plain
    directory: symlinks where sysfs has symlinks, regular files for attributes and for
    the /dev/vfio nodes (their recorded major/minor/mode go into the metadata file).
    """
    check_snapshot(snapshot, "snapshot")
    paths = HostPaths(dest)
    sys_dir = str(dest / "sys")
    devices_dir = str(paths.pci_devices)
    drivers_dir = str(paths.pci_drivers)
    groups_dir = str(paths.iommu_groups)
    for d in (devices_dir, drivers_dir, groups_dir, str(paths.class_iommu)):
        os.makedirs(d, exist_ok=True)
    devices = snapshot["pci_devices"]
    driver_ids: dict[str, list[list[str]]] = {}
    device_dirs: dict[str, str] = {}
    made_drivers: set[str] = set()
    for dev in devices:
        addr = dev["address"]
        ddir = sys_dir + dev["sysfs_path"]  # sysfs_path: "/devices/pci0000:00/0000:00:02.0/0000:01:00.0"
        device_dirs[addr] = ddir
        os.makedirs(ddir, exist_ok=True)
        _write(f"{ddir}/config", bytes.fromhex(dev["config_hex"]))
        for attr in _DEVICE_ATTRS:
            value = dev.get(attr)
            if isinstance(value, str):
                _write(f"{ddir}/{attr}", value + "\n")
        if "driver_override" not in dev:
            _write(f"{ddir}/driver_override", "(null)\n")
        if dev.get("has_reset_file"):
            _write(f"{ddir}/reset", "")
        res = dev.get("resource")
        if isinstance(res, list):
            _write(f"{ddir}/resource", "".join(f"{line}\n" for line in res))
        listing = dev.get("sysfs_listing") or {}
        for entry, kind in listing.items():
            if "/" in entry or entry in (".", ".."):
                continue
            if kind == "dir" and entry != "net":
                os.makedirs(f"{ddir}/{entry}", exist_ok=True)
            elif isinstance(kind, dict) and (entry in ("iommu", "physfn") or entry.startswith("virtfn")):
                _symlink(f"{ddir}/{entry}", str(kind["link"]))
        for ifname in dev.get("net_interfaces", []) or []:
            if "/" not in str(ifname):
                os.makedirs(f"{ddir}/net/{ifname}", exist_ok=True)
        _symlink(f"{devices_dir}/{addr}", _rel(devices_dir, ddir))
        grp = dev.get("iommu_group")
        if grp is not None:
            _symlink(f"{ddir}/iommu_group", _rel(ddir, f"{groups_dir}/{grp}"))
        drv = dev.get("driver")
        if drv:
            drv_dir = f"{drivers_dir}/{drv}"
            if drv not in made_drivers:
                os.makedirs(drv_dir, exist_ok=True)
                made_drivers.add(drv)
            _symlink(f"{ddir}/driver", _rel(ddir, drv_dir))
            _symlink(f"{drv_dir}/{addr}", _rel(drv_dir, ddir))
            ids = [dev.get("vendor", "0x0000")[2:], dev.get("device", "0x0000")[2:]]
            if drv != "vfio-pci" and ids not in driver_ids.setdefault(drv, []):
                driver_ids[drv].append(ids)
    for name, info in (snapshot.get("pci_drivers") or {}).items():
        drv_dir = f"{drivers_dir}/{name}"
        os.makedirs(drv_dir, exist_ok=True)
        files = info.get("files") if isinstance(info, dict) else None
        for f in files or _DRIVER_FILES:
            if f == "module" or "/" in f:
                continue
            if not os.path.exists(f"{drv_dir}/{f}"):
                _write(f"{drv_dir}/{f}", "")
    for f in ("drivers_probe", "drivers_autoprobe", "rescan"):
        _write(paths.pci_bus / f, "1\n" if f == "drivers_autoprobe" else "")
    for gid, g in (snapshot.get("iommu_groups") or {}).items():
        gdir = f"{groups_dir}/{gid}"
        os.makedirs(f"{gdir}/devices", exist_ok=True)
        if isinstance(g.get("type"), str):
            _write(f"{gdir}/type", g["type"] + "\n")
        if isinstance(g.get("reserved_regions"), str):
            _write(f"{gdir}/reserved_regions", g["reserved_regions"] + "\n")
        for member in g.get("devices", []):
            _symlink(f"{gdir}/devices/{member}", _rel(f"{gdir}/devices", device_dirs[member]))
    for unit in snapshot.get("iommu_class") or {}:
        if "/" in unit:
            continue
        vdir = f"{sys_dir}/devices/virtual/iommu/{unit}"
        os.makedirs(vdir, exist_ok=True)
        _symlink(paths.class_iommu / unit, _rel(str(paths.class_iommu), vdir))
    for module, params in (snapshot.get("modules") or {}).items():
        if "/" in module:
            continue
        mdir = paths.module(module)
        (mdir / "parameters").mkdir(parents=True, exist_ok=True)
        for pname, value in (params or {}).items():
            if isinstance(value, str) and "/" not in pname:
                _write(mdir / "parameters" / pname, value + "\n")
    dev_vfio = snapshot.get("dev_vfio")
    nodes: dict[str, Any] = {}
    if isinstance(dev_vfio, dict):
        for node, info in dev_vfio.items():
            if "/" in node:
                continue
            _write(paths.dev_vfio / node, "", 0o600)
            nodes[node] = info
    kernel = snapshot.get("kernel")
    if isinstance(kernel, str):
        _write(paths.proc / "sys" / "kernel" / "osrelease", kernel + "\n")
    cmdline = snapshot.get("cmdline")
    if isinstance(cmdline, str):
        _write(paths.proc / "cmdline", cmdline.rstrip("\n") + "\n")
    extras = snapshot.get("vfio_tui") or {}
    if not isinstance(extras, dict):
        extras = {}
    for fpath, content in (extras.get("files") or {}).items():
        if isinstance(content, str) and fpath.startswith("/") and ".." not in fpath.split("/"):
            _write(paths.under(fpath), content)
    metadata = {
        "schema": "vfio-tui/simhost/1",
        "label": snapshot.get("label"),
        "kernel": kernel,
        "driver_ids": driver_ids,
        "dev_vfio": nodes,
        "modules_available": extras.get("modules_available",
                                        ["vfio", "vfio_iommu_type1", "vfio_pci", "vfio_pci_core"]),
        "host_extras": {k: v for k, v in extras.items() if k != "files"},
    }
    _write(dest / SIM_METADATA, json.dumps(metadata, indent=1, sort_keys=True) + "\n")
    return paths


def read_sim_metadata(paths: HostPaths) -> dict[str, Any] | None:
    """The simulated-host metadata of a tree, or None when the tree is not simulated."""
    meta = paths.root / SIM_METADATA
    try:
        data = json.loads(meta.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def record_snapshot(paths: HostPaths, label: str | None = None,
                    extras: dict[str, Any] | None = None) -> dict[str, Any]:
    """Record the host under `paths` in the lab format (see core.snapshot_record). Reads only."""
    from core.snapshot_record import record_host

    return record_host(paths, label, extras)

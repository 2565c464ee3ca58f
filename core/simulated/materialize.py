"""Provides materialize(): a recorded host turned into a directory tree that behaves like the
host's /sys, /dev and /proc, for the simulated kernel and the inventory reader to work on.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Final

from core.hostpaths import HostPaths
from core.snapshot import _DEVICE_ATTRS, _DRIVER_FILES, check_snapshot

SIM_METADATA: Final = ".vfio-tui-sim.json"
"""Marks a tree as a simulated host; holds the simulated kernel's state (driver id tables...)."""


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
    gpu = extras.get("gpu")
    if isinstance(gpu, dict):
        from core.simulated.gpu_tree import materialize_gpu, render_gpu

        # The ROM bytes go to the tree's hidden ROM files, not into the metadata every write reads.
        metadata["host_extras"]["gpu"] = {k: v for k, v in gpu.items() if k != "roms"}
        materialize_gpu(paths, gpu)
        render_gpu(paths, dict(metadata))
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

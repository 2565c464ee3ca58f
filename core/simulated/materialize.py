"""Provides materialize(): a recorded host turned into a directory tree that behaves like the
host's /sys, /dev and /proc, for the simulated kernel and the inventory reader to work on.
"""

from __future__ import annotations

import errno
import json
import os
import posixpath
import stat
from collections import OrderedDict
from contextlib import suppress
from pathlib import Path
from typing import Any, Final

from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.safefile import UnsafePathError
from vfio_tui.core.snapshot import _DEVICE_ATTRS, _DRIVER_FILES, check_snapshot
from vfio_tui.core.snapshot_schema import LINK_ENTRIES

SIM_METADATA: Final = ".vfio-tui-sim.json"
MAX_METADATA: Final = 64 * 1024 * 1024
"""Marks a tree as a simulated host; holds the simulated kernel's state (driver id tables...)."""


class _Builder:
    """Builds the tree under `dest` without ever following a symlink: every directory is created
    and opened relative to its parent's fd with O_NOFOLLOW, every file opened with O_NOFOLLOW, and
    every link checked to stay inside the tree before it is made. A recording that slipped past
    check_snapshot() still cannot make it write elsewhere (safefile.UnsafePathError then)."""

    _CACHE = 256  # open directory fds kept (a big host has thousands of directories)

    def __init__(self, dest: Path) -> None:
        self.dest = dest
        self.fds: OrderedDict[str, int] = OrderedDict()
        os.makedirs(dest, exist_ok=True)  # the caller named it (a temp dir or `sim-host DIR`)
        self.root_fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds.clear()
        os.close(self.root_fd)

    def dir(self, rel: str) -> int:
        """The fd of directory `rel` ("sys/bus/pci"), created when missing."""
        if not rel:
            return self.root_fd
        fd = self.fds.get(rel)
        if fd is not None:
            self.fds.move_to_end(rel)
            return fd
        parent_rel, _, name = rel.rpartition("/")
        if name in ("", ".", ".."):
            raise UnsafePathError(f"{rel!r} is not a plain path inside the tree", path=str(self.dest / rel))
        parent = self.dir(parent_rel)
        with suppress(FileExistsError):
            os.mkdir(name, 0o755, dir_fd=parent)
        try:
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise UnsafePathError(f"{rel} passes through a link or a file; refusing to build through it",
                                      path=str(self.dest / rel)) from None
            raise
        self.fds[rel] = fd
        while len(self.fds) > self._CACHE:
            os.close(self.fds.popitem(last=False)[1])
        return fd

    def write(self, rel: str, content: str | bytes, mode: int | None = None) -> None:
        data = content.encode() if isinstance(content, str) else content
        parent_rel, _, name = rel.rpartition("/")
        dfd = self.dir(parent_rel)
        try:
            fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                         0o644, dir_fd=dfd)
        except OSError as exc:
            if exc.errno in (errno.ELOOP, errno.ENXIO, errno.EISDIR):
                raise UnsafePathError(f"{rel} is a link or not a regular file; refusing to write it",
                                      path=str(self.dest / rel)) from None
            raise
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise UnsafePathError(f"{rel} is not a regular file; refusing to write it", path=str(self.dest / rel))
            os.write(fd, data)
            if mode is not None:
                os.fchmod(fd, mode)
        finally:
            os.close(fd)

    def exists(self, rel: str) -> bool:
        parent_rel, _, name = rel.rpartition("/")
        try:
            os.stat(name, dir_fd=self.dir(parent_rel), follow_symlinks=False)
        except FileNotFoundError:
            return False
        return True

    def link(self, rel: str, target: str) -> None:
        """A relative symlink at `rel` that stays inside the tree."""
        parent_rel, _, name = rel.rpartition("/")
        resolved = posixpath.normpath(posixpath.join(parent_rel, target))
        if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
            raise UnsafePathError(f"{rel} would link outside the tree (to {target})", path=str(self.dest / rel))
        dfd = self.dir(parent_rel)
        try:
            os.symlink(target, name, dir_fd=dfd)
        except FileExistsError:
            if not stat.S_ISLNK(os.stat(name, dir_fd=dfd, follow_symlinks=False).st_mode):
                raise UnsafePathError(f"{rel} exists and is not a link", path=str(self.dest / rel)) from None
            os.unlink(name, dir_fd=dfd)
            os.symlink(target, name, dir_fd=dfd)


def _rel(from_dir: str, to: str) -> str:
    return posixpath.relpath(to, from_dir)


def materialize(snapshot: dict[str, Any], dest: Path) -> HostPaths:
    """Build a host tree under `dest` from a recorded host; returns its HostPaths.

    The tree is what read_inventory() and the simulated kernel work on. It is a plain
    directory: symlinks where sysfs has symlinks, regular files for attributes and for
    the /dev/vfio nodes (their recorded major/minor/mode go into the metadata file).
    """
    check_snapshot(snapshot, "snapshot")
    b = _Builder(dest)
    try:
        _build(b, snapshot)
    finally:
        b.close()
    return HostPaths(dest)


def _build(b: _Builder, snapshot: dict[str, Any]) -> None:
    devices_dir, drivers_dir = "sys/bus/pci/devices", "sys/bus/pci/drivers"
    groups_dir, class_iommu = "sys/kernel/iommu_groups", "sys/class/iommu"
    for d in (devices_dir, drivers_dir, groups_dir, class_iommu):
        b.dir(d)
    driver_ids: dict[str, list[list[str]]] = {}
    device_dirs: dict[str, str] = {}
    made_drivers: set[str] = set()
    for dev in snapshot["pci_devices"]:
        addr = dev["address"]
        ddir = "sys" + dev["sysfs_path"]  # sysfs_path: "/devices/pci0000:00/0000:00:02.0/0000:01:00.0"
        device_dirs[addr] = ddir
        b.dir(ddir)
        b.write(f"{ddir}/config", bytes.fromhex(dev["config_hex"]))
        for attr in _DEVICE_ATTRS:
            value = dev.get(attr)
            if isinstance(value, str):
                b.write(f"{ddir}/{attr}", value + "\n")
        if "driver_override" not in dev:
            b.write(f"{ddir}/driver_override", "(null)\n")
        if dev.get("has_reset_file"):
            b.write(f"{ddir}/reset", "")
        res = dev.get("resource")
        if isinstance(res, list):
            b.write(f"{ddir}/resource", "".join(f"{line}\n" for line in res))
        for entry, kind in (dev.get("sysfs_listing") or {}).items():
            if kind == "dir" and entry != "net":
                b.dir(f"{ddir}/{entry}")
            elif isinstance(kind, dict) and LINK_ENTRIES.match(entry):
                b.link(f"{ddir}/{entry}", str(kind["link"]))
        for ifname in dev.get("net_interfaces", []) or []:
            b.dir(f"{ddir}/net/{ifname}")
        b.link(f"{devices_dir}/{addr}", _rel(devices_dir, ddir))
        grp = dev.get("iommu_group")
        if grp is not None:
            b.link(f"{ddir}/iommu_group", _rel(ddir, f"{groups_dir}/{grp}"))
        drv = dev.get("driver")
        if drv:
            drv_dir = f"{drivers_dir}/{drv}"
            if drv not in made_drivers:
                b.dir(drv_dir)
                made_drivers.add(drv)
            b.link(f"{ddir}/driver", _rel(ddir, drv_dir))
            b.link(f"{drv_dir}/{addr}", _rel(drv_dir, ddir))
            ids = [dev.get("vendor", "0x0000")[2:], dev.get("device", "0x0000")[2:]]
            if drv != "vfio-pci" and ids not in driver_ids.setdefault(drv, []):
                driver_ids[drv].append(ids)
    for name, info in (snapshot.get("pci_drivers") or {}).items():
        drv_dir = f"{drivers_dir}/{name}"
        b.dir(drv_dir)
        files = info.get("files") if isinstance(info, dict) else None
        for f in files or _DRIVER_FILES:
            if f != "module" and not b.exists(f"{drv_dir}/{f}"):
                b.write(f"{drv_dir}/{f}", "")
    for f in ("drivers_probe", "drivers_autoprobe", "rescan"):
        b.write(f"sys/bus/pci/{f}", "1\n" if f == "drivers_autoprobe" else "")
    for gid, g in (snapshot.get("iommu_groups") or {}).items():
        gdir = f"{groups_dir}/{gid}"
        b.dir(f"{gdir}/devices")
        if isinstance(g.get("type"), str):
            b.write(f"{gdir}/type", g["type"] + "\n")
        if isinstance(g.get("reserved_regions"), str):
            b.write(f"{gdir}/reserved_regions", g["reserved_regions"] + "\n")
        for member in g.get("devices", []):
            b.link(f"{gdir}/devices/{member}", _rel(f"{gdir}/devices", device_dirs[member]))
    for unit in snapshot.get("iommu_class") or {}:
        vdir = f"sys/devices/virtual/iommu/{unit}"
        b.dir(vdir)
        b.link(f"{class_iommu}/{unit}", _rel(class_iommu, vdir))
    for module, params in (snapshot.get("modules") or {}).items():
        mdir = f"sys/module/{module.replace('-', '_')}/parameters"
        b.dir(mdir)
        for pname, value in (params or {}).items():
            if isinstance(value, str):
                b.write(f"{mdir}/{pname}", value + "\n")
    dev_vfio = snapshot.get("dev_vfio")
    nodes: dict[str, Any] = {}
    if isinstance(dev_vfio, dict):
        for node, info in dev_vfio.items():
            b.write(f"dev/vfio/{node}", "", 0o600)
            nodes[node] = info
    kernel = snapshot.get("kernel")
    if isinstance(kernel, str):
        b.write("proc/sys/kernel/osrelease", kernel + "\n")
    cmdline = snapshot.get("cmdline")
    if isinstance(cmdline, str):
        b.write("proc/cmdline", cmdline.rstrip("\n") + "\n")
    extras = snapshot.get("vfio_tui") or {}
    if not isinstance(extras, dict):
        extras = {}
    for fpath, content in (extras.get("files") or {}).items():
        b.write(fpath.strip("/"), content)  # check_snapshot: absolute, plain components, under FILE_TOP_DIRS
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
    if isinstance(gpu, dict):  # check_snapshot has checked it (core/snapshot_gpu.py)
        from vfio_tui.core.simulated.gpu_tree import ROM_DIR

        # The ROM bytes go to the tree's hidden ROM files, not into the metadata every write reads.
        metadata["host_extras"]["gpu"] = {k: v for k, v in gpu.items() if k != "roms"}
        for addr, hexdata in (gpu.get("roms") or {}).items():
            if addr in device_dirs:
                b.write(f"{ROM_DIR}/{addr}.rom", bytes.fromhex(hexdata))
                b.write(f"{device_dirs[addr]}/rom", b"", 0o600)
        dm = gpu.get("display_manager")
        if isinstance(dm, str):
            b.link("etc/systemd/system/display-manager.service", f"../../../lib/systemd/system/{dm}")
    b.write(SIM_METADATA, json.dumps(metadata, indent=1, sort_keys=True) + "\n")
    if isinstance(gpu, dict):
        from vfio_tui.core.simulated.gpu_tree import render_gpu

        render_gpu(HostPaths(b.dest), dict(metadata))


def read_sim_metadata(paths: HostPaths) -> dict[str, Any] | None:
    """The simulated-host metadata of a tree, or None when the tree is not simulated (or the file is a
    link, not a regular file, or too big: then open_host calls it damaged)."""
    from vfio_tui.core import safefile

    try:
        raw = safefile.read_bytes(paths.root, paths.root / SIM_METADATA, limit=MAX_METADATA, follow=False)
        data = json.loads(raw) if len(raw) <= MAX_METADATA else None
    except (OSError, ValueError, RecursionError, UnsafePathError):
        return None
    return data if isinstance(data, dict) else None

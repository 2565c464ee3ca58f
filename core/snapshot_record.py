"""Provides record_host(): a read-only recording of a host in the lab format `vfio-lab-sysfs-snapshot/1`
(what `vfio-tui snapshot` writes and `--host-snapshot` replays)."""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any

from vfio_tui.core.address import PciAddress
from vfio_tui.core.errors import HostDataError
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.snapshot import _DEVICE_ATTRS, SNAPSHOT_SCHEMA


def _read_text(path: Path) -> str | dict[str, Any]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        return {"error": exc.strerror, "errno": exc.errno}
    try:
        return data.decode().rstrip("\n")
    except UnicodeDecodeError:
        return {"hex": data.hex()}


def _listing(path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return out
    for n in names:
        p = path / n
        if p.is_symlink():
            out[n] = {"link": os.readlink(p)}
        elif p.is_dir():
            out[n] = "dir"
        else:
            out[n] = "file"
    return out


def record_host(paths: HostPaths, label: str | None = None,
                extras: dict[str, Any] | None = None) -> dict[str, Any]:
    """Record the host under `paths` in the lab format. Reads only; never writes to the host."""
    from vfio_tui.core.configspace import PCIE_PORT_TYPES, ConfigSpaceError, parse_config

    devices: list[dict[str, Any]] = []
    try:
        names = sorted(os.listdir(paths.pci_devices))
    except OSError as exc:
        raise HostDataError(f"no PCI devices directory ({exc.strerror})",
                            path=paths.display(paths.pci_devices)) from None
    sysdir = str(paths.sys.resolve()) if paths.sys.exists() else str(paths.sys)
    for name in names:
        d = paths.pci_devices / name
        real = os.path.realpath(d)
        dev: dict[str, Any] = {"address": name,
                               "sysfs_path": real[len(sysdir):] if real.startswith(sysdir) else real}
        for attr in _DEVICE_ATTRS:
            p = d / attr
            if p.exists():
                dev[attr] = _read_text(p)
        drv = d / "driver"
        dev["driver"] = os.path.basename(os.readlink(drv)) if drv.is_symlink() else None
        grp = d / "iommu_group"
        dev["iommu_group"] = int(os.path.basename(os.readlink(grp))) if grp.is_symlink() else None
        iommu = d / "iommu"
        dev["iommu"] = os.path.basename(os.readlink(iommu)) if iommu.is_symlink() else None
        parent = os.path.basename(os.path.dirname(real))
        dev["parent"] = parent if PciAddress.try_parse(parent) else None
        dev["has_reset_file"] = (d / "reset").exists()
        try:
            cfg = (d / "config").read_bytes()
        except OSError:
            cfg = None
        if cfg is not None:
            dev["config_len"] = len(cfg)
            dev["config_hex"] = cfg.hex()
            htype = cfg[0x0E] if len(cfg) > 0x0E else 0
            dev["header_type"] = htype & 0x7F
            dev["multifunction"] = bool(htype & 0x80)
            dev["is_bridge"] = (htype & 0x7F) in (1, 2)
            try:
                facts = parse_config(cfg)
            except ConfigSpaceError:
                facts = None
            if facts is not None:
                if facts.pcie_port_type:
                    dev["pcie_port_type"] = facts.pcie_port_type
                    dev["pcie_flr"] = facts.pcie_flr
                if facts.acs_cap is not None:
                    dev["acs_cap"] = hex(facts.acs_cap)
                    dev["acs_ctrl"] = hex(facts.acs_ctrl or 0)
                dev["pm_no_soft_reset"] = facts.pm_no_soft_reset
                dev["af_flr"] = facts.af_flr
        _ = PCIE_PORT_TYPES
        res = _read_text(d / "resource")
        if isinstance(res, str):
            dev["resource"] = res.splitlines()
        dev["sysfs_listing"] = _listing(d)
        try:
            dev["net_interfaces"] = sorted(os.listdir(d / "net"))
        except OSError:
            pass
        devices.append(dev)

    groups: dict[str, Any] = {}
    tree: list[dict[str, Any]] = []
    try:
        gnames = sorted(os.listdir(paths.iommu_groups), key=lambda s: int(s) if s.isdigit() else 0)
    except OSError:
        gnames = []
    for g in gnames:
        gd = paths.iommu_groups / g
        try:
            members = sorted(os.listdir(gd / "devices"))
        except OSError:
            members = []
        groups[g] = {
            "devices": members,
            "type": _read_text(gd / "type") if (gd / "type").exists() else None,
            "reserved_regions": _read_text(gd / "reserved_regions"),
        }
        for m in members:
            tree.append({"path": f"{g}/devices/{m}", "link": os.readlink(gd / "devices" / m)})
    drivers: dict[str, Any] = {}
    try:
        dnames = sorted(os.listdir(paths.pci_drivers))
    except OSError:
        dnames = []
    for n in dnames:
        try:
            ents = sorted(os.listdir(paths.pci_drivers / n))
        except OSError:
            continue
        drivers[n] = {"bound": [e for e in ents if e.count(":") == 2],
                      "files": [e for e in ents if e.count(":") != 2]}
    mods: dict[str, Any] = {}
    for m in ("vfio", "vfio_iommu_type1", "vfio_pci", "vfio_pci_core", "pci_stub", "kvm", "iommufd"):
        md = paths.module(m)
        if md.is_dir():
            pd = md / "parameters"
            mods[m] = {p: _read_text(pd / p) for p in sorted(os.listdir(pd))} if pd.is_dir() else {}
    dev_vfio: dict[str, Any] | None = None
    if paths.dev_vfio.is_dir():
        dev_vfio = {}
        for n in sorted(os.listdir(paths.dev_vfio)):
            try:
                st = os.stat(paths.dev_vfio / n)
                dev_vfio[n] = {"major": os.major(st.st_rdev), "minor": os.minor(st.st_rdev),
                               "mode": oct(st.st_mode & 0o7777), "uid": st.st_uid, "gid": st.st_gid}
            except OSError as exc:
                dev_vfio[n] = {"error": exc.strerror}
    kernel = _read_text(paths.proc / "sys" / "kernel" / "osrelease")
    snap: dict[str, Any] = {
        "schema": SNAPSHOT_SCHEMA,
        "label": label,
        "taken_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "kernel": kernel if isinstance(kernel, str) else (platform.release() if paths.is_live else None),
        "cmdline": _read_text(paths.proc / "cmdline"),
        "iommu_class": _listing(paths.class_iommu),
        "modules": mods,
        "pci_devices": devices,
        "iommu_groups": groups,
        "iommu_groups_tree": tree,
        "pci_drivers": drivers,
        "dev_vfio": dev_vfio,
    }
    if extras:
        snap["vfio_tui"] = extras
    return snap

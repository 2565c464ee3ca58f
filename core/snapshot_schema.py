"""Provides the strict checks a recorded host passes before anything is built from it.

A snapshot is meant to be attached to a bug report and replayed by someone else, so a received
one is untrusted input to a program that runs as root. Before a single file is created:
- every value has bounded size: nesting depth, string length, list and object sizes, and integers
  within 64 bits (floats finite);
- every name that becomes a path component (device dirs, drivers, modules, parameters, listing
  entries, interfaces, /dev/vfio nodes) is one plain component: no "/", no "." or "..", no control
  characters;
- every path (`sysfs_path`, `vfio_tui.files`) is absolute, made of such components, under a
  directory a host tree has; and every link the tree will hold (`iommu`, `physfn`, `virtfn*`) is
  relative and stays inside /sys when resolved from the device's directory.
materialize() then builds with O_NOFOLLOW at every step, so a check missed here still cannot write
outside the tree.
"""

from __future__ import annotations

import math
import posixpath
import re
from typing import Any, Final

MAX_FILE_BYTES: Final = 256 * 1024 * 1024
MAX_DEPTH: Final = 12
MAX_STRING: Final = 8 * 1024 * 1024
MAX_ITEMS: Final = 200_000
MAX_INT: Final = 2**64
MAX_NAME: Final = 255
MAX_PATH_PARTS: Final = 40
MAX_ATTR: Final = 64 * 1024
MAX_CONFIG_BYTES: Final = 4096
FILE_TOP_DIRS: Final = frozenset({"etc", "proc", "sys", "dev", "lib", "usr", "boot", "var", "run"})
"""Where `vfio_tui.files` may put a recorded file (the host dirs vfio-tui reads)."""
LINK_ENTRIES: Final = re.compile(r"^(iommu|physfn|virtfn\d{1,5})$")
"""The listing links materialize() re-creates."""
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")


class SchemaError(ValueError):
    """One line: where in the document and what is wrong."""


def check_bounds(data: object) -> None:
    """Depth, sizes and number ranges of any JSON value (iterative: no recursion to exhaust)."""
    stack: list[tuple[object, int, str]] = [(data, 1, "$")]
    while stack:
        value, depth, where = stack.pop()
        if depth > MAX_DEPTH:
            raise SchemaError(f"{where}: nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, dict):
            if len(value) > MAX_ITEMS:
                raise SchemaError(f"{where}: more than {MAX_ITEMS} keys")
            for k, v in value.items():
                if len(k) > MAX_NAME * 16:
                    raise SchemaError(f"{where}: a key of {len(k)} characters")
                if isinstance(v, dict | list):
                    stack.append((v, depth + 1, f"{where}.{k[:40]}"))
                else:
                    _scalar(v, f"{where}.{k[:40]}")
        elif isinstance(value, list):
            if len(value) > MAX_ITEMS:
                raise SchemaError(f"{where}: more than {MAX_ITEMS} items")
            for i, v in enumerate(value):
                if isinstance(v, dict | list):
                    stack.append((v, depth + 1, f"{where}[{i}]"))
                else:
                    _scalar(v, f"{where}[{i}]")
        else:
            _scalar(value, where)


def _scalar(value: object, where: str) -> None:
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise SchemaError(f"{where}: a string of {len(value)} characters")
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not -MAX_INT < value < MAX_INT:
            raise SchemaError(f"{where}: a number beyond 64 bits")
    elif isinstance(value, float):
        if not math.isfinite(value) or abs(value) >= MAX_INT:
            raise SchemaError(f"{where}: a number out of range")
    else:
        raise SchemaError(f"{where}: not a JSON value")


def is_name(value: object) -> bool:
    """One plain path component."""
    return (isinstance(value, str) and 0 < len(value) <= MAX_NAME and "/" not in value
            and value not in (".", "..") and not _CONTROL.search(value))


def name(value: object, where: str) -> str:
    if not is_name(value):
        raise SchemaError(f"{where}: {str(value)[:60]!r} is not a plain file name")
    assert isinstance(value, str)
    return value


def abs_path(value: object, where: str, *, tops: frozenset[str] | None = None) -> str:
    """An absolute path of plain components (no "..", no "//" games), optionally under `tops`."""
    if not isinstance(value, str) or not value.startswith("/") or len(value) > 4096:
        raise SchemaError(f"{where}: {str(value)[:60]!r} is not an absolute path")
    parts = value.strip("/").split("/")
    if len(parts) > MAX_PATH_PARTS or not all(is_name(p) for p in parts):
        raise SchemaError(f"{where}: {value[:80]!r} has a component that is not a plain name")
    if tops is not None and parts[0] not in tops:
        raise SchemaError(f"{where}: {value[:80]!r} is not under /{', /'.join(sorted(tops))}")
    return value


def link_inside(link_dir: str, target: object, top: str, where: str) -> str:
    """A relative link target that, from the absolute `link_dir`, stays under the absolute `top`."""
    if not isinstance(target, str) or not target or len(target) > 4096 or target.startswith("/") \
            or _CONTROL.search(target):
        raise SchemaError(f"{where}: link target {str(target)[:60]!r} is not a relative path")
    resolved = posixpath.normpath(posixpath.join(link_dir, target))
    if resolved != top and not resolved.startswith(top.rstrip("/") + "/"):
        raise SchemaError(f"{where}: link target {target[:80]!r} leads outside {top}")
    return target


def text(value: object, where: str, *, limit: int = MAX_ATTR, optional: bool = True) -> None:
    """A recorded text value: a string, None, or the recorder's {"error"...}/{"hex"...} record."""
    if value is None and optional:
        return
    if isinstance(value, str):
        if len(value) > limit:
            raise SchemaError(f"{where}: {len(value)} characters (at most {limit})")
        return
    if isinstance(value, dict) and set(value) <= {"error", "errno", "hex"}:
        return
    raise SchemaError(f"{where}: not a text value")


def check_device(dev: dict[str, Any], where: str, attrs: tuple[str, ...]) -> None:
    """The parts of one recorded device that become files, dirs and links."""
    addr = dev["address"]
    sp = abs_path(dev.get("sysfs_path"), f"{where}.sysfs_path")
    if not sp.startswith("/devices/") or posixpath.basename(sp) != addr:
        raise SchemaError(f"{where}.sysfs_path: {sp[:80]!r} is not /devices/.../{addr}")
    for attr in attrs:
        text(dev.get(attr), f"{where}.{attr}")
    if not isinstance(dev.get("has_reset_file", False), bool):
        raise SchemaError(f"{where}.has_reset_file: not true/false")
    res = dev.get("resource")
    if res is not None and not (isinstance(res, list) and all(isinstance(r, str) and len(r) < 256 for r in res)
                                and len(res) <= 64):
        raise SchemaError(f"{where}.resource: not a list of short lines")
    listing = dev.get("sysfs_listing") or {}
    if not isinstance(listing, dict):
        raise SchemaError(f"{where}.sysfs_listing: not an object")
    device_dir = "/sys" + sp
    for entry, kind in listing.items():
        at = f"{where}.sysfs_listing.{entry[:40]}"
        name(entry, at)
        if isinstance(kind, dict):
            if not isinstance(kind.get("link"), str):
                raise SchemaError(f"{at}: a link without a target")
            if LINK_ENTRIES.match(entry):
                link_inside(device_dir, kind["link"], "/sys", at)
        elif kind not in ("dir", "file"):
            raise SchemaError(f"{at}: {str(kind)[:30]!r} is not dir, file or a link")
    ifaces = dev.get("net_interfaces") or []
    if not isinstance(ifaces, list):
        raise SchemaError(f"{where}.net_interfaces: not a list")
    for i, ifname in enumerate(ifaces):
        name(ifname, f"{where}.net_interfaces[{i}]")


def check_tables(data: dict[str, Any]) -> None:
    """Drivers, groups, IOMMU units, modules, /dev/vfio, kernel, cmdline, label, vfio_tui."""
    for key, limit in (("label", 4096), ("kernel", 256), ("cmdline", 64 * 1024)):
        text(data.get(key), key, limit=limit)
    for drv, info in (data.get("pci_drivers") or {}).items():
        name(drv, f"pci_drivers.{drv[:40]}")
        files = info.get("files") if isinstance(info, dict) else None
        if files is not None and not (isinstance(files, list) and all(is_name(f) for f in files)):
            raise SchemaError(f"pci_drivers.{drv[:40]}.files: not a list of plain names")
    for gid, g in (data.get("iommu_groups") or {}).items():
        if len(gid) > 10:
            raise SchemaError(f"iommu_groups.{gid[:20]}: not a group number")
        text(g.get("type"), f"iommu_groups.{gid}.type", limit=64)
        text(g.get("reserved_regions"), f"iommu_groups.{gid}.reserved_regions")
    units = data.get("iommu_class") or {}
    if not isinstance(units, dict):
        raise SchemaError("iommu_class: not an object")
    for unit in units:
        name(unit, f"iommu_class.{unit[:40]}")
    modules = data.get("modules") or {}
    if not isinstance(modules, dict):
        raise SchemaError("modules: not an object")
    for mod, params in modules.items():
        name(mod, f"modules.{mod[:40]}")
        if not isinstance(params or {}, dict):
            raise SchemaError(f"modules.{mod[:40]}: not an object")
        for pname, value in (params or {}).items():
            name(pname, f"modules.{mod[:40]}.{pname[:40]}")
            text(value, f"modules.{mod[:40]}.{pname[:40]}")
    nodes = data.get("dev_vfio")
    if nodes is not None:
        if not isinstance(nodes, dict):
            raise SchemaError("dev_vfio: not an object")
        for node, info in nodes.items():
            name(node, f"dev_vfio.{node[:40]}")
            if not isinstance(info, dict):
                raise SchemaError(f"dev_vfio.{node[:40]}: not an object")
    extras = data.get("vfio_tui")
    if extras is None:
        return
    if not isinstance(extras, dict):
        raise SchemaError("vfio_tui: not an object")
    files = extras.get("files") or {}
    if not isinstance(files, dict):
        raise SchemaError("vfio_tui.files: not an object")
    for fpath, content in files.items():
        abs_path(fpath, f"vfio_tui.files.{fpath[:60]}", tops=FILE_TOP_DIRS)
        if not isinstance(content, str):
            raise SchemaError(f"vfio_tui.files.{fpath[:60]}: not text")
    available = extras.get("modules_available")
    if available is not None and not (isinstance(available, list) and all(is_name(m) for m in available)):
        raise SchemaError("vfio_tui.modules_available: not a list of module names")


def config_hex_ok(cfg: str) -> bool:
    return len(cfg) <= 2 * MAX_CONFIG_BYTES


def file_too_big(size: int) -> bool:
    return size > MAX_FILE_BYTES


"""Provides the simulated kernel's GPU semantics (SimulatedKernel delegates here), as the real kernel has them:

- /sys/class/vtconsole/vtconN/bind: "0" unbinds a module console driver (fbcon, "(M) frame buffer device"),
  "1" binds it again; the system driver ("(S) dummy device") ignores both (drivers/tty/vt/vt.c vt_unbind());
- /sys/bus/platform/drivers/{simple,efi,vesa}-framebuffer/{unbind,bind}: the firmware framebuffer's platform
  driver lets go of (or takes) its device; ENODEV when it is not bound (or gone), EBUSY when already bound;
- /sys/bus/pci/devices/ADDR/rom: writing exactly "0\\n" disables ROM reads, anything else enables them
  (drivers/pci/pci-sysfs.c pci_write_rom()); the tree's `rom` then holds the ROM bytes;
- vfio-pci taking a VGA device removes the firmware framebuffer in its aperture (Linux >= 6.0:
  vfio_pci_core.c vfio_pci_vga_init() -> aperture_remove_conflicting_pci_devices());
- NVIDIA's remove() waits while a process holds /dev/nvidiaN ("NVRM: Attempting to remove device ... with
  non-zero usage count!"): the unbind blocks;
- modprobe -r of a module a loaded module or an open node uses fails ("modprobe: FATAL: Module X is in use.");
  unloading a driver's module leaves its devices driverless; loading it probes the unbound ones.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

from vfio_tui.core import safefile
from vfio_tui.core.errors import SysfsWriteError, VfioError
from vfio_tui.core.gpu.known import FIRMWARE_FB_DRIVERS
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.simulated.gpu_tree import (
    ROM_DIR,
    driver_of,
    gpu_state,
    module_users,
    recorded_drivers,
    render_gpu,
    static,
)


def classify(paths: HostPaths, path: Path) -> str | None:
    """The GPU operation a write to `path` is, or None (not a GPU attribute)."""
    try:
        rel = path.relative_to(paths.sys).parts
    except ValueError:
        return None
    if len(rel) == 4 and rel[:2] == ("class", "vtconsole") and rel[3] == "bind":
        return "vtcon-bind"
    if len(rel) == 5 and rel[:3] == ("bus", "platform", "drivers") and rel[3] in FIRMWARE_FB_DRIVERS \
            and rel[4] in ("bind", "unbind"):
        return f"platform-{rel[4]}"
    if len(rel) == 5 and rel[:3] == ("bus", "pci", "devices") and rel[4] == "rom":
        return "rom"
    return None


def _fail(paths: HostPaths, path: Path, value: str, code: int) -> SysfsWriteError:
    return SysfsWriteError(paths.display(path), value, code, os.strerror(code))


def apply(paths: HostPaths, meta: dict[str, Any], op: str, path: Path, value: str) -> None:
    """Make a GPU write happen (raises SysfsWriteError with the real kernel's errno)."""
    gpu = static(meta)
    state = gpu_state(meta)
    text = value.strip()
    if op == "vtcon-bind":
        name = path.parent.name
        vt = next((v for v in gpu.get("vtconsoles", []) if v["name"] == name), None)
        if vt is None:
            raise _fail(paths, path, value, errno.ENOENT)
        try:
            want = int(text or "0", 0)
        except ValueError:
            want = 0
        if vt["desc"].startswith("(M)"):
            state["vtcon"][name] = 1 if want else 0
            log(meta, f"vtcon {name}: {'bound' if want else 'unbound'} ({vt['desc']})")
    elif op in ("platform-unbind", "platform-bind"):
        driver = path.parent.name
        pf = next((p for p in gpu.get("platform_fbs", []) if p["device"] == text and p["driver"] == driver), None)
        if pf is None or text in state["platform_removed"]:
            raise _fail(paths, path, value, errno.ENODEV)
        bound = state["platform_bound"].get(text, False)
        if op == "platform-unbind":
            if not bound:
                raise _fail(paths, path, value, errno.ENODEV)
            state["platform_bound"][text] = False
        else:
            if bound:
                raise _fail(paths, path, value, errno.EBUSY)
            state["platform_bound"][text] = True
        log(meta, f"{driver} {text}: {'unbound' if op == 'platform-unbind' else 'bound'}")
    elif op == "rom":
        addr = path.parent.name
        src = paths.root / ROM_DIR / f"{addr}.rom"
        root = paths.root
        if value == "0\n":
            if addr in state["roms_enabled"]:
                state["roms_enabled"].remove(addr)
            safefile.write_in_place(root, path, b"")
        else:
            if addr not in state["roms_enabled"]:
                state["roms_enabled"].append(addr)
            try:
                data = safefile.read_bytes(root, src, follow=False, limit=16 << 20)
            except (OSError, safefile.UnsafePathError):
                data = b""
            safefile.write_in_place(root, path, data)
    render_gpu(paths, meta)


def after_change(paths: HostPaths, meta: dict[str, Any], op: str, addr: str | None) -> None:
    """Follow a binding change: a card's nodes come and go with its driver; vfio-pci on a VGA device removes
    the firmware framebuffer in its aperture (Linux >= 6.0)."""
    gpu = static(meta)
    if not gpu:
        return
    state = gpu_state(meta)
    if addr and driver_of(paths, addr) == "vfio-pci" and _is_vga(paths, addr) and _kernel_at_least(meta, (6, 0)):
        for pf in gpu.get("platform_fbs", []):
            if pf.get("pci") == addr and pf["device"] not in state["platform_removed"]:
                state["platform_removed"].append(pf["device"])
                log(meta, f"vfio-pci {addr}: removed the firmware framebuffer {pf['device']} in its aperture")
    render_gpu(paths, meta)


def _is_vga(paths: HostPaths, addr: str) -> bool:
    try:
        return (paths.pci_device(addr) / "config").read_bytes()[0x0A:0x0C] == b"\x00\x03"
    except OSError:
        return False


def _kernel_at_least(meta: dict[str, Any], want: tuple[int, int]) -> bool:
    parts = str(meta.get("kernel") or "").split(".")
    try:
        return (int(parts[0]), int("".join(c for c in parts[1] if c.isdigit()) or 0)) >= want
    except (ValueError, IndexError):
        return False


def nvidia_held(paths: HostPaths, meta: dict[str, Any], addr: str) -> bool:
    """Whether a process holds this NVIDIA card's /dev/nvidiaN (its remove() then waits)."""
    card = (static(meta).get("cards") or {}).get(addr) or {}
    minor = card.get("nvidia_minor")
    if minor is None:
        return False
    node = f"/dev/nvidia{minor}"
    gpu, state = static(meta), gpu_state(meta)
    services = state.get("services", {})
    return any(node in p.get("open", []) for p in gpu.get("processes", [])
               if not p.get("stops_with") or services.get(p["stops_with"], True))


def is_gpu_module(meta: dict[str, Any], name: str) -> bool:
    return any(m["name"] == name for m in static(meta).get("modules", []))


def unload(paths: HostPaths, meta: dict[str, Any], name: str, unbind: Any) -> None:
    """modprobe -r NAME for a module of the recorded GPU stack. `unbind(addr, driver)` unbinds a device."""
    gpu, state = static(meta), gpu_state(meta)
    if name not in state["modules"]:
        return
    mod = next(m for m in gpu["modules"] if m["name"] == name)
    users = [u for u in mod.get("users", []) if u in state["modules"]]
    holders = module_users(paths, meta, name)
    if users or holders:
        log(meta, f"modprobe -r {name}: in use by {', '.join(users + holders)}")
        raise VfioError(f"modprobe: FATAL: Module {name} is in use.",
                        fix=f"used by {', '.join(users + holders)}: stop those first")
    drv = mod.get("driver")
    if drv:
        ddir = paths.pci_driver(drv)
        for entry in sorted(os.listdir(ddir)) if ddir.is_dir() else []:
            if (ddir / entry).is_symlink():
                unbind(entry, drv)
    state["modules"].remove(name)
    log(meta, f"modprobe -r {name}")
    render_gpu(paths, meta)


def load_order(meta: dict[str, Any], name: str) -> list[str]:
    """NAME and the modules it needs (those whose users include it), needed ones first."""
    mods = {m["name"]: m for m in static(meta).get("modules", [])}
    order: list[str] = []

    def visit(n: str) -> None:
        if n in order:
            return
        for dep, m in mods.items():
            if n in m.get("users", []):
                visit(dep)
        order.append(n)

    visit(name)
    return order


def load(paths: HostPaths, meta: dict[str, Any], name: str, probe: Any) -> None:
    """modprobe NAME for a module of the recorded GPU stack: it and what it needs; a driver module then
    probes every unbound device it matches (`probe(addr, driver)`)."""
    gpu, state = static(meta), gpu_state(meta)
    mods = {m["name"]: m for m in gpu.get("modules", [])}
    for n in load_order(meta, name):
        if n not in state["modules"]:
            state["modules"].append(n)
            log(meta, f"modprobe {n}")
    render_gpu(paths, meta)
    for n in load_order(meta, name):
        drv = mods[n].get("driver")
        if not drv:
            continue
        for addr, recorded in recorded_drivers(meta).items():
            if recorded == drv and driver_of(paths, addr) is None:
                probe(addr, drv)
    render_gpu(paths, meta)


def log(meta: dict[str, Any], line: str) -> None:
    entries = meta.setdefault("kernel_log", [])
    entries.append(line)
    del entries[:-200]

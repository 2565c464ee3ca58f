"""Provides render_gpu(): the GPU side of a simulated host tree — what a real kernel shows under /sys/class
(graphics, vtconsole, drm, sound), /sys/bus/platform (firmware framebuffers), /sys/module, /proc/modules,
/proc/iomem, /proc/driver/nvidia, /dev (dri, nvidia, snd, fb) and /proc/PID (the processes holding them) —
rendered from the recording's static GPU facts (`host_extras["gpu"]`) and the simulated kernel's dynamic
state (`meta["gpu"]`: loaded modules, vtconsole bindings, firmware framebuffers bound or removed, ROMs
enabled, services active). The device drivers themselves are the tree's `driver` links.

A card function's nodes (DRM card/render node, fb, sound card, NVIDIA minor) exist while it is bound to the
driver it was recorded with, as on a real host where the driver creates them at probe and removes them at
unbind. Rendering is idempotent: the simulated kernel calls it after every change.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Final

from vfio_tui.core import safefile
from vfio_tui.core.hostpaths import HostPaths

ROM_DIR: Final = ".vfio-tui-sim-roms"
"""The tree's hidden copy of each card's ROM (the bytes `rom` shows once enabled)."""
_DRIVER_FILES: Final = ("bind", "unbind", "new_id", "remove_id", "uevent")


def _put(root: Path, path: Path, text: str) -> None:
    """Make a tree file hold `text` (inside the tree, never through a link; unchanged files left alone)."""
    data = text.encode()
    try:
        if safefile.read_bytes(root, path, follow=False) == data:
            return
    except (OSError, safefile.UnsafePathError):
        pass
    safefile.write_in_place(root, path, data, create=True)


def _link(root: Path, link: Path, target: str) -> None:
    """A symlink in the tree (an absolute target only for links that are read, never followed: /proc/PID/fd)."""
    try:
        if safefile.readlink(root, link) == target:
            return
    except (OSError, safefile.UnsafePathError):
        pass
    safefile.remove_tree(root, link)
    safefile.symlink(root, link, target, absolute_ok=target.startswith("/"))


def _drop(root: Path, path: Path) -> None:
    safefile.remove_tree(root, path)


def static(meta: dict[str, Any]) -> dict[str, Any]:
    """The recording's GPU facts ({} for a host without them)."""
    extras = meta.get("host_extras") or {}
    gpu = extras.get("gpu") if isinstance(extras, dict) else None
    return gpu if isinstance(gpu, dict) else {}


def initial_state(gpu: dict[str, Any]) -> dict[str, Any]:
    return {
        "modules": [m["name"] for m in gpu.get("modules", []) if m.get("loaded", True)],
        "vtcon": {v["name"]: int(v.get("bind", 0)) for v in gpu.get("vtconsoles", [])},
        "platform_bound": {p["device"]: bool(p.get("bound", True)) for p in gpu.get("platform_fbs", [])},
        "platform_removed": [],
        "roms_enabled": [],
        "services": {name: bool(s.get("active")) for name, s in (gpu.get("services") or {}).items()},
    }


def gpu_state(meta: dict[str, Any]) -> dict[str, Any]:
    """The dynamic GPU state in the kernel metadata (created from the recording on first use)."""
    state = meta.get("gpu")
    if not isinstance(state, dict):
        state = initial_state(static(meta))
        meta["gpu"] = state
    return state


def driver_of(paths: HostPaths, addr: str) -> str | None:
    link = paths.pci_device(addr) / "driver"
    return os.path.basename(os.readlink(link)) if link.is_symlink() else None


def module_of_driver(gpu: dict[str, Any], driver: str) -> str | None:
    return next((m["name"] for m in gpu.get("modules", []) if m.get("driver") == driver), None)


def _active_processes(gpu: dict[str, Any], state: dict[str, Any]) -> list[dict[str, Any]]:
    services = state.get("services", {})
    return [p for p in gpu.get("processes", []) if not p.get("stops_with") or services.get(p["stops_with"], True)]


def _card_nodes(paths: HostPaths, gpu: dict[str, Any], recorded: dict[str, str | None]) -> dict[str, str]:
    """{node: owning device address} for every card node that exists now."""
    out: dict[str, str] = {}
    for addr, card in (gpu.get("cards") or {}).items():
        if recorded.get(addr) is None or driver_of(paths, addr) != recorded.get(addr):
            continue
        for node in card.get("drm", []):
            out[f"/dev/dri/{node}"] = addr
        for snd in card.get("sound", []):
            out[f"/dev/snd/control{snd.replace('card', 'C')}"] = addr
        for fb in card.get("fb", []):
            out[f"/dev/{fb['fb']}"] = addr
        if card.get("nvidia_minor") is not None:
            out[f"/dev/nvidia{card['nvidia_minor']}"] = addr
    return out


def module_users(paths: HostPaths, meta: dict[str, Any], name: str) -> list[str]:
    """Processes holding a node that pins module `name` ("comm (pid N)"): a node of a device bound to its
    driver, or one of its driver-wide nodes."""
    gpu, state = static(meta), gpu_state(meta)
    mod = next((m for m in gpu.get("modules", []) if m["name"] == name), None)
    if mod is None:
        return []
    recorded = recorded_drivers(meta)
    nodes = _card_nodes(paths, gpu, recorded)
    drv = mod.get("driver")
    pinned = {n for n, a in nodes.items() if drv and driver_of(paths, a) == drv}
    pinned |= set(mod.get("nodes", []))
    return [f"{p['comm']} (pid {p['pid']})" for p in _active_processes(gpu, state)
            if pinned & set(p.get("open", []))]


def recorded_drivers(meta: dict[str, Any]) -> dict[str, str | None]:
    gpu = static(meta)
    return {addr: card.get("driver") for addr, card in (gpu.get("cards") or {}).items()}


def render_gpu(paths: HostPaths, meta: dict[str, Any]) -> None:
    """Make the tree's GPU side match the state (see the module docstring)."""
    root = paths.root
    gpu = static(meta)
    if not gpu:
        return
    state = gpu_state(meta)
    loaded = [m for m in gpu.get("modules", []) if m["name"] in state["modules"]]
    by_name = {m["name"]: m for m in gpu.get("modules", [])}
    # /proc/modules and /sys/module: the recorded GPU stack's modules, loaded or not.
    lines = []
    for m in loaded:
        users = [u for u in m.get("users", []) if u in state["modules"]]
        ref = len(users) + len(module_users(paths, meta, m["name"]))
        lines.append(f"{m['name']} {m.get('size', 65536)} {ref} {','.join(users) + ',' if users else '-'} Live"
                     f" 0x0000000000000000{' (POE)' if m.get('proprietary') else ''}")
    _put(root, paths.proc / "modules", "".join(line + "\n" for line in lines))
    for name, m in by_name.items():
        mdir = paths.module(name)
        drv = m.get("driver")
        if name in state["modules"]:
            safefile.mkdirs(root, mdir / "parameters")
            for p, v in (m.get("params") or {}).items():
                _put(root, mdir / "parameters" / p, f"{v}\n")
            _put(root, mdir / "refcnt", f"{len([u for u in m.get('users', []) if u in state['modules']])}\n")
            if drv:
                ddir = paths.pci_driver(drv)
                for f in _DRIVER_FILES:
                    if not (ddir / f).exists():
                        _put(root, ddir / f, "")
        else:
            _drop(root, mdir)
            if drv:
                _drop(root, paths.pci_driver(drv))
    recorded = recorded_drivers(meta)
    _render_cards(paths, gpu, recorded)
    _render_platform(paths, gpu, state)
    # fbcon exists as a console driver only while some framebuffer is registered: the last one to go
    # unregisters it (its vtconsole disappears), the next one to come makes it take the consoles over again
    # (drivers/video/fbdev/core/fbcon.c fbcon_fb_unregistered()/fbcon_fb_registered(); seen in the lab).
    fbs = any((paths.sys / "class" / "graphics").glob("fb[0-9]*"))
    for vt in gpu.get("vtconsoles", []):
        vdir = paths.sys / "class" / "vtconsole" / vt["name"]
        if "frame buffer" in vt["desc"] and not fbs:
            _drop(root, vdir)
            state["vtcon"][vt["name"]] = 1
            continue
        _put(root, vdir / "name", vt["desc"] + "\n")
        _put(root, vdir / "bind", f"{state['vtcon'].get(vt['name'], 0)}\n")
    _render_iomem(paths, gpu, state)
    _render_processes(paths, gpu, state)


def _render_cards(paths: HostPaths, gpu: dict[str, Any], recorded: dict[str, str | None]) -> None:
    root = paths.root
    nv_dir = paths.proc / "driver" / "nvidia" / "gpus"
    for addr, card in (gpu.get("cards") or {}).items():
        present = recorded.get(addr) is not None and driver_of(paths, addr) == recorded.get(addr)
        ddir = Path(os.path.realpath(paths.pci_device(addr)))
        for node in card.get("drm", []):
            if present:
                _link(root, ddir / "drm" / node / "device", "../..")
                _link(root, paths.sys / "class" / "drm" / node, os.path.relpath(ddir / "drm" / node,
                                                                          paths.sys / "class" / "drm"))
                _put(root, paths.dev / "dri" / node, "")
            else:
                _drop(root, ddir / "drm" / node)
                _drop(root, paths.sys / "class" / "drm" / node)
                _drop(root, paths.dev / "dri" / node)
        for snd in card.get("sound", []):
            node = paths.dev / "snd" / f"control{snd.replace('card', 'C')}"
            if present:
                _link(root, ddir / "sound" / snd / "device", "../..")
                _link(root, paths.sys / "class" / "sound" / snd, os.path.relpath(ddir / "sound" / snd,
                                                                           paths.sys / "class" / "sound"))
                _put(root, node, "")
            else:
                _drop(root, ddir / "sound" / snd)
                _drop(root, paths.sys / "class" / "sound" / snd)
                _drop(root, node)
        for fb in card.get("fb", []):
            gdir = paths.sys / "class" / "graphics" / fb["fb"]
            if present:
                _put(root, gdir / "name", fb["name"] + "\n")
                _link(root, gdir / "device", os.path.relpath(ddir, gdir))
                _put(root, paths.dev / fb["fb"], "")
            else:
                _drop(root, gdir)
                _drop(root, paths.dev / fb["fb"])
        minor = card.get("nvidia_minor")
        if minor is not None:
            if present:
                _put(root, nv_dir / addr / "information", f"Model: \t\t {card.get('model', 'NVIDIA GPU')}\n"
                     f"Bus Location: \t {addr}\nDevice Minor: \t {minor}\n")
                _put(root, paths.dev / f"nvidia{minor}", "")
            else:
                _drop(root, nv_dir / addr)
                _drop(root, paths.dev / f"nvidia{minor}")


def _render_platform(paths: HostPaths, gpu: dict[str, Any], state: dict[str, Any]) -> None:
    root = paths.root
    pdev_dir = paths.sys / "bus" / "platform" / "devices"
    pdrv_dir = paths.sys / "bus" / "platform" / "drivers"
    for pf in gpu.get("platform_fbs", []):
        dev, drv = pf["device"], pf["driver"]
        ddir = pdrv_dir / drv
        for f in ("bind", "unbind", "uevent"):
            _put(root, ddir / f, "")
        real = paths.sys / "devices" / "platform" / dev
        removed = dev in state["platform_removed"]
        bound = state["platform_bound"].get(dev, False) and not removed
        fb = pf.get("fb")
        if removed:
            _drop(root, real)
            _drop(root, pdev_dir / dev)
            _drop(root, ddir / dev)
        else:
            safefile.mkdirs(root, real)
            _link(root, pdev_dir / dev, os.path.relpath(real, pdev_dir))
            if bound:
                _link(root, real / "driver", os.path.relpath(ddir, real))
                _link(root, ddir / dev, os.path.relpath(real, ddir))
            else:
                _drop(root, real / "driver")
                _drop(root, ddir / dev)
        if fb:
            gdir = paths.sys / "class" / "graphics" / fb["fb"]
            if bound:
                _put(root, gdir / "name", fb["name"] + "\n")
                _link(root, gdir / "device", os.path.relpath(real, gdir))
                _put(root, paths.dev / fb["fb"], "")
            else:
                _drop(root, gdir)
                _drop(root, paths.dev / fb["fb"])


def _render_iomem(paths: HostPaths, gpu: dict[str, Any], state: dict[str, Any]) -> None:
    """/proc/iomem from the recorded lines: a firmware framebuffer's lines go with its platform device
    (BOOTFB while it exists, the driver's claim while bound); a "claim" line names the device's driver."""
    root = paths.root
    out = []
    for indent, rng, name, tag in gpu.get("iomem", []):
        if isinstance(tag, str) and tag.startswith("sysfb:"):
            if tag[6:] in state["platform_removed"]:
                continue
        elif isinstance(tag, str) and tag.startswith("fbdrv:"):
            dev = tag[6:]
            if dev in state["platform_removed"] or not state["platform_bound"].get(dev, False):
                continue
        elif isinstance(tag, str) and tag.startswith("claim:"):
            drv = driver_of(paths, tag[6:])
            if drv is None:
                continue
            name = drv
        out.append(" " * int(indent) + f"{rng} : {name}")
    _put(root, paths.proc / "iomem", "".join(line + "\n" for line in out))


def _render_processes(paths: HostPaths, gpu: dict[str, Any], state: dict[str, Any]) -> None:
    root = paths.root
    active = {p["pid"] for p in _active_processes(gpu, state)}
    for p in gpu.get("processes", []):
        pdir = paths.proc / str(p["pid"])
        if p["pid"] not in active:
            _drop(root, pdir)
            continue
        _put(root, pdir / "comm", p["comm"] + "\n")
        _put(root, pdir / "cgroup", p.get("cgroup", "0::/") + "\n")
        for n, node in enumerate(p.get("open", []), start=10):
            _link(root, pdir / "fd" / str(n), node)

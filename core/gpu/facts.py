"""Provides read_gpu_facts(): what the host does with its GPUs, read from the host tree (live, simulated or
materialized from a recording) with the kernel's own interfaces, read-only:

- framebuffers: /sys/class/graphics/fbN (name, device link) and, for a firmware framebuffer on a platform
  device (simple-framebuffer.0 / efi-framebuffer.0 / vesa-framebuffer.0), which GPU's BAR its memory is in,
  from /proc/iomem (the BOOTFB/simpledrm/efifb lines nest under the PCI device that owns the range);
- the console: /sys/class/vtconsole/vtconN (name "(M) frame buffer device", bind); fbcon draws on fb0;
- who holds the GPU's device nodes: /proc/PID/fd links to /dev/dri/cardN and renderDN (the device from
  /sys/class/drm/NODE/device), /dev/nvidiaN (the minor from /proc/driver/nvidia/gpus/ADDR/information),
  /dev/nvidiactl and friends (the nvidia module as a whole), /dev/snd/*CN* (/sys/class/sound/cardN/device),
  /dev/fbN, /dev/kfd — with each process's systemd unit from /proc/PID/cgroup;
- module state: /proc/modules (refcount, users) and /sys/module/NAME/parameters (nvidia_drm modeset);
- the display manager: /etc/systemd/system/display-manager.service (the alias systemd resolves);
- vendor-reset: loaded (/sys/module/vendor_reset) or installed (modules.dep).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from vfio_tui.core.address import PciAddress
from vfio_tui.core.gpu.known import FIRMWARE_FB_DRIVERS, is_firmware_fb
from vfio_tui.core.gpu.nodes import NodeUser, holders_of_nodes, node_device, nvidia_minors, scan_node_users
from vfio_tui.core.gpu.treeread import listdir, pci_in, read
from vfio_tui.core.hostpaths import HostPaths

__all__ = ["FirmwareFb", "Framebuffer", "GpuFacts", "ModuleState", "NodeUser", "VtConsole", "holders_of_nodes",
           "module_closure", "read_gpu_facts", "scan_node_users"]


@dataclass(frozen=True, slots=True)
class Framebuffer:
    """A registered framebuffer (/sys/class/graphics/fbN)."""

    fb: str
    name: str
    pci: PciAddress | None
    """The GPU whose memory it scans out of (from its device link, or /proc/iomem for a firmware one)."""
    platform_device: str | None = None
    """simple-framebuffer.0 / efi-framebuffer.0 / vesa-framebuffer.0 for a firmware framebuffer."""
    platform_driver: str | None = None
    """The platform driver bound to that device (simple-framebuffer, efi-framebuffer, ...), or None."""
    located_by: str = "device link"
    """How pci was found: "device link", "/proc/iomem", "assumed: the boot VGA device"."""

    @property
    def firmware(self) -> bool:
        return self.platform_device is not None or is_firmware_fb(self.name)


@dataclass(frozen=True, slots=True)
class FirmwareFb:
    """A firmware framebuffer platform device (sysfb), bound to its driver or not."""

    device: str
    driver: str
    """The platform driver that handles it (simple-framebuffer, efi-framebuffer, vesa-framebuffer)."""
    bound: bool
    pci: PciAddress | None
    located_by: str


@dataclass(frozen=True, slots=True)
class VtConsole:
    name: str
    description: str
    bound: bool

    @property
    def is_fbcon(self) -> bool:
        return "frame buffer" in self.description


@dataclass(frozen=True, slots=True)
class ModuleState:
    name: str
    refcount: int
    users: tuple[str, ...]
    """Modules that use this one (/proc/modules' fourth column)."""
    params: tuple[tuple[str, str], ...] = ()

    def param(self, name: str) -> str | None:
        return dict(self.params).get(name)


@dataclass(frozen=True)
class GpuFacts:
    """Everything read_gpu_facts() found (see the module docstring)."""

    framebuffers: tuple[Framebuffer, ...] = ()
    firmware_fbs: tuple[FirmwareFb, ...] = ()
    vtconsoles: tuple[VtConsole, ...] = ()
    node_users: dict[PciAddress, tuple[NodeUser, ...]] = field(default_factory=dict)
    """Per device: the processes with one of its nodes open."""
    driver_users: dict[str, tuple[NodeUser, ...]] = field(default_factory=dict)
    """Per driver (nvidia, amdgpu): processes with a driver-wide node open (/dev/nvidiactl, /dev/kfd)."""
    modules: dict[str, ModuleState] = field(default_factory=dict)
    display_manager: str | None = None
    """The display manager's unit (gdm.service), from the display-manager.service alias."""
    vendor_reset_loaded: bool = False
    vendor_reset_installed: bool = False
    processes_complete: bool = True
    """False when some processes' fds could not be read (not root): then "nobody" is not certain."""
    processes_seen: int = 0
    """How many processes the scan looked at (0: no /proc to scan, e.g. a recording)."""
    iomem_readable: bool = True
    """False when /proc/iomem shows zero addresses (not root)."""

    @property
    def fbcon_bound(self) -> bool:
        return any(v.is_fbcon and v.bound for v in self.vtconsoles)

    def console_gpu(self) -> PciAddress | None:
        """The GPU fbcon draws on: fb0's (fbcon maps every console to fb0 unless told otherwise)."""
        if not self.fbcon_bound:
            return None
        fb0 = next((f for f in self.framebuffers if f.fb == "fb0"), None)
        return fb0.pci if fb0 is not None else None

    def framebuffers_of(self, address: PciAddress) -> list[Framebuffer]:
        return [f for f in self.framebuffers if f.pci == address]

    def firmware_fbs_of(self, address: PciAddress) -> list[FirmwareFb]:
        return [f for f in self.firmware_fbs if f.pci == address]

    def users_of(self, address: PciAddress) -> tuple[NodeUser, ...]:
        return self.node_users.get(address, ())

    def module(self, name: str) -> ModuleState | None:
        return self.modules.get(name.replace("-", "_"))


def _iomem_owners(text: str) -> tuple[dict[str, PciAddress], bool]:
    """{firmware framebuffer resource name: the PCI device whose range contains it}, and whether the
    addresses were readable (a non-root reader sees 00000000-00000000 everywhere)."""
    owners: dict[str, PciAddress] = {}
    stack: list[tuple[int, str]] = []
    readable = False
    for line in text.splitlines():
        if " : " not in line:
            continue
        indent = len(line) - len(line.lstrip(" "))
        rng, name = line.strip().split(" : ", 1)
        if rng.strip("0-") != "":
            readable = True
        while stack and stack[-1][0] >= indent:
            stack.pop()
        if is_firmware_fb(name) or name.strip() in ("BOOTFB", "simpledrm", "efifb", "vesafb", "simplefb"):
            for _, parent in reversed(stack):
                addr = PciAddress.try_parse(parent.strip())
                if addr is not None and parent.strip().count(":") == 2:
                    owners.setdefault(name.strip(), addr)
                    break
        stack.append((indent, name))
    return owners, readable


def _modules(paths: HostPaths) -> dict[str, ModuleState]:
    out: dict[str, ModuleState] = {}
    for line in (read(paths, paths.proc / "modules") or "").splitlines():
        f = line.split()
        if len(f) < 4:
            continue
        users = tuple(u for u in f[3].split(",") if u and u != "-")
        try:
            ref = int(f[2])
        except ValueError:
            ref = 0
        params: list[tuple[str, str]] = []
        if f[0] in ("nvidia_drm", "nvidia", "amdgpu", "i915", "vendor_reset"):
            pdir = paths.module(f[0]) / "parameters"
            for p in ("modeset", "fbdev"):
                value = read(paths, pdir / p)
                if value is not None:
                    params.append((p, value.strip()))
        out[f[0]] = ModuleState(f[0], ref, users, tuple(params))
    return out


def _firmware_fbs(paths: HostPaths, owners: dict[str, PciAddress], boot_vga: PciAddress | None,
                  iomem_readable: bool) -> list[FirmwareFb]:
    out: list[FirmwareFb] = []
    pdir = paths.sys / "bus" / "platform" / "devices"
    for name in sorted(listdir(paths, pdir)):
        driver = name.rsplit(".", 1)[0]
        if driver not in FIRMWARE_FB_DRIVERS:
            continue
        bound = os.path.islink(pdir / name / "driver")
        pci = next((a for k, a in owners.items() if k in ("BOOTFB", "simpledrm", "efifb", "vesafb", "simplefb")),
                   None)
        how = "/proc/iomem"
        if pci is None:
            pci = boot_vga
            how = "assumed: the boot VGA device" + ("" if iomem_readable else " (/proc/iomem needs root)")
        out.append(FirmwareFb(name, driver, bound, pci, how))
    return out


def _framebuffers(paths: HostPaths, fw: list[FirmwareFb]) -> list[Framebuffer]:
    out: list[Framebuffer] = []
    gdir = paths.sys / "class" / "graphics"
    names = sorted(n for n in listdir(paths, gdir) if n.startswith("fb") and n[2:].isdigit())
    for name in sorted(names, key=lambda n: int(n[2:])):
        fb_name = (read(paths, gdir / name / "name") or "").strip()
        link = gdir / name / "device"
        real = os.path.realpath(link) if os.path.lexists(link) else ""
        platform = os.path.basename(real) if "/platform/" in real or real.rsplit("/", 1)[-1].startswith(
            FIRMWARE_FB_DRIVERS) else None
        if platform is not None:
            owner = next((f for f in fw if f.device == platform), None)
            out.append(Framebuffer(name, fb_name, owner.pci if owner else None, platform,
                                   owner.driver if owner and owner.bound else None,
                                   owner.located_by if owner else "unknown"))
        else:
            out.append(Framebuffer(name, fb_name, pci_in(real) if real else None))
    return out


def read_gpu_facts(paths: HostPaths, boot_vga: PciAddress | None = None, *, processes: bool = True) -> GpuFacts:
    """Read the GPU facts of the host under `paths` (see the module docstring). Never raises.

    Args:
        boot_vga: the boot VGA device (from the inventory), the fallback owner of a firmware framebuffer
            when /proc/iomem cannot say.
        processes: scan /proc/*/fd for node holders (the costly part; off when nothing asks).
    """
    iomem = read(paths, paths.proc / "iomem") or ""
    owners, readable = _iomem_owners(iomem)
    fw = _firmware_fbs(paths, owners, boot_vga, readable or not iomem)
    fbs = _framebuffers(paths, fw)
    vts: list[VtConsole] = []
    vdir = paths.sys / "class" / "vtconsole"
    vnames = sorted(listdir(paths, vdir))
    for name in vnames:
        desc = (read(paths, vdir / name / "name") or "").strip()
        vts.append(VtConsole(name, desc, (read(paths, vdir / name / "bind") or "").strip() == "1"))
    node_users: dict[PciAddress, list[NodeUser]] = {}
    driver_users: dict[str, list[NodeUser]] = {}
    complete = True
    seen = 0
    if processes:
        minors = nvidia_minors(paths)
        users, complete, seen = scan_node_users(paths)
        for u in users:
            owner = node_device(paths, u.node, minors)
            if isinstance(owner, PciAddress):
                node_users.setdefault(owner, []).append(u)
            elif isinstance(owner, str):
                driver_users.setdefault(owner, []).append(u)
    dm = None
    link = paths.etc / "systemd" / "system" / "display-manager.service"
    if os.path.lexists(link):
        try:
            dm = os.path.basename(os.readlink(link))
        except OSError:
            dm = None
    modules = _modules(paths)
    release = (read(paths, paths.proc / "sys" / "kernel" / "osrelease") or "").strip()
    dep = read(paths, paths.lib_modules / release / "modules.dep") or "" if release else ""
    return GpuFacts(
        framebuffers=tuple(fbs), firmware_fbs=tuple(fw), vtconsoles=tuple(vts),
        node_users={a: tuple(u) for a, u in node_users.items()},
        driver_users={d: tuple(u) for d, u in driver_users.items()},
        modules=modules, display_manager=dm,
        vendor_reset_loaded="vendor_reset" in modules or paths.module("vendor_reset").is_dir(),
        vendor_reset_installed="vendor-reset.ko" in dep or "vendor_reset.ko" in dep,
        processes_complete=complete, processes_seen=seen, iomem_readable=readable or not iomem,
    )


def module_closure(facts: GpuFacts, root: str) -> list[str]:
    """`root` and every loaded module that uses it (transitively), in an order `modprobe -r` can take them
    out: each module before the ones it uses (nvidia_drm, nvidia_modeset, nvidia_uvm, nvidia)."""
    root = root.replace("-", "_")
    if root not in facts.modules:
        return []
    users: dict[str, set[str]] = {name: set(m.users) for name, m in facts.modules.items()}
    members: set[str] = set()
    todo = [root]
    while todo:
        name = todo.pop()
        if name in members:
            continue
        members.add(name)
        todo += [u for u in users.get(name, ()) if u in facts.modules]
    order: list[str] = []

    def visit(name: str, seen: set[str]) -> None:
        if name in order or name in seen:
            return
        seen.add(name)
        for user in sorted(users.get(name, ())):
            if user in members:
                visit(user, seen)
        order.append(name)

    for name in sorted(members):
        visit(name, set())
    # visit() appends a module after everything that uses it: that is already the unload order.
    return order



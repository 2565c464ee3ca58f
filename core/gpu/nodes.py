"""Provides scan_node_users(): who holds a GPU's device nodes — every process with /dev/dri/cardN or renderDN,
/dev/nvidia*, /dev/snd/*, /dev/fbN or /dev/kfd open (what `fuser -v` shows), with its systemd unit and
its role (display server, greeter, nvidia-persistenced, sound server, or another client) — and which
device each node belongs to (its /sys/class entry, or the NVIDIA minor from /proc/driver/nvidia).
Read inside the host's tree only (core/gpu/treeread.py).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from vfio_tui.core.address import PciAddress
from vfio_tui.core.gpu.treeread import device_of, listdir, read
from vfio_tui.core.hostpaths import HostPaths

Role: TypeAlias = Literal["display", "greeter", "persistenced", "audio", "client"]

DISPLAY_SERVERS: Final = frozenset({
    "Xorg", "X", "Xwayland", "gnome-shell", "kwin_wayland", "kwin_x11", "sway", "Hyprland", "weston", "mutter",
    "cage", "labwc", "wayfire", "river", "cosmic-comp", "gamescope", "niri", "plasmashell"})
GREETERS: Final = frozenset({"gdm-wayland-ses", "gdm-x-session", "sddm-greeter", "lightdm-gtk-gre", "gdm3"})
AUDIO_SERVERS: Final = frozenset({"pipewire", "wireplumber", "pulseaudio", "pipewire-pulse", "jackd"})
PERSISTENCED: Final = frozenset({"nvidia-persiste", "nvidia-persistenced"})
"""comm is cut at 15 characters (TASK_COMM_LEN): nvidia-persistenced shows as nvidia-persiste."""
_NODE_PREFIXES: Final = ("/dev/dri/", "/dev/nvidia", "/dev/snd/", "/dev/fb", "/dev/kfd")
_SND_CARD = re.compile(r"C(\d+)")


@dataclass(frozen=True, slots=True)
class NodeUser:
    """A process with a GPU's (or a GPU driver's) device node open."""

    pid: int
    comm: str
    node: str
    """Host-absolute: /dev/dri/card0, /dev/nvidia0, /dev/snd/controlC1, ..."""
    unit: str | None = None
    """Its systemd unit (gdm.service, nvidia-persistenced.service, pipewire.service, session-2.scope)."""
    user_unit: bool = False
    """A unit of a user's systemd (systemctl --user), not the system's."""

    @property
    def role(self) -> Role:
        if self.comm in PERSISTENCED:
            return "persistenced"
        if self.comm in AUDIO_SERVERS:
            return "audio"
        if self.comm in GREETERS:
            return "greeter"
        if self.comm in DISPLAY_SERVERS:
            return "display"
        return "client"

    @property
    def who(self) -> str:
        return f"{self.comm} (pid {self.pid})"


def _unit(paths: HostPaths, pid: str) -> tuple[str | None, bool]:
    text = read(paths, paths.proc / pid / "cgroup") or ""
    for line in text.splitlines():
        cg = line.rsplit(":", 1)[-1]
        parts = [p for p in cg.split("/") if p]
        user = any(p.startswith("user@") for p in parts)
        for part in reversed(parts):
            if part.endswith((".service", ".scope")) and not part.startswith("user@"):
                return part, user
    return None, False


def nvidia_minors(paths: HostPaths) -> dict[str, PciAddress]:
    """{"0": 0000:01:00.0} from /proc/driver/nvidia/gpus/ADDR/information ("Device Minor: 0")."""
    out: dict[str, PciAddress] = {}
    base = paths.proc / "driver" / "nvidia" / "gpus"
    for name in listdir(paths, base):
        addr = PciAddress.try_parse(name)
        m = re.search(r"Device Minor:\s*(\d+)", read(paths, base / name / "information") or "")
        if addr is not None and m:
            out[m.group(1)] = addr
    return out


def node_device(paths: HostPaths, node: str, minors: dict[str, PciAddress]) -> PciAddress | str | None:
    """The PCI device a node belongs to, "nvidia"/"amdgpu" for a driver-wide node, or None."""
    base = os.path.basename(node)
    if node.startswith("/dev/dri/"):
        return device_of(paths, "drm", base)
    if node.startswith("/dev/nvidia"):
        rest = base[len("nvidia"):]
        return minors.get(rest) if rest.isdigit() else "nvidia"
    if node == "/dev/kfd":
        return "amdgpu"
    if node.startswith("/dev/snd/"):
        m = _SND_CARD.search(base)
        return device_of(paths, "sound", f"card{m.group(1)}") if m else None
    if node.startswith("/dev/fb"):
        return device_of(paths, "graphics", base[len("/dev/"):]) if base[2:].isdigit() else None
    return None


def scan_node_users(paths: HostPaths) -> tuple[list[NodeUser], bool, int]:
    """Every process with a GPU-related node open (what `fuser -v /dev/dri/* /dev/nvidia* /dev/snd/*` shows),
    whether every process could be read, and how many there were."""
    from vfio_tui.core import safefile

    users: list[NodeUser] = []
    complete = True
    pids = [p for p in listdir(paths, paths.proc) if p.isdigit()]
    if not pids:
        return users, True, 0
    for pid in pids:
        fd_dir = paths.proc / pid / "fd"
        try:
            # In a --root tree a planted link must not lead the scan to this machine's /proc.
            fds = os.listdir(fd_dir if paths.is_live else safefile.resolve(paths.root, fd_dir))
        except PermissionError:
            complete = False
            continue
        except (OSError, safefile.UnsafePathError):
            continue
        seen: set[str] = set()
        for fd in fds:
            try:
                target = os.readlink(fd_dir / fd)
            except OSError:
                continue
            if target.startswith(_NODE_PREFIXES) and target not in seen:
                seen.add(target)
        if not seen:
            continue
        comm = (read(paths, paths.proc / pid / "comm") or "?").strip() or "?"
        unit, user_unit = _unit(paths, pid)
        users += [NodeUser(int(pid), comm, node, unit, user_unit) for node in sorted(seen)]
    return users, complete, len(pids)


def holders_of_nodes(users: Iterable[NodeUser]) -> list[str]:
    return sorted({u.who for u in users})

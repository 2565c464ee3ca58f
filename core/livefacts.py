"""Provides the four live-host facts gather_live_extras() takes from psutil (core.usage_live.PsutilFacts) —
physical mounts, interface addresses, interfaces that are up, running process names — read with the
standard library alone (ProcFacts), for the remote collector that runs where psutil may not be installed.

Each reader follows what psutil does on Linux, so both give the same facts:
- mounts: psutil.disk_partitions(all=False) keeps the /proc/self/mounts entries whose filesystem
  type is not "nodev" in /proc/filesystems (zfs excepted), device "none" dropped;
- addresses: psutil.net_if_addrs() (getifaddrs); here `ip -j addr` (iproute2), else SIOCGIFADDR
  for IPv4 and /proc/net/if_inet6 for IPv6;
- up: psutil.net_if_stats().isup is IFF_UP, bit 0 of /sys/class/net/IF/flags;
- process names: psutil's name() is /proc/PID/stat's comm (15 characters), as /proc/PID/comm.
"""

from __future__ import annotations

import json
import os
import subprocess
from typing import Protocol

from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.virtio_mounts import parse_mounts


class LiveFacts(Protocol):
    def mounts(self) -> list[dict[str, str]]:
        """Mounts of real (block-device backed) filesystems: {source, target, fstype}."""
        ...

    def addresses(self) -> dict[str, list[str]]:
        """{interface: its IPv4 and IPv6 addresses, without %scope}."""
        ...

    def up(self) -> set[str]:
        """Interfaces that are administratively up."""
        ...

    def process_names(self) -> frozenset[str]:
        ...


class ProcFacts:
    """The same facts from /proc, /sys and iproute2, with the standard library only."""

    def __init__(self, paths: HostPaths) -> None:
        self.paths = paths

    def mounts(self) -> list[dict[str, str]]:
        real: set[str] = set()
        try:
            for line in (self.paths.proc / "filesystems").read_text().splitlines():
                fields = line.split()
                if len(fields) == 1:
                    real.add(fields[0])
                elif len(fields) == 2 and fields[0] == "nodev" and fields[1] == "zfs":
                    real.add("zfs")
        except OSError:
            return []
        try:
            text = (self.paths.proc / "self" / "mounts").read_text(errors="replace")
        except OSError:
            return []
        out = []
        for m in parse_mounts(text):
            if m["source"] in ("none", "") or m["fstype"] not in real:
                continue
            src = os.path.realpath(m["source"]) if m["source"].startswith("/dev/") else m["source"]
            out.append({"source": src, "target": m["target"], "fstype": m["fstype"]})
        return out

    def addresses(self) -> dict[str, list[str]]:
        found = _ip_json_addresses()
        return found if found is not None else _ioctl_addresses(self.paths)

    def up(self) -> set[str]:
        out = set()
        net = self.paths.sys / "class" / "net"
        for name in os.listdir(net) if net.is_dir() else []:
            try:
                if int((net / name / "flags").read_text().strip(), 16) & 0x1:
                    out.add(name)
            except (OSError, ValueError):
                continue
        return out

    def process_names(self) -> frozenset[str]:
        names = set()
        for pid in os.listdir(self.paths.proc):
            if pid.isdigit():
                try:
                    names.add((self.paths.proc / pid / "comm").read_text().rstrip("\n"))
                except OSError:
                    continue
        return frozenset(names)


def _ip_json_addresses() -> dict[str, list[str]] | None:
    """`ip -j addr show` -> {ifname: [addresses]}; None when iproute2 is missing or too old for -j."""
    try:
        proc = subprocess.run(["ip", "-j", "addr", "show"], capture_output=True, timeout=10, check=False)
        data = json.loads(proc.stdout) if proc.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    if not isinstance(data, list):
        return None
    out: dict[str, list[str]] = {}
    for link in data:
        if isinstance(link, dict) and isinstance(link.get("ifname"), str):
            out[link["ifname"]] = [str(a["local"]) for a in link.get("addr_info") or []
                                   if isinstance(a, dict) and a.get("family") in ("inet", "inet6") and "local" in a]
    return out


def _ioctl_addresses(paths: HostPaths) -> dict[str, list[str]]:
    """IPv4 by SIOCGIFADDR (the primary address only) and IPv6 from /proc/net/if_inet6."""
    import fcntl
    import ipaddress
    import socket
    import struct

    out: dict[str, list[str]] = {}
    net = paths.sys / "class" / "net"
    names = os.listdir(net) if net.is_dir() else []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for name in names:
            out[name] = []
            try:
                req = struct.pack("256s", name.encode()[:15])
                res = fcntl.ioctl(sock.fileno(), 0x8915, req)  # SIOCGIFADDR
                out[name].append(socket.inet_ntoa(res[20:24]))
            except OSError:
                pass
    try:
        lines = (paths.proc / "net" / "if_inet6").read_text().splitlines()
    except OSError:
        lines = []
    for line in lines:
        fields = line.split()
        if len(fields) == 6:
            out.setdefault(fields[5], []).append(str(ipaddress.IPv6Address(bytes.fromhex(fields[0]))))
    return out

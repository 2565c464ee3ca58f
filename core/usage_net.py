"""Provides the live host's network facts for the host-use guard (core.usage_live): which PCI function
each interface sits under, the interfaces stacked on a NIC (the kernel's upper_*/lower_* links), whether
an interface is up, the default routes and the established SSH connections; and the small sysfs reads
core.usage_live shares with them. Read-only, from /sys and /proc under the host's root.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from vfio_tui.core.address import PciAddress
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.sysfs_function import list_dir


def last_pci(realpath: str) -> str | None:
    for part in reversed(realpath.split("/")):
        if part.count(":") == 2 and PciAddress.try_parse(part) is not None:  # the cheap test first
            return part
    return None


def read_text(path: str) -> str:
    """A sysfs attribute or a /proc file, stripped ("" when unreadable). os.open/os.read: open() adds
    five system calls per file (a terminal check, two seeks, two stats), which the lab's emulated
    CPU charges ~0.1 ms each."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return ""
    try:
        chunks = []
        while chunk := os.read(fd, 65536):  # a /proc seq file hands out a page or so per read
            chunks.append(chunk)
    except OSError:
        return ""
    finally:
        os.close(fd)
    return b"".join(chunks).decode("utf-8", "replace").strip()


def _hex_ip(text: str) -> str:
    """An address as /proc/net/tcp{,6} prints it (32-bit words in host byte order) -> text."""
    import ipaddress
    import sys

    raw = bytes.fromhex(text)
    if sys.byteorder == "little":
        raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    addr = ipaddress.ip_address(raw)
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return str(addr.ipv4_mapped)
    return str(addr)


def established_tcp(paths: HostPaths, local_port: int | None = None) -> list[tuple[str, int, str, int]]:
    """(local ip, local port, remote ip, remote port) of every established TCP connection (only those
    on `local_port` when given: a busy host has thousands, and the guard asks only about SSH).

    Read from /proc/net/tcp and tcp6 directly: psutil.net_connections() also maps every
    socket to its process by walking /proc/*/fd, which costs far more than the guard needs.
    """
    out: list[tuple[str, int, str, int]] = []
    for name in ("tcp", "tcp6"):
        for line in read_text(str(paths.proc / "net" / name)).splitlines()[1:]:
            f = line.split()
            if len(f) < 4 or f[3] != "01":  # 01 = TCP_ESTABLISHED
                continue
            try:
                lip, lport = f[1].split(":")
                rip, rport = f[2].split(":")
                if local_port is not None and int(lport, 16) != local_port:
                    continue
                out.append((_hex_ip(lip), int(lport, 16), _hex_ip(rip), int(rport, 16)))
            except ValueError:
                continue
    return out


def class_device_pci(link: str) -> str | None:
    """The last PCI function on the path of a /sys/class/*/NAME link (None: not under one).

    The kernel spells these links ../../devices/ and names (sysfs_create_link() of the class device),
    and no directory under /sys/devices is a link, so the link's text names the same functions as its
    resolution, for one readlink instead of a realpath's lstat per component; any other spelling is
    resolved."""
    try:
        text = os.readlink(link)
    except OSError:
        text = ""
    if text.startswith("../../devices/") and "/." not in text[len("../../devices/") - 1:]:
        return last_pci(text)
    return last_pci(os.path.realpath(link))


def net_devices(paths: HostPaths) -> dict[str, str | None]:
    """{interface: the PCI function under which it sits (a USB NIC: its USB controller), or None}."""
    cls = str(paths.sys / "class" / "net")
    try:
        names = os.listdir(cls)
    except OSError:
        return {}
    return {ifname: class_device_pci(f"{cls}/{ifname}") for ifname in names}


def if_up(paths: HostPaths, ifname: str) -> bool:
    try:
        return bool(int(read_text(f"{paths.sys}/class/net/{ifname}/flags") or "0", 16) & 1)
    except ValueError:
        return False


def net_lowers(paths: HostPaths, names: Iterable[str]) -> dict[str, list[str]]:
    """{interface: the interfaces it is stacked on} from the kernel's lower_<name> links
    (netdev_adjacent_sysfs_add(): bridge ports, bond slaves, VLAN and macvlan parents); only those with any."""
    cls = f"{paths.sys}/class/net"
    out: dict[str, list[str]] = {}
    for ifname in names:
        lowers = sorted(e[len("lower_"):] for e in list_dir(f"{cls}/{ifname}") if e.startswith("lower_"))
        if lowers:
            out[ifname] = lowers
    return out


def net_stacks(paths: HostPaths, names: Iterable[str]) -> tuple[set[str], dict[str, list[str]]]:
    """The interfaces whose traffic `names` carry (themselves and every interface stacked on them, up
    the kernel's upper_<name> links), and {interface: its lower interfaces} for those and every
    interface below them: what net_lowers() of every interface says about them, for a listing
    per interface concerned instead of one per interface of the host.

    Why the upper links are enough: netdev_adjacent_sysfs_add() makes the two links of a neighbour pair
    together (upper_<u> in the lower's directory, lower_<l> in the upper's) under the same condition
    (both in one network namespace), so every interface with a lower_ link to one of these is found
    through their upper_ links."""
    cls = f"{paths.sys}/class/net"
    entries: dict[str, list[str]] = {}

    def listing(ifname: str) -> list[str]:
        if ifname not in entries:
            entries[ifname] = list_dir(f"{cls}/{ifname}")
        return entries[ifname]

    carried: set[str] = set()
    todo = list(names)
    while todo:
        ifname = todo.pop()
        if ifname not in carried:
            carried.add(ifname)
            todo += [e[len("upper_"):] for e in listing(ifname) if e.startswith("upper_")]
    lowers: dict[str, list[str]] = {}
    seen: set[str] = set()
    todo = list(carried)
    while todo:
        ifname = todo.pop()
        if ifname in seen:
            continue
        seen.add(ifname)
        below = sorted(e[len("lower_"):] for e in listing(ifname) if e.startswith("lower_"))
        if below:
            lowers[ifname] = below
            todo += below
    return carried, lowers


def default_routes(paths: HostPaths) -> list[dict[str, Any]]:
    routes: list[dict[str, Any]] = []
    for line in read_text(str(paths.proc / "net" / "route")).splitlines()[1:]:
        f = line.split()
        if len(f) > 2 and f[1] == "00000000":
            gw = ".".join(str(b) for b in reversed(bytes.fromhex(f[2])))
            routes.append({"destination": "default", "gateway": gw, "dev": f[0]})
    for line in read_text(str(paths.proc / "net" / "ipv6_route")).splitlines():
        f = line.split()
        if len(f) == 10 and f[0] == "0" * 32 and f[1] == "00" and f[9] != "lo":
            routes.append({"destination": "::/0", "gateway": None, "dev": f[9]})
    return routes

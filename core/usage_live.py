"""Provides usage_source() (what uses each device on a host: gathered live on this machine, mapped
from recorded facts elsewhere) and gather_live_extras(): the host-use facts of the machine vfio-tui
runs on, read-only, in the recorded-host schema (`vfio-tui/host-extras/1`) that core.usage maps to
devices.

Mounts, swaps and the block devices under them; network interfaces with their addresses, the
interfaces stacked on them, default routes and SSH sessions; framebuffer consoles, display servers
and keyboards. From psutil (or the remote collector's LiveFacts), /proc and /sys under the host's
root; a plan asks only for the families that can concern its group (`scope`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vfio_tui.core.address import PciAddress
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.model import HostInventory
from vfio_tui.core.sysfs_function import list_dir
from vfio_tui.core.usage import EXTRAS_SCHEMA, UsageMap, UsageSource, block_controllers, carriers, uses_from_extras
from vfio_tui.core.virtio_mounts import read_mounts, virtio_fs_mounts, virtio_mount_tags

if TYPE_CHECKING:
    from vfio_tui.core.livefacts import LiveFacts

_DISPLAY_SERVERS = frozenset({"Xorg", "X", "Xwayland", "gnome-shell", "kwin_wayland", "sway", "weston",
                              "Hyprland", "mutter", "cage"})



def usage_source(paths: HostPaths, extras: Mapping[str, Any] | None) -> UsageSource:
    """What uses each device on a host: gathered live from this machine when `extras` is None,
    otherwise mapped from recorded facts (a recording, the demo, a simulated tree).

    The source takes the inventory and the device a plan is about (`focus`, or None). With a
    focus, the live host's display-server process scan runs only when focus's IOMMU group holds a
    display-class device: a display server is only ever attributed to the boot VGA (class 03xx),
    so for any other group the scan cannot matter.
    """

    def provide(inventory: HostInventory, focus: PciAddress | None) -> UsageMap:
        if extras is None:
            # A plan's read of one group (partial_group) asks only about that group's functions.
            scope = None if inventory.partial_group is None else frozenset(inventory.devices)
            live = gather_live_extras(paths, processes=focus is None or _group_has_display(inventory, focus),
                                      sriov_nics=False, scope=scope)
            return uses_from_extras(live, inventory)
        return uses_from_extras(extras, inventory)

    return provide


def _group_has_display(inventory: HostInventory, focus: PciAddress) -> bool:
    group = inventory.group_of(focus)
    members = group.members if group is not None else (focus,)
    return any(d is not None and d.class_code.startswith("03") for d in map(inventory.device, members))


def record_usage_extras(paths: HostPaths, recorded: Mapping[str, Any] | None) -> dict[str, Any]:
    """Host usage facts to store in a recording (`vfio_tui` key of `vfio-tui snapshot`): this
    machine's when `recorded` is None, else the facts a simulated host already carries."""
    if recorded is not None:
        return dict(recorded)
    return gather_live_extras(paths)


def _last_pci(realpath: str) -> str | None:
    for part in reversed(realpath.split("/")):
        if part.count(":") == 2 and PciAddress.try_parse(part) is not None:  # the cheap test first
            return part
    return None


def _read(path: str) -> str:
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


def _live_blocks(paths: HostPaths) -> dict[str, Any]:
    cls = paths.sys / "class" / "block"
    out: dict[str, Any] = {}
    try:
        names = os.listdir(cls)
    except OSError:
        return out
    for name in names:
        real = os.path.realpath(cls / name)
        try:
            slaves = sorted(os.listdir(os.path.join(real, "slaves")))
        except OSError:
            slaves = []
        info: dict[str, Any] = {"pci": _last_pci(real), "slaves": slaves}
        if os.path.exists(os.path.join(real, "partition")):
            info["parent"] = os.path.basename(os.path.dirname(real))
        dm_name = _read(os.path.join(real, "dm", "name"))
        if dm_name:
            info["name"] = dm_name
        out[name] = info
    return out


_PROCESS_TTL = 30.0
_process_names: tuple[float, frozenset[str]] | None = None


def running_process_names() -> frozenset[str]:
    """Names of the running processes, cached for this process (a TUI re-reads after 30 s).

    The psutil scan takes ~0.3 s on a slow machine; inventory refreshes need not repeat it.
    """
    global _process_names
    import psutil

    now = time.monotonic()
    if _process_names is None or now - _process_names[0] > _PROCESS_TTL:
        _process_names = (now, frozenset(str(p.info.get("name")) for p in psutil.process_iter(["name"])))
    return _process_names[1]


class PsutilFacts:
    """The live facts (core.livefacts.LiveFacts) as psutil reads them, where vfio-tui is installed."""

    def mounts(self) -> list[dict[str, str]]:
        import psutil

        return [{"source": os.path.realpath(p.device) if p.device.startswith("/dev/") else p.device,
                 "target": p.mountpoint, "fstype": p.fstype} for p in psutil.disk_partitions(all=False)]

    def addresses(self) -> dict[str, list[str]]:
        import psutil

        return {ifname: [a.address.split("%")[0] for a in lst if a.family.name in ("AF_INET", "AF_INET6")]
                for ifname, lst in psutil.net_if_addrs().items()}

    def up(self) -> set[str]:
        import psutil

        return {name for name, st in psutil.net_if_stats().items() if st.isup}

    def process_names(self) -> frozenset[str]:
        return running_process_names()


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
        for line in _read(str(paths.proc / "net" / name)).splitlines()[1:]:
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


def _has_virtio(paths: HostPaths, wanted: Collection[str]) -> bool:
    """Whether one of these PCI functions carries a virtio device (virtio-pci puts virtioN right under
    it), the only kind a 9p or virtiofs mount tag can belong to (core/virtio_mounts.py)."""
    for name in wanted:
        try:
            if any(e.startswith("virtio") for e in os.listdir(paths.pci_device(name))):
                return True
        except OSError:
            continue
    return False


def _class_device_pci(link: str) -> str | None:
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
        return _last_pci(text)
    return _last_pci(os.path.realpath(link))


def _class_entries(paths: HostPaths, cls: str, prefix: str) -> list[Path]:
    """/sys/class/CLS/PREFIX*, sorted (a listing: pathlib's glob costs several times more)."""
    base = paths.sys / "class" / cls
    try:
        return [base / n for n in sorted(os.listdir(base)) if n.startswith(prefix)]
    except OSError:
        return []


def _live_net_devices(paths: HostPaths) -> dict[str, str | None]:
    """{interface: the PCI function under which it sits (a USB NIC: its USB controller), or None}."""
    cls = str(paths.sys / "class" / "net")
    try:
        names = os.listdir(cls)
    except OSError:
        return {}
    return {ifname: _class_device_pci(f"{cls}/{ifname}") for ifname in names}


def _if_up(paths: HostPaths, ifname: str) -> bool:
    try:
        return bool(int(_read(f"{paths.sys}/class/net/{ifname}/flags") or "0", 16) & 1)
    except ValueError:
        return False


def _live_net_lowers(paths: HostPaths, names: Iterable[str]) -> dict[str, list[str]]:
    """{interface: the interfaces it is stacked on} from the kernel's lower_<name> links
    (netdev_adjacent_sysfs_add(): bridge ports, bond slaves, VLAN and macvlan parents); only those with any."""
    cls = f"{paths.sys}/class/net"
    out: dict[str, list[str]] = {}
    for ifname in names:
        lowers = sorted(e[len("lower_"):] for e in list_dir(f"{cls}/{ifname}") if e.startswith("lower_"))
        if lowers:
            out[ifname] = lowers
    return out


def _live_net_stacks(paths: HostPaths, names: Iterable[str]) -> tuple[set[str], dict[str, list[str]]]:
    """The interfaces whose traffic `names` carry (themselves and every interface stacked on them, up
    the kernel's upper_<name> links), and {interface: its lower interfaces} for those and every
    interface below them: what _live_net_lowers() of every interface says about them, for a listing
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


def _default_routes(paths: HostPaths) -> list[dict[str, Any]]:
    routes: list[dict[str, Any]] = []
    for line in _read(str(paths.proc / "net" / "route")).splitlines()[1:]:
        f = line.split()
        if len(f) > 2 and f[1] == "00000000":
            gw = ".".join(str(b) for b in reversed(bytes.fromhex(f[2])))
            routes.append({"destination": "default", "gateway": gw, "dev": f[0]})
    for line in _read(str(paths.proc / "net" / "ipv6_route")).splitlines():
        f = line.split()
        if len(f) == 10 and f[0] == "0" * 32 and f[1] == "00" and f[9] != "lo":
            routes.append({"destination": "::/0", "gateway": None, "dev": f[9]})
    return routes


def gather_live_extras(paths: HostPaths, *, processes: bool = True, sriov_nics: bool = True,
                       facts: LiveFacts | None = None, scope: Collection[PciAddress] | None = None) -> dict[str, Any]:
    """Host usage facts of the live host (read-only), in the recorded-host schema.

    Args:
        processes: scan processes for a display server; without it `display_servers` is [].
        sriov_nics: ask `ip link` for the VF settings of every PF with VFs (a recording keeps them; the
            host-use guard does not read them, so it skips a read per function and a command per PF).
        facts: where mounts, addresses, link states and process names come from (default psutil;
            the remote collector reads them from /proc and /sys with the standard library).
        scope: the devices whose use is asked about (a bind plan's group). A family of facts is then
            gathered only when one of its objects lies under one of them: mounts and swaps when a block
            device does, 9p/virtiofs mounts when a virtio device does, addresses, routes and SSH sessions
            when a network interface does, consoles and keyboards likewise. What the facts say about
            these devices is what a whole gathering says (tests/binding/test_guard_scope.py).
    """
    facts = facts if facts is not None else PsutilFacts()
    wanted = None if scope is None else {str(a) for a in scope}

    def concerns(pcis: Iterable[str | PciAddress | None]) -> bool:
        return wanted is None or any(p is not None and str(p) in wanted for p in pcis)

    blocks = _live_blocks(paths)
    on_blocks = concerns(str(c) for name in blocks for c in block_controllers(name, blocks))
    mounts = facts.mounts() if on_blocks else []
    # psutil leaves out "nodev" filesystems, and 9p/virtiofs are nodev: read them from /proc/mounts.
    virtio_mounts = virtio_fs_mounts(read_mounts(paths)) if wanted is None or _has_virtio(paths, wanted) else []
    mounts += [m for m in virtio_mounts if m not in mounts]
    swaps = []
    for line in _read(str(paths.proc / "swaps")).splitlines()[1:] if on_blocks else []:
        if line.split():
            swaps.append(os.path.realpath(line.split()[0]))
    net_pci = all_pci = _live_net_devices(paths)
    if wanted is None:
        stacked = _live_net_lowers(paths, net_pci)
        carried = set(net_pci)
    else:
        # Only the interfaces whose traffic the devices asked about carry: theirs, and those stacked on them
        # (a bridge on its ports), with the interfaces below those.
        carried, stacked = _live_net_stacks(paths, [ifname for ifname, pci in net_pci.items() if pci in wanted])
    net: dict[str, Any] = {}
    routes: list[dict[str, Any]] = []
    sessions: list[dict[str, Any]] = []
    if wanted is None or carried:
        addrs = facts.addresses()
        if wanted is None:
            up = facts.up()
        else:
            net_pci = {ifname: pci for ifname, pci in net_pci.items() if ifname in carried}
            up = {ifname for ifname in net_pci if _if_up(paths, ifname)}  # IFF_UP is bit 0 of the flags
        net = {ifname: {"pci": pci, "addresses": list(addrs.get(ifname, [])),
                        "state": "up" if ifname in up else "down",
                        **({"lower": stacked[ifname]} if stacked.get(ifname) else {})}
               for ifname, pci in net_pci.items()}
        if wanted is not None:
            # The lower interfaces of those kept, for carriers() to reach the NICs asked about.
            links = {ifname: {"pci": pci, "lower": stacked.get(ifname, [])} for ifname, pci in all_pci.items()}
            for ifname in list(net):
                for port, _ in carriers(links, ifname):
                    if port not in net:
                        net[port] = {"pci": all_pci.get(port), "addresses": list(addrs.get(port, [])),
                                     "state": "up" if _if_up(paths, port) else "down",
                                     **({"lower": stacked[port]} if stacked.get(port) else {})}
        routes = _default_routes(paths)
        local_ip_dev = {ip: ifname for ifname, lst in addrs.items() for ip in lst}
        # A session is on the interface holding its local address: none to find when the interfaces asked
        # about hold no address (link-local included).
        on_addresses = wanted is None or any(addrs.get(ifname) for ifname in net_pci)
        for lip, lport, rip, rport in established_tcp(paths, local_port=22) if on_addresses else []:
            sessions.append({"kind": "ssh", "local": f"{lip}:{lport}", "remote": f"{rip}:{rport}",
                             "dev": local_ip_dev.get(lip), "user": None})
    consoles = []
    fbs = [(fb, _last_pci(os.path.realpath(fb / "device")) if (fb / "device").exists() else None)
           for fb in _class_entries(paths, "graphics", "fb")]
    fbcon = concerns(pci for _, pci in fbs) and any(
        "frame buffer" in _read(str(d / "name")) and _read(str(d / "bind")) == "1"
        for d in _class_entries(paths, "vtconsole", "vtcon"))
    for fb, pci in fbs:
        if pci and fbcon:
            consoles.append({"kind": "fbcon", "fb": fb.name, "driver": _read(str(fb / "name")), "pci": pci})
    displays = []
    running = facts.process_names() if processes else frozenset()
    if running & _DISPLAY_SERVERS:
        for dev in paths.pci_devices.glob("*"):
            if _read(str(dev / "boot_vga")) == "1":
                displays.append({"name": sorted(running & _DISPLAY_SERVERS)[0], "pci": dev.name})
    keyboards = []
    for inp in _class_entries(paths, "input", "input"):
        if wanted is not None and not concerns([_class_device_pci(str(inp))]):
            continue
        try:
            ev = int(_read(str(inp / "capabilities" / "ev")) or "0", 16)
        except ValueError:
            continue
        if ev & 0x100002 == 0x100002:  # EV_KEY and EV_REP: a keyboard, not a button or a mouse
            real = os.path.realpath(inp)
            usb = next((p for p in real.split("/") if p[:1].isdigit() and "-" in p and ":" not in p), None)
            pci = _last_pci(real)
            if pci:
                keyboards.append({"name": _read(str(inp / "name")), "pci": pci, "usb": usb})
    from vfio_tui.core.sriovinfo.netinfo import EXTRAS_KEY, live_sriov_nics

    return {"schema": EXTRAS_SCHEMA, EXTRAS_KEY: live_sriov_nics(paths) if sriov_nics else {},
            "mounts": mounts, "swaps": swaps, "block_devices": blocks,
            "virtio_tags": virtio_mount_tags(paths, virtio_mounts),
            "net_interfaces": net, "routes": routes, "sessions": sessions, "consoles": consoles,
            "display_servers": displays, "keyboards": keyboards}

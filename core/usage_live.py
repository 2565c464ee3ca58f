"""Provides usage_source() (what uses each device on a host: gathered live on this machine, mapped
from recorded facts elsewhere) and gather_live_extras(): the host-use facts of the machine vfio-tui
runs on, read-only, in the recorded-host schema (`vfio-tui/host-extras/1`) that core.usage maps to
devices.

Mounts, swaps and the block devices under them; network interfaces with their addresses, the
interfaces stacked on them, default routes and SSH sessions; framebuffer consoles, display servers
and keyboards. From psutil (or the remote collector's LiveFacts), /proc and /sys under the host's
root (the network's own reads are core.usage_net's); a plan asks only for the families that can concern
its group (`scope`).
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
from vfio_tui.core.usage import EXTRAS_SCHEMA, UsageMap, UsageSource, block_controllers, carriers, uses_from_extras
from vfio_tui.core.usage_net import (
    class_device_pci,
    default_routes,
    established_tcp,
    if_up,
    last_pci,
    net_devices,
    net_lowers,
    net_stacks,
    read_text,
)
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
        info: dict[str, Any] = {"pci": last_pci(real), "slaves": slaves}
        if os.path.exists(os.path.join(real, "partition")):
            info["parent"] = os.path.basename(os.path.dirname(real))
        dm_name = read_text(os.path.join(real, "dm", "name"))
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


def _class_entries(paths: HostPaths, cls: str, prefix: str) -> list[Path]:
    """/sys/class/CLS/PREFIX*, sorted (a listing: pathlib's glob costs several times more)."""
    base = paths.sys / "class" / cls
    try:
        return [base / n for n in sorted(os.listdir(base)) if n.startswith(prefix)]
    except OSError:
        return []


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
    for line in read_text(str(paths.proc / "swaps")).splitlines()[1:] if on_blocks else []:
        if line.split():
            swaps.append(os.path.realpath(line.split()[0]))
    net_pci = all_pci = net_devices(paths)
    if wanted is None:
        stacked = net_lowers(paths, net_pci)
        carried = set(net_pci)
    else:
        # Only the interfaces whose traffic the devices asked about carry: theirs, and those stacked on them
        # (a bridge on its ports), with the interfaces below those.
        carried, stacked = net_stacks(paths, [ifname for ifname, pci in net_pci.items() if pci in wanted])
    net: dict[str, Any] = {}
    routes: list[dict[str, Any]] = []
    sessions: list[dict[str, Any]] = []
    if wanted is None or carried:
        addrs = facts.addresses()
        if wanted is None:
            up = facts.up()
        else:
            net_pci = {ifname: pci for ifname, pci in net_pci.items() if ifname in carried}
            up = {ifname for ifname in net_pci if if_up(paths, ifname)}  # IFF_UP is bit 0 of the flags
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
                                     "state": "up" if if_up(paths, port) else "down",
                                     **({"lower": stacked[port]} if stacked.get(port) else {})}
        routes = default_routes(paths)
        local_ip_dev = {ip: ifname for ifname, lst in addrs.items() for ip in lst}
        # A session is on the interface holding its local address: none to find when the interfaces asked
        # about hold no address (link-local included).
        on_addresses = wanted is None or any(addrs.get(ifname) for ifname in net_pci)
        for lip, lport, rip, rport in established_tcp(paths, local_port=22) if on_addresses else []:
            sessions.append({"kind": "ssh", "local": f"{lip}:{lport}", "remote": f"{rip}:{rport}",
                             "dev": local_ip_dev.get(lip), "user": None})
    consoles = []
    fbs = [(fb, last_pci(os.path.realpath(fb / "device")) if (fb / "device").exists() else None)
           for fb in _class_entries(paths, "graphics", "fb")]
    fbcon = concerns(pci for _, pci in fbs) and any(
        "frame buffer" in read_text(str(d / "name")) and read_text(str(d / "bind")) == "1"
        for d in _class_entries(paths, "vtconsole", "vtcon"))
    for fb, pci in fbs:
        if pci and fbcon:
            consoles.append({"kind": "fbcon", "fb": fb.name, "driver": read_text(str(fb / "name")), "pci": pci})
    displays = []
    running = facts.process_names() if processes else frozenset()
    if running & _DISPLAY_SERVERS:
        for dev in paths.pci_devices.glob("*"):
            if read_text(str(dev / "boot_vga")) == "1":
                displays.append({"name": sorted(running & _DISPLAY_SERVERS)[0], "pci": dev.name})
    keyboards = []
    for inp in _class_entries(paths, "input", "input"):
        if wanted is not None and not concerns([class_device_pci(str(inp))]):
            continue
        try:
            ev = int(read_text(str(inp / "capabilities" / "ev")) or "0", 16)
        except ValueError:
            continue
        if ev & 0x100002 == 0x100002:  # EV_KEY and EV_REP: a keyboard, not a button or a mouse
            real = os.path.realpath(inp)
            usb = next((p for p in real.split("/") if p[:1].isdigit() and "-" in p and ":" not in p), None)
            pci = last_pci(real)
            if pci:
                keyboards.append({"name": read_text(str(inp / "name")), "pci": pci, "usb": usb})
    from vfio_tui.core.sriovinfo.netinfo import EXTRAS_KEY, live_sriov_nics

    return {"schema": EXTRAS_SCHEMA, EXTRAS_KEY: live_sriov_nics(paths) if sriov_nics else {},
            "mounts": mounts, "swaps": swaps, "block_devices": blocks,
            "virtio_tags": virtio_mount_tags(paths, virtio_mounts),
            "net_interfaces": net, "routes": routes, "sessions": sessions, "consoles": consoles,
            "display_servers": displays, "keyboards": keyboards}

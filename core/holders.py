"""Provides holders_of(): who holds a device that is on vfio-pci right now — a running libvirt
domain, or any process with the group's /dev/vfio/N (or the device's VFIO cdev) open.

Giving such a device back to the host is never safe: on a real kernel vfio-pci's remove() blocks
until the user closes the device ("Relaying device request to user", kernel-semantics K07), so
`unbind` hangs or yanks the device out of a running guest. Restore, undo and "Restore all" ask
here first and refuse, naming the VM or the process. The process check reads /proc/*/fd under
the host root (what `fuser /dev/vfio/N` does), so it works without libvirt and on host trees.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from vfio_tui.core.address import PciAddress
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.model import DomainFacts, DomainHolds

HolderKind = Literal["vm", "process", "unknown"]


@dataclass(frozen=True, slots=True)
class Holder:
    """Something that holds a device, and how to make it let go."""

    kind: HolderKind
    name: str
    """The VM's name, or "qemu-system-x86 (pid 4242)"."""
    detail: str
    fix: str = ""

    def describe(self) -> str:
        return self.detail


def _group_of(paths: HostPaths, address: str) -> int | None:
    try:
        return int(os.path.basename(os.readlink(paths.pci_device(address) / "iommu_group")))
    except (OSError, ValueError):
        return None


def _cdev_nodes(paths: HostPaths, address: str) -> list[str]:
    """The device's VFIO cdev nodes (/dev/vfio/devices/vfioN: Linux >= 6.6 built with VFIO_DEVICE_CDEV).

    Since 6.1 every VFIO device has a vfio-dev/vfioN directory, but only one with a device number
    (its `dev` attribute) has a node anybody could open."""
    base = f"{paths.pci_device(address)}/vfio-dev/"
    try:
        names = os.listdir(base)
    except OSError:
        return []
    return [paths.display(paths.dev_vfio / "devices" / n) for n in names if os.path.exists(f"{base}{n}/dev")]


def group_node_unopened(paths: HostPaths, group: int) -> bool:
    """True when the kernel itself shows that nobody holds VFIO group `group`: its /dev/vfio/N opens.

    The group node is exclusive: vfio_group_fops_open() answers EBUSY while another file has it open
    (K07), and the kernel keeps it "open" for as long as any fd of its devices is (a device fd holds a
    reference to the group file; before Linux 6.0 the group's container stays set instead, which also
    answers EBUSY), for a KVM that was given the group, and (>= 6.6) while one of its devices' cdevs
    is open. So one open that succeeds replaces a scan of every process's fds.

    Only the kernel's own node is opened: a character device whose number is the one
    /sys/class/vfio/N/dev gives, never through a symlink. Anything else (a host tree, a recording, a
    node that is not the group's, not root, EBUSY) answers False, and the caller scans /proc.
    Opening it blocks a QEMU's open of the same group for those microseconds, so only a caller that
    is about to take the device from vfio-pci (restore, under the writer lock) asks.
    """
    node = str(paths.dev_vfio / str(group))
    try:
        st = os.lstat(node)
        fd = os.open(f"{paths.sys}/class/vfio/{group}/dev", os.O_RDONLY | os.O_CLOEXEC)
        try:
            number = os.read(fd, 32).decode("ascii").strip()
        finally:
            os.close(fd)
    except (OSError, ValueError):
        return False
    if not stat.S_ISCHR(st.st_mode) or number != f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}":
        return False
    try:
        fd = os.open(node, os.O_RDWR | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError:
        return False  # EBUSY: held; EACCES: not root. Either way the scan decides, and names who.
    try:
        return os.fstat(fd).st_rdev == st.st_rdev
    finally:
        os.close(fd)


def _proc_name(paths: HostPaths, pid: str) -> str:
    try:
        return (paths.proc / pid / "comm").read_text().strip() or "?"
    except OSError:
        return "?"


def open_by(paths: HostPaths, nodes: Iterable[str]) -> tuple[dict[str, list[str]], bool]:
    """({node: ["comm (pid N)", ...]}, complete) for processes with any of `nodes` open.

    `complete` is False when some processes' fds could not be read (not root): then an empty
    answer does not mean "nobody".
    """
    wanted = set(nodes)
    found: dict[str, list[str]] = {}
    complete = True
    proc = str(paths.proc)
    try:
        pids = [p for p in os.listdir(proc) if p.isdigit()]
    except OSError:
        return found, False
    # Strings, not Paths: a host runs hundreds of processes with thousands of fds, and a pathlib join
    # per fd was most of restore's time on the lab's (TCG) kernel.
    for pid in pids:
        fd_dir = f"{proc}/{pid}/fd/"
        try:
            fds = os.listdir(fd_dir)
        except PermissionError:
            complete = False
            continue
        except OSError:
            continue  # the process ended meanwhile
        for fd in fds:
            try:
                target = os.readlink(fd_dir + fd)
            except OSError:
                continue
            if target in wanted:
                who = f"{_proc_name(paths, pid)} (pid {pid})"
                if who not in found.setdefault(target, []):
                    found[target].append(who)
    return found, complete


def holders_of(paths: HostPaths, addresses: Iterable[str | PciAddress],
               domains: DomainFacts | None = None, *, open_groups: bool = False) -> dict[str, list[Holder]]:
    """{address: holders} for the devices someone holds now (absent: nobody, as far as can be seen).

    `domains` (libvirt's view) is asked once; when it cannot answer, the /dev/vfio check still runs.
    With `open_groups` (a caller about to take the devices from vfio-pci), a group whose node opens
    is known free without reading every process's fds (group_node_unopened()).
    """
    wanted = [str(a) for a in addresses]
    out: dict[str, list[Holder]] = {}
    nodes: dict[str, list[str]] = {}
    proven: dict[int, bool] = {}
    for a in wanted:
        group = _group_of(paths, a)
        cdevs = _cdev_nodes(paths, a)
        if group is not None:
            if open_groups and not cdevs:
                # (a device with a cdev is opened without its group being blocked until it is bound
                # to an iommufd, yet it holds the device: those are scanned)
                if group not in proven:
                    proven[group] = group_node_unopened(paths, group)
                if proven[group]:
                    continue
            nodes.setdefault(paths.display(paths.dev_vfio / str(group)), []).append(a)
        for node in cdevs:
            nodes.setdefault(node, []).append(a)
    users, complete = open_by(paths, nodes) if nodes else ({}, True)
    holds: DomainHolds = {}
    # A running VM holds its VFIO devices' /dev/vfio/N (or cdev) open for as long as it has them (K07), so
    # libvirt is asked only to name the VM behind an open node, or when some processes' fds could not be
    # read (not root): with every fd seen and none of these open, no VM holds them. Connecting to libvirt
    # was the slowest step of a restore on the lab's kernel.
    if domains is not None and (users or not complete):
        try:
            holds = domains()
        except Exception:  # noqa: BLE001 - an unreachable libvirt: the /dev/vfio check below still runs
            holds = {}
    for a in wanted:
        for h in holds.get(PciAddress.parse(a), ()):
            vm = h.vm
            if h.active and h.live:
                out.setdefault(a, []).append(Holder(
                    "vm", vm, f"running VM {vm!r} holds it",
                    fix=f"stop {vm} first (virsh shutdown {vm}), or undo with --stop-vm / --live"))
    for node, procs in users.items():
        for a in nodes[node]:
            for who in procs:
                if any(h.kind == "vm" for h in out.get(a, ())) and "qemu" in who:
                    continue  # the VM above, seen from the kernel's side: said once
                out.setdefault(a, []).append(Holder(
                    "process", who, f"{who} has {node} open",
                    fix=f"stop {who.split(' ')[0]} (it uses the device through VFIO) and retry"))
    return out

"""Provides what libvirt and QEMU do to a simulated host when one of the demo's VMs starts or stops,
so that the demo fails a start the way a real host would (and holds what a real VM holds).

libvirt's test driver starts a domain without touching any device. On a real host a start with PCI
hostdevs does (libvirt 9.0 virHostdevPreparePCIDevices, then QEMU's vfio_get_group/vfio_connect_container):
1. every hostdev must exist ("Device %s not found: could not access %s"); libvirt moves each
   managed='yes' device to vfio-pci (driver_override, unbind, drivers_probe);
2. the group node /dev/vfio/N must exist ("Path '/dev/vfio/N' is not accessible");
3. QEMU refuses a group with a member on a host driver ("group N is not viable" + hint);
4. the IOMMU type1 backend refuses a platform without interrupt remapping unless
   allow_unsafe_interrupts is set (kernel K01, QEMU "failed to set iommu for container");
5. pinning the guest's RAM needs RLIMIT_MEMLOCK >= RAM (libvirt sets it to <hard_limit> when the
   domain has one; kernel K02 "vfio_pin_pages_remote: RLIMIT_MEMLOCK (N) exceeded").
A failure writes the lines QEMU and the kernel print into the tree's QEMU log and kern.log, gives the
managed devices back (libvirt's reattach), and returns libvirt's error text. A start that succeeds
leaves a simulated QEMU process in the tree's /proc holding /dev/vfio/N open, and the simulated
kernel's group open (so unbinding a member blocks, as on a real kernel); a stop undoes both.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from lxml import etree

from vfio_tui.core import safefile
from vfio_tui.core.address import PciAddress
from vfio_tui.core.binding.state import driver_of, group_members, is_bridge_at
from vfio_tui.core.clock import utc
from vfio_tui.core.errors import VfioError
from vfio_tui.core.viability import binding_keeps_viable

if TYPE_CHECKING:
    from vfio_tui.core.host import Host

QEMU_COMM: Final = "qemu-system-x86"
_PID_BASE: Final = 41000
NOT_VIABLE_HINT: Final = "Please ensure all devices within the iommu_group are bound to their vfio bus driver."


@dataclass(frozen=True)
class SimStartFailure:
    """A demo start that a real host would fail: libvirt's error text (kept verbatim by the record)."""

    libvirt_error: str
    qemu_lines: tuple[str, ...] = ()
    kernel_lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class _HostdevRef:
    address: PciAddress
    managed: bool


def _hostdevs(xml: str) -> list[_HostdevRef]:
    root = etree.fromstring(xml.encode(), etree.XMLParser(resolve_entities=False, no_network=True))
    out = []
    for el in root.iterfind("devices/hostdev"):
        src = el.find("source/address")
        if el.get("type") != "pci" or src is None:
            continue
        try:
            addr = PciAddress(*(int(src.get(k, "0"), 0) for k in ("domain", "bus", "slot", "function")))
        except (TypeError, ValueError):
            continue
        out.append(_HostdevRef(addr, el.get("managed", "no") == "yes"))
    return out


def _kib(root: etree._Element, path: str) -> int | None:
    el = root.find(path)
    if el is None or not (el.text or "").strip().isdigit():
        return None
    factor = {"b": 1 / 1024, "bytes": 1 / 1024, "k": 1, "kib": 1, "m": 1024, "mib": 1024, "g": 1 << 20,
              "gib": 1 << 20}.get((el.get("unit") or "KiB").lower(), 1)
    return int(int((el.text or "0").strip()) * factor)


def _now() -> str:
    return utc("%Y-%m-%dT%H:%M:%S") + ".000000Z"


def _device_arg(a: PciAddress, index: int) -> str:
    return f'-device {{"driver":"vfio-pci","host":"{a}","id":"hostdev{index}","bus":"pci.{index + 1}","addr":"0x0"}}'


def _interrupt_remapping(host: Host) -> bool:
    text = ""
    for name in ("kern.log", "dmesg"):
        try:
            text += (host.paths.var_log / name).read_text(errors="replace")
        except OSError:
            continue
    if "DMAR-IR: Enabled IRQ remapping" in text or "AMD-Vi: Interrupt remapping enabled" in text:
        return True
    try:
        unsafe = (host.paths.module("vfio_iommu_type1") / "parameters" / "allow_unsafe_interrupts").read_text()
    except OSError:
        unsafe = "N"
    # With a kernel log that lacks the line, the platform has no IR; without any log (a recording
    # that kept none) nothing says so, and the start is not failed on a guess.
    return unsafe.strip() in ("Y", "1") or not text


def _bind_to_vfio(host: Host, a: PciAddress) -> None:
    """libvirt's virPCIDeviceDetach for a managed device (by address, like vfio-tui itself)."""
    paths = host.paths
    if driver_of(paths, str(a)) == "vfio-pci":
        return
    kernel = host.kernel
    kernel.write(paths.pci_device(str(a)) / "driver_override", "vfio-pci")
    if driver_of(paths, str(a)) is not None:
        kernel.write(paths.pci_device(str(a)) / "driver" / "unbind", str(a))
    kernel.write(paths.pci_bus / "drivers_probe", str(a))


def _give_back(host: Host, a: PciAddress) -> None:
    """libvirt's virPCIDeviceReattach: clear the override, unbind from vfio-pci, re-probe."""
    paths = host.paths
    kernel = host.kernel
    try:
        kernel.write(paths.pci_device(str(a)) / "driver_override", "\n")
        if driver_of(paths, str(a)) == "vfio-pci":
            kernel.write(paths.pci_driver("vfio-pci") / "unbind", str(a))
        kernel.write(paths.pci_bus / "drivers_probe", str(a))
    except VfioError:
        pass  # as libvirt does: the device stays on vfio-pci, logged, and the stop goes on


def _append(host: Host, path: Path, lines: list[str]) -> None:
    safefile.append(host.paths.root, path, "".join(line + "\n" for line in lines).encode())


def _fail(host: Host, vm: str, xml: str, managed_done: list[PciAddress], error: str, qemu: list[str],
          kernel: list[str]) -> SimStartFailure:
    stamp = utc("%Y-%m-%d %H:%M:%S") + ".000+0000"
    log = [f"{stamp}: starting up libvirt version: 9.0.0, package: 4+deb12u2 (Debian), qemu version: 7.2.22",
           *qemu, f"{stamp}: shutting down, reason=failed"]
    _append(host, host.paths.var_log / "libvirt" / "qemu" / f"{vm}.log", log)
    if kernel:
        when = utc("%b %d %H:%M:%S")
        _append(host, host.paths.var_log / "kern.log", [f"{when} host192 kernel: {line}" for line in kernel])
    for a in managed_done:
        _give_back(host, a)
    return SimStartFailure(error, tuple(qemu), tuple(kernel))


def domain_starting(host: Host, vm: str, xml: str) -> SimStartFailure | None:
    """Do to the simulated host what a real start of `vm` (its inactive XML) would up to QEMU opening
    the groups; None when it can start (then domain_running() once the domain runs)."""
    refs = _hostdevs(xml)
    if not refs:
        return None
    paths = host.paths
    managed_done: list[PciAddress] = []
    for ref in refs:
        if not paths.pci_device(str(ref.address)).is_dir():
            return _fail(host, vm, xml, managed_done,
                         f"Device {ref.address} not found: could not access "
                         f"{paths.display(paths.pci_device(str(ref.address)))}: No such file or directory", [], [])
        if is_bridge_at(paths, str(ref.address)):
            return _fail(host, vm, xml, managed_done, "unsupported configuration: Non-endpoint PCI devices cannot"
                         " be assigned to guests", [], [])
    for ref in refs:
        if ref.managed:
            try:
                host.kernel.load_module("vfio-pci")
                _bind_to_vfio(host, ref.address)
            except VfioError as exc:
                return _fail(host, vm, xml, managed_done, f"internal error: Failed to bind PCI device {ref.address}"
                             f" to vfio-pci: {exc.detail}", [], [])
            managed_done.append(ref.address)
    groups: dict[int, PciAddress] = {}
    for ref in refs:
        try:
            group = int(os.path.basename(os.readlink(paths.pci_device(str(ref.address)) / "iommu_group")))
        except (OSError, ValueError):
            return _fail(host, vm, xml, managed_done, "unsupported configuration: host doesn't support VFIO PCI"
                         " passthrough", [], [])
        groups.setdefault(group, ref.address)
    for group in groups:
        node = paths.dev_vfio / str(group)
        if not node.exists():
            return _fail(host, vm, xml, managed_done, f"Path '{paths.display(node)}' is not accessible: No such file"
                         " or directory", [], [])
    root = etree.fromstring(xml.encode(), etree.XMLParser(resolve_entities=False, no_network=True))
    for index, (group, first) in enumerate(groups.items()):
        for member in group_members(paths, group):
            drv = driver_of(paths, member)
            on_vfio = drv == "vfio-pci"
            if not binding_keeps_viable(drv, is_bridge=is_bridge_at(paths, member), on_vfio=on_vfio,
                                        release=None):
                qemu = [f"{_now()} qemu-system-x86_64: {_device_arg(first, index)}: vfio {first}: group {group} is"
                        " not viable", NOT_VIABLE_HINT]
                return _fail(host, vm, xml, managed_done, "internal error: qemu unexpectedly closed the monitor: "
                             + "\n".join(qemu), qemu, [])
    first_group, first_dev = next(iter(groups.items()))
    if not _interrupt_remapping(host):
        kernel = ['vfio_iommu_type1_attach_group: No interrupt remapping support.  Use the module param'
                  ' "allow_unsafe_interrupts" to enable VFIO IOMMU support on this platform']
        qemu = [f"{_now()} qemu-system-x86_64: {_device_arg(first_dev, 0)}: vfio {first_dev}: failed to setup"
                f" container for group {first_group}: Failed to set iommu for container: Operation not permitted"]
        return _fail(host, vm, xml, managed_done, "internal error: qemu unexpectedly closed the monitor: " + qemu[0],
                     qemu, kernel)
    ram = _kib(root, "currentMemory") or _kib(root, "memory") or 0
    limit = _kib(root, "memtune/hard_limit")
    if limit is not None and limit < ram:
        kernel = [f"vfio_pin_pages_remote: RLIMIT_MEMLOCK ({limit * 1024}) exceeded"]
        qemu = [f"{_now()} qemu-system-x86_64: {_device_arg(first_dev, 0)}: vfio {first_dev}: failed to setup"
                f" container for group {first_group}: memory listener initialization failed: Region pc.ram:"
                f" vfio_dma_map(0x55d0c3a0e2b0, 0x100000, 0x{ram * 1024 - 0x100000:x}, 0x7f2a40100000) = -12"
                " (Cannot allocate memory)"]
        return _fail(host, vm, xml, managed_done, "internal error: qemu unexpectedly closed the monitor: " + qemu[0],
                     qemu, kernel)
    return None


def _proc_dir(host: Host, vm: str) -> Path:
    pid = _PID_BASE + sum(vm.encode()) % 1000
    return host.paths.proc / str(pid)


def _open(host: Host, vm: str, groups: list[int]) -> None:
    """A running QEMU for `vm`: /proc/PID with /dev/vfio/N open, and the kernel's groups held."""
    proc = _proc_dir(host, vm)
    fd_dir = proc / "fd"
    root = host.paths.root
    safefile.mkdirs(root, fd_dir)
    safefile.replace(root, proc / "comm", (QEMU_COMM + "\n").encode(), private=True, mode=0o644)
    safefile.replace(root, proc / "cmdline", f"/usr/bin/qemu-system-x86_64\0-name\0guest={vm}\0".encode(),
                     private=True, mode=0o644)
    for n, group in enumerate(groups, start=20):
        link = fd_dir / str(n)
        if not link.is_symlink():
            # As in the real /proc: the link's text is the host path of the open file (only read).
            safefile.symlink(root, link, host.paths.display(host.paths.dev_vfio / str(group)), absolute_ok=True)
    _set_open_groups(host, add=groups)


def _set_open_groups(host: Host, *, add: Sequence[int] = (), remove: Sequence[int] = ()) -> None:
    from vfio_tui.core.simulated.kernel import SimulatedKernel

    kernel = host.kernel
    if not isinstance(kernel, SimulatedKernel):
        return
    current = [int(g) for g in kernel.metadata().get("open_groups", [])]
    new = sorted((set(current) | set(add)) - set(remove))
    if new != sorted(current):
        kernel.update_metadata(open_groups=new)


def domain_running(host: Host, vm: str, xml: str) -> None:
    """A demo VM runs (just started, or running when the demo opened, like its router): its QEMU holds
    its groups, as on a real host."""
    if (_proc_dir(host, vm) / "comm").exists():
        return
    groups = []
    for ref in _hostdevs(xml):
        try:
            groups.append(int(os.path.basename(os.readlink(host.paths.pci_device(str(ref.address)) / "iommu_group"))))
        except (OSError, ValueError):
            continue
    if groups:
        _open(host, vm, sorted(set(groups)))


def domain_stopped(host: Host, vm: str, xml: str) -> None:
    """QEMU of `vm` is gone: its groups are released, and libvirt gives managed devices back."""
    proc = _proc_dir(host, vm)
    groups: list[int] = []
    if (proc / "fd").is_dir():
        for link in (proc / "fd").iterdir():
            try:
                groups.append(int(os.path.basename(os.readlink(link))))
            except (OSError, ValueError):
                continue
    safefile.remove_tree(host.paths.root, proc)
    _set_open_groups(host, remove=groups)
    for ref in _hostdevs(xml):
        if ref.managed:
            _give_back(host, ref.address)


def devices_unplugged(host: Host, vm: str, addresses: Sequence[PciAddress], managed: Sequence[PciAddress]) -> None:
    """The guest released hot-unplugged devices: QEMU closes their groups (when nothing else of the VM
    is in them), and libvirt gives managed ones back — what a real host does after DEVICE_DELETED."""
    proc = _proc_dir(host, vm)
    gone: list[int] = []
    for a in addresses:
        try:
            group = int(os.path.basename(os.readlink(host.paths.pci_device(str(a)) / "iommu_group")))
        except (OSError, ValueError):
            continue
        for link in (proc / "fd").iterdir() if (proc / "fd").is_dir() else []:
            try:
                if int(os.path.basename(os.readlink(link))) == group:
                    safefile.unlink(host.paths.root, link)
                    gone.append(group)
            except (OSError, ValueError):
                continue
    _set_open_groups(host, remove=gone)
    for a in managed:
        _give_back(host, a)

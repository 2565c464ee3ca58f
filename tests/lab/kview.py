"""The lab guest's kernel view, read straight from /sys and /dev: the oracle the lab tests
compare vfio-tui against.

Deliberately independent of core/ (its own config-space walk, its own readlinks), so a bug
in vfio-tui's reader cannot hide in both sides of a comparison. Runs only inside the lab
guest (tests/lab/conftest.py guarantees it); it only ever reads, except the `raw_*`
helpers, which the tests use to set up states the kernel must judge (e.g. half-bound
groups) and which mirror ../shared/lab/guest/step3_vfio.py.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
import time
from dataclasses import dataclass, field
from pathlib import Path

SYS = Path("/sys")
PCI_DEVICES = SYS / "bus" / "pci" / "devices"
PCI_DRIVERS = SYS / "bus" / "pci" / "drivers"
IOMMU_GROUPS = SYS / "kernel" / "iommu_groups"
DEV_VFIO = Path("/dev/vfio")

# include/uapi/linux/pci_regs.h: PCI_EXP_FLAGS_TYPE values
PORT_TYPES = {0x0: "endpoint", 0x1: "legacy_endpoint", 0x4: "root_port", 0x5: "upstream_port",
              0x6: "downstream_port", 0x7: "pcie_to_pci_bridge", 0x8: "pci_to_pcie_bridge",
              0x9: "rc_integrated_endpoint", 0xA: "rc_event_collector"}
PCI_CAP_ID_EXP = 0x10
PCI_EXT_CAP_ID_ACS = 0x0D

# include/uapi/linux/vfio.h: _IO(VFIO_TYPE, VFIO_BASE + n), VFIO_TYPE ';' (0x3b), VFIO_BASE 100
VFIO_GROUP_GET_STATUS = 0x3B67
VFIO_GROUP_FLAGS_VIABLE = 1


@dataclass(frozen=True)
class KDevice:
    """One PCI function as the kernel shows it."""

    address: str
    vendor_id: str
    device_id: str
    class_code: str
    driver: str | None
    driver_override: bytes
    """The raw bytes of the driver_override file ("(null)\\n" when unset)."""
    group: int | None
    header_type: int
    port_type: str | None
    acs: tuple[int, int] | None
    reset_methods: tuple[str, ...]
    parent: str | None
    upstream: tuple[str, ...]
    mount_tags: tuple[str, ...] = ()
    net_interfaces: tuple[str, ...] = ()

    @property
    def is_bridge(self) -> bool:
        return self.header_type in (1, 2)

    @property
    def slot(self) -> str:
        return self.address.rsplit(".", 1)[0]

    @property
    def is_chipset(self) -> bool:
        return self.class_code[:4] in ("0600", "0601")


@dataclass(frozen=True)
class KernelView:
    """Every PCI function and IOMMU group of the running kernel."""

    devices: dict[str, KDevice]
    groups: dict[int, tuple[str, ...]]
    mounts: list[tuple[str, str, str]] = field(default_factory=list)
    """(source, target, fstype) from /proc/self/mounts."""

    def members(self, group: int) -> list[KDevice]:
        return [self.devices[a] for a in self.groups[group]]


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def _link_name(path: Path) -> str | None:
    try:
        return os.path.basename(os.readlink(path))
    except OSError:
        return None


def _is_address(text: str) -> bool:
    parts = text.split(":")
    return len(parts) == 3 and "." in parts[2] and len(text) == 12


def _caps(cfg: bytes) -> tuple[str | None, tuple[int, int] | None]:
    """(PCIe port type, (ACS cap, ACS ctrl)) from a config space dump."""
    port_type = None
    status = struct.unpack_from("<H", cfg, 0x06)[0]
    if status & 0x10 and len(cfg) >= 0x40:
        ptr, seen = cfg[0x34] & 0xFC, 0
        while ptr and seen < 48 and ptr + 4 <= len(cfg):
            cap_id, nxt = cfg[ptr], cfg[ptr + 1] & 0xFC
            if cap_id == PCI_CAP_ID_EXP:
                flags = struct.unpack_from("<H", cfg, ptr + 2)[0]
                t = (flags >> 4) & 0xF
                port_type = PORT_TYPES.get(t, f"type_{t:x}")
            ptr, seen = nxt, seen + 1
    acs = None
    off, seen = 0x100, 0
    while port_type is not None and off and off + 8 <= len(cfg) and seen < 64:
        header = struct.unpack_from("<I", cfg, off)[0]
        if header in (0, 0xFFFFFFFF):
            break
        if header & 0xFFFF == PCI_EXT_CAP_ID_ACS:
            cap, ctrl = struct.unpack_from("<HH", cfg, off + 4)
            acs = (cap, ctrl)
            break
        off, seen = (header >> 20) & 0xFFC, seen + 1
    return port_type, acs


def read_device(name: str) -> KDevice:
    base = PCI_DEVICES / name
    cfg = (base / "config").read_bytes()  # 4096 bytes as root on PCIe, 256 on conventional PCI
    port_type, acs = _caps(cfg)
    real = os.path.realpath(base).split("/")[:-1]
    upstream = tuple(p for p in reversed(real) if _is_address(p))
    group = _link_name(base / "iommu_group")
    raw_reset = _read(base / "reset_method")
    tags: list[str] = []
    for child in sorted(base.iterdir()):
        if child.name.startswith("virtio") and child.name[6:].isdigit():
            # 9p's mount_tag attribute ends in a NUL byte (net/9p/trans_virtio.c p9_mount_tag_show)
            tag = (_read(child / "mount_tag") or "").rstrip("\0")
            if tag:
                tags.append(tag)
    try:
        nets = tuple(sorted(os.listdir(base / "net")))
    except OSError:
        nets = ()
    return KDevice(
        address=name,
        vendor_id=(_read(base / "vendor") or "0x")[2:],
        device_id=(_read(base / "device") or "0x")[2:],
        class_code=(_read(base / "class") or "0x")[2:],
        driver=_link_name(base / "driver"),
        driver_override=(base / "driver_override").read_bytes(),
        group=int(group) if group is not None else None,
        header_type=cfg[0x0E] & 0x7F,
        port_type=port_type,
        acs=acs,
        reset_methods=tuple(raw_reset.split()) if raw_reset else (),
        parent=upstream[0] if upstream else None,
        upstream=upstream,
        mount_tags=tuple(tags),
        net_interfaces=nets,
    )


def read_mounts() -> list[tuple[str, str, str]]:
    out = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 3:
            out.append((parts[0], parts[1], parts[2]))
    return out


def interface_addresses() -> dict[str, list[str]]:
    """{interface: its IPv4 and IPv6 addresses} (SIOCGIFADDR per interface, /proc/net/if_inet6), link-local
    IPv6 left out: every up interface has one, and the guard counts only addresses a host talks over."""
    import socket

    out: dict[str, list[str]] = {}
    try:
        names = os.listdir(SYS / "class" / "net")
    except OSError:
        return out
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for name in names:
            try:
                packed = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name[:15].encode()))  # SIOCGIFADDR
                out.setdefault(name, []).append(socket.inet_ntoa(packed[20:24]))
            except OSError:
                pass
    for line in (_read(Path("/proc/net/if_inet6")) or "").splitlines():
        parts = line.split()
        if len(parts) >= 6 and not parts[0].startswith("fe80"):
            out.setdefault(parts[5], []).append(parts[0])
    return out


def default_route_interfaces() -> set[str]:
    """Interfaces that carry an IPv4 default route (/proc/net/route: destination 00000000)."""
    found = set()
    for line in (_read(Path("/proc/net/route")) or "").splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 2 and parts[1] == "00000000":
            found.add(parts[0])
    return found


def mounted_block_pci(mounts: list[tuple[str, str, str]]) -> dict[str, list[str]]:
    """{PCI address: [mount points]} for the controllers of mounted block devices (partitions and
    dm/md through their slaves, walked up the sysfs path to the first PCI function)."""
    out: dict[str, list[str]] = {}
    for source, target, _ in mounts:
        if not source.startswith("/dev/"):
            continue
        for disk in _block_bases(os.path.basename(os.path.realpath(source)), 0):
            real = os.path.realpath(SYS / "class" / "block" / disk)
            pci = [p for p in real.split("/") if _is_address(p)]
            if pci:
                out.setdefault(pci[-1], []).append(target)
    return out


def _block_bases(name: str, depth: int) -> list[str]:
    slaves = SYS / "class" / "block" / name / "slaves"
    try:
        under = os.listdir(slaves)
    except OSError:
        return [name]
    if not under or depth > 8:
        return [name]
    return [b for s in under for b in _block_bases(s, depth + 1)]


def read_kernel_view() -> KernelView:
    devices = {n: read_device(n) for n in sorted(os.listdir(PCI_DEVICES))}
    groups: dict[int, tuple[str, ...]] = {}
    for g in sorted(os.listdir(IOMMU_GROUPS), key=int):
        groups[int(g)] = tuple(sorted(os.listdir(IOMMU_GROUPS / g / "devices")))
    return KernelView(devices=devices, groups=groups, mounts=read_mounts())


def bindings() -> dict[str, tuple[str | None, bytes]]:
    """Every device's (driver, raw driver_override bytes): what 'bound exactly as before' compares."""
    out = {}
    for name in sorted(os.listdir(PCI_DEVICES)):
        base = PCI_DEVICES / name
        out[name] = (_link_name(base / "driver"), (base / "driver_override").read_bytes())
    return out


def dev_vfio_groups() -> set[str]:
    try:
        return {n for n in os.listdir(DEV_VFIO) if n != "vfio"}
    except OSError:
        return set()


def group_viable(group: int) -> bool | None:
    """VFIO_GROUP_GET_STATUS on /dev/vfio/N: True/False, None when the node cannot be opened."""
    try:
        fd = os.open(DEV_VFIO / str(group), os.O_RDWR)
    except OSError:
        return None
    try:
        buf = bytearray(struct.pack("II", 8, 0))
        fcntl.ioctl(fd, VFIO_GROUP_GET_STATUS, buf, True)
        return bool(struct.unpack("II", buf)[1] & VFIO_GROUP_FLAGS_VIABLE)
    finally:
        os.close(fd)


def sysfs_write(path: Path, value: str) -> int:
    """Write like `echo -n value > path`; 0 on success, else the errno."""
    try:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, value.encode())
        finally:
            os.close(fd)
    except OSError as exc:
        return exc.errno or errno.EIO
    return 0


def raw_bind(address: str, driver: str = "vfio-pci") -> None:
    """The raw sysfs sequence (what libvirt and driverctl do): override, unbind, probe."""
    base = PCI_DEVICES / address
    sysfs_write(base / "driver_override", driver)
    if (base / "driver").is_symlink():
        sysfs_write(base / "driver" / "unbind", address)
    sysfs_write(SYS / "bus" / "pci" / "drivers_probe", address)


def raw_restore(address: str) -> None:
    """Clear the override, unbind, probe: the host driver takes the device back."""
    base = PCI_DEVICES / address
    sysfs_write(base / "driver_override", "\n")
    if (base / "driver").is_symlink():
        sysfs_write(base / "driver" / "unbind", address)
    sysfs_write(SYS / "bus" / "pci" / "drivers_probe", address)


def wait_for(pred: object, timeout: float = 10.0, step: float = 0.02) -> bool:
    assert callable(pred)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return bool(pred())


class Kmsg:
    """Kernel log records since the last call (reads /dev/kmsg without blocking)."""

    def __init__(self) -> None:
        self.fd = os.open("/dev/kmsg", os.O_RDONLY | os.O_NONBLOCK)
        os.lseek(self.fd, 0, os.SEEK_END)

    def new(self) -> list[str]:
        out = []
        while True:
            try:
                rec = os.read(self.fd, 8192).decode(errors="replace")
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno == errno.EPIPE:  # records overwritten; keep reading
                    continue
                break
            out.append(rec.partition(";")[2].splitlines()[0] if ";" in rec else rec)
        return out

    def close(self) -> None:
        os.close(self.fd)

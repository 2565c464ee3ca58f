"""Provides read_rom() and save_rom(): a card's option ROM read through sysfs and kept.

The kernel's protocol (drivers/pci/pci-sysfs.c pci_write_rom()/pci_read_rom()): writing anything but "0\\n"
to /sys/bus/pci/devices/ADDR/rom lets reads through (a read before that fails with EINVAL), the read maps the
ROM (pci_map_rom(): the boot GPU's is the shadow copy at 0xC0000, drivers/pci/rom.c; EIO when it cannot be
mapped), and writing "0\\n" closes it again. The `resource` file's ROM line (index 6) says which: a ROM at
0xc0000-0xdffff is the shadow. The write goes through the host's kernel interface, under the writer lock, and
the ROM is always closed again.

A saved ROM is named by vendor, device and a CRC-32 of its bytes (/var/lib/vfio-tui/roms/10de-1e07-XXXXXXXX.rom).
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from vfio_tui.core.address import PciAddress
from vfio_tui.core.errors import InputError, NeedsRootError, VfioError
from vfio_tui.core.gpu.rom import RomReport, check_against, parse_rom, rom_checksum32

if TYPE_CHECKING:
    from vfio_tui.core.host import Host

MAX_ROM: Final = 16 << 20
"""More than any ROM BAR (PCI allows 16 MiB): a read that goes on is not a ROM."""
SHADOW: Final = (0xC0000, 0xDFFFF)
ROM_DIR_FOR_QEMU: Final = "/usr/share/vgabios"
"""Where QEMU (running as libvirt-qemu) may read a ROM: libvirt's AppArmor abstraction allows it, and
vfio-tui's own state dir is private (0700)."""


class RomReadError(VfioError):
    """The ROM could not be read."""


@dataclass(frozen=True)
class RomRead:
    """A ROM read from a card, and what it is."""

    address: PciAddress
    data: bytes
    report: RomReport
    shadowed: bool
    """The kernel gives the boot GPU's shadow copy (the ROM resource is 0xc0000-0xdffff)."""
    notes: tuple[str, ...] = field(default=())

    @property
    def file_name(self) -> str:
        first = self.report.images[0] if self.report.images else None
        vendor = first.vendor_id if first else "unknown"
        device = first.device_id if first else "unknown"
        return f"{vendor}-{device}-{rom_checksum32(self.data)}.rom"


def _rom_resource(host: Host, address: PciAddress) -> tuple[int, int] | None:
    try:
        lines = (host.paths.pci_device(address) / "resource").read_text().splitlines()
        start, end, _flags = (int(x, 16) for x in lines[6].split()[:3])
    except (OSError, IndexError, ValueError):
        return None
    return start, end


def read_rom(host: Host, address: str | PciAddress, *, timeout: float = 10.0) -> RomRead:
    """Read and judge the card's ROM (see the module docstring).

    Raises:
        InputError: no such device, or it has no ROM attribute (no ROM BAR, no shadow).
        NeedsRootError: the live host, not root (the `rom` attribute is 0600).
        RomReadError: the kernel could not map it (EIO), or the read failed otherwise.
        LockedError: another vfio-tui is changing this host.
    """
    from vfio_tui.core.binding.journal import writer_lock

    addr = address if isinstance(address, PciAddress) else PciAddress.parse(address)
    dev_dir = host.paths.pci_device(addr)
    if not dev_dir.exists():
        raise InputError(f"no PCI device {addr} on {host.label}", fix="`vfio-tui inventory` lists them")
    rom = dev_dir / "rom"
    if not rom.exists():
        raise InputError(f"{addr} has no option ROM to read (no ROM BAR, and it is not the boot GPU; an integrated"
                         " GPU's video BIOS lives in the system firmware)", fix="QEMU needs none for it: leave <rom>"
                         " out, or use <rom bar='off'/>")
    shown = host.paths.display(rom)
    if host.paths.is_live and not host.simulated and os.geteuid() != 0:
        raise NeedsRootError(f"needs root for: {shown} <- 1; read {shown}; {shown} <- 0", fix="run it with sudo")
    res = _rom_resource(host, addr)
    shadowed = res == SHADOW
    notes: list[str] = []
    config = (dev_dir / "config").read_bytes()[:4]
    vendor = f"{int.from_bytes(config[0:2], 'little'):04x}"
    device = f"{int.from_bytes(config[2:4], 'little'):04x}"
    driver = os.path.basename(os.readlink(dev_dir / "driver")) if (dev_dir / "driver").is_symlink() else None
    if driver not in (None, "vfio-pci"):
        notes.append(f"read while {driver} drives the card: some cards share the ROM's address decoder with their"
                     " registers (drivers/pci/rom.c pci_enable_rom()), so read it while the card is on vfio-pci or"
                     " unbound if the host stutters")
    with writer_lock(host.paths, f"read the ROM of {addr}"):
        host.kernel.write(rom, "1", timeout)
        try:
            try:
                with open(rom, "rb") as f:
                    data = f.read(MAX_ROM + 1)
            except OSError as exc:
                if exc.errno == errno.EIO:
                    raise RomReadError(f"the kernel could not map {addr}'s ROM (EIO from {shown}): the card hides"
                                       " it once initialised, or its ROM BAR is not assigned",
                                       fix="read it on a boot where this card is not the primary GPU, or use the"
                                           " vendor's image (vfio-tui rom --check FILE)") from None
                raise RomReadError(f"reading {shown} failed: {exc.strerror}") from None
        finally:
            host.kernel.write(rom, "0\n", timeout)
    if len(data) > MAX_ROM:
        raise RomReadError(f"{shown} gave more than {MAX_ROM >> 20} MiB: not a ROM")
    boot_vga = (dev_dir / "boot_vga").is_file() and (dev_dir / "boot_vga").read_text().strip() == "1"
    report = check_against(parse_rom(data), vendor_id=vendor, device_id=device, boot_vga=boot_vga,
                           shadowed=shadowed)
    return RomRead(addr, data, report, shadowed, tuple(notes))


def roms_dir(host: Host) -> Path:
    return host.paths.state_dir / "roms"


def save_rom(host: Host, read: RomRead) -> Path:
    """Keep a ROM under the state dir; returns its path (the same bytes always get the same name)."""
    from vfio_tui.core import private_state, safefile
    from vfio_tui.core.binding.journal import ensure_state_dir

    ensure_state_dir(host.paths)
    target = roms_dir(host) / read.file_name
    # vfio-tui's own file: 0600, temp + fsync + rename, never through a link (core/safefile.py).
    private_state.private_dir(host.paths.root, target.parent)
    safefile.replace(host.paths.root, target, read.data, private=True)
    return target


def rom_xml(host: Host, read: RomRead) -> tuple[str, str, str]:
    """(<rom file=…/> for a readable copy, the command that makes that copy, <rom bar='off'/>)."""
    qemu_path = f"{ROM_DIR_FOR_QEMU}/{read.file_name}"
    saved = host.paths.display(roms_dir(host) / read.file_name)
    return (f"<rom file='{qemu_path}'/>", f"install -D -m 0644 {saved} {qemu_path}", "<rom bar='off'/>")

"""`vfio-tui rom ADDR` / `vfio-tui rom --check FILE`: a GPU's option ROM, read, judged and kept."""

from __future__ import annotations

import argparse
import os
import stat
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from vfio_tui.core.errors import InputError
from vfio_tui.core.host import HostOptions

if TYPE_CHECKING:
    from vfio_tui.core.address import PciAddress
    from vfio_tui.core.gpu.rom import RomReport

HELP = "read a card's option ROM from sysfs (or check a ROM file), validate it, save it, give the <rom> XML"
DESCRIPTION = """\
Read ADDR's option ROM the kernel's way (write 1 to its sysfs `rom`, read it, write 0), validate it —
the 0x55AA signature and PCIR structure of every image, each image's type (legacy BIOS, UEFI), the
legacy checksum, that it is this card's ROM, and whether it is the boot GPU's shadow copy — and with
--save keep it as /var/lib/vfio-tui/roms/VENDOR-DEVICE-CRC32.rom. It prints the <rom file='…'/> to put in
the card's <hostdev> (and the copy to make where QEMU may read it), or <rom bar='off'/>.
A ROM that cannot be used (all 0xff, a shadow copy, truncated, a dump with a header) is named as such,
with what to do: read it on another boot, or take the vendor's image and check it with --check FILE.
"""
EPILOG = """\
examples:
  vfio-tui rom 01:00.0 --demo workstation              the RTX 2080 Ti's ROM: legacy + UEFI, valid
  vfio-tui rom 0a:00.0 --demo single-gpu               the boot GPU: its shadow copy, and what to do
  sudo vfio-tui rom 0000:01:00.0 --save                 keep it under /var/lib/vfio-tui/roms
  vfio-tui rom --check TU102.rom --for 01:00.0 --demo workstation   a vendor image or a GPU-Z dump
  vfio-tui rom --check dump.rom --strip fixed.rom       write the ROM without a dump tool's header

exit status: 0 a usable ROM, 1 not usable (the reasons are printed), 2 bad input
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("address", metavar="ADDR", nargs="?", help="the card's PCI address")
    parser.add_argument("--check", type=Path, metavar="FILE", help="validate a ROM file instead of reading one")
    parser.add_argument("--for", dest="for_address", metavar="ADDR",
                        help="with --check: the card the file is for (its ids are compared)")
    parser.add_argument("--strip", type=Path, metavar="OUT",
                        help="with --check: write the ROM without the bytes before its first image")
    parser.add_argument("--save", action="store_true", help="keep the ROM read under /var/lib/vfio-tui/roms")
    parser.add_argument("--json", action="store_true", help="the report as JSON")


def _print_report(report: RomReport) -> None:
    print(f"  {report.size} bytes; {len(report.images)} image(s)" + (f", starting at 0x{report.start:x}"
                                                                      if report.start else ""))
    for i, image in enumerate(report.images, 1):
        print(f"    {i}. {image.describe()}")
    for f in report.findings:
        print(f"  {f.severity.upper()}: {f.message}")
        if f.fix:
            print(f"      what to do: {f.fix}")
    print("  verdict: " + ("usable as the card's ROM" if report.valid else "NOT usable"))


MAX_ROM_FILE = 16 << 20
"""The largest expansion ROM a PCI ROM BAR can map (16 MiB, PCI 3.0 6.2.5.2); a bigger file is not a ROM."""


def _read_rom_file(path: Path) -> bytes:
    """A ROM file's bytes: a regular file up to MAX_ROM_FILE (a FIFO, a device or /dev/zero is refused,
    never read without end)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise InputError(f"--check {path}: not a regular file", fix="give a ROM image saved as a file")
        if st.st_size > MAX_ROM_FILE:
            raise InputError(f"--check {path}: {st.st_size} bytes, more than a PCI ROM can hold (16 MiB)",
                             fix="give the card's ROM image, not a disk image or a firmware bundle")
        try:
            return f.read(MAX_ROM_FILE + 1)[:MAX_ROM_FILE]
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror}") from None


def _check_file(args: argparse.Namespace, options: HostOptions) -> int:
    from vfio_tui.core.gpu.rom import check_against, parse_rom
    from vfio_tui.tui.cli.common import print_json

    data = _read_rom_file(args.check)
    report = parse_rom(data)
    if args.for_address:
        from vfio_tui.core.open_host import open_host

        with open_host(options) as host:
            dev = host.inventory(names=False).device(_parse(args.for_address))
            if dev is None:
                raise InputError(f"--for {args.for_address}: no such device on {host.label}")
            report = check_against(report, vendor_id=dev.vendor_id, device_id=dev.device_id)
    if args.strip is not None:
        if not report.images:
            raise InputError(f"{args.check}: no ROM image found to strip to")
        from vfio_tui.core.safefile import write_output

        write_output(args.strip, data[report.start:report.start + report.used_length])
    if args.json:
        print_json({"file": str(args.check), **report.to_json()})
    else:
        print(f"ROM file {args.check}:")
        _print_report(report)
        if args.strip is not None:
            print(f"  wrote {args.strip}: {report.used_length} bytes from 0x{report.start:x}")
    ok = report.valid or (args.strip is not None and all(f.code == "leading-bytes" or f.severity != "error"
                                                         for f in report.findings))
    return 0 if ok else 1


def _parse(text: str) -> PciAddress:
    from vfio_tui.core.address import PciAddress

    return PciAddress.parse(text)


def run(args: argparse.Namespace, options: HostOptions) -> int:
    if args.check is not None:
        if args.address or args.save:
            raise InputError("--check FILE validates a file: give no ADDR and no --save (use --for ADDR)")
        return _check_file(args, options)
    if not args.address:
        raise InputError("give the card's address, or --check FILE", fix="vfio-tui rom 01:00.0")
    if args.for_address or args.strip:
        raise InputError("--for and --strip go with --check FILE")
    from vfio_tui.core.gpu.romread import read_rom, rom_xml, save_rom
    from vfio_tui.core.open_host import open_host
    from vfio_tui.tui.cli.common import print_json

    with open_host(options) as host:
        read = read_rom(host, args.address)
        saved = save_rom(host, read) if args.save else None
        rom_file, install, bar_off = rom_xml(host, read)
        if args.json:
            print_json({"address": str(read.address), "shadowed": read.shadowed, "notes": list(read.notes),
                        "saved": host.paths.display(saved) if saved else None,
                        "xml": {"rom_file": rom_file if read.report.valid else None, "rom_bar_off": bar_off},
                        **read.report.to_json()})
            return 0 if read.report.valid else 1
        print(f"ROM of {read.address} (read through {host.paths.display(host.paths.pci_device(read.address) / 'rom')}:"
              " enabled, read, disabled)")
        _print_report(read.report)
        for note in read.notes:
            print(f"  note: {note}")
        if saved is not None:
            print(f"  saved: {host.paths.display(saved)}")
        if read.report.valid:
            print(f"  use it: {rom_file} in the <hostdev> of {read.address}")
            print(f"    QEMU runs as libvirt-qemu and cannot read vfio-tui's private state dir: {install}"
                  + ("" if saved else " (after --save)"))
        print(f"  or: {bar_off} — the guest sees no ROM (fine for a secondary GPU its own driver starts)")
        if not read.report.valid:
            print(f"vfio-tui: {read.address}'s ROM is not usable as read", file=sys.stderr)
        return 0 if read.report.valid else 1

"""Provides parse_rom() and check_rom(): a PCI option ROM image taken apart and judged, pure (bytes in,
facts out; no host access), so the same rules apply to a ROM read from sysfs and to a file a user got
from the vendor.

The layout is the PCI Firmware Specification's (3.0, "PCI Expansion ROMs"), and the kernel reads it
the same way (drivers/pci/rom.c pci_get_rom_size()): an image starts with 0x55 0xAA; the 16-bit word at
offset 0x18 points to the PCI Data Structure ("PCIR": vendor, device, class, image length in 512-byte
units at +0x10, code type at +0x14, bit 7 of +0x15 marks the last image); images follow each other.
Legacy x86 (code type 0) images must sum to 0 modulo 256 over their length (a BIOS skips an image that
does not: SeaBIOS src/optionroms.c is_valid_rom()). A UEFI image (code type 3) has 0x0EF1 at offset 4,
its subsystem at 8, machine type at 0xA and compression at 0xC (UEFI spec, "PCI Option ROMs").

Nothing here raises on any input: every problem is a finding.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final, Literal, TypeAlias

ROM_SIGNATURE: Final = b"\x55\xaa"
PCIR_SIGNATURE: Final = b"PCIR"
MAX_IMAGES: Final = 16
"""More images than any card carries: a chain that goes on is corrupt (and must not loop forever)."""

CODE_TYPES: Final = {0x00: "x86 legacy BIOS", 0x01: "Open Firmware", 0x02: "HP PA-RISC", 0x03: "UEFI"}
EFI_MACHINES: Final = {0x014C: "IA-32", 0x0200: "Itanium", 0x0EBC: "EFI byte code", 0x8664: "x64",
                       0xAA64: "AArch64", 0x01C2: "ARM", 0x5064: "RISC-V 64"}
EFI_SUBSYSTEMS: Final = {10: "application", 11: "boot service driver", 12: "runtime driver"}

Severity: TypeAlias = Literal["error", "warning", "note"]


@dataclass(frozen=True, slots=True)
class RomImage:
    """One image of a ROM (a ROM holds a chain of them: legacy BIOS, UEFI, vendor-specific)."""

    offset: int
    vendor_id: str
    device_id: str
    class_code: str
    """Six hex digits from the PCIR structure ("030000")."""
    code_type: int
    length: int
    """Bytes, from the PCIR image length."""
    last: bool
    checksum: int
    """Sum of the image's bytes modulo 256 (0 is what a legacy BIOS wants)."""
    init_size: int = 0
    """Byte 2 (legacy) or the word at 2 (UEFI), in bytes: the part a BIOS copies and runs."""
    efi_machine: str | None = None
    efi_subsystem: str | None = None
    efi_compressed: bool | None = None

    @property
    def kind(self) -> str:
        return CODE_TYPES.get(self.code_type, f"vendor-specific (code type 0x{self.code_type:02x})")

    @property
    def is_legacy(self) -> bool:
        return self.code_type == 0x00

    @property
    def is_efi(self) -> bool:
        return self.code_type == 0x03

    @property
    def checksum_ok(self) -> bool:
        return self.checksum == 0

    def describe(self) -> str:
        bits = [f"{self.kind} at 0x{self.offset:x}, {self.length // 1024} KiB, {self.vendor_id}:{self.device_id}"]
        if self.is_efi:
            bits.append(f"{self.efi_machine or '?'} {self.efi_subsystem or '?'}"
                        + (", compressed" if self.efi_compressed else ""))
        if self.is_legacy:
            bits.append("checksum ok" if self.checksum_ok else f"checksum off by 0x{self.checksum:02x}")
        return ", ".join(bits)

    def to_json(self) -> dict[str, object]:
        return {"offset": self.offset, "vendor_id": self.vendor_id, "device_id": self.device_id,
                "class": self.class_code, "code_type": self.code_type, "kind": self.kind, "length": self.length,
                "last": self.last, "checksum": self.checksum, "init_size": self.init_size,
                "efi_machine": self.efi_machine, "efi_subsystem": self.efi_subsystem,
                "efi_compressed": self.efi_compressed}


@dataclass(frozen=True, slots=True)
class RomFinding:
    """Something about a ROM a user should know, with what to do about it."""

    code: str
    """Stable id: empty, all-ff, no-signature, leading-bytes, bad-pcir, truncated, checksum, legacy-only,
    no-legacy, id-mismatch, shadow, chain-too-long, all-zero."""
    severity: Severity
    message: str
    fix: str = ""

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "message": self.message, "fix": self.fix}


@dataclass(frozen=True)
class RomReport:
    """What a ROM image is, and whether QEMU can use it as the device's option ROM."""

    size: int
    images: tuple[RomImage, ...]
    findings: tuple[RomFinding, ...] = field(default=())
    start: int = 0
    """Where the first image starts in the data (not 0: a dump with a header in front)."""

    @property
    def valid(self) -> bool:
        """Usable as `<rom file=…/>`: at least one image and no error."""
        return bool(self.images) and not any(f.severity == "error" for f in self.findings)

    @property
    def used_length(self) -> int:
        """Bytes from the first image's start to the end of the last image."""
        if not self.images:
            return 0
        last = self.images[-1]
        return last.offset + last.length - self.start

    def has(self, code: str) -> bool:
        return any(f.code == code for f in self.findings)

    def to_json(self) -> dict[str, object]:
        return {"size": self.size, "start": self.start, "valid": self.valid,
                "images": [i.to_json() for i in self.images], "findings": [f.to_json() for f in self.findings]}


def _u16(data: bytes, off: int) -> int:
    return int.from_bytes(data[off:off + 2], "little") if off + 2 <= len(data) else -1


def _u32(data: bytes, off: int) -> int:
    return int.from_bytes(data[off:off + 4], "little") if off + 4 <= len(data) else -1


def _image_at(data: bytes, off: int) -> tuple[RomImage | None, RomFinding | None]:
    """The image starting at `off` (which starts with 55 AA), or why it cannot be read."""
    ptr = _u16(data, off + 0x18)
    pcir = off + ptr
    if ptr < 0x1A or pcir + 0x18 > len(data):
        if pcir + 4 > len(data) and ptr >= 0x1A:
            return None, RomFinding("truncated", "error", f"the image at 0x{off:x} points to its PCI data structure"
                                    f" at 0x{pcir:x}, beyond the {len(data)} bytes read",
                                    "the read stopped early: read the ROM again, or use the vendor's image")
        return None, RomFinding("bad-pcir", "error", f"the image at 0x{off:x} has no valid pointer to a PCI data"
                                f" structure (0x18 = 0x{max(ptr, 0):04x})",
                                "this is not a PCI option ROM (or a damaged one); use the vendor's image")
    if data[pcir:pcir + 4] != PCIR_SIGNATURE:
        return None, RomFinding("bad-pcir", "error", f"no \"PCIR\" signature at 0x{pcir:x} (the image at 0x{off:x}"
                                " points there)", "this is not a PCI option ROM (or a damaged one); use the vendor's"
                                " image")
    length = _u16(data, pcir + 0x10) * 512
    code_type = data[pcir + 0x14]
    last = bool(data[pcir + 0x15] & 0x80)
    class_code = data[pcir + 0x0D:pcir + 0x10][::-1].hex()
    checksum = sum(data[off:off + length]) % 256 if length else 0
    efi_machine = efi_subsystem = None
    efi_compressed = None
    init = data[off + 2] * 512 if off + 2 < len(data) else 0
    if code_type == 0x03 and _u32(data, off + 4) == 0x0EF1:
        init = _u16(data, off + 2) * 512
        machine, subsystem = _u16(data, off + 0x0A), _u16(data, off + 0x08)
        efi_machine = EFI_MACHINES.get(machine, f"machine 0x{machine:04x}")
        efi_subsystem = EFI_SUBSYSTEMS.get(subsystem, f"subsystem {subsystem}")
        efi_compressed = _u16(data, off + 0x0C) == 1
    image = RomImage(off, f"{_u16(data, pcir + 4):04x}", f"{_u16(data, pcir + 6):04x}", class_code, code_type,
                     length, last, checksum, init, efi_machine, efi_subsystem, efi_compressed)
    return image, None


def parse_rom(data: bytes) -> RomReport:
    """Take a ROM image apart (see the module docstring). Never raises."""
    findings: list[RomFinding] = []
    if not data:
        return RomReport(0, (), (RomFinding("empty", "error", "the ROM is empty (0 bytes read)",
                                            "the card returned nothing: see `vfio-tui rom` for why, and read it"
                                            " on another boot or use the vendor's image"),))
    if data.count(0xFF) == len(data):
        return RomReport(len(data), (), (RomFinding(
            "all-ff", "error", f"all {len(data)} bytes are 0xff: the ROM BAR answered but nothing is behind it",
            "typical of a card that hides its ROM once it is initialised (or of a read while another driver"
            " owns it): read it right after a boot where this card was not the primary GPU, or use the vendor's"
            " image"),))
    if data.count(0) == len(data):
        return RomReport(len(data), (), (RomFinding(
            "all-zero", "error", f"all {len(data)} bytes are zero", "read it again on another boot, or use the"
            " vendor's image"),))
    start = 0
    if data[:2] != ROM_SIGNATURE:
        found = _find_image_start(data)
        if found is None:
            return RomReport(len(data), (), (RomFinding(
                "no-signature", "error", f"no option ROM signature (0x55 0xAA) at the start (found"
                f" {data[:2].hex(' ')})", "this is not a PCI option ROM; use the vendor's image"),))
        start = found
        findings.append(RomFinding(
            "leading-bytes", "error", f"{start} bytes precede the ROM's first image (0x55 0xAA at 0x{start:x}):"
            " a dump with a tool's header in front (nvflash and GPU-Z dumps carry one)",
            f"strip the first {start} bytes (`vfio-tui rom --check FILE --strip OUT` writes the stripped copy)"))
    images: list[RomImage] = []
    off = start
    while True:
        if len(images) >= MAX_IMAGES:
            findings.append(RomFinding("chain-too-long", "error", f"more than {MAX_IMAGES} images chained: the"
                                       " image lengths are corrupt", "use the vendor's image"))
            break
        image, problem = _image_at(data, off)
        if problem is not None:
            findings.append(problem)
            break
        assert image is not None
        images.append(image)
        if image.length == 0:
            findings.append(RomFinding("bad-pcir", "error", f"the image at 0x{off:x} says its length is 0",
                                       "a damaged ROM: use the vendor's image"))
            break
        if off + image.length > len(data):
            findings.append(RomFinding(
                "truncated", "error", f"the image at 0x{off:x} is {image.length} bytes long but only"
                f" {len(data) - off} are there: the ROM is truncated",
                "read it again (the whole `rom` file), or use the vendor's image"))
            break
        if image.last:
            break
        off += image.length
        if off + 2 > len(data) or data[off:off + 2] != ROM_SIGNATURE:
            findings.append(RomFinding(
                "truncated", "error", f"the image at 0x{image.offset:x} says another follows at 0x{off:x}, but"
                " there is none there", "the ROM is cut short or corrupt: read it again, or use the vendor's image"))
            break
    return RomReport(len(data), tuple(images), tuple(findings + _judge(images, len(data))), start)


def _find_image_start(data: bytes) -> int | None:
    """The first 55 AA whose PCIR pointer leads to "PCIR" (a header in front of a real ROM)."""
    pos = data.find(ROM_SIGNATURE, 1)
    while pos != -1 and pos < len(data) - 0x1A:
        ptr = _u16(data, pos + 0x18)
        if ptr >= 0x1A and data[pos + ptr:pos + ptr + 4] == PCIR_SIGNATURE:
            return pos
        pos = data.find(ROM_SIGNATURE, pos + 1)
    return None


def _judge(images: list[RomImage], size: int) -> list[RomFinding]:
    out: list[RomFinding] = []
    for image in images:
        # A truncated image's partial sum means nothing: "truncated" has said what is wrong.
        if image.is_legacy and not image.checksum_ok and image.offset + image.length <= size:
            out.append(RomFinding(
                "checksum", "error", f"the legacy image at 0x{image.offset:x} does not sum to 0 (off by"
                f" 0x{image.checksum:02x}): a BIOS (SeaBIOS) skips it",
                "a ROM modified in memory (the boot GPU's shadow copy) or damaged: read it on a boot where this"
                " card is not the primary GPU, or use the vendor's image"))
    if images and not any(i.is_efi for i in images):
        out.append(RomFinding(
            "legacy-only", "warning", "no UEFI image: an OVMF (UEFI) guest shows nothing on this GPU until the"
            " guest's own driver loads", "use a SeaBIOS guest, or a ROM with a UEFI (GOP) image from the vendor"))
    if images and not any(i.is_legacy for i in images):
        out.append(RomFinding("no-legacy", "note", "no legacy BIOS image: fine for an OVMF (UEFI) guest, blank"
                              " under SeaBIOS"))
    return out


def check_against(report: RomReport, *, vendor_id: str, device_id: str, boot_vga: bool = False,
                  shadowed: bool = False) -> RomReport:
    """The report with what only the device can tell: whose ROM it is, and whether it is the shadow copy."""
    extra: list[RomFinding] = []
    first = report.images[0] if report.images else None
    if first is not None and first.vendor_id != vendor_id:
        extra.append(RomFinding(
            "id-mismatch", "error", f"the ROM is for vendor {first.vendor_id} (device {first.device_id}), the card"
            f" is {vendor_id}:{device_id}", "this ROM belongs to another card: use this card's own ROM"))
    elif first is not None and first.device_id != device_id:
        extra.append(RomFinding(
            "id-mismatch", "warning", f"the ROM says device {first.device_id}, the card is {device_id} (same vendor)",
            "board variants do this; if the guest shows nothing, use the ROM made for this exact card"))
    if shadowed or (boot_vga and first is not None and all(i.is_legacy for i in report.images)):
        why = ("the kernel maps the boot GPU's ROM to its shadow copy at 0xC0000 (arch/x86/pci/fixup.c"
               " pci_fixup_video, drivers/pci/rom.c pci_map_rom)")
        extra.append(RomFinding(
            "shadow", "warning", "this is most likely the boot GPU's shadow copy (the legacy image as the firmware"
            f" left it in memory after running it), not the card's ROM: {why}",
            "read the ROM on a boot where another GPU is primary (firmware setting), or use the vendor's image"))
    return RomReport(report.size, report.images, report.findings + tuple(extra), report.start)


def rom_checksum32(data: bytes) -> str:
    """A short stable fingerprint for file names: CRC-32 of the bytes, 8 hex digits."""
    import zlib

    return f"{zlib.crc32(data) & 0xFFFFFFFF:08x}"

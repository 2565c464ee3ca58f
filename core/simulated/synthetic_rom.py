"""Provides make_option_rom(): a PCI option ROM built to the PCI Firmware Specification's layout (legacy x86
image and/or UEFI image, each with its PCIR structure), for the demo cards and for tests. The code inside
is filler: what matters is the structure a reader checks (signatures, pointers, lengths, checksums).
"""

from __future__ import annotations

_FILL = b"vfio-tui synthetic option ROM image; not executable code. "


def _pcir(vendor: int, device: int, class_code: int, length: int, code_type: int, last: bool) -> bytes:
    pcir = bytearray(0x18)
    pcir[0:4] = b"PCIR"
    pcir[4:6] = vendor.to_bytes(2, "little")
    pcir[6:8] = device.to_bytes(2, "little")
    pcir[0x0A:0x0C] = (0x18).to_bytes(2, "little")
    pcir[0x0C] = 3
    pcir[0x0D:0x10] = class_code.to_bytes(3, "little")
    pcir[0x10:0x12] = (length // 512).to_bytes(2, "little")
    pcir[0x14] = code_type
    pcir[0x15] = 0x80 if last else 0
    return bytes(pcir)


def _filled(size: int) -> bytearray:
    return bytearray((_FILL * (size // len(_FILL) + 1))[:size])


def legacy_image(vendor: int, device: int, class_code: int, kib: int, *, last: bool,
                 checksum_ok: bool = True) -> bytes:
    size = kib * 1024
    img = _filled(size)
    img[0:2] = b"\x55\xaa"
    img[2] = size // 512 if size // 512 < 256 else 0
    img[3:6] = b"\xeb\x4b\x90"  # a short jump over the header, as real images start
    img[0x18:0x1A] = (0x40).to_bytes(2, "little")
    img[0x40:0x58] = _pcir(vendor, device, class_code, size, 0x00, last)
    img[-1] = 0
    img[-1] = (-sum(img)) % 256
    if not checksum_ok:
        img[-1] = (img[-1] + 0x5A) % 256
    return bytes(img)


def efi_image(vendor: int, device: int, class_code: int, kib: int, *, last: bool) -> bytes:
    size = kib * 1024
    img = _filled(size)
    img[0:2] = b"\x55\xaa"
    img[2:4] = (size // 512).to_bytes(2, "little")
    img[4:8] = (0x0EF1).to_bytes(4, "little")
    img[8:10] = (11).to_bytes(2, "little")        # EFI boot service driver
    img[0x0A:0x0C] = (0x8664).to_bytes(2, "little")  # x64
    img[0x0C:0x0E] = (0).to_bytes(2, "little")     # not compressed
    img[0x0E:0x16] = bytes(8)
    img[0x16:0x18] = (0x60).to_bytes(2, "little")
    img[0x18:0x1A] = (0x1C).to_bytes(2, "little")
    img[0x1C:0x34] = _pcir(vendor, device, class_code, size, 0x03, last)
    return bytes(img)


def make_option_rom(vendor: int, device: int, class_code: int = 0x030000, *, legacy_kib: int = 32,
                    efi_kib: int = 32, legacy_checksum_ok: bool = True) -> bytes:
    """A ROM with a legacy image (legacy_kib > 0) followed by a UEFI image (efi_kib > 0)."""
    out = b""
    if legacy_kib:
        out += legacy_image(vendor, device, class_code, legacy_kib, last=not efi_kib, checksum_ok=legacy_checksum_ok)
    if efi_kib:
        out += efi_image(vendor, device, class_code, efi_kib, last=True)
    return out


def shadow_copy(vendor: int, device: int, class_code: int = 0x030000, kib: int = 64) -> bytes:
    """What sysfs returns for the boot GPU: the legacy image as the firmware left it at 0xC0000 after
    running it (patched in place, so its checksum no longer holds), in a 128 KiB window."""
    image = legacy_image(vendor, device, class_code, kib, last=True, checksum_ok=False)
    return image + b"\xff" * (128 * 1024 - len(image))

"""The option ROM parser on real ROM images (SeaBIOS's VGA BIOS, iPXE's legacy + UEFI NIC ROM, as Debian
ships them for QEMU), on variants made from them (truncated, bad checksum, a dump header in front), and on
random bytes: the validation rules a user sees, and never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vfio_tui.core.gpu.rom import check_against, parse_rom, rom_checksum32
from vfio_tui.core.simulated.synthetic_rom import make_option_rom, shadow_copy

#: Debian packages (dev.sh TEST_PACKAGES): seabios (vgabios-*.bin), ipxe-qemu (efi-*.rom).
STDVGA = Path("/usr/share/seabios/vgabios-stdvga.bin")
EFI_E1000 = Path("/usr/lib/ipxe/qemu/efi-e1000.rom")


def _real(path: Path) -> bytes:
    if not path.is_file():
        pytest.fail(f"{path} is missing: install the Debian package that ships it (./dev.sh test-unit does)")
    return path.read_bytes()


def codes(data: bytes) -> list[str]:
    return [f.code for f in parse_rom(data).findings]


def test_seabios_vga_bios_is_a_valid_legacy_only_rom() -> None:
    report = parse_rom(_real(STDVGA))
    assert report.valid
    assert [i.kind for i in report.images] == ["x86 legacy BIOS"]
    image = report.images[0]
    assert (image.vendor_id, image.device_id, image.class_code) == ("1234", "1111", "030000")
    assert image.checksum_ok and image.last and image.length == STDVGA.stat().st_size
    # Valid, but an OVMF guest would show nothing with it: said as a warning.
    assert codes(_real(STDVGA)) == ["legacy-only"]


def test_ipxe_rom_has_a_legacy_and_a_uefi_image() -> None:
    report = parse_rom(_real(EFI_E1000))
    assert report.valid and report.findings == ()
    legacy, efi = report.images
    assert legacy.is_legacy and not legacy.last and legacy.checksum_ok
    assert efi.is_efi and efi.last and efi.efi_machine == "x64" and efi.efi_subsystem == "boot service driver"
    assert efi.offset == legacy.length and efi.offset + efi.length == len(_real(EFI_E1000))


@pytest.mark.parametrize("path", [STDVGA, EFI_E1000])
def test_truncated_images_are_invalid(path: Path) -> None:
    data = _real(path)
    for cut in (len(data) - 512, len(data) // 2, 1024, 0x30):
        report = parse_rom(data[:cut])
        assert not report.valid, cut
        assert "truncated" in codes(data[:cut]) or "bad-pcir" in codes(data[:cut]), cut


def test_a_changed_byte_breaks_the_legacy_checksum() -> None:
    data = bytearray(_real(STDVGA))
    data[0x200] ^= 0x01
    report = parse_rom(bytes(data))
    assert not report.valid
    finding = next(f for f in report.findings if f.code == "checksum")
    assert "off by 0x" in finding.message and "SeaBIOS" in finding.message


def test_uefi_image_checksum_is_not_judged() -> None:
    data = bytearray(_real(EFI_E1000))
    data[-100] ^= 0xFF  # inside the UEFI image: it has no checksum rule of its own
    assert parse_rom(bytes(data)).valid


def test_a_dump_header_in_front_is_found_and_named() -> None:
    data = b"NVGI" + bytes(380) + _real(EFI_E1000)
    report = parse_rom(data)
    assert report.start == 384 and len(report.images) == 2
    finding = next(f for f in report.findings if f.code == "leading-bytes")
    assert "strip the first 384 bytes" in finding.fix
    assert not report.valid


def test_unreadable_roms_say_what_to_do() -> None:
    ff = parse_rom(b"\xff" * 65536)
    assert [f.code for f in ff.findings] == ["all-ff"] and "after a boot" in ff.findings[0].fix
    assert [f.code for f in parse_rom(b"").findings] == ["empty"]
    assert [f.code for f in parse_rom(bytes(4096)).findings] == ["all-zero"]
    assert [f.code for f in parse_rom(b"MZ" + bytes(100)).findings] == ["no-signature"]


def test_the_card_is_checked_against_its_rom() -> None:
    report = parse_rom(_real(EFI_E1000))
    other_vendor = check_against(report, vendor_id="10de", device_id="1e07")
    assert not other_vendor.valid and other_vendor.has("id-mismatch")
    same_vendor = check_against(report, vendor_id="8086", device_id="10d3")
    assert same_vendor.valid and same_vendor.has("id-mismatch")  # a warning only


def test_the_boot_gpus_shadow_copy_is_recognised() -> None:
    shadow = check_against(parse_rom(shadow_copy(0x10DE, 0x2206)), vendor_id="10de", device_id="2206",
                           shadowed=True)
    assert not shadow.valid
    assert {"checksum", "legacy-only", "shadow"} <= {f.code for f in shadow.findings}
    assert "0xC0000" in next(f.message for f in shadow.findings if f.code == "shadow")


def test_synthetic_demo_roms_are_valid() -> None:
    report = parse_rom(make_option_rom(0x10DE, 0x1E07, legacy_kib=48, efi_kib=64))
    assert report.valid and [i.kind for i in report.images] == ["x86 legacy BIOS", "UEFI"]
    assert rom_checksum32(b"abc") == "352441c2"


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=4096))
def test_random_bytes_never_raise(data: bytes) -> None:
    report = parse_rom(data)
    assert report.valid == (bool(report.images) and not any(f.severity == "error" for f in report.findings))
    report.to_json()


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(min_value=0, max_value=4095), st.integers(min_value=0, max_value=255),
       st.integers(min_value=1, max_value=8192))
def test_mutated_real_images_never_raise(offset: int, value: int, cut: int) -> None:
    data = bytearray(_real(EFI_E1000)[:cut * 32])
    if offset < len(data):
        data[offset] = value
    parse_rom(bytes(data)).to_json()

"""Reading a card's ROM through sysfs on the demo hosts: the kernel's enable/read/disable protocol, the
verdicts a user sees for a good ROM, a boot GPU's shadow copy and a card without one, and `rom --check`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vfio_tui.core.errors import InputError
from vfio_tui.core.gpu.romread import read_rom, rom_xml, save_rom
from vfio_tui.core.host import Host


def test_good_rom_is_read_closed_again_and_saved(workstation: Host) -> None:
    read = read_rom(workstation, "01:00.0")
    assert read.report.valid and not read.shadowed
    assert [i.kind for i in read.report.images] == ["x86 legacy BIOS", "UEFI"]
    rom = workstation.paths.pci_device("0000:01:00.0") / "rom"
    assert rom.read_bytes() == b""  # disabled again: the next read without enabling gets nothing
    saved = save_rom(workstation, read)
    assert saved.name.startswith("10de-1e07-") and saved.read_bytes() == read.data
    rom_file, install, bar_off = rom_xml(workstation, read)
    assert rom_file == f"<rom file='/usr/share/vgabios/{saved.name}'/>" and bar_off == "<rom bar='off'/>"
    assert install.endswith(f"/usr/share/vgabios/{saved.name}")


def test_boot_gpu_gives_its_shadow_copy(single_gpu: Host) -> None:
    read = read_rom(single_gpu, "0a:00.0")
    assert read.shadowed and not read.report.valid
    assert {"shadow", "checksum", "legacy-only"} <= {f.code for f in read.report.findings}


def test_a_device_without_a_rom(workstation: Host) -> None:
    with pytest.raises(InputError, match="no option ROM"):
        read_rom(workstation, "00:17.0")


def test_rom_cli(run_cli: Any, tmp_path: Path) -> None:
    good = run_cli("rom", "01:00.0", "--demo", "workstation", "--json")
    assert good.returncode == 0, good.stderr
    data = json.loads(good.stdout)
    assert data["valid"] and data["xml"]["rom_file"].startswith("<rom file='/usr/share/vgabios/10de-1e07-")
    shadow = run_cli("rom", "0a:00.0", "--demo", "single-gpu")
    assert shadow.returncode == 1 and "shadow copy" in shadow.stdout and "vendor's image" in shadow.stdout
    dump = tmp_path / "dump.rom"
    dump.write_bytes(b"NVGI" + bytes(380) + Path("/usr/lib/ipxe/qemu/efi-e1000.rom").read_bytes())
    checked = run_cli("rom", "--check", str(dump), "--strip", str(tmp_path / "fixed.rom"))
    assert checked.returncode == 0 and "strip the first 384 bytes" in checked.stdout
    fixed = run_cli("rom", "--check", str(tmp_path / "fixed.rom"), "--for", "01:00.0", "--demo", "workstation")
    assert fixed.returncode == 1 and "belongs to another card" in fixed.stdout

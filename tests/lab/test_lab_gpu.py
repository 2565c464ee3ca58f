"""Case 7: a GPU-like pair on a real kernel (topology tests/lab/topologies/gpu-console.txt): the boot VGA
with fbcon drawing the text console on its framebuffer (bochs-drm) and an HD-audio function beside it.
vfio-tui's passthrough transaction (bind only) releases the console (fbcon's vtconsole unbound), binds
the pair to vfio-pci, and its undo gives both back to their drivers and binds the console again — the
kernel's own files say so."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kview
import pytest
from conftest import Cli, note

SYS = Path("/sys")


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _driver(addr: str) -> str | None:
    link = SYS / "bus/pci/devices" / addr / "driver"
    return os.path.basename(os.readlink(link)) if link.is_symlink() else None


def _fbcon_bound() -> bool:
    """fbcon holds the consoles: a vtconsole "(M) frame buffer device" bound. The kernel removes fbcon's
    vtconsole altogether when the last framebuffer goes (fbcon_fb_unregistered()) and registers it again,
    bound, when one comes back, so the vtcon number is not stable across the run."""
    return any("frame buffer" in _read(vt / "name") and _read(vt / "bind") == "1"
               for vt in (SYS / "class/vtconsole").glob("vtcon*"))


def _boot_vga_pair() -> tuple[str, str] | None:
    """(the boot VGA, an HD-audio function in its slot), or None when the topology has no such pair."""
    for dev in sorted((SYS / "bus/pci/devices").iterdir()):
        if _read(dev / "boot_vga") == "1":
            slot = dev.name[:-1]
            audio = [d.name for d in (SYS / "bus/pci/devices").iterdir()
                     if d.name.startswith(slot) and _read(d / "class").startswith("0x0403")]
            if audio:
                return dev.name, audio[0]
    return None


@pytest.fixture
def gpu_console() -> Iterator[tuple[str, str]]:
    """The pair with its host drivers loaded (the guest has no udev): bochs-drm on the VGA, its framebuffer
    fb0 with fbcon bound, snd_hda_intel on the audio. Unloaded again afterwards."""
    pair = _boot_vga_pair()
    if pair is None:
        pytest.skip("topology has no boot VGA with an HD-audio function beside it (use gpu-console.txt)")
    vga, audio = pair
    for mod in ("bochs", "snd_hda_intel"):
        subprocess.run(["modprobe", mod], check=False, capture_output=True)
    if not kview.wait_for(lambda: _driver(vga) is not None and (SYS / "class/graphics/fb0").exists()) \
            or not kview.wait_for(_fbcon_bound):
        pytest.skip(f"no fbcon on {vga}'s framebuffer (driver {_driver(vga)})")
    try:
        yield vga, audio
    finally:
        for mod in ("bochs", "snd_hda_intel"):
            subprocess.run(["modprobe", "-r", mod], check=False, capture_output=True)


def _run(vt: Cli, *args: str) -> dict[str, Any]:
    res = vt.python("tests/lab/gpu_pass.py", *args, timeout=300)
    assert "Traceback" not in res.stderr, res.stderr
    lines = [line for line in res.stdout.splitlines() if line.startswith("{")]
    assert lines, f"gpu_pass.py {' '.join(args)} -> {res.returncode}\n{res.stdout}{res.stderr}"
    out: dict[str, Any] = json.loads(lines[-1])
    return out


def test_gpu_pair_console_released_then_restored(vt: Cli, gpu_console: tuple[str, str],
                                                 host_as_before: dict[str, Any]) -> None:
    vga, audio = gpu_console
    drivers = {vga: _driver(vga), audio: _driver(audio)}
    planned = _run(vt, "plan", vga)["plan"]
    assert planned["ok"], planned["refusals"]
    gpu = planned["gpu"]
    assert gpu is not None and gpu["cards"] == [vga]
    assert [s["kind"] for s in gpu["release"]] == ["unbind-vtconsole"]
    assert {d["address"] for d in planned["bind"]["devices"]} >= {vga, audio}

    ran = _run(vt, "run", vga)
    result = ran["result"]
    assert result["ok"], result
    assert result["done"] == ["gpu", "bind", "verify"]
    assert not _fbcon_bound(), "fbcon still holds the consoles after the run"
    assert _driver(vga) == "vfio-pci" and _driver(audio) == "vfio-pci"
    group = os.path.basename(os.readlink(SYS / "bus/pci/devices" / vga / "iommu_group"))
    assert kview.group_viable(int(group)) is True

    undone = _run(vt, "undo", result["run_id"])
    assert undone["ok"], undone
    assert kview.wait_for(_fbcon_bound), "fbcon does not hold the consoles again after undo"
    assert {vga: _driver(vga), audio: _driver(audio)} == drivers
    note(f"gpu: {vga} + {audio} ({drivers[vga]}, {drivers[audio]}) bound with the console released and given"
         f" back; steps {[e['step'] for e in ran['steps'] if e['phase'] == 'gpu' and e['state'] == 'done']}")

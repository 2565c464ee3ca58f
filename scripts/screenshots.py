#!/usr/bin/env python3
"""Writes screenshots/ (SVG + PNG) of every screen of the real app on the demo host.

Runs the real app headless on the demo host (`run_test()` + `save_screenshot()`) — the real core,
the simulated kernel, the demo's libvirt test driver; the failed start is the demo's nic_test,
which fails as QEMU would — then renders each SVG with `rsvg-convert -w 1600 -b white`
(librsvg2-bin): it keeps monospace columns aligned, which cairosvg does not. The clock is pinned
(SOURCE_DATE_EPOCH) so that the pictures only change when the app does.

    python scripts/screenshots.py [OUTDIR]
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("SOURCE_DATE_EPOCH", "1795651200")  # 2026-11-26T00:00:00Z

from textual.widgets import OptionList  # noqa: E402

from vfio_tui.core.address import PciAddress  # noqa: E402
from vfio_tui.core.host import Host, HostOptions  # noqa: E402
from vfio_tui.core.open_host import open_host  # noqa: E402
from vfio_tui.tui.app import VfioApp, make_app  # noqa: E402
from vfio_tui.tui.screens.devices import DevicesScreen  # noqa: E402
from vfio_tui.tui.widgets.iommu_tree import NodeRef  # noqa: E402

Step = str | tuple[str, ...]
SHOTS: list[tuple[str, str, tuple[int, int], dict[str, Any], Sequence[Step]]] = [
    ("01-devices", "Device tree: group 8 open, detail of a port-less-ACS group", (120, 36), {}, ["0000:03:00.0"]),
    ("02-devices-80x24", "At 80x24 over SSH: group 8 open, its host-used and ACS badges, the detail below",
     (80, 24), {}, ["0000:03:00.0"]),
    ("03-filter", "Filter `/ igb`, bridges hidden", (120, 36), {}, [("slash", *"igb", "enter", "b")]),
    ("04-wizard-plan", "Wizard: VM list and the plan", (120, 36), {}, ["0000:0b:00.0", ("p",), "vm:vfio_test"]),
    ("05-confirm", "The confirm step", (120, 36), {}, ["0000:0b:00.0", ("p",), "vm:vfio_test", ("y",)]),
    ("06-run-success", "Live steps, then the summary", (120, 36), {},
     ["0000:0b:00.0", ("p",), "vm:vfio_test", ("y", "y")]),
    ("07-run-failure", "A failed start (nic_test: group 13 not viable) with its explanation", (120, 36), {},
     ["0000:0b:00.0", ("p",), "vm:nic_test", ("y", "y")]),
    ("08-checks", "Checks", (120, 36), {}, [("c",)]),
    ("09-explain", "Explain a VM log", (120, 36), {}, [("x",), ("o", *"/var/log/libvirt/qemu/vfio_test.log",
                                                               "enter")]),
    ("10-journal", "Undo / journal", (120, 36), {}, ["0000:0b:00.0", ("p",), ("enter",), ("y", "y"), ("escape", "u")]),
    ("11-help", "Help", (120, 36), {}, [("question_mark",)]),
    ("12-undo-vm-running", "Undo while the VM runs: stop it or hot-unplug first", (120, 36), {},
     ["0000:0b:00.0", ("p",), "vm:vfio_test", ("y", "y"), ("u",)]),
    ("13-refused-80x24", "p on the SSH NIC at 80x24: blocked at step 1, the refusal first", (80, 24), {},
     ["0000:03:00.0", ("p",)]),
    ("14-checks-fix-80x24", "f on a check at 80x24: the fix's diff before anything changes", (80, 24), {},
     [("c",), "check:qemu-conf-relaxed-acs", ("f",)]),
    ("15-failure-80x24", "A failed start at 80x24: the explanation gets the room", (80, 24), {},
     ["0000:0b:00.0", ("p",), "vm:nic_test", ("y", "y")]),
    ("16-workstation-gpu", "--demo workstation: the NVIDIA card's four functions as one, what holds it",
     (120, 36), {"demo": "workstation"}, ["0000:01:00.0"]),
    ("17-single-gpu-refused", "--demo single-gpu: passing the only GPU is refused; the libvirt hook plan instead",
     (120, 36), {"demo": "single-gpu"}, ["0000:0a:00.0", ("p",), "vm:win11"]),
    ("18-sriov-vfs", "An SR-IOV PF with its VFs under it (group, MAC/VLAN, the VM that runs with one)",
     (120, 36), {}, ["0000:07:00.0"]),
]


def build_app(host: Host, _options: dict[str, Any]) -> VfioApp:
    """The real app on the demo host."""
    return make_app(host, ansi=False)  # true colour, whatever terminal runs the script


async def settle(app: VfioApp, pilot: Any) -> None:
    for _ in range(3):
        await pilot.pause()
        await app.workers.wait_for_complete()
    await pilot.pause(0.2)


async def shoot(name: str, size: tuple[int, int], fake: dict[str, Any], steps: Sequence[Step], out: Path) -> Path:
    with open_host(HostOptions(demo=True, demo_name=fake.get("demo", "host192"))) as host:
        app = build_app(host, fake)
        async with app.run_test(size=size) as pilot:
            await settle(app, pilot)
            for step in steps:
                if isinstance(step, str) and step.startswith("check:"):
                    options = app.screen.query_one("#checks", OptionList)
                    options.highlighted = options.get_option_index(step.removeprefix("check:"))
                elif isinstance(step, str) and step.startswith("vm:"):
                    options = app.screen.query_one("#vms", OptionList)
                    options.highlighted = options.get_option_index(step)
                    await pilot.press("enter")
                elif isinstance(step, str):
                    screen = app.screen
                    assert isinstance(screen, DevicesScreen) and screen.inventory is not None
                    addr = PciAddress.parse(step)
                    screen.select(NodeRef("device", screen.inventory.devices[addr].iommu_group, addr))
                else:
                    await pilot.press(*step)
                await settle(app, pilot)
            svg = out / f"{name}.svg"
            app.save_screenshot(str(svg.name), str(out))
    # rsvg-convert drops the non-breaking spaces that start a text run unless told to keep them.
    svg.write_text(svg.read_text().replace("<svg ", '<svg xml:space="preserve" ', 1))
    return svg


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else ROOT / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    rsvg = shutil.which("rsvg-convert")
    for name, title, size, fake, steps in SHOTS:
        svg = asyncio.run(shoot(name, size, fake, steps, out))
        if rsvg:
            subprocess.run([rsvg, "-w", "1600", "-b", "white", str(svg), "-o", str(svg.with_suffix(".png"))],
                           check=True)
        print(f"{svg.with_suffix('.png' if rsvg else '.svg').relative_to(ROOT)}  {title}")
    if not rsvg:
        print("rsvg-convert missing (apt-get install librsvg2-bin): wrote SVGs only")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

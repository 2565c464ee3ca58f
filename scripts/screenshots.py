#!/usr/bin/env python3
"""Writes screenshots/ (SVG + PNG) of every screen of the real app on the demo host.

Runs the app headless (`run_test()` + `save_screenshot()`), then renders each SVG with
`rsvg-convert -w 1600 -b white` (librsvg2-bin): it keeps monospace columns aligned, which
cairosvg does not. Until core's binding and libvirt parts exist, host-changing steps are
answered by the scripted backend of tests/tui/fake_backend.py (the script says so).

    python scripts/screenshots.py [OUTDIR]
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "tui"))

from textual.widgets import OptionList  # noqa: E402

from core.address import PciAddress  # noqa: E402
from core.host import Host, HostOptions, open_host  # noqa: E402
from tui.app import VfioApp, default_hypervisor_factory, make_app  # noqa: E402
from tui.screens.devices import DevicesScreen  # noqa: E402
from tui.widgets.iommu_tree import NodeRef  # noqa: E402

Step = str | tuple[str, ...]
SHOTS: list[tuple[str, str, tuple[int, int], dict[str, Any], Sequence[Step]]] = [
    ("01-devices", "Device tree: group 8 open, detail of a port-less-ACS group", (120, 36), {}, ["0000:03:00.0"]),
    ("02-devices-80x24", "The main screen at 80x24", (80, 24), {}, ["0000:02:00.0"]),
    ("03-filter", "Filter `/ igb`, bridges hidden", (120, 36), {}, [("slash", *"igb", "enter", "b")]),
    ("04-wizard-plan", "Wizard: VM list and the plan", (120, 36), {}, ["0000:02:00.0", ("p",), "vm:vfio_test"]),
    ("05-confirm", "The confirm step", (120, 36), {}, ["0000:02:00.0", ("p",), "vm:vfio_test", ("y",)]),
    ("06-run-success", "Live steps, then the summary", (120, 36), {},
     ["0000:02:00.0", ("p",), "vm:vfio_test", ("y", "y")]),
    ("07-run-failure", "A failed start with its explanation", (120, 36), {"fail_at": "start"},
     ["0000:02:00.0", ("p",), "vm:vfio_test", ("y", "y")]),
    ("08-checks", "Checks", (120, 36), {}, [("c",)]),
    ("09-explain", "Explain a VM log", (120, 36), {}, [("x",), ("tab", *"/var/log/libvirt/qemu/vfio_test.log",
                                                               "enter")]),
    ("10-journal", "Undo / journal", (120, 36), {}, ["0000:0b:00.0", ("p",), ("enter",), ("y", "y"), ("escape", "u")]),
    ("11-help", "Help", (120, 36), {}, [("question_mark",)]),
]


def core_complete() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("core.binding", "core.libvirt", "core.checks",
                                                                  "core.explain"))


def has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def build_app(host: Host, fake_options: dict[str, Any]) -> VfioApp:
    """The real app; a run that must fail (fake_options) scripts only the failing start."""
    if core_complete() and not fake_options:
        return make_app(host, hypervisor_factory=default_hypervisor_factory(host, True))
    from fake_backend import FakeBackend

    from tui.backend import Backend

    backend = FakeBackend(host, **fake_options)
    # Use every part of core that exists; script only the missing ones.
    real = Backend(host, default_hypervisor_factory(host, True))
    if has("core.checks"):
        backend.checks = real.checks  # type: ignore[method-assign]
    if has("core.explain"):
        from fake_backend import NOT_VIABLE

        # The demo's libvirt test driver never fails a start: the failure is scripted (the seed's
        # group-13 error), its explanation comes from the real catalog.
        backend.failure_view = lambda: real.explain_text(NOT_VIABLE)  # type: ignore[method-assign]
        backend.explain_text = real.explain_text  # type: ignore[method-assign]
        backend.explain_vm = real.explain_vm  # type: ignore[method-assign]
    return make_app(host, backend=backend)


async def settle(app: VfioApp, pilot: Any) -> None:
    for _ in range(3):
        await pilot.pause()
        await app.workers.wait_for_complete()
    await pilot.pause(0.2)


async def shoot(name: str, size: tuple[int, int], fake: dict[str, Any], steps: Sequence[Step], out: Path) -> Path:
    with open_host(HostOptions(demo=True)) as host:
        app = build_app(host, fake)
        async with app.run_test(size=size) as pilot:
            await settle(app, pilot)
            for step in steps:
                if isinstance(step, str) and step.startswith("vm:"):
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
    if not core_complete():
        missing = [m for m in ("core.binding", "core.libvirt", "core.checks", "core.explain") if not has(m)]
        print(f"note: {', '.join(missing)} not in this version: the wizard's host-changing steps (and what is"
              " missing) use the scripted backend of tests/tui/fake_backend.py")
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

"""SVG snapshots of every screen on the demo host at 100x32 (and the main screen at 80x24).

Baselines live in __snapshots__/ and were accepted after looking at them; update them only
with `pytest tests/tui/test_snapshots.py --snapshot-update` after checking the report.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from tui_helpers import SIZE

from core.address import PciAddress
from tui.app import VfioApp
from tui.screens.devices import DevicesScreen
from tui.widgets.iommu_tree import NodeRef

SnapCompare = Callable[..., bool]


async def _settle(pilot: Pilot[Any]) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def steps(*actions: Any) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """A run_before that settles, then for each action presses keys (tuple) or selects a device (str)."""

    async def run(pilot: Pilot[Any]) -> None:
        await _settle(pilot)
        for action in actions:
            if isinstance(action, str):
                screen = pilot.app.screen
                assert isinstance(screen, DevicesScreen)
                addr = PciAddress.parse(action)
                inv = screen.inventory
                assert inv is not None
                screen.select(NodeRef("device", inv.devices[addr].iommu_group, addr))
            else:
                await pilot.press(*action)
            await _settle(pilot)

    return run


@pytest.fixture
def app(make_demo_app: Callable[..., VfioApp]) -> VfioApp:
    return make_demo_app()


class TestDevices:
    def test_main_screen(self, snap_compare: SnapCompare, app: VfioApp) -> None:
        """Groups with verdict colours; group 8 open, a BCM5709 port selected, its detail on the right."""
        assert snap_compare(app, terminal_size=SIZE, run_before=steps("0000:03:00.0"))

    def test_main_screen_80x24(self, snap_compare: SnapCompare, app: VfioApp) -> None:
        """The same at the smallest supported size: nothing overlaps, the footer shows the keys."""
        assert snap_compare(app, terminal_size=(80, 24), run_before=steps("0000:02:00.0"))

    def test_filter(self, snap_compare: SnapCompare, app: VfioApp) -> None:
        """`/ bnx2` leaves group 8 open with the four BCM5709 ports; `e` hides bridge-only groups."""
        assert snap_compare(app, terminal_size=SIZE, run_before=steps(("slash", *"bnx2", "enter", "e")))


class TestWizard:
    def test_plan(self, snap_compare: SnapCompare, app: VfioApp) -> None:
        """VM list with states, and the plan: members, driver changes, XML diff, undo."""
        assert snap_compare(app, terminal_size=SIZE, run_before=steps("0000:0b:00.0", ("p",), ("down", "enter")))

    def test_confirm(self, snap_compare: SnapCompare, app: VfioApp) -> None:
        """The confirm step before anything changes."""
        assert snap_compare(app, terminal_size=SIZE,
                            run_before=steps("0000:0b:00.0", ("p",), ("down", "enter"), ("y",)))

    def test_run_success(self, snap_compare: SnapCompare, app: VfioApp) -> None:
        """Every step ticked with its time, the log, the summary."""
        assert snap_compare(app, terminal_size=SIZE,
                            run_before=steps("0000:0b:00.0", ("p",), ("down", "enter"), ("y", "y")))

    def test_run_failure(self, snap_compare: SnapCompare, make_demo_app: Callable[..., VfioApp]) -> None:
        """The start fails: the explanation panel shows cause, evidence, fix and the check result."""
        app = make_demo_app(fail_at="start")
        assert snap_compare(app, terminal_size=SIZE,
                            run_before=steps("0000:02:00.0", ("p",), ("down", "enter"), ("y", "y")))


class TestOtherScreens:
    def test_checks(self, snap_compare: SnapCompare, app: VfioApp) -> None:
        """Failures and warnings first, with evidence and fixes."""
        assert snap_compare(app, terminal_size=SIZE, run_before=steps(("c",)))

    def test_explain(self, snap_compare: SnapCompare, app: VfioApp) -> None:
        """A log loaded from the host explained."""
        assert snap_compare(app, terminal_size=SIZE, run_before=steps(
            ("x",), ("tab", *"/var/log/libvirt/qemu/vfio_test.log", "enter")))

    def test_journal(self, snap_compare: SnapCompare, app: VfioApp) -> None:
        """The journal after a bind in this session."""
        assert snap_compare(app, terminal_size=SIZE, run_before=steps(
            "0000:0b:00.0", ("p",), ("enter",), ("y", "y"), ("escape", "u")))

    def test_help(self, snap_compare: SnapCompare, app: VfioApp) -> None:
        """Every key of every screen."""
        assert snap_compare(app, terminal_size=SIZE, run_before=steps(("question_mark",)))

"""SVG snapshots of every screen on the demo host at 100x32, and at 80x24 (the size that matters
over SSH) the main screen, group 8 open, a refused plan, a check's fix applied and undone.

Baselines live in __snapshots__/ and were accepted after looking at them; update them only
with `pytest tests/tui/test_snapshots.py --snapshot-update` after checking the report.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import OptionList

from tests.tui.tui_helpers import SIZE, SSH
from vfio_tui.core.address import PciAddress
from vfio_tui.tui.app import VfioApp
from vfio_tui.tui.screens.devices import DevicesScreen
from vfio_tui.tui.widgets.iommu_tree import NodeRef

SnapCompare = Callable[..., bool]


async def _settle(pilot: Pilot[Any]) -> None:
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


TO_VFIO_TEST = ("down", "down", "down", "down", "enter")
"""In the wizard's VM list (bind only, hba_test, nic_test, router, vfio_test, win10): vfio_test."""
TO_NIC_TEST = ("down", "down", "enter")
MASK_TIMES = "mask-times"
"""Step durations differ from run to run: the snapshot shows them as 0.00s."""


def _mask_times(pilot: Pilot[Any]) -> None:
    import re

    from rich.text import Text
    from textual.widgets import RichLog

    from vfio_tui.tui.widgets.step_list import StepList

    for steps_widget in pilot.app.screen.query(StepList):
        for step in steps_widget._steps:
            step.elapsed = 0.0
        steps_widget._render_steps()
    for log in pilot.app.screen.query(RichLog):
        lines = [re.sub(r"\d+\.\d\ds", "0.00s", "".join(seg.text for seg in line)) for line in log.lines]
        log.clear()
        for line in lines:
            log.write(Text(line))


def steps(*actions: Any) -> Callable[[Pilot[Any]], Awaitable[None]]:
    """A run_before that settles, then for each action presses keys (tuple) or selects a device (str)."""

    async def run(pilot: Pilot[Any]) -> None:
        await _settle(pilot)
        for action in actions:
            if action == MASK_TIMES:
                _mask_times(pilot)
            elif isinstance(action, str) and action.startswith("check:"):
                checks = pilot.app.screen.query_one("#checks", OptionList)
                checks.highlighted = checks.get_option_index(action.removeprefix("check:"))
            elif isinstance(action, str):
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


@pytest.fixture(autouse=True)
def _pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run records and the simulated QEMU's log lines carry the time: pinned (SOURCE_DATE_EPOCH)."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1795651200")  # 2026-11-26T00:00:00Z


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

    def test_group_8_at_80x24(self, snap_compare: SnapCompare, app: VfioApp) -> None:
        """Over SSH: group 8 open, the SSH NIC's [host-used] and every port's [ACS ✗] on screen, the
        detail under the tree at full width, every global key in the footer."""
        assert snap_compare(app, terminal_size=SSH, run_before=steps("0000:03:00.0"))

    def test_filter(self, snap_compare: SnapCompare, app: VfioApp) -> None:
        """`/ bnx2` leaves group 8 open with the four BCM5709 ports; `e` hides bridge-only groups."""
        assert snap_compare(app, terminal_size=SIZE, run_before=steps(("slash", *"bnx2", "enter", "e")))


class TestWizard:
    def test_plan(self, snap_compare: SnapCompare, app: VfioApp) -> None:
        """VM list with states, and the plan for vfio_test: members, driver changes, XML diff, undo."""
        assert snap_compare(app, terminal_size=SIZE, run_before=steps("0000:0b:00.0", ("p",), TO_VFIO_TEST))

    def test_refused_plan_at_80x24(self, snap_compare: SnapCompare, app: VfioApp) -> None:
        """p on the SSH NIC: step 1 says at once the group is blocked; the plan opens with the refusal
        (what uses it, how to free it) without scrolling; the writes that will not happen are folded."""
        assert snap_compare(app, terminal_size=SSH, run_before=steps("0000:03:00.0", ("p",)))

    def test_confirm(self, snap_compare: SnapCompare, app: VfioApp) -> None:
        """The confirm step before anything changes."""
        assert snap_compare(app, terminal_size=SIZE,
                            run_before=steps("0000:0b:00.0", ("p",), TO_VFIO_TEST, ("y",)))

    def test_run_success(self, snap_compare: SnapCompare, app: VfioApp) -> None:
        """Every step ticked with its time, the log, the summary (times masked: they vary)."""
        assert snap_compare(app, terminal_size=SIZE,
                            run_before=steps("0000:0b:00.0", ("p",), TO_VFIO_TEST, ("y", "y"), MASK_TIMES))

    def test_run_failure(self, snap_compare: SnapCompare, app: VfioApp) -> None:
        """nic_test's start fails (group 13 not viable, as QEMU says it): cause, evidence, fix, check."""
        assert snap_compare(app, terminal_size=SIZE,
                            run_before=steps("0000:0b:00.0", ("p",), TO_NIC_TEST, ("y", "y"), MASK_TIMES))

    def test_undo_refused_while_the_vm_runs(self, snap_compare: SnapCompare, app: VfioApp) -> None:
        """u after a started run: the VM holds the device, so undo offers to stop it or hot-unplug first."""
        assert snap_compare(app, terminal_size=SIZE,
                            run_before=steps("0000:0b:00.0", ("p",), TO_VFIO_TEST, ("y", "y"), ("u",), MASK_TIMES))


class TestOtherScreens:
    def test_checks(self, snap_compare: SnapCompare, app: VfioApp) -> None:
        """Failures and warnings first, with evidence and fixes."""
        assert snap_compare(app, terminal_size=SIZE, run_before=steps(("c",)))

    def test_checks_fix_applied_at_80x24(self, snap_compare: SnapCompare, app: VfioApp) -> None:
        """f on a warning with a fix: its diff, then y: edited with a backup, journaled as cfg-1."""
        assert snap_compare(app, terminal_size=SSH, run_before=steps(("c",), "check:qemu-conf-relaxed-acs",
                                                                       ("f",), ("y",)))

    def test_checks_fix_undone_at_80x24(self, snap_compare: SnapCompare, app: VfioApp) -> None:
        """…then Esc and U y Esc: the file is back and the check warns again."""
        assert snap_compare(app, terminal_size=SSH, run_before=steps(
            ("c",), "check:qemu-conf-relaxed-acs", ("f",), ("y",), ("escape",), ("U",), ("y",), ("escape",)))

    def test_explain(self, snap_compare: SnapCompare, app: VfioApp) -> None:
        """A log loaded from the host explained."""
        assert snap_compare(app, terminal_size=SIZE, run_before=steps(
            ("x",), ("o", *"/var/log/libvirt/qemu/vfio_test.log", "enter")))

    def test_journal(self, snap_compare: SnapCompare, app: VfioApp) -> None:
        """The journal after a bind in this session: the run, what is on vfio-pci, the session log."""
        assert snap_compare(app, terminal_size=SIZE, run_before=steps(
            "0000:0b:00.0", ("p",), ("enter",), ("y", "y"), ("escape", "u")))

    def test_help(self, snap_compare: SnapCompare, app: VfioApp) -> None:
        """Every key of every screen."""
        assert snap_compare(app, terminal_size=SIZE, run_before=steps(("question_mark",)))

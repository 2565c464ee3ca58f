"""User stories of the app, driven with Textual's pilot on the demo host."""

from __future__ import annotations

from collections.abc import Callable

from fake_backend import FakeBackend
from textual.widgets import Static
from tui_helpers import SIZE, settle

from core.address import PciAddress
from tui.app import VfioApp
from tui.screens.checks import ChecksScreen
from tui.screens.devices import DevicesScreen
from tui.screens.explain import ExplainScreen
from tui.screens.help import HelpScreen
from tui.screens.journal import JournalScreen
from tui.screens.run import RunScreen
from tui.screens.wizard import WizardScreen
from tui.widgets.iommu_tree import IommuTree, NodeRef
from tui.widgets.step_list import StepList


def tree_text(app: VfioApp) -> str:
    tree = app.screen.query_one(IommuTree)
    return "\n".join(str(line.node.label) for line in tree._tree_lines)


def static_text(app: VfioApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


class TestBrowse:
    async def test_tree_shows_groups_with_verdicts(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """The main screen lists every IOMMU group with its verdict."""
        app = make_demo_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            text = tree_text(app)
            assert "Group 19" in text and "Group 8" in text
            assert "bindable" in text and "blocked" in text

    async def test_detail_says_which_port_lacks_acs(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """Opening group 8 shows its ports; the detail names the port without ACS and why it is blocked."""
        app = make_demo_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            screen = app.screen
            assert isinstance(screen, DevicesScreen)
            assert screen.select(NodeRef("device", 8, PciAddress.parse("0000:03:00.0")))
            await settle(pilot, app)
            detail = static_text(app, "#detail")
            assert "NetXtreme II BCM5709" in detail
            assert "00:1c.0 (PCIe root port, in this group) has no ACS capability" in detail
            assert "blocked: 0000:03:00.0 is used by the host" in detail and "ssh-session" in detail
            text = tree_text(app)
            assert "03:00.0" in text and "[ACS ✗]" in text and "[host-used]" in text

    async def test_space_expands_a_group(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """Enter/space on a group row opens it and shows its members with driver and reset badges."""
        app = make_demo_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            app.screen.query_one(IommuTree).focus()
            await pilot.press(*["down"] * 13, "space")
            await settle(pilot, app)
            text = tree_text(app)
            assert "02:00.0" in text and "igb" in text and "[FLR]" in text


class TestFilter:
    async def test_filter_by_driver(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """`/` then a driver name leaves only the groups with such a device, opened."""
        app = make_demo_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            await pilot.press("slash", *"qla2xxx", "enter")
            await settle(pilot, app)
            text = tree_text(app)
            assert "Group 19" in text and "0b:00.0" in text
            assert "Group 8 " not in text
            await pilot.press("escape")
            await settle(pilot, app)
            assert "Group 8 " in tree_text(app)

    async def test_hide_empty_groups_and_bridges(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """`e` hides bridge-only groups, `b` hides bridges inside groups."""
        app = make_demo_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            assert "bridges only" in tree_text(app)
            await pilot.press("e")
            await settle(pilot, app)
            assert "bridges only" not in tree_text(app)
            await pilot.press("slash", *"bnx2", "enter", "b")
            await settle(pilot, app)
            text = tree_text(app)
            assert "03:00.0" in text and "00:1c.0" not in text


class TestWizard:
    async def _to_plan(self, app: VfioApp, pilot: object, vm_index: int) -> None:
        screen = app.screen
        assert isinstance(screen, DevicesScreen)
        screen.select(NodeRef("device", 13, PciAddress.parse("0000:02:00.0")))
        await settle(pilot, app)  # type: ignore[arg-type]
        await pilot.press("p")  # type: ignore[attr-defined]
        await settle(pilot, app)  # type: ignore[arg-type]
        assert isinstance(app.screen, WizardScreen)
        await pilot.press(*["down"] * vm_index, "enter")  # type: ignore[attr-defined]
        await settle(pilot, app)  # type: ignore[arg-type]

    async def test_wizard_to_success(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """Device → VM → plan (members, driver changes, XML diff, undo) → confirm → all steps done."""
        app = make_demo_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            await self._to_plan(app, pilot, 1)
            plan = static_text(app, "#plan")
            for needed in ("0000:02:00.1", "igb -> vfio-pci", "+   <hostdev", "Undo will", "vfio_test"):
                assert needed in plan
            backend = app.backend
            assert isinstance(backend, FakeBackend)
            assert not any(c.startswith("run") for c in backend.calls), "nothing runs before the confirm"
            await pilot.press("y")
            await settle(pilot, app)
            assert app.screen.__class__.__name__ == "ConfirmModal"
            await pilot.press("y")
            await settle(pilot, app)
            run = app.screen
            assert isinstance(run, RunScreen)
            assert run.outcome is not None and run.outcome.ok
            steps = run.query_one(StepList)
            assert [steps.status_of(s) for s in ("bind", "verify", "attach", "start")] == ["done"] * 4
            assert "vfio_test is running with 0000:02:00.0" in static_text(app, "#result")

    async def test_confirm_no_changes_nothing(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """Answering no at the confirm step runs nothing."""
        app = make_demo_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            await self._to_plan(app, pilot, 0)
            await pilot.press("y", "n")
            await settle(pilot, app)
            assert isinstance(app.screen, WizardScreen)
            backend = app.backend
            assert isinstance(backend, FakeBackend)
            assert not any(c.startswith("run") for c in backend.calls)

    async def test_wizard_failure_shows_explanation_then_undo(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """A failing start shows cause, evidence, fix and the check result; u (confirmed) undoes the bind."""
        app = make_demo_app(fail_at="start")
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            await self._to_plan(app, pilot, 1)
            await pilot.press("y", "y")
            await settle(pilot, app)
            run = app.screen
            assert isinstance(run, RunScreen)
            assert run.outcome is not None and not run.outcome.ok
            assert run.query_one(StepList).status_of("start") == "failed"
            panel = str(run.query_one("#explanation" if False else "#explain").render())
            for needed in ("Group not viable", "Evidence", "0000:02:00.1 driver igb", "Fix:",
                           "Check on this host", "group 13 is not viable"):
                assert needed in panel
            await pilot.press("u")
            await settle(pilot, app)
            await pilot.press("y")
            await settle(pilot, app)
            backend = app.backend
            assert isinstance(backend, FakeBackend)
            assert "undo 0000:02:00.0" in backend.calls
            assert "Undone" in static_text(app, "#result")

    async def test_cancel_stops_before_the_next_step(self, host: object) -> None:
        """Esc during a run cancels it after the current step."""
        from tui.app import make_app

        backend = FakeBackend(host, step_delay=0.3)  # type: ignore[arg-type]
        app = make_app(host, backend=backend)  # type: ignore[arg-type]
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            await self._to_plan(app, pilot, 1)
            await pilot.press("y", "y")
            await pilot.pause(0.1)
            await pilot.press("escape")
            await settle(pilot, app)
            run = app.screen
            assert isinstance(run, RunScreen)
            assert run.outcome is not None and run.outcome.cancelled
            assert run.query_one(StepList).status_of("start") == "skipped"


class TestOtherScreens:
    async def test_checks_screen(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """`c` runs the checks in a worker and shows fail/warn first, with fixes."""
        app = make_demo_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            await pilot.press("c")
            await settle(pilot, app)
            assert isinstance(app.screen, ChecksScreen)
            text = static_text(app, "#checks")
            assert text.index("FAIL") < text.index("PASS")
            assert "fix: remove the stale cgroup_device_acl override" in text

    async def test_explain_pasted_text(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """`x`, paste an error, Ctrl+R: the panel names the cause."""
        app = make_demo_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            await pilot.press("x")
            await settle(pilot, app)
            assert isinstance(app.screen, ExplainScreen)
            app.screen.query_one("#paste").load_text("vfio 0000:02:00.0: group 13 is not viable")  # type: ignore[attr-defined]
            await pilot.press("ctrl+r")
            await settle(pilot, app)
            assert "Group not viable" in str(app.screen.query_one("#explanation").render())

    async def test_explain_loads_a_log_of_the_host(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """A log path is read inside the demo host's tree."""
        app = make_demo_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            await pilot.press("x")
            await settle(pilot, app)
            app.screen.query_one("#path").focus()
            await pilot.press(*"/var/log/libvirt/qemu/vfio_test.log", "enter")
            await settle(pilot, app)
            assert "Group not viable" in str(app.screen.query_one("#explanation").render())

    async def test_journal_and_restore(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """`u` from the main screen opens the journal; R asks, then restores everything."""
        app = make_demo_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            backend = app.backend
            assert isinstance(backend, FakeBackend)
            backend.bound.add("0000:0b:00.0")
            await pilot.press("u")
            await settle(pilot, app)
            assert isinstance(app.screen, JournalScreen)
            assert "0000:0b:00.0: bound to vfio-pci" in static_text(app, "#journal")
            await pilot.press("R", "y")
            await settle(pilot, app)
            assert "restore all" in backend.calls
            assert "none: no bind was cut short" in static_text(app, "#journal")

    async def test_help_lists_every_screen_key(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """`?` shows the keys of every screen."""
        app = make_demo_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            await pilot.press("question_mark")
            await settle(pilot, app)
            assert isinstance(app.screen, HelpScreen)
            text = static_text(app, "#help")
            for needed in ("Pass through", "Filter", "Restore all", "Explain pasted text", "Cancel / back"):
                assert needed in text

    async def test_palette_lists_every_action(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """The command palette offers every action of the app."""
        from tui.app import ACTIONS

        app = make_demo_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            titles = [c.title for c in app.get_system_commands(app.screen)]
            for _, title, _ in ACTIONS:
                assert title in titles

    async def test_not_available_is_said_plainly(self, host: object) -> None:
        """With the real backend, parts of core not built yet show a sentence, not a crash."""
        import importlib.util

        from tui.app import make_app

        app = make_app(host)  # type: ignore[arg-type]
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            await pilot.press("c")
            await settle(pilot, app)
            text = static_text(app, "#checks")
            if importlib.util.find_spec("core.checks") is None:
                assert "not available yet" in text
            else:
                assert "PASS" in text or "FAIL" in text or "WARN" in text

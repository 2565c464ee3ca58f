"""User stories of the app, driven with Textual's pilot on the demo host."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from textual.widgets import Input, OptionList

from tests.tui.tui_helpers import SIZE, options_text, settle, static_text, tree_text
from vfio_tui.core.address import PciAddress
from vfio_tui.core.errors import HostDataError
from vfio_tui.core.libvirt.xml import DomainXml
from vfio_tui.tui.app import VfioApp
from vfio_tui.tui.modals.undo import UndoModal
from vfio_tui.tui.screens.checks import ChecksScreen
from vfio_tui.tui.screens.devices import DevicesScreen
from vfio_tui.tui.screens.explain import ExplainScreen
from vfio_tui.tui.screens.help import HelpScreen
from vfio_tui.tui.screens.journal import JournalScreen
from vfio_tui.tui.screens.run import RunScreen
from vfio_tui.tui.screens.wizard import WizardScreen
from vfio_tui.tui.widgets.iommu_tree import IommuTree, NodeRef
from vfio_tui.tui.widgets.step_list import StepList


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
            assert "✗ 0000:03:00.0 is used by the host" in detail and "ssh-session" in detail
            assert detail.index("What blocks it") < detail.index("Why this group is shaped so")
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

    async def test_filter_finds_a_vm_by_name_and_takes_every_word(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """The VMs arrive after the first paint; the filter then finds a device by the VM that holds it, and
        with two words only the devices that have both."""
        app = make_demo_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            await pilot.press("slash", *"nic_test", "enter")
            await settle(pilot, app)
            text = tree_text(app)
            assert "02:00.0" in text and "Group 19" not in text
            box = app.screen.query_one("#filter", Input)
            box.value = "qla2xxx nic_test"  # no device has both
            await settle(pilot, app)
            assert "02:00.0" not in tree_text(app) and "0b:00.0" not in tree_text(app)
            box.value = "qla2xxx 0b:00"
            await settle(pilot, app)
            assert "0b:00.0" in tree_text(app)

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


VM_NAMES = ("hba_test", "nic_test", "router", "vfio_test", "win10")
"""The demo's VMs, in the order the wizard lists them (after "no VM: bind only")."""


def domain_hostdevs(app: VfioApp, vm: str) -> list[str]:
    hv = app.backend.hypervisor()
    return [str(h.address) for h in DomainXml(hv.xml(vm, inactive=True)).hostdevs()]


def vm_state(app: VfioApp, vm: str) -> str:
    hv = app.backend.hypervisor()
    return hv.state(hv.lookup(vm))


def driver(app: VfioApp, address: str) -> str | None:
    dev = app.backend.host.inventory().device(PciAddress.parse(address))
    assert dev is not None
    return dev.driver


class TestWizard:
    async def _to_plan(self, app: VfioApp, pilot: object, address: str, vm: str | None) -> None:
        screen = app.screen
        assert isinstance(screen, DevicesScreen)
        addr = PciAddress.parse(address)
        inv = screen.inventory
        assert inv is not None
        screen.select(NodeRef("device", inv.devices[addr].iommu_group, addr))
        await settle(pilot, app)  # type: ignore[arg-type]
        await pilot.press("p")  # type: ignore[attr-defined]
        await settle(pilot, app)  # type: ignore[arg-type]
        assert isinstance(app.screen, WizardScreen)
        downs = 0 if vm is None else 1 + VM_NAMES.index(vm)
        await pilot.press(*["down"] * downs, "enter")  # type: ignore[attr-defined]
        await settle(pilot, app)  # type: ignore[arg-type]

    async def test_pass_start_then_undo_takes_the_device_out_of_the_vm(
            self, make_demo_app: Callable[..., VfioApp]) -> None:
        """The story on the real core: pass 0b:00.0 to vfio_test and start it; undo refuses while the VM
        holds it, then with "stop the VM" takes the <hostdev> out, the VM is off, the HBA is on qla2xxx."""
        app = make_demo_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            await self._to_plan(app, pilot, "0000:0b:00.0", "vfio_test")
            plan = static_text(app, "#plan")
            for needed in ("qla2xxx -> vfio-pci", "+    <hostdev", "Undo will", "vfio_test"):
                assert needed in plan
            assert driver(app, "0000:0b:00.0") == "qla2xxx", "nothing runs before the confirm"
            await pilot.press("y")
            await settle(pilot, app)
            assert app.screen.__class__.__name__ == "ConfirmModal"
            await pilot.press("y")
            await settle(pilot, app)
            run = app.screen
            assert isinstance(run, RunScreen)
            assert run.result is not None and run.result.ok, run.result
            steps = run.query_one(StepList)
            assert [steps.status_of(s) for s in ("bind", "verify", "attach", "start")] == ["done"] * 4
            assert "vfio_test is running with 0000:0b:00.0" in static_text(app, "#result")
            assert domain_hostdevs(app, "vfio_test") == ["0000:0b:00.0"] and vm_state(app, "vfio_test") == "running"
            await pilot.press("u")
            await settle(pilot, app)
            undo = app.screen
            assert isinstance(undo, UndoModal)
            body = str(undo.query_one("#text").render())
            assert "vfio_test is running with 0000:0b:00.0" in body and "shut the VM down" in body
            assert driver(app, "0000:0b:00.0") == "vfio-pci", "a refusal changes nothing"
            await pilot.press("s")
            await settle(pilot, app)
            assert undo.result is not None and undo.result.ok, undo.result
            summary = str(undo.query_one("#text").render())
            for done in ("shut down vfio_test", "removed 0000:0b:00.0 from vfio_test's definition",
                         "0000:0b:00.0 on qla2xxx"):
                assert done in summary
            await pilot.press("escape")
            await settle(pilot, app)
            assert domain_hostdevs(app, "vfio_test") == [] and vm_state(app, "vfio_test") == "shut off"
            assert driver(app, "0000:0b:00.0") == "qla2xxx"
            assert "Undone (run-1)" in static_text(app, "#result")

    async def test_hot_unplug_where_the_hypervisor_cannot_says_so(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """libvirt's test driver cannot hot-unplug: "hot-unplug and undo" fails cleanly, says what is left,
        and never claims "Undone"."""
        app = make_demo_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            await self._to_plan(app, pilot, "0000:0b:00.0", "vfio_test")
            await pilot.press("y", "y")
            await settle(pilot, app)
            await pilot.press("u")
            await settle(pilot, app)
            await pilot.press("l")
            await settle(pilot, app)
            undo = app.screen
            assert isinstance(undo, UndoModal) and undo.result is not None and not undo.result.ok
            text = str(undo.query_one("#text").render())
            assert "cannot hot-unplug" in text and "Still in place: 0000:0b:00.0 in vfio_test" in text
            assert "Undone" not in text
            assert domain_hostdevs(app, "vfio_test") == ["0000:0b:00.0"] and driver(app, "0000:0b:00.0") == "vfio-pci"

    async def test_confirm_no_changes_nothing(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """Answering no at the confirm step runs nothing."""
        app = make_demo_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            await self._to_plan(app, pilot, "0000:0b:00.0", "vfio_test")
            await pilot.press("y", "n")
            await settle(pilot, app)
            assert isinstance(app.screen, WizardScreen)
            assert driver(app, "0000:0b:00.0") == "qla2xxx" and domain_hostdevs(app, "vfio_test") == []
            assert app.backend.runs() == []

    async def test_wizard_failure_shows_explanation_then_undo(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """nic_test holds 02:00.0 without its sibling: the start fails as QEMU would ("group 13 is not
        viable"), the panel gives the cause, evidence, fix and the check; u undoes the run."""
        app = make_demo_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            await self._to_plan(app, pilot, "0000:0b:00.0", "nic_test")
            await pilot.press("y", "y")
            await settle(pilot, app)
            run = app.screen
            assert isinstance(run, RunScreen)
            assert run.result is not None and not run.result.ok and run.result.failed_phase == "start"
            assert run.query_one(StepList).status_of("start") == "failed"
            panel = str(run.query_one("#explain").render())
            for needed in ("group 13 is not viable", "Evidence", "Fix:", "Check on this host"):
                assert needed in panel
            await pilot.press("u")
            await settle(pilot, app)
            await pilot.press("y")
            await settle(pilot, app)
            undo = app.screen
            assert isinstance(undo, UndoModal) and undo.result is not None and undo.result.ok
            await pilot.press("escape")
            await settle(pilot, app)
            assert domain_hostdevs(app, "nic_test") == ["0000:02:00.0"], "nic_test's own hostdev stays"
            assert driver(app, "0000:0b:00.0") == "qla2xxx"

    async def test_cancel_stops_before_the_next_step(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """Esc during a (paced) run cancels it after the current step; the bind is rolled back."""
        # A second per write: the bind's three writes leave time to press Esc during it even when
        # the shared build machine is loaded 4x over (at 0.5 s the Esc once came after the bind).
        app = make_demo_app(pace=1.0)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            await self._to_plan(app, pilot, "0000:0b:00.0", "vfio_test")
            await pilot.press("y", "y")
            for _ in range(100):  # until the bind's first (half-second) write is under way
                await pilot.pause(0.05)
                if isinstance(app.screen, RunScreen) and app.screen.query_one(StepList).status_of("bind") == "running":
                    break
            await pilot.press("escape")
            await settle(pilot, app)
            run = app.screen
            assert isinstance(run, RunScreen)
            assert run.result is not None and not run.result.ok and run.result.failed_phase == "bind"
            assert "cancelled before step" in run.result.error and "rolled back" in run.result.error
            assert run.query_one(StepList).status_of("start") == "skipped"
            assert driver(app, "0000:0b:00.0") == "qla2xxx" and domain_hostdevs(app, "vfio_test") == []


class TestOtherScreens:
    async def test_checks_screen(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """`c` runs the checks in a worker and shows fail/warn first, with fixes."""
        app = make_demo_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            await pilot.press("c")
            await settle(pilot, app)
            assert isinstance(app.screen, ChecksScreen)
            text = options_text(app, "#checks")
            assert text.index("WARN") < text.index("PASS")
            assert "fix: remove /dev/vfio/vfio from cgroup_device_acl in /etc/libvirt/qemu.conf" in text

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
            assert "IOMMU group 13 is not viable" in str(app.screen.query_one("#explanation").render())

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
            assert "IOMMU group 13 is not viable" in str(app.screen.query_one("#explanation").render())

    async def test_journal_restore_all_refuses_while_a_vm_holds_a_device(
            self, make_demo_app: Callable[..., VfioApp]) -> None:
        """After a pass with start, "Restore all" refuses naming the VM (nothing changes); undoing the
        run from the journal (stop the VM) takes it back."""
        app = make_demo_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            plan = app.backend.plan("0000:0b:00.0", "vfio_test")
            result = app.backend.run(plan, lambda e: None, threading.Event())
            assert result.ok
            await pilot.press("u")
            await settle(pilot, app)
            assert isinstance(app.screen, JournalScreen)
            runs = app.screen.query_one("#runs", OptionList)
            assert any("run-1: 0000:0b:00.0 (group 19) → vfio_test" in str(o.prompt) for o in runs.options)
            await pilot.press("R", "y")
            await settle(pilot, app)
            assert driver(app, "0000:0b:00.0") == "vfio-pci"
            assert any("running VM 'vfio_test' holds it" in str(n.message) for n in app._notifications)
            await pilot.press("u")
            await settle(pilot, app)
            await pilot.press("s")
            await settle(pilot, app)
            await pilot.press("escape")
            await settle(pilot, app)
            assert driver(app, "0000:0b:00.0") == "qla2xxx" and domain_hostdevs(app, "vfio_test") == []

    async def test_help_lists_every_screen_key(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """`?` shows the keys of every screen."""
        app = make_demo_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            await pilot.press("question_mark")
            await settle(pilot, app)
            assert isinstance(app.screen, HelpScreen)
            text = static_text(app, "#help")
            for needed in ("Pass through", "Filter", "Restore all", "Open file", "Cancel / back",
                           "Apply fix", "Give back", "Moving around", "[running in x]", "[ACS ✗]", "in VM"):
                assert needed in text

    async def test_palette_lists_every_action(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """The command palette offers every action of the app."""
        from vfio_tui.tui.app import ACTIONS

        app = make_demo_app()
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            titles = [c.title for c in app.get_system_commands(app.screen)]
            for _, title, _ in ACTIONS:
                assert title in titles

    async def test_a_failing_worker_says_so_on_screen(self, make_demo_app: Callable[..., VfioApp],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
        """An inventory that cannot be read shows its error where the tree would be, not "Reading…" forever."""
        app = make_demo_app()

        def broken() -> None:
            raise HostDataError("the host tree is damaged", path="/sys/bus/pci")

        monkeypatch.setattr(app.backend, "inventory", broken)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            text = static_text(app, "#detail")
            assert "Reading the host failed" in text and "the host tree is damaged" in text

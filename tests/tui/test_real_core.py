"""The app on the demo host with the real core: the binding engine writes through the simulated
kernel, so bind, verify and undo really change driver links (the VM stories are in test_app_stories)."""

from __future__ import annotations

from tests.tui.tui_helpers import SIZE, settle
from vfio_tui.core.address import PciAddress
from vfio_tui.core.host import Host
from vfio_tui.tui.app import make_app
from vfio_tui.tui.screens.devices import DevicesScreen
from vfio_tui.tui.screens.run import RunScreen
from vfio_tui.tui.screens.wizard import WizardScreen
from vfio_tui.tui.widgets.iommu_tree import NodeRef


def drivers(host: Host, group: int) -> list[str | None]:
    return [d.driver for d in host.inventory().members(group)]


async def test_bind_only_then_undo_on_the_demo_host(host: Host) -> None:
    """0b:00.0 (group 19): plan, confirm, bind + verify for real, then u restores qla2xxx."""
    assert drivers(host, 19) == ["qla2xxx"]
    app = make_app(host)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, DevicesScreen)
        screen.select(NodeRef("device", 19, PciAddress.parse("0000:0b:00.0")))
        await settle(pilot, app)
        await pilot.press("p")
        await settle(pilot, app)
        assert isinstance(app.screen, WizardScreen)
        await pilot.press("enter")  # "(no VM: bind only)" is first
        await settle(pilot, app)
        plan = str(app.screen.query_one("#plan").render())
        assert "qla2xxx -> vfio-pci" in plan and "back to qla2xxx" in plan
        assert drivers(host, 19) == ["qla2xxx"], "planning changed nothing"
        await pilot.press("y", "y")
        await settle(pilot, app)
        run: object = app.screen  # not the wizard any more (mypy keeps the narrowing of app.screen)
        assert isinstance(run, RunScreen) and run.result is not None and run.result.ok, run
        assert drivers(host, 19) == ["vfio-pci"]
        await pilot.press("u")
        await settle(pilot, app)
        await pilot.press("y")
        await settle(pilot, app)
        assert drivers(host, 19) == ["qla2xxx"]


async def test_refused_plan_cannot_be_confirmed(host: Host) -> None:
    """07:00.0 has SR-IOV VFs enabled: the plan says why it is refused and y does nothing."""
    app = make_app(host)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, DevicesScreen)
        screen.select(NodeRef("device", 14, PciAddress.parse("0000:07:00.0")))
        await settle(pilot, app)
        await pilot.press("p")
        await settle(pilot, app)
        await pilot.press("enter")
        await settle(pilot, app)
        plan = str(app.screen.query_one("#plan").render())
        assert "Refused" in plan and "VF" in plan
        await pilot.press("y")
        await settle(pilot, app)
        assert isinstance(app.screen, WizardScreen)
        assert drivers(host, 14) == ["ixgbe"]


async def test_explain_the_demo_vm_log(host: Host) -> None:
    """The demo's vfio_test log explained by the real catalog: the group-13 viability cause."""
    from vfio_tui.tui.screens.explain import ExplainScreen

    app = make_app(host)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("x")
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, ExplainScreen)
        screen.query_one("#path").focus()
        await pilot.press(*"/var/log/libvirt/qemu/vfio_test.log", "enter")
        await settle(pilot, app)
        assert screen.report is not None and screen.report.findings, screen.report
        text = str(screen.query_one("#explanation").render())
        assert "viable" in text.lower() and "Fix:" in text

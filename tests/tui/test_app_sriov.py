"""The app's SR-IOV story on the demo host: a PF's VFs under it in the tree, "create VFs" with the
plan, an explicit yes, the VFs that appeared, and undo back to the previous count."""

from __future__ import annotations

from collections.abc import Callable

from textual.widgets import Input, Static

from tests.tui.tui_helpers import SIZE, settle
from vfio_tui.core.address import PciAddress
from vfio_tui.tui.app import VfioApp
from vfio_tui.tui.modals.sriov import SriovModal
from vfio_tui.tui.modals.undo import UndoModal
from vfio_tui.tui.screens.devices import DevicesScreen
from vfio_tui.tui.widgets.iommu_tree import IommuTree, NodeRef


def tree_text(app: VfioApp) -> str:
    tree = app.screen.query_one(IommuTree)
    return "\n".join(tree.rows_text())


def text_of(app: VfioApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def test_vfs_show_under_their_pf_with_vm_and_mac(make_demo_app: Callable[..., VfioApp]) -> None:
    app = make_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, DevicesScreen)
        assert screen.select(NodeRef("device", 14, PciAddress.parse("0000:07:00.0")))
        await settle(pilot, app)
        text = tree_text(app)
        assert "VF 0 07:10.0" in text and "VF 1 07:10.2" in text and "running in router" in text
        assert "(group 17)" in text and "(group 16)" in text
        detail = text_of(app, "#detail")
        assert "mac 52:54:00:6d:90:02" in detail  # the MAC is in the detail, not on the row
        assert "SR-IOV PF: 2/63 VFs enabled (autoprobe on)" in detail and "07:10.2  group 17  driver: vfio-pci" in detail and "in VM router" in detail


async def test_create_vfs_plan_confirm_undo(make_demo_app: Callable[..., VfioApp]) -> None:
    app = make_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, DevicesScreen)
        assert screen.select(NodeRef("device", 15, PciAddress.parse("0000:07:00.1")))
        await settle(pilot, app)
        await pilot.press("v")
        await settle(pilot, app)
        modal = app.screen
        assert isinstance(modal, SriovModal)
        box = modal.query_one("#count", Input)
        box.value = "2"
        await pilot.press("enter")
        await settle(pilot, app)
        plan_text = text_of(app, "#text")
        assert "0000:07:00.1 (ixgbe): 0 → 2 VFs" in plan_text and "New VFs: 0000:07:10.1, 0000:07:10.3" in plan_text
        assert "sriov_numvfs <- 2" in plan_text
        assert app.backend.inventory().devices[PciAddress.parse("0000:07:00.1")].sriov_num_vfs == 0  # not yet
        await pilot.press("y")
        await settle(pilot, app)
        done = text_of(app, "#text")
        assert "Done (run-1): 0000:07:00.1 has 2 VFs" in done and "0000:07:10.1  group 20  ixgbevf" in done
        await pilot.click("#undo")
        await settle(pilot, app)
        undo = app.screen
        assert isinstance(undo, UndoModal)
        assert "sriov_numvfs <- 0" in text_of(app, "#text")
        await pilot.press("y")
        await settle(pilot, app)
        assert "Undone (run-1): 0000:07:00.1 has 0 VFs again" in text_of(app, "#text")
        assert app.backend.inventory().devices[PciAddress.parse("0000:07:00.1")].sriov_num_vfs == 0


async def test_a_refused_plan_names_the_host_use_and_the_vm(make_demo_app: Callable[..., VfioApp]) -> None:
    app = make_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, DevicesScreen)
        assert screen.select(NodeRef("device", 17, PciAddress.parse("0000:07:10.2")))  # a VF: its PF is meant
        await settle(pilot, app)
        await pilot.press("v")
        await settle(pilot, app)
        modal = app.screen
        assert isinstance(modal, SriovModal) and modal.pf == "0000:07:00.0"
        modal.query_one("#count", Input).value = "4"
        await pilot.press("enter")
        await settle(pilot, app)
        text = text_of(app, "#text")
        assert "Refused — nothing will change" in text and "198.51.100.20" in text and "VM 'router'" in text
        assert not modal.query_one("#apply").display

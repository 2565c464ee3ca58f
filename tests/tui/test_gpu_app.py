"""The app on the single-GPU demo host: the GPU badge and the card's functions together, the only-GPU
warning and the hook plan in the wizard, and `s` planning with the display manager stopped."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from textual.widgets import Static

from tests.tui.tui_helpers import SIZE, settle
from vfio_tui.core.address import PciAddress
from vfio_tui.core.host import HostOptions
from vfio_tui.core.open_host import open_host
from vfio_tui.tui.app import VfioApp, make_app
from vfio_tui.tui.describe import device_detail
from vfio_tui.tui.rows import device_row
from vfio_tui.tui.screens.devices import DevicesScreen
from vfio_tui.tui.screens.wizard import WizardScreen
from vfio_tui.tui.widgets.iommu_tree import NodeRef


@pytest.fixture
def single_gpu_app() -> Iterator[VfioApp]:
    with open_host(HostOptions(demo=True, demo_name="single-gpu")) as host:
        app = make_app(host)
        yield app
        app.backend.close()


def test_gpu_badge_and_card_rows() -> None:
    with open_host(HostOptions(demo=True, demo_name="workstation")) as host:
        inv = host.inventory()
        nvidia = inv.devices[PciAddress.parse("01:00.0")]
        assert "[GPU ×4]" in str(device_row(inv, nvidia, {}, 200))
        ucsi = inv.devices[PciAddress.parse("01:00.3")]
        assert "[GPU 01:00.0 serial bus (UCSI)]" in str(device_row(inv, ucsi, {}, 200))
        amd = inv.devices[PciAddress.parse("02:00.0")]
        assert "[no reset]" in str(device_row(inv, amd, {}, 200))
        detail = str(device_detail(inv, nvidia, {}))
        assert "01:00.0 display, 01:00.1 audio, 01:00.2 USB, 01:00.3 serial bus (UCSI)" in detail
        assert "nvidia_drm (modeset=Y, fbdev=N)" in detail


async def test_single_gpu_wizard_warns_and_plans_with_the_display_manager_stopped(
        single_gpu_app: VfioApp) -> None:
    app = single_gpu_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, DevicesScreen)
        addr = PciAddress.parse("0a:00.0")
        assert screen.select(NodeRef("device", 11, addr))
        await settle(pilot, app)
        assert "the host's only GPU: passing it blanks this screen" in str(screen.query_one("#detail", Static).render())
        await pilot.press("p")
        await settle(pilot, app)
        wizard = app.screen
        assert isinstance(wizard, WizardScreen)
        await pilot.press("down", "enter")  # win11
        await settle(pilot, app)
        plan_text = str(wizard.query_one("#plan", Static).render())
        assert "This is the host's only GPU" in plan_text and "blanks this screen" in plan_text
        assert "vfio-tui hooks install win11" in plan_text
        assert wizard.plan is not None and not wizard.plan.ok
        await pilot.press("s")
        await settle(pilot, app)
        assert wizard.plan is not None and wizard.plan.ok, wizard.plan.refusals
        plan_text = str(wizard.query_one("#plan", Static).render())
        assert "systemctl stop gdm.service" in plan_text


async def test_the_wizard_installs_the_hook_after_showing_its_plan(single_gpu_app: VfioApp) -> None:
    """h on the refused single-GPU plan: the hook's install plan in a confirm dialog, y installs it (the same
    core call as `vfio-tui hooks install win11 --yes`), and the hook is then in the host tree."""
    from vfio_tui.core.hooks.remove import hook_status
    from vfio_tui.tui.modals.confirm import ConfirmModal

    app = single_gpu_app
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, DevicesScreen)
        assert screen.select(NodeRef("device", 11, PciAddress.parse("0a:00.0")))
        await settle(pilot, app)
        await pilot.press("p")
        await settle(pilot, app)
        wizard = app.screen
        assert isinstance(wizard, WizardScreen)
        await pilot.press("down", "enter")  # win11
        await settle(pilot, app)
        assert "Press h to install it for win11 here" in str(wizard.query_one("#plan", Static).render())
        assert not hook_status(app.backend.host)["plans"]
        await pilot.press("h")
        await settle(pilot, app)
        modal = app.screen
        assert isinstance(modal, ConfirmModal)
        body = "\n".join(str(s.render()) for s in modal.query(Static))
        assert "Plan: install the libvirt hook for win11" in body and "/etc/libvirt/hooks/qemu.d/vfio-tui" in body
        await pilot.press("y")
        await settle(pilot, app)
        plans = hook_status(app.backend.host)["plans"]
        assert [p["vm"] for p in plans] == ["win11"]

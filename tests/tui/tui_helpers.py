"""Helpers shared by the app tests."""

from __future__ import annotations

from textual.pilot import Pilot
from textual.widgets import OptionList, Static

from vfio_tui.core.address import PciAddress
from vfio_tui.tui.app import VfioApp
from vfio_tui.tui.screens.devices import DevicesScreen
from vfio_tui.tui.widgets.iommu_tree import IommuTree, NodeRef

SIZE = (100, 32)
"""The terminal size of most pilot and snapshot tests."""
SSH = (80, 24)
"""The size that matters over SSH."""


async def settle(pilot: Pilot[int], app: VfioApp) -> None:
    """Let workers finish and the screen repaint (replaces sleeps)."""
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


def screen_lines(app: VfioApp) -> list[str]:
    """The terminal as the user sees it now, one string per line (the top screen, modals included)."""
    return ["".join(segment.text for segment in strip) for strip in app.screen._compositor.render_strips()]


def screen_text(app: VfioApp) -> str:
    return "\n".join(screen_lines(app))


def static_text(app: VfioApp, selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


def options_text(app: VfioApp, selector: str) -> str:
    options = app.screen.query_one(selector, OptionList)
    return "\n".join(str(o.prompt) for o in options.options)


def tree_text(app: VfioApp) -> str:
    """The tree's rows as drawn at the test's size."""
    return "\n".join(app.screen.query_one(IommuTree).rows_text())


async def select(pilot: Pilot[int], app: VfioApp, address: str) -> None:
    """Put the tree's cursor on a device (its group opened), as the user would with the keys."""
    screen = app.screen
    assert isinstance(screen, DevicesScreen) and screen.inventory is not None
    addr = PciAddress.parse(address)
    assert screen.select(NodeRef("device", screen.inventory.devices[addr].iommu_group, addr))
    await settle(pilot, app)

"""The app with more than one host: the fleet screen fills in as hosts answer (a host that is down says
why), Enter opens a host (the tree is that host's), H goes back; a run on a named host is made by
vfio-tui there. The hosts are reached through a stand-in ssh (no network)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from textual.widgets import DataTable, OptionList, Static

from tests.remote.fake_ssh import install_fake_ssh
from tests.tui.tui_helpers import SIZE, settle
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.open_host import create_sim_host
from vfio_tui.core.remote.hosts import load_hosts, make_entry
from vfio_tui.core.simulated.demo_host import demo_snapshot
from vfio_tui.tui.app import VfioApp
from vfio_tui.tui.modals.hosts import HostSwitchModal
from vfio_tui.tui.screens.devices import DevicesScreen
from vfio_tui.tui.screens.fleet import FleetScreen


@pytest.fixture
def remote_tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HostPaths:
    install_fake_ssh(tmp_path, monkeypatch)
    tree = create_sim_host(tmp_path / "remote-tree", demo_snapshot())
    config = load_hosts()
    config.add(make_entry("rack1", "rack1", root=str(tree.root)))
    config.add(make_entry("down1", "down1"))
    config.save()
    return tree


async def test_fleet_screen_fills_in_and_opens_a_host(make_demo_app: Callable[..., VfioApp],
                                                      remote_tree: HostPaths) -> None:
    app = make_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        await pilot.press("F")
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, FleetScreen)
        assert set(screen.summaries) == {"rack1", "down1"}
        table = screen.query_one(DataTable)
        assert str(table.get_cell("down1", "Kernel")) == "DOWN"
        assert "connection refused" in str(table.get_cell("down1", "Free (whole group, no VM)"))
        assert "gpu 1" in str(table.get_cell("rack1", "Free (whole group, no VM)"))
        detail = str(screen.query_one("#fleet-detail", Static).render())
        assert "0000:0a:00.0  group 18  gpu" in detail and "with 0000:0a:00.1" in detail
        await pilot.press("f")  # class filter: gpu
        await settle(pilot, app)
        assert str(table.get_cell("rack1", "Free (whole group, no VM)")) == "gpu 1"
        await pilot.press("enter")
        await settle(pilot, app)
        assert isinstance(app.screen, DevicesScreen)
        assert app.backend.host.remote == "rack1" and app.sub_title.startswith("rack1: ")
        # Back home through the host switcher.
        await pilot.press("H")
        await settle(pilot, app)
        modal = app.screen
        assert isinstance(modal, HostSwitchModal)
        options = modal.query_one(OptionList)
        options.highlighted = 0
        await pilot.press("enter")
        await settle(pilot, app)
        assert app.backend is app.home_backend and app.backend.host.remote is None


async def test_a_run_on_a_named_host_is_made_there(make_demo_app: Callable[..., VfioApp],
                                                   remote_tree: HostPaths) -> None:
    from vfio_tui.core.steps import StepEvent
    from vfio_tui.tui.remote_backend import remote_run, remote_undo_run

    app = make_demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot, app)
        # The plan as the wizard makes it (here on the demo: same devices and VMs as the remote tree).
        plan = app.backend.plan("0000:0b:00.0", "vfio_test", start=False)
    steps: list[StepEvent] = []
    result = remote_run("rack1", plan, steps.append)
    assert result.ok and result.run_id == "run-1"
    assert {s.phase for s in steps} >= {"bind", "verify", "attach"}
    driver = remote_tree.root / "sys/bus/pci/devices/0000:0b:00.0/driver"
    assert driver.resolve().name == "vfio-pci"
    undone = remote_undo_run("rack1", "run-1", None, live=False, stop_vm=False, force=False)
    assert undone.ok, undone.error
    assert driver.resolve().name == "qla2xxx"

"""After every action that changes the host — a run, an undo, a restore, a reload after a change made
elsewhere — the tree, the detail and the status line say the same thing, and what they say is what
core reads from the host now (the real core on the demo host; nothing faked)."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path

from textual.pilot import Pilot

from tests.tui.tui_helpers import SSH, screen_text, select, settle, static_text
from vfio_tui.core.address import PciAddress
from vfio_tui.core.host import HostOptions
from vfio_tui.core.libvirt.for_host import domain_holds, hypervisor_for
from vfio_tui.core.open_host import create_sim_host, open_host
from vfio_tui.core.passthrough import plan_passthrough, run_passthrough
from vfio_tui.core.simulated.demo_host import demo_snapshot
from vfio_tui.tui.app import VfioApp, make_app
from vfio_tui.tui.modals.undo import UndoModal
from vfio_tui.tui.rows import group_state
from vfio_tui.tui.screens.devices import DevicesScreen
from vfio_tui.tui.screens.journal import JournalScreen
from vfio_tui.tui.widgets.iommu_tree import IommuTree

HBA = "0000:0b:00.0"
GROUP = 19


def assert_views_agree(app: VfioApp, address: str = HBA) -> tuple[str | None, str]:
    """The highlighted device's row, the detail and the status line agree with core's read of the
    host now; returns (driver, group state)."""
    screen = app.screen
    assert isinstance(screen, DevicesScreen), screen
    inv = app.backend.host.inventory()
    holds = domain_holds(app.backend.hypervisor())
    dev = inv.devices[PciAddress.parse(address)]
    assert dev.iommu_group is not None
    state = group_state(inv, dev.iommu_group, holds)
    tree = screen.query_one(IommuTree)
    assert tree.selected_ref() is not None and str(tree.selected_ref().address) == address  # type: ignore[union-attr]
    rows = tree.rows_text()
    row = next(r for r in rows if r.startswith(PciAddress.parse(address).short))
    group_row = next(r for r in rows if r.startswith(f"Group {dev.iommu_group} "))
    assert (dev.driver or "no driver") in row, (row, dev.driver)
    assert ("[vfio-pci]" in row) == dev.on_vfio, row
    running = [h.vm for h in holds.get(dev.address, ()) if h.active and h.live]
    assert (f"[running in {running[0]}]" in row) if running else ("[running in" not in row), row
    assert re.search(rf"Group {dev.iommu_group}\s+{re.escape(state)}\b", group_row), (group_row, state)
    detail = static_text(app, "#detail")
    assert f"driver  {dev.driver or 'none'}" in detail, detail
    assert f"group  {dev.iommu_group}: {state}" in detail, detail
    assert f"IOMMU group {dev.iommu_group}: {state}" in detail, detail
    counts = {s: 0 for s in ("ready", "bindable", "blocked", "in VM")}
    for gid in inv.groups:
        counts[group_state(inv, gid, holds)] += 1
    status = static_text(app, "#status")
    for s, n in counts.items():
        if n or s != "in VM":
            assert f"{n} {s}" in status, (status, counts)
    return dev.driver, state


async def to_devices(pilot: Pilot[int], app: VfioApp) -> None:
    while not isinstance(app.screen, DevicesScreen):
        await pilot.press("escape")
        await settle(pilot, app)


async def pass_through(pilot: Pilot[int], app: VfioApp, downs: int) -> None:
    """p on the highlighted device, the VM `downs` rows below "bind only", confirm twice."""
    await pilot.press("p")
    await settle(pilot, app)
    await pilot.press(*["down"] * downs, "enter")
    await settle(pilot, app)
    await pilot.press("y", "y")
    await settle(pilot, app)


class TestViewsAgree:
    async def test_after_run_undo_restore_and_reload(self, make_demo_app: Callable[..., VfioApp]) -> None:
        app = make_demo_app()
        async with app.run_test(size=SSH) as pilot:
            await settle(pilot, app)
            await select(pilot, app, HBA)
            assert assert_views_agree(app) == ("qla2xxx", "bindable")

            # run: pass to vfio_test and start it (hba_test, nic_test, router, vfio_test: 4 down)
            await pass_through(pilot, app, 4)
            await to_devices(pilot, app)
            assert assert_views_agree(app) == ("vfio-pci", "in VM")
            assert "passed through: vfio_test runs with it" in static_text(app, "#detail")

            # undo from the journal: the VM runs, so "stop it and undo"
            await pilot.press("u")
            await settle(pilot, app)
            assert isinstance(app.screen, JournalScreen)
            await pilot.press("u")
            await settle(pilot, app)
            await pilot.press("s")
            await settle(pilot, app)
            await to_devices(pilot, app)
            assert assert_views_agree(app) == ("qla2xxx", "bindable")

            # restore: bind only, then "Restore all" from the journal
            await pass_through(pilot, app, 0)
            await to_devices(pilot, app)
            assert assert_views_agree(app) == ("vfio-pci", "ready")
            await pilot.press("u")
            await settle(pilot, app)
            await pilot.press("R", "y")
            await settle(pilot, app)
            await to_devices(pilot, app)
            assert assert_views_agree(app) == ("qla2xxx", "bindable")

            # reload: another vfio-tui (the CLI) binds the group behind the app's back; r shows it
            host = app.backend.host
            result = run_passthrough(plan_passthrough(host, None, HBA, None))
            assert result.ok
            assert f"{HBA.removeprefix('0000:')} qla2xxx" in "\n".join(app.screen.query_one(IommuTree).rows_text())
            await pilot.press("r")
            await settle(pilot, app)
            assert assert_views_agree(app) == ("vfio-pci", "ready")

    async def test_a_device_a_running_vm_has_says_so_and_d_gives_it_back(
            self, make_demo_app: Callable[..., VfioApp]) -> None:
        """Held by a running VM: the row, the group, the detail and the status say so (never "ready:
        add it to the VM"); d opens the undo of the run that put it there, which stops the VM first."""
        app = make_demo_app()
        async with app.run_test(size=SSH) as pilot:
            await settle(pilot, app)
            plan = app.backend.plan(HBA, "vfio_test")
            assert app.backend.run(plan, lambda e: None, threading.Event()).ok
            await pilot.press("r")
            await settle(pilot, app)
            await select(pilot, app, HBA)
            text = screen_text(app)
            assert "[running in vfio_test]" in text
            detail = static_text(app, "#detail")
            assert "in VM  vfio_test (running: its QEMU has it)" in detail
            assert "add every endpoint" not in detail and "ready" not in detail
            assert "2 in VM" in static_text(app, "#status")  # the demo's router runs with 07:10.2 too
            assert "d Give back" in text
            await pilot.press("d")
            await settle(pilot, app)
            undo = app.screen
            assert isinstance(undo, UndoModal) and undo.run_id == "run-1"
            await pilot.press("s")
            await settle(pilot, app)
            await pilot.press("escape")
            await settle(pilot, app)
            assert assert_views_agree(app) == ("qla2xxx", "bindable")


async def test_vm_changes_made_in_the_app_are_kept_across_sessions(tmp_path: Path) -> None:
    """On a sim-host tree the app saves the demo VMs' state after a run, as the CLI does: the next
    session (a new app on the same tree) shows vfio_test running with the HBA, and undoes it."""
    root = tmp_path / "host"
    create_sim_host(root, demo_snapshot())
    with open_host(HostOptions(root=root)) as host:
        app = make_app(host)
        async with app.run_test(size=SSH) as pilot:
            await settle(pilot, app)
            await select(pilot, app, HBA)
            await pass_through(pilot, app, 4)
            await to_devices(pilot, app)
            assert "[running in vfio_test]" in screen_text(app)
            # Saved after the run, not only when the app closes: a CLI command run now sees it.
            with open_host(HostOptions(root=root)) as other, hypervisor_for(other) as hv:
                held = domain_holds(hv)[PciAddress.parse(HBA)]
                assert [(h.vm, h.active) for h in held] == [("vfio_test", True)]
        app.backend.close()
    with open_host(HostOptions(root=root)) as host:
        app = make_app(host)
        async with app.run_test(size=SSH) as pilot:
            await settle(pilot, app)
            await select(pilot, app, HBA)
            assert assert_views_agree(app) == ("vfio-pci", "in VM")
            await pilot.press("d")
            await settle(pilot, app)
            await pilot.press("s")
            await settle(pilot, app)
            await pilot.press("escape")
            await settle(pilot, app)
            assert assert_views_agree(app) == ("qla2xxx", "bindable")
        app.backend.close()

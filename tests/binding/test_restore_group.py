"""`vfio-tui restore ADDR` undoes the whole bind run that ADDR was part of (lab finding: it put back
only ADDR and left the rest of the group on vfio-pci, half bound)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from tests.binding.bind_helpers import host_state, journal_files
from vfio_tui.core.binding import apply_plan, plan_bind, restore
from vfio_tui.core.host import Host

Run = Callable[..., Any]


def test_restore_one_function_of_group_13_gives_back_both(make_host: Callable[..., Host], run_cli: Run) -> None:
    host = make_host()
    before = host_state(host.paths)
    root = str(host.paths.root)
    proc = run_cli("bind", "0000:02:00.0", "--yes", "--root", root)
    assert proc.returncode == 0, proc.stderr
    assert "Undo: vfio-tui restore 0000:02:00.0" in proc.stdout
    proc = run_cli("restore", "0000:02:00.0", "--root", root)
    assert proc.returncode == 0, proc.stderr
    # every device put back is listed, not only the one named
    assert "0000:02:00.0: back on igb" in proc.stdout
    assert "0000:02:00.1: back on igb" in proc.stdout
    assert host_state(host.paths) == before
    assert journal_files(host.paths) == []


def test_restore_the_other_function_also_undoes_the_whole_run(make_host: Callable[..., Host], run_cli: Run) -> None:
    host = make_host()
    before = host_state(host.paths)
    root = str(host.paths.root)
    assert run_cli("bind", "02:00.0", "--yes", "--root", root).returncode == 0
    proc = run_cli("restore", "02:00.1", "--json", "--root", root)
    assert proc.returncode == 0, proc.stderr
    restored = {r["address"]: r["driver"] for r in json.loads(proc.stdout)["restored"]}
    assert restored == {"0000:02:00.0": "igb", "0000:02:00.1": "igb"}
    assert host_state(host.paths) == before


def test_group_8_with_forced_devices_and_bridges_comes_back_whole(make_host: Callable[..., Host],
                                                                  run_cli: Run) -> None:
    host = make_host()
    before = host_state(host.paths)
    root = str(host.paths.root)
    proc = run_cli("bind", "04:00.0", "--yes", "--force-host-device", "0000:03:00.0",
                   "--force-host-device", "0000:05:00.1", "--root", root)
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("restore", "0000:04:00.0", "--json", "--root", root)
    assert proc.returncode == 0, proc.stderr
    restored = {r["address"] for r in json.loads(proc.stdout)["restored"]}
    assert {"0000:03:00.0", "0000:04:00.0", "0000:05:00.1"} <= restored
    assert host_state(host.paths) == before
    assert journal_files(host.paths) == []


def test_restore_leaves_other_runs_alone(make_host: Callable[..., Host]) -> None:
    host = make_host()
    apply_plan(host, plan_bind(host, "02:00.0"), timeout=2)
    apply_plan(host, plan_bind(host, "0b:00.0"), timeout=2)
    result = restore(host, ["02:00.1"], timeout=2)
    assert {a for a, _ in result.restored} == {"0000:02:00.0", "0000:02:00.1"}
    drivers = {str(d.address): d.driver for d in host.inventory().devices.values()}
    assert drivers["0000:0b:00.0"] == "vfio-pci"
    assert len(journal_files(host.paths)) == 1


def test_restore_persist_drops_the_rules_of_the_whole_run(make_host: Callable[..., Host], run_cli: Run) -> None:
    host = make_host()
    root = str(host.paths.root)
    assert run_cli("bind", "02:00.0", "--yes", "--persist", "--root", root).returncode == 0
    proc = run_cli("restore", "02:00.0", "--persist", "--root", root)
    assert proc.returncode == 0, proc.stderr
    assert not host.paths.under("/etc/udev/rules.d/61-vfio-tui.rules").exists()

"""Fault injection: every write of a plan fails in turn (EIO, EBUSY, EINVAL, ENODEV, a hang), and the
process is killed before/after every write; after rollback or `restore --all` the host is exactly as
before. The counters at the bottom report how many injection points ran and how many lost state."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.binding.bind_helpers import host_state, journal_files, set_faults
from vfio_tui.core.binding import BindFailedError, apply_plan, pending_recovery, plan_bind, restore
from vfio_tui.core.host import Host

REPO = Path(__file__).resolve().parents[2]
FORCE_8 = ("0000:03:00.0", "0000:05:00.1")
CASES: list[tuple[str, tuple[str, ...]]] = [("0000:0b:00.0", ()), ("0000:02:00.0", ()), ("0000:04:00.0", FORCE_8)]
FAULTS: list[dict[str, Any]] = [{"errno": errno.EIO}, {"errno": errno.EBUSY}, {"errno": errno.EINVAL},
                                {"errno": errno.ENODEV}, {"hang": 5}]
COUNT = {"points": 0, "lost": 0}


@pytest.mark.slow
@pytest.mark.parametrize(("target", "force"), CASES)
@pytest.mark.parametrize("fault", FAULTS, ids=["EIO", "EBUSY", "EINVAL", "ENODEV", "hang"])
def test_each_write_failing_in_turn_rolls_back_everything(
        make_host: Callable[..., Host], target: str, force: tuple[str, ...], fault: dict[str, Any]) -> None:
    host = make_host()
    before = host_state(host.paths)
    n = len(plan_bind(host, target, force_host_devices=force).steps)
    for k in range(1, n + 1):
        plan = plan_bind(host, target, force_host_devices=force)
        set_faults(host, {"match": "*", "nth": k, **fault})
        with pytest.raises(BindFailedError) as info:
            apply_plan(host, plan, timeout=0.05)
        COUNT["points"] += 1
        assert f"step {k}/{n}" in str(info.value) and "rolled back" in str(info.value)
        if host_state(host.paths) != before or journal_files(host.paths):
            COUNT["lost"] += 1
        assert host_state(host.paths) == before
        assert journal_files(host.paths) == []


def test_a_probe_that_silently_fails_is_caught_by_verify_and_rolled_back(make_host: Callable[..., Host]) -> None:
    host = make_host()
    before = host_state(host.paths)
    plan = plan_bind(host, "02:00.0")
    set_faults(host, {"match": "drivers_probe", "nth": 2, "silent": True})
    with pytest.raises(BindFailedError, match=r"verification failed: 0000:02:00\.1 is on no driver"):
        apply_plan(host, plan)
    assert host_state(host.paths) == before


def test_cancel_rolls_back(make_host: Callable[..., Host]) -> None:
    host = make_host()
    before = host_state(host.paths)
    plan = plan_bind(host, "02:00.0")
    done: list[str] = []
    with pytest.raises(BindFailedError, match="cancelled before step 4/6"):
        apply_plan(host, plan, on_step=lambda e: done.append(e.state), cancel=lambda: done.count("done") >= 3)
    assert host_state(host.paths) == before


def test_a_hung_unbind_of_an_open_group_is_abandoned_and_restore_finishes_later(
        make_host: Callable[..., Host]) -> None:
    host = make_host()
    before = host_state(host.paths)
    apply_plan(host, plan_bind(host, "0b:00.0"))
    set_faults(host, open_groups=[19])  # a "VM" holds /dev/vfio/19
    result = restore(host, all=True, timeout=0.1)
    assert not result.ok and "did not return within" in result.failed[0][1]
    assert journal_files(host.paths)  # kept, so the restore can be finished
    set_faults(host, open_groups=[])
    assert restore(host, all=True).ok
    assert host_state(host.paths) == before


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vfio_tui", *args], capture_output=True, text=True, cwd=REPO,
                          timeout=60, check=False)


KILL_CASES = [("0000:0b:00.0", (), "before"), ("0000:0b:00.0", (), "after"),
              ("0000:02:00.0", (), "before"), ("0000:02:00.0", (), "after"), ("0000:04:00.0", FORCE_8, "after")]


@pytest.mark.slow
@pytest.mark.parametrize(("target", "force", "when"), KILL_CASES)
def test_kill_9_after_each_step_then_restore_all(
        make_host: Callable[..., Host], target: str, force: tuple[str, ...], when: str) -> None:
    host = make_host()
    before = host_state(host.paths)
    n = len(plan_bind(host, target, force_host_devices=force).steps)
    forced = [a for f in force for a in ("--force-host-device", f)]
    for k in range(1, n + 1):
        set_faults(host, {"match": "*", "nth": k, "kill": when})
        proc = _cli("bind", target, "--yes", "--root", str(host.paths.root), *forced)
        assert proc.returncode == -9, proc.stderr
        COUNT["points"] += 1
        assert len(pending_recovery(host)) == 1
        if k == 1:  # the next start of any command offers the restore
            notice = _cli("inventory", "--root", str(host.paths.root)).stderr
            assert "interrupted" in notice and "restore --all" in notice
            refused = _cli("bind", "0b:00.0", "--yes", "--root", str(host.paths.root))
            assert refused.returncode == 2 and "restore --all" in refused.stderr
        assert restore(host, all=True).ok
        if host_state(host.paths) != before or journal_files(host.paths):
            COUNT["lost"] += 1
        assert host_state(host.paths) == before
        assert journal_files(host.paths) == []


def test_kill_9_during_the_rollback_is_recovered_too(make_host: Callable[..., Host]) -> None:
    host = make_host()
    before = host_state(host.paths)
    # step 5 fails with EIO; the process dies at the second rollback write
    set_faults(host, {"match": "*", "nth": 5, "errno": errno.EIO}, {"match": "*", "nth": 7, "kill": "before"})
    proc = _cli("bind", "02:00.0", "--yes", "--root", str(host.paths.root))
    assert proc.returncode == -9
    COUNT["points"] += 1
    assert restore(host, all=True).ok
    assert host_state(host.paths) == before


def test_report_injection_points(capsys: pytest.CaptureFixture[str]) -> None:
    """Prints the totals (run with -s to see them); nothing may be lost."""
    with capsys.disabled():
        print(f"\ninjection points run: {COUNT['points']}, lost: {COUNT['lost']}\n{json.dumps(COUNT)}")
    assert COUNT["lost"] == 0

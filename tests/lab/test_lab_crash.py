"""Case 4: `vfio-tui bind` SIGKILLed between any two of its kernel writes, then `vfio-tui restore
--all` puts the host back exactly (driver and raw driver_override bytes of every device).

crash_after.py counts the sysfs writes of a full bind, then kills a fresh bind just after each
of them in turn (and once just before the first, when only the journal exists), on the real kernel.
"""

from __future__ import annotations

import re
from pathlib import Path

import kview
import pytest
from conftest import Cli, need_command, note
from kinds import BRIDGE_GROUP, LONE, MULTIFUNCTION, Case

Bindings = dict[str, tuple[str | None, bytes]]
CRASH = str(Path(__file__).resolve().parent / "crash_after.py")


def _pick(cases: dict[str, Case | None]) -> Case:
    for kind in (MULTIFUNCTION, BRIDGE_GROUP, LONE):
        case = cases.get(kind)
        if case is not None:
            return case
    pytest.skip("topology has no bindable group")


def _diff(before: Bindings) -> dict[str, tuple[object, object]]:
    after = kview.bindings()
    return {a: (before.get(a), v) for a, v in after.items() if before.get(a) != v}


def test_killed_bind_is_restored_exactly(vt: Cli, cases: dict[str, Case | None],
                                         host_as_before: Bindings) -> None:
    case = _pick(cases)
    need_command("bind", "restore")
    before = host_as_before

    res = vt.python(CRASH, "count", "0", "bind", case.target, "--yes")
    assert res.returncode == 0, res.stderr
    m = re.search(r"SYSFS-WRITES (\d+)", res.stderr)
    assert m, "crash_after.py saw no sysfs write: does the engine write through core.kernel.LiveKernel?"
    n = int(m.group(1))
    assert n >= 2 * len(case.endpoints), res.stderr
    res = vt("restore", "--all")
    assert res.returncode == 0 and not _diff(before), (res.stderr, _diff(before))

    lost: list[str] = []
    offered = None
    # after each write; and once before the first (journalled, nothing done yet)
    points = [("before", 1)] + [("after", k) for k in range(1, n + 1)]
    for mode, k in points:
        res = vt.python(CRASH, mode, str(k), "bind", case.target, "--yes")
        if res.returncode != -9:
            lost.append(f"{mode} write {k}: bind was not killed (exit {res.returncode}): {res.stderr[-300:]}")
        if offered is None and mode == "after":
            # the next start of any command notices the interrupted run and offers restore
            nxt = vt("inventory")
            offered = "restore" in (nxt.stderr + nxt.stdout).lower()
        res = vt("restore", "--all")
        diff = _diff(before)
        if res.returncode != 0 or diff:
            lost.append(f"{mode} write {k}: restore exit {res.returncode}, differences {diff}:"
                        f" {res.stderr[-300:]}")
            for addr in diff:
                kview.raw_restore(addr)
    assert not lost, "\n".join(lost)
    assert offered, "after a killed bind, the next `vfio-tui inventory` did not offer `vfio-tui restore`"
    note(f"crash recovery on group {case.group}: {len(points)} kill points (SIGKILL after each of the"
         f" {n} sysfs writes of a bind, and before the first), 0 lost")

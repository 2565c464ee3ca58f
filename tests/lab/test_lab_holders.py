"""Restore and a process holding the group, on the real kernel.

`vfio-tui restore` learns that nobody holds a group from the kernel itself: /dev/vfio/N is
exclusive (vfio_group_fops_open answers EBUSY while another file has it open), so one open that
succeeds stands in for a scan of every process's fds. Here a process holds the group open: the
open must fail, restore must refuse before any write and name the process, and once the
process lets go the open must succeed and restore put the device back.
"""

from __future__ import annotations

import subprocess
import sys
import time

import kview
from conftest import Cli, need, need_command, note
from kinds import LONE, Case

HOLD = "import os, sys, time; fd = os.open(sys.argv[1], os.O_RDWR); print('open', flush=True); time.sleep(600)"


def test_restore_refuses_while_a_process_holds_the_group(cases: dict[str, Case | None], vt: Cli,
                                                         host_as_before: dict[str, tuple[str | None, bytes]]) -> None:
    case = need(cases, LONE)
    need_command("bind", "restore")
    from vfio_tui.core.holders import group_node_unopened
    from vfio_tui.core.hostpaths import HostPaths

    paths = HostPaths()
    res = vt("bind", case.target, "--yes")
    assert res.returncode == 0, res.stderr + res.stdout
    assert group_node_unopened(paths, case.group), \
        f"/dev/vfio/{case.group} does not open as the kernel's group node though nobody holds it"
    from vfio_tui.core.holders import open_by

    node = f"/dev/vfio/{case.group}"
    t0 = time.perf_counter()
    for _ in range(20):
        group_node_unopened(paths, case.group)
    t_open = (time.perf_counter() - t0) / 20
    t0 = time.perf_counter()
    for _ in range(20):
        open_by(paths, {node: []})
    t_scan = (time.perf_counter() - t0) / 20
    note(f"nobody holds group {case.group}: the kernel's open says so in {t_open * 1000:.2f} ms,"
         f" the /proc/*/fd scan in {t_scan * 1000:.2f} ms")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, f"/dev/vfio/{case.group}"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        assert not group_node_unopened(paths, case.group), "the group opened twice: it is not exclusive"
        t0 = time.monotonic()
        res = vt("restore", case.target)
        refused_in = time.monotonic() - t0
        assert res.returncode != 0, res.stdout
        assert f"(pid {holder.pid}) has /dev/vfio/{case.group} open" in res.stderr, res.stderr
        assert kview.bindings()[case.target][0] == "vfio-pci", "restore wrote although the group is held"
    finally:
        holder.kill()
        holder.wait()
    assert group_node_unopened(paths, case.group), "the group stays busy after its holder exited"
    res = vt("restore", case.target)
    assert res.returncode == 0, res.stderr + res.stdout
    note(f"restore of {case.target} refused while pid held /dev/vfio/{case.group} ({refused_in:.2f} s),"
         " then put it back")

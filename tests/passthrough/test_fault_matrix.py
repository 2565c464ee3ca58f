"""The fault matrix over the whole transaction: a sysfs write fails, libvirt's define or start fails,
the undo's detach fails, and the process is killed after every step — afterwards `undo` brings the
host AND the domain back. The counters are printed (points, restored, lost = 0)."""

from __future__ import annotations

import errno
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cli_env
from tests.passthrough.state import domains_state, host_state
from vfio_tui.core.host import Host, HostOptions
from vfio_tui.core.libvirt.connection import Hypervisor
from vfio_tui.core.libvirt.for_host import hypervisor_for
from vfio_tui.core.open_host import open_host
from vfio_tui.core.passthrough import list_runs, plan_passthrough, run_passthrough, undo_passthrough
from vfio_tui.core.simulated.kernel import SimulatedKernel

HERE = Path(__file__).resolve().parent
COUNT = {"points": 0, "restored": 0, "lost": 0}
Session = Callable[[], tuple[Host, Hypervisor]]


def _record(ok: bool) -> None:
    COUNT["points"] += 1
    COUNT["restored" if ok else "lost"] += 1


def _snapshot(tree: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    with open_host(HostOptions(root=tree)) as host, hypervisor_for(host) as hv:
        return host_state(host), domains_state(hv)


class _Failing:
    """The test driver's connection (or a domain of it) with one libvirt call failing, as libvirtd can."""

    def __init__(self, inner: Any, lv: Any, method: str) -> None:
        self._inner, self._lv, self._method = inner, lv, method

    def __getattr__(self, name: str) -> Any:
        if name == self._method:
            def fail(*_: Any, **__: Any) -> Any:
                raise self._lv.libvirtError(f"simulated libvirt failure in {name}")
            return fail
        value = getattr(self._inner, name)
        if name in ("lookupByName",):
            return lambda *a: _Failing(value(*a), self._lv, self._method)
        return value


def _failing(hv: Hypervisor, method: str) -> Hypervisor:
    return Hypervisor(_Failing(hv.conn, hv.libvirt, method), hv.uri, demo=hv.demo, state_file=hv.state_file)


@pytest.mark.parametrize("method", ["defineXML", "create"])
def test_libvirt_failing_during_the_run_then_undo(session: Session, method: str) -> None:
    host, hv = session()
    before = host_state(host), domains_state(hv)
    result = run_passthrough(plan_passthrough(host, _failing(hv, method), "0000:0b:00.0", "vfio_test", "config",
                                              True))
    assert not result.ok and result.failed_phase == ("attach" if method == "defineXML" else "start")
    assert "simulated libvirt failure" in result.error
    undone = undo_passthrough(host, hv, None)
    _record(undone.ok and (host_state(host), domains_state(hv)) == before)
    assert undone.ok and (host_state(host), domains_state(hv)) == before


def test_detach_failing_during_undo_then_undo_again(session: Session) -> None:
    host, hv = session()
    before = host_state(host), domains_state(hv)
    assert run_passthrough(plan_passthrough(host, hv, "0000:0b:00.0", "vfio_test")).ok
    first = undo_passthrough(host, _failing(hv, "defineXML"), None)
    assert not first.ok and "simulated libvirt failure" in first.error
    assert first.left == ("0000:0b:00.0 in vfio_test", "0000:0b:00.0 on vfio-pci")
    again = undo_passthrough(host, hv, None)
    _record(again.ok and (host_state(host), domains_state(hv)) == before)
    assert again.ok and (host_state(host), domains_state(hv)) == before


@pytest.mark.parametrize("fault", [{"errno": errno.EIO}, {"errno": errno.EBUSY}, {"errno": errno.ENODEV},
                                   {"hang": 5}], ids=["EIO", "EBUSY", "ENODEV", "hang"])
def test_each_write_of_the_run_failing(session: Session, fault: dict[str, Any]) -> None:
    host, hv = session()
    before = host_state(host), domains_state(hv)
    n = len(plan_passthrough(host, hv, "0000:02:00.0", None).bind.steps)
    kernel = host.kernel
    assert isinstance(kernel, SimulatedKernel)
    for k in range(1, n + 1):
        kernel.update_metadata(faults=[{"match": "*", "nth": k, **fault}])
        result = run_passthrough(plan_passthrough(host, hv, "0000:02:00.0", None), timeout=0.2)
        ok = not result.ok and result.failed_phase == "bind" and (host_state(host), domains_state(hv)) == before
        _record(ok)
        assert ok, (k, result)
    assert {r.status for r in list_runs(host)} == {"rolled-back"}


@pytest.mark.slow
def test_kill_9_after_every_step_then_undo_puts_everything_back(tree: Path) -> None:
    env = cli_env()
    args = ["pass", "0000:0b:00.0", "vfio_test", "--root", str(tree), "--start", "--yes"]
    before = _snapshot(tree)
    count = subprocess.run([sys.executable, str(HERE / "kill_after.py"), "0", *args], capture_output=True, text=True,
                           env=env, timeout=120, check=False)
    assert count.returncode == 0, count.stderr
    total = int(count.stderr.rsplit("EVENTS ", 1)[1].split()[0])
    undo = [sys.executable, "-m", "vfio_tui", "undo", "--root", str(tree), "--stop-vm", "--yes"]
    assert subprocess.run(undo, capture_output=True, text=True, env=env, timeout=120, check=False).returncode == 0
    assert _snapshot(tree) == before
    assert total >= 15
    for n in range(1, total + 1):
        killed = subprocess.run([sys.executable, str(HERE / "kill_after.py"), str(n), *args], capture_output=True,
                                text=True, env=env, timeout=120, check=False)
        assert killed.returncode == -9, (n, killed.stderr)
        back = subprocess.run(undo, capture_output=True, text=True, env=env, timeout=120, check=False)
        ok = back.returncode == 0 and _snapshot(tree) == before
        _record(ok)
        assert ok, (n, back.stdout, back.stderr)


def test_zz_print_counts() -> None:
    """Runs last in this file: the numbers of the fault matrix (lost must be 0)."""
    print(f"\ntransaction fault matrix: {json.dumps(COUNT)}")
    assert COUNT["lost"] == 0

"""The collector a host without vfio-tui runs: standard library only (run with `python3 -I -S`, no
site-packages), and the same recording `vfio-tui snapshot` makes — on a sim-host tree and, read-only,
on this machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import cli_env
from tests.fixture_paths import REPO_ROOT
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.livefacts import ProcFacts
from vfio_tui.core.remote.bundle import carried_modules, collector_source
from vfio_tui.core.remote.collect import SIM_METADATA
from vfio_tui.core.simulated.materialize import SIM_METADATA as MATERIALIZED_METADATA
from vfio_tui.core.usage_live import PsutilFacts

SYSTEM_PYTHON = "/usr/bin/python3"


def _collect(*args: str) -> dict[str, Any]:
    python = SYSTEM_PYTHON if os.path.exists(SYSTEM_PYTHON) else sys.executable
    res = subprocess.run([python, "-I", "-S", "-", *args], input=collector_source(), capture_output=True,
                         text=True, timeout=120, check=False, cwd="/")
    assert res.returncode == 0, res.stderr
    data = json.loads(res.stdout)
    assert isinstance(data, dict)
    return data


def _snapshot(*args: str) -> dict[str, Any]:
    res = subprocess.run([sys.executable, "-m", "vfio_tui", "snapshot", "-", *args], capture_output=True, text=True,
                         timeout=120, check=True, cwd=REPO_ROOT, env=cli_env())
    data = json.loads(res.stdout)
    assert isinstance(data, dict)
    return data


def _comparable(snap: dict[str, Any]) -> dict[str, Any]:
    out = dict(snap)
    out.pop("taken_at")
    extras = dict(out.get("vfio_tui") or {})
    extras.pop("vm_devices", None)  # from libvirt, which only vfio-tui itself asks
    files = dict(extras.get("files") or {})
    files.pop("/proc/interrupts", None)  # live: changes between the two reads
    extras["files"] = files
    out["vfio_tui"] = extras
    return out


def test_the_collector_carries_only_core_and_runs_without_site_packages(sim_root: HostPaths) -> None:
    assert all(name in ("vfio_tui", "vfio_tui.core") or name.startswith("vfio_tui.core.") for name in carried_modules())
    assert "vfio_tui.core.simulated" not in carried_modules() and "vfio_tui.core.libvirt" not in carried_modules()
    assert len(collector_source()) < 64 * 1024
    assert _collect("--root", str(sim_root.root))["schema"] == "vfio-lab-sysfs-snapshot/1"


def test_same_recording_as_vfio_tui_on_a_sim_host_tree(sim_root: HostPaths) -> None:
    assert _comparable(_collect("--root", str(sim_root.root))) == _comparable(_snapshot("--root", str(sim_root.root)))
    assert SIM_METADATA == MATERIALIZED_METADATA


def test_same_recording_as_vfio_tui_on_this_machine_read_only() -> None:
    collected = _comparable(_collect())
    recorded = _comparable(_snapshot())
    for key in ("sessions",):  # TCP sessions come and go between the two reads
        collected["vfio_tui"].pop(key, None)
        recorded["vfio_tui"].pop(key, None)
    assert collected == recorded


def test_stdlib_facts_are_psutils() -> None:
    live, stdlib = PsutilFacts(), ProcFacts(HostPaths(Path("/")))
    assert stdlib.mounts() == live.mounts()
    assert stdlib.addresses() == live.addresses()
    assert stdlib.up() == live.up()


def test_collector_refuses_what_it_cannot_do(tmp_path: Path) -> None:
    python = SYSTEM_PYTHON if os.path.exists(SYSTEM_PYTHON) else sys.executable
    for args, words in ((["--demo"], "needs vfio-tui"), (["--root", str(tmp_path / "nope")], "not a directory"),
                        (["--bogus"], "unknown argument")):
        res = subprocess.run([python, "-I", "-S", "-", *args], input=collector_source(), capture_output=True,
                             text=True, timeout=60, check=False)
        assert res.returncode == 2 and words in res.stderr and "Traceback" not in res.stderr
        assert res.stderr.count("\n") == 1


@pytest.mark.parametrize("version", [(3, 9), (3, 10)])
def test_an_old_python_is_named(version: tuple[int, int]) -> None:
    from vfio_tui.core.remote.fetch import _VERSION_GUARD

    fake = f"import sys\nsys.version_info = {(*version, 0, 'final', 0)!r}\n"
    res = subprocess.run([sys.executable, "-I", "-"], input=fake + _VERSION_GUARD, capture_output=True, text=True,
                         timeout=30, check=False)
    assert res.returncode == 3 and f"python3 on this host is {version[0]}.{version[1]}" in res.stderr


def test_collector_reads_hostdevs_from_domain_xml() -> None:
    from vfio_tui.core.remote.collect import hostdev_addresses

    demo = (REPO_ROOT / "core" / "data" / "demo-libvirt.xml").read_text()
    found = set(hostdev_addresses(demo))  # the test driver's file holds every demo domain
    assert {"0000:07:10.2", "0000:02:00.0"} <= found
    assert hostdev_addresses("<domain><devices><hostdev mode='subsystem' type='usb'/></devices></domain>") == []
    assert hostdev_addresses("not xml <") == []


def test_the_collector_is_built_once_when_every_fleet_thread_asks_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """`fleet` fetches each bare host in its own thread: the program is built by one of them (CPython 3.11's
    ast.parse() is not thread-safe: two at once can fail with "AST constructor recursion depth mismatch")."""
    import threading
    import time

    from vfio_tui.core.remote import bundle

    built: list[int] = []
    real = bundle.carried_modules

    def slow_carried(entry: str = bundle.ENTRY) -> dict[str, tuple[bool, str]]:
        built.append(threading.get_ident())
        time.sleep(0.05)  # long enough for every other thread to ask meanwhile
        return real(entry)

    monkeypatch.setattr(bundle, "carried_modules", slow_carried)
    bundle._collector_source.cache_clear()
    start = threading.Barrier(6)
    programs: list[str] = []

    def ask() -> None:
        start.wait()
        programs.append(bundle.collector_source())

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bundle._collector_source.cache_clear()
    assert len(built) == 1 and len(programs) == 6 and len(set(programs)) == 1

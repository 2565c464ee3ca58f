"""The fleet's facts from one host, and the parallel read with hosts that answer, fail or hang — through a
stand-in `ssh` (VFIO_TUI_SSH) that runs the command here, so no network or sshd is needed."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.remote.fake_ssh import install_fake_ssh
from vfio_tui.core.fleet import device_class, fleet_json, free_devices, read_fleet, summarize
from vfio_tui.core.host import Host
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.remote.hosts import make_entry


@pytest.fixture
def fake_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return install_fake_ssh(tmp_path, monkeypatch)


def test_demo_summary(demo_host: Host) -> None:
    s = summarize(demo_host, "host192", "local")
    assert s.ok and s.kernel == "6.1.0-28-amd64" and s.iommu and s.iommu_units == ("dmar0",)
    assert s.groups == 20 and s.functions == 40
    assert s.free_by_class() == {"gpu": 1, "nic": 2, "hba": 1, "usb": 2, "audio": 1, "other": 4}
    assert {"address": "0000:07:10.2", "vm": "router", "state": "running"} in s.held
    assert {"address": "0000:02:00.0", "vm": "nic_test", "state": "shut off"} in s.assigned
    assert s.interrupt_remapping == "on"
    assert s.failing_checks == ()
    data = fleet_json([s], "gpu")
    assert [d["address"] for d in data["hosts"][0]["free"]["devices"]] == ["0000:0a:00.0"]


def test_unknown_is_never_free(demo_host: Host) -> None:
    inv = demo_host.inventory()
    assert free_devices(inv, None) == []  # VM holds not recorded
    from dataclasses import replace

    assert free_devices(replace(inv, host_use_known=False), {}) == []
    assert free_devices(replace(inv, iommu_enabled=False), {}) == []
    classes = {device_class(d) for d in inv}
    assert {"gpu", "nic", "hba", "usb", "audio", "other"} <= classes


def test_fleet_reads_in_parallel_and_keeps_going_past_failures(fake_ssh: Path, sim_root: HostPaths) -> None:
    entries = [make_entry("a", "a", root=str(sim_root.root)), make_entry("down", "down1"),
               make_entry("b", "b", root=str(sim_root.root), collector=True),
               make_entry("slow", "slow1"), make_entry("missing", "m", root=str(fake_ssh / "nope"))]
    started = time.monotonic()
    seen: list[str] = []
    out = read_fleet(entries, timeout=5, on_host=lambda s: seen.append(s.name))
    assert time.monotonic() - started < 25  # in parallel, the slow host cut at its timeout
    assert [s.name for s in out] == ["a", "down", "b", "slow", "missing"]
    assert sorted(seen) == sorted(s.name for s in out)
    by = {s.name: s for s in out}
    assert by["a"].ok and by["a"].reader == "vfio-tui" and by["a"].groups == 20
    assert by["b"].ok and by["b"].reader == "collector"
    assert by["down"].error_kind == "unreachable" and "connection refused" in (by["down"].error or "")
    assert by["slow"].error_kind == "timeout" and "did not answer within 5 s" in (by["slow"].error or "")
    assert by["missing"].error_kind == "remote" and "could not record the host" in (by["missing"].error or "")
    text = json.dumps(fleet_json(out))
    assert "Traceback" not in text


def test_the_last_snapshot_is_kept_privately(fake_ssh: Path, sim_root: HostPaths) -> None:
    from vfio_tui.core.remote.fetch import fetch_snapshot

    got = fetch_snapshot(make_entry("a", "a", root=str(sim_root.root)))
    assert got.path == fake_ssh / "cache" / "vfio-tui" / "hosts" / "a.json"
    assert got.path.stat().st_mode & 0o777 == 0o600
    assert got.node and got.reader == "vfio-tui" and got.remote_vfio_tui == str(fake_ssh / "bin" / "vfio-tui")


def test_a_host_that_sends_junk_is_a_data_error(fake_ssh: Path) -> None:
    from vfio_tui.core.errors import HostDataError
    from vfio_tui.core.remote.fetch import fetch_snapshot

    junk = fake_ssh / "bin" / "vfio-tui"
    junk.write_text('#!/bin/sh\necho \'{"schema": "something else"}\'\n')
    with pytest.raises(HostDataError, match="sent a recording vfio-tui cannot use"):
        fetch_snapshot(make_entry("j", "j", root="/x"))


def test_remote_pass_and_undo_as_cores_types(fake_ssh: Path, sim_root: HostPaths) -> None:
    from vfio_tui.core.remote.transaction import remote_pass, remote_undo
    from vfio_tui.core.steps import StepEvent

    entry = make_entry("a", "a", root=str(sim_root.root))
    steps: list[StepEvent] = []
    run, explanation = remote_pass(entry, "0b:00.0", "vfio_test", steps.append, start=True)
    assert run.ok and run.run_id == "run-1" and run.done == ("bind", "verify", "attach", "start")
    assert explanation is None
    assert any(s.phase == "bind" and s.state == "done" for s in steps)
    assert (sim_root.root / "sys/bus/pci/devices/0000:0b:00.0/driver").resolve().name == "vfio-pci"
    refused = remote_undo(entry, "run-1")
    assert not refused.ok and "vfio_test" in refused.error  # running: stop it first, says the host
    undone = remote_undo(entry, "run-1", steps.append, stop_vm=True)
    assert undone.ok, undone.error
    assert (sim_root.root / "sys/bus/pci/devices/0000:0b:00.0/driver").resolve().name == "qla2xxx"
    no, _ = remote_pass(entry, "03:00.0", "vfio_test")
    assert not no.ok and no.failed_phase == "plan" and "refused on a:" in no.error

"""`vfio-tui bind` / `restore` as a user runs them: JSON contract, guard refusals, bad input, lock, persist."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.binding.bind_helpers import host_state, journal_files, lab_snapshot
from vfio_tui.core.binding.journal import writer_lock
from vfio_tui.core.host import Host
from vfio_tui.core.simulated.kernel import SimulatedKernel

Run = Callable[..., Any]


def one_line_error(proc: Any) -> str:
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return str(lines[0])


def test_json_plan_has_the_contract_keys(make_host: Callable[..., Host], run_cli: Run) -> None:
    host = make_host()
    proc = run_cli("bind", "0b:00.0", "--dry-run", "--json", "--root", str(host.paths.root))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["group"] == 19
    assert doc["devices"] == [{"address": "0000:0b:00.0", "from_driver": "qla2xxx", "to_driver": "vfio-pci",
                               "from_override": None, "is_bridge": False, "note": ""}]
    assert [(w["path"], w["value"]) for w in doc["writes"]] == [
        ("/sys/bus/pci/devices/0000:0b:00.0/driver_override", "vfio-pci"),
        ("/sys/bus/pci/devices/0000:0b:00.0/driver/unbind", "0000:0b:00.0"),
        ("/sys/bus/pci/drivers_probe", "0000:0b:00.0")]
    assert doc["refused"] == []


def test_guard_refuses_ssh_nic_and_console_vga_with_reasons(make_host: Callable[..., Host], run_cli: Run) -> None:
    host = make_host()
    before = host_state(host.paths)
    proc = run_cli("bind", "04:00.0", "--yes", "--json", "--root", str(host.paths.root))
    assert proc.returncode == 3
    refused = {r["address"]: r["reason"] for r in json.loads(proc.stdout)["refused"]}
    assert set(refused) == {"0000:03:00.0", "0000:05:00.1"}
    assert "SSH session" in refused["0000:03:00.0"] and "default route" in refused["0000:03:00.0"]
    assert "fbcon" in refused["0000:05:00.1"]
    # forcing one device lifts that one refusal only
    proc = run_cli("bind", "04:00.0", "--yes", "--json", "--force-host-device", "0000:03:00.0",
                   "--root", str(host.paths.root))
    assert proc.returncode == 3
    doc = json.loads(proc.stdout)
    assert [r["address"] for r in doc["refused"]] == ["0000:05:00.1"]
    assert doc["forced"] == ["0000:03:00.0"]
    assert host_state(host.paths) == before


def test_guard_refuses_root_disk_controller_and_keyboard_usb(make_host: Callable[..., Host], run_cli: Run) -> None:
    host = make_host()
    for addr, words in (("01:00.0", ("mount: / (ext4)", "swap")), ("00:1d.1", ("keyboard",))):
        proc = run_cli("bind", addr, "--dry-run", "--root", str(host.paths.root))
        assert proc.returncode == 3
        assert all(w in proc.stdout for w in words), proc.stdout
        assert "fix:" in proc.stdout


def test_forced_bind_says_so_loudly_and_works(make_host: Callable[..., Host], run_cli: Run) -> None:
    host = make_host()
    proc = run_cli("bind", "01:00.0", "--yes", "--force-host-device", "01:00.0", "--root", str(host.paths.root))
    assert proc.returncode == 0, proc.stderr
    assert "WARNING: --force-host-device 0000:01:00.0: the host is using it" in proc.stdout


def test_inventory_demo_shows_host_use_and_blocks_those_groups(run_cli: Run) -> None:
    doc = json.loads(run_cli("inventory", "--demo", "--json").stdout)
    groups = {g["id"]: g for g in doc["groups"]}
    uses = {d["address"]: d["host_use"] for g in doc["groups"] for d in g["devices"]}
    for addr, gid in (("0000:01:00.0", 12), ("0000:03:00.0", 8), ("0000:05:00.1", 8), ("0000:00:1d.0", 9)):
        assert uses[addr], addr
        assert groups[gid]["verdict"] == "blocked"
    assert groups[19]["verdict"] == "bindable"


def _broken_hosts(make_host: Callable[..., Host]) -> dict[str, tuple[Host, list[str]]]:
    demo = make_host(name="demo")
    nogroup = make_host(name="nogroup")
    (nogroup.paths.pci_device("0000:0b:00.0") / "iommu_group").unlink()
    novfio = make_host(name="novfio")
    shutil.rmtree(novfio.paths.pci_driver("vfio-pci"))
    shutil.rmtree(novfio.paths.module("vfio_pci"))
    kernel = novfio.kernel
    assert isinstance(kernel, SimulatedKernel)
    kernel.update_metadata(modules_available=["vfio", "kvm"])
    noiommu = make_host(lab_snapshot("host-firecracker-noiommu"), name="noiommu")
    return {
        "malformed": (demo, ["bind", "zz:zz.9"]),
        "unknown": (demo, ["bind", "0000:0c:00.0"]),
        "bridge": (demo, ["bind", "00:1c.0"]),
        "no group": (nogroup, ["bind", "0b:00.0"]),
        "iommu off": (noiommu, ["bind", "00:01.0"]),
        "no vfio-pci": (novfio, ["bind", "0b:00.0"]),
        "force outside group": (demo, ["bind", "0b:00.0", "--force-host-device", "01:00.0"]),
        "restore nothing": (demo, ["restore"]),
        "restore unknown": (demo, ["restore", "0000:0b:00.0"]),
    }


EXPECT = {"malformed": "not a PCI address", "unknown": "no PCI device", "bridge": "is a bridge",
          "no group": "no IOMMU group", "iommu off": "IOMMU is off", "no vfio-pci": "vfio-pci is not available",
          "force outside group": "not in IOMMU group", "restore nothing": "say which devices",
          "restore unknown": "no record"}


def test_bad_input_is_one_line_exit_2_nothing_written(make_host: Callable[..., Host], run_cli: Run) -> None:
    for name, (host, args) in _broken_hosts(make_host).items():
        before = host_state(host.paths)
        proc = run_cli(*args, "--yes", "--root", str(host.paths.root)) if args[0] == "bind" else \
            run_cli(*args, "--root", str(host.paths.root))
        assert proc.returncode == 2, (name, proc.stdout, proc.stderr)
        assert EXPECT[name] in one_line_error(proc), (name, proc.stderr)
        assert host_state(host.paths) == before, name
        assert journal_files(host.paths) == []


def test_corrupted_journal_is_one_line_exit_2_nothing_written(make_host: Callable[..., Host], run_cli: Run) -> None:
    host = make_host()
    jdir = host.paths.state_dir / "journal"
    jdir.mkdir(parents=True)
    (jdir / "20260101T000000.000000001-1-g19.applied.json").write_text('{"schema": "vfio-tui/bind-jour')
    before = host_state(host.paths)
    for args in (["bind", "0b:00.0", "--yes"], ["restore", "--all"]):
        proc = run_cli(*args, "--root", str(host.paths.root))
        assert proc.returncode == 2
        assert "corrupted vfio-tui journal" in one_line_error(proc)
        assert host_state(host.paths) == before


def test_without_yes_and_without_a_tty_nothing_changes(make_host: Callable[..., Host], run_cli: Run) -> None:
    host = make_host()
    before = host_state(host.paths)
    proc = run_cli("bind", "0b:00.0", "--root", str(host.paths.root), stdin="y\n")
    assert proc.returncode == 2 and "without --yes" in proc.stderr
    assert "driver_override <- vfio-pci" in proc.stdout  # the plan was still shown
    assert host_state(host.paths) == before


def test_second_writer_is_refused_naming_the_holder(make_host: Callable[..., Host], run_cli: Run) -> None:
    host = make_host()
    before = host_state(host.paths)
    with writer_lock(host.paths, "bind group 13"):
        proc = run_cli("bind", "0b:00.0", "--yes", "--root", str(host.paths.root))
    assert proc.returncode == 2
    line = one_line_error(proc)
    assert f"pid {os.getpid()}" in line and "bind group 13" in line
    assert host_state(host.paths) == before


def test_not_root_on_a_live_host_lists_the_writes(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import vfio_tui.core.binding.apply
    from vfio_tui.tui.cli import main

    monkeypatch.setattr(vfio_tui.core.binding.apply, "needs_root", lambda host: True)
    assert main(["bind", "0b:00.0", "--yes", "--demo"]) == 2
    out = capsys.readouterr()
    assert "needs root for: /sys/bus/pci/devices/0000:0b:00.0/driver_override <- vfio-pci;" in out.err
    assert "/sys/bus/pci/drivers_probe <- 0000:0b:00.0" in out.err
    assert "Plan: bind IOMMU group 19" in out.out


def test_persist_by_address_with_backup_and_removal(make_host: Callable[..., Host], run_cli: Run) -> None:
    host = make_host()
    conf = host.paths.under("/etc/modprobe.d/vfio-tui.conf")
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text("# an admin's old line\nsoftdep igb pre: vfio-pci\n")
    proc = run_cli("bind", "02:00.0", "--yes", "--persist", "--root", str(host.paths.root))
    assert proc.returncode == 0, proc.stderr
    assert "--- /dev/null\n+++ b/etc/udev/rules.d/61-vfio-tui.rules" in proc.stdout
    rules = host.paths.under("/etc/udev/rules.d/61-vfio-tui.rules").read_text()
    assert 'KERNEL=="0000:02:00.0"' in rules and 'KERNEL=="0000:02:00.1"' in rules
    everything = rules + conf.read_text()
    assert "ids" not in everything.replace("# vfio-tui", "")  # never vfio-pci.ids
    assert list((host.paths.state_dir / "config" / "backups").iterdir())
    assert "config_journal" not in proc.stdout  # text mode; the journal id is in --json
    proc = run_cli("restore", "--all", "--persist", "--root", str(host.paths.root))
    assert proc.returncode == 0, proc.stderr
    assert not host.paths.under("/etc/udev/rules.d/61-vfio-tui.rules").exists()
    assert not conf.exists()


def test_snapshot_of_the_demo_records_host_usage(run_cli: Run, tmp_path: Path) -> None:
    out = tmp_path / "demo.json"
    assert run_cli("snapshot", str(out), "--demo").returncode == 0
    extras = json.loads(out.read_text())["vfio_tui"]
    assert extras["sessions"][0]["dev"] == "eno1"
    assert {m["target"] for m in extras["mounts"]} >= {"/", "/boot"}

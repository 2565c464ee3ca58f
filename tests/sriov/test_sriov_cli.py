"""`vfio-tui sriov` and `vfio-tui undo` of an SR-IOV change, as a user types them, on a simulated host tree
(the demo: 82599 PF 07:00.0 with 2 VFs, its address 198.51.100.20 and the running router VM on VF 07:10.2;
its sister port 07:00.1 with none)."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.open_host import create_sim_host
from vfio_tui.core.simulated.demo_host import demo_snapshot
from vfio_tui.core.simulated.kernel import SimulatedKernel

Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "host"
    create_sim_host(root, demo_snapshot())
    return root


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def vfs(run_cli: Run, tree: Path, pf: str) -> list[dict[str, object]]:
    p = run_cli("sriov", pf, "--root", str(tree), "--json")
    assert p.returncode == 0, p.stderr
    status = lines(p.stdout)[0]
    sriov = status["sriov"]
    assert isinstance(sriov, dict)
    return list(sriov["vfs"])


def test_status_lists_the_vfs_with_their_nic_settings_and_vm(run_cli: Run, tree: Path) -> None:
    p = run_cli("sriov", "07:00.0", "--root", str(tree))
    assert p.returncode == 0, p.stderr
    assert "SR-IOV PF: 2/63 VFs enabled (autoprobe on), netdev enp7s0f0" in p.stdout
    assert "VF 1: 07:10.2  group 17  driver: vfio-pci  mac 52:54:00:6d:90:02  vlan 42" in p.stdout
    assert "held by VM router (running)" in p.stdout


def test_a_pf_the_host_and_a_vm_use_is_refused_naming_them(run_cli: Run, tree: Path) -> None:
    p = run_cli("sriov", "07:00.0", "--vfs", "4", "--root", str(tree), "--yes")
    assert p.returncode == 3
    assert "enp7s0f0 has 198.51.100.20/24" in p.stdout and "makes the PF driver reconfigure the PF" in p.stdout
    assert "0000:07:10.2: in use by VM 'router' (running)" in p.stdout
    assert p.stderr.startswith("vfio-tui: refused: 0000:07:00.0: used by the host")
    assert len(vfs(run_cli, tree, "07:00.0")) == 2


@pytest.mark.parametrize(("args", "rc", "text"), [
    (("07:00.1", "--vfs", "64"), 3, "64 VFs asked, the PF offers 63 (sriov_totalvfs)"),
    (("07:10.0", "--vfs", "1"), 2, "0000:07:10.0 is a VF of 0000:07:00.0: the number of VFs is set on the PF"),
    (("0b:00.0", "--vfs", "1"), 2, "has no SR-IOV capability"),
    (("07:00.1", "--vfs", "-1"), 2, "give a number of VFs from 0 to 65535"),
    (("07:00.1", "--persist"), 2, "go with --vfs N"),
])
def test_bad_requests(run_cli: Run, tree: Path, args: tuple[str, ...], rc: int, text: str) -> None:
    p = run_cli("sriov", *args, "--root", str(tree), "--yes")
    assert p.returncode == rc, p.stdout + p.stderr
    assert text in p.stdout + p.stderr


def test_create_verify_and_undo_back_to_zero(run_cli: Run, tree: Path) -> None:
    p = run_cli("sriov", "07:00.1", "--vfs", "2", "--root", str(tree), "--yes", "--json")
    assert p.returncode == 0, p.stderr
    events = lines(p.stdout)
    plan = events[0]["plan"]
    assert isinstance(plan, dict) and plan["new_vfs"] == ["0000:07:10.1", "0000:07:10.3"]
    result = events[-1]
    assert result["event"] == "result" and result["run_id"] == "run-1"
    made = result["vfs"]
    assert isinstance(made, list)
    assert [(v["address"], v["iommu_group"], v["driver"]) for v in made] == [
        ("0000:07:10.1", 20, "ixgbevf"), ("0000:07:10.3", 21, "ixgbevf")]
    inv = json.loads(run_cli("inventory", "--root", str(tree), "--json").stdout)
    assert 20 in [g["id"] for g in inv["groups"]]
    listed = run_cli("undo", "--list", "--root", str(tree))
    assert "run-1: SR-IOV 0000:07:00.1: 0 → 2 VFs; done" in listed.stdout
    u = run_cli("undo", "--root", str(tree), "--yes")
    assert u.returncode == 0, u.stdout + u.stderr
    assert "Undone (run-1): 0000:07:00.1 has 0 VFs again" in u.stdout
    assert vfs(run_cli, tree, "07:00.1") == []


def test_a_new_count_goes_through_zero_and_autoprobe_off_keeps_drivers_off(run_cli: Run, tree: Path) -> None:
    assert run_cli("sriov", "07:00.1", "--vfs", "2", "--root", str(tree), "--yes").returncode == 0
    p = run_cli("sriov", "07:00.1", "--vfs", "3", "--autoprobe", "off", "--root", str(tree), "--yes")
    assert p.returncode == 0, p.stdout + p.stderr
    steps = [line for line in p.stdout.splitlines() if line.lstrip()[:3] in ("1. ", "2. ", "3. ")]
    assert [s.split("<-")[1].split()[0] for s in steps] == ["0", "0", "3"]
    assert "sriov_numvfs <- 0" in steps[0] and "sriov_drivers_autoprobe <- 0" in steps[1]
    assert [v["driver"] for v in vfs(run_cli, tree, "07:00.1")] == [None, None, None]
    assert run_cli("undo", "run-2", "--root", str(tree), "--yes").returncode == 0
    assert [v["driver"] for v in vfs(run_cli, tree, "07:00.1")] == ["ixgbevf", "ixgbevf"]  # 2, autoprobe on again


def test_a_failed_write_rolls_back_to_the_previous_count(run_cli: Run, tree: Path) -> None:
    assert run_cli("sriov", "07:00.1", "--vfs", "2", "--root", str(tree), "--yes").returncode == 0
    # The write of 3 fails (as sriov_enable() does without MMIO space: -ENOMEM).
    SimulatedKernel(HostPaths(tree)).update_metadata(faults=[{"match": "sriov_numvfs", "nth": 2, "errno": 12}])
    p = run_cli("sriov", "07:00.1", "--vfs", "3", "--root", str(tree), "--yes")
    assert p.returncode == 2
    assert "Cannot allocate memory" in p.stderr and "rolled back: 0000:07:00.1 has 2 VFs again" in p.stderr
    assert len(vfs(run_cli, tree, "07:00.1")) == 2
    assert "run-2: SR-IOV 0000:07:00.1: 2 → 3 VFs; rolled-back" in run_cli("undo", "--list", "--root", str(tree)).stdout


def test_kill_9_between_the_writes_then_undo(run_cli: Run, tree: Path) -> None:
    assert run_cli("sriov", "07:00.1", "--vfs", "2", "--root", str(tree), "--yes").returncode == 0
    # SIGKILL right before the write of 3: the VFs are gone, the count is 0, the run says "running".
    SimulatedKernel(HostPaths(tree)).update_metadata(faults=[{"match": "sriov_numvfs", "nth": 2, "kill": "before"}])
    p = run_cli("sriov", "07:00.1", "--vfs", "3", "--root", str(tree), "--yes")
    assert p.returncode == -9
    n = run_cli("inventory", "--root", str(tree), "--group", "15")
    assert "notice: SR-IOV change run-2 (SR-IOV 0000:07:00.1: 2 → 3 VFs) was cut short" in n.stderr
    assert f"run `vfio-tui undo run-2 --root {tree}` to put it back" in n.stderr
    assert vfs(run_cli, tree, "07:00.1") == []
    u = run_cli("undo", "run-2", "--root", str(tree), "--yes")
    assert u.returncode == 0, u.stdout + u.stderr
    assert [v["address"] for v in vfs(run_cli, tree, "07:00.1")] == ["0000:07:10.1", "0000:07:10.3"]
    assert "notice" not in run_cli("inventory", "--root", str(tree), "--group", "15").stderr


def test_undo_refuses_while_a_vf_is_in_another_run(run_cli: Run, tree: Path) -> None:
    assert run_cli("sriov", "07:00.1", "--vfs", "2", "--root", str(tree), "--yes").returncode == 0
    p = run_cli("pass", "07:10.1", "vfio_test", "--root", str(tree), "--start", "--yes")
    assert p.returncode == 0, p.stdout + p.stderr
    u = run_cli("undo", "run-1", "--root", str(tree), "--yes")
    assert u.returncode == 3
    assert "0000:07:10.1: in use by VM 'vfio_test' (running)" in u.stderr
    s = run_cli("sriov", "07:00.1", "--vfs", "0", "--root", str(tree), "--yes")
    # The hint names the same host (--root DIR) so it can be pasted as it is.
    assert s.returncode == 3 and re.search(r"vfio-tui undo (--root \S+ )?run-2 first", s.stdout), s.stdout
    assert run_cli("undo", "run-2", "--root", str(tree), "--stop-vm", "--yes").returncode == 0
    assert run_cli("undo", "run-1", "--root", str(tree), "--yes").returncode == 0


def test_persist_writes_a_udev_rule_by_address_and_undo_takes_it_out(run_cli: Run, tree: Path) -> None:
    p = run_cli("sriov", "07:00.1", "--vfs", "2", "--autoprobe", "off", "--persist", "--root", str(tree), "--yes")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "+++ b/etc/udev/rules.d/61-vfio-tui-sriov.rules" in p.stdout  # shown as a diff first
    rules = (tree / "etc/udev/rules.d/61-vfio-tui-sriov.rules").read_text()
    assert ('ACTION=="bind", SUBSYSTEM=="pci", KERNEL=="0000:07:00.1", ATTR{sriov_drivers_autoprobe}="0", '
            'ATTR{sriov_numvfs}="2"') in rules
    assert run_cli("undo", "--root", str(tree), "--yes").returncode == 0
    assert not (tree / "etc/udev/rules.d/61-vfio-tui-sriov.rules").exists()


def test_a_vfio_pci_pf_needs_enable_sriov(run_cli: Run, tree: Path) -> None:
    assert run_cli("bind", "07:00.1", "--root", str(tree), "--yes").returncode == 0
    p = run_cli("sriov", "07:00.1", "--vfs", "1", "--root", str(tree), "--yes")
    assert p.returncode == 3
    assert "vfio_pci.enable_sriov=Y" in p.stdout and "VF token" in p.stdout


def test_attach_a_nic_vf_as_interface_with_mac_and_vlan(run_cli: Run, tree: Path) -> None:
    p = run_cli("attach", "07:10.0", "vfio_test", "--root", str(tree), "--mac", "52:54:00:11:22:33", "--vlan", "42",
                "--dry-run")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "+    <interface type='hostdev' managed='yes'>" in p.stdout
    assert "+      <mac address='52:54:00:11:22:33'/>" in p.stdout and "+        <tag id='42'/>" in p.stdout


@pytest.mark.parametrize(("args", "rc", "text"), [
    (("0b:00.0", "vfio_test", "--as-interface"), 3, "is not an SR-IOV VF"),
    (("07:10.0", "vfio_test", "--mac", "53:54:00:11:22:33"), 2, "a multicast address"),
    (("07:10.0", "vfio_test", "--vlan", "4095"), 2, "a VLAN id is 1 to 4094"),
    (("07:10.0", "vfio_test", "--mac", "52:54:00:11:22"), 2, "give six hex bytes"),
])
def test_attach_as_interface_refusals(run_cli: Run, tree: Path, args: tuple[str, ...], rc: int, text: str) -> None:
    p = run_cli("attach", *args, "--root", str(tree), "--dry-run")
    assert p.returncode == rc, p.stdout + p.stderr
    assert text in p.stdout + p.stderr


def test_undo_of_an_sriov_change_needs_no_libvirt(run_cli: Run, tree: Path) -> None:
    """The lab guest has no libvirtd: undo of an SR-IOV run must not stop at the connection."""
    assert run_cli("sriov", "07:00.1", "--vfs", "1", "--root", str(tree), "--yes").returncode == 0
    nowhere = "qemu+unix:///system?socket=/nonexistent/libvirt-sock"
    u = run_cli("undo", "--root", str(tree), "--connect", nowhere, "--yes")
    assert u.returncode == 0, u.stdout + u.stderr
    assert "Undone (run-1): 0000:07:00.1 has 0 VFs again" in u.stdout


def test_nothing_to_do_still_ends_with_a_result_event(run_cli: Run, tree: Path) -> None:
    p = run_cli("sriov", "07:00.0", "--vfs", "2", "--root", str(tree), "--yes", "--json")
    assert p.returncode == 0, p.stderr
    events = lines(p.stdout)
    assert [e["event"] for e in events] == ["plan", "result"]
    assert events[-1]["run_id"] is None and events[-1]["nothing_to_do"] is True


def test_autoprobe_alone_is_a_change_with_its_undo(run_cli: Run, tree: Path) -> None:
    """`--autoprobe off --yes` without --vfs keeps the count and changes only the autoprobe (the lab's NVMe
    case turns it back on this way after the VFs' secondary controllers are online)."""
    p = run_cli("sriov", "07:00.1", "--autoprobe", "off", "--root", str(tree), "--yes", "--json")
    assert p.returncode == 0, p.stderr + p.stdout
    status = lines(run_cli("sriov", "07:00.1", "--root", str(tree), "--json").stdout)[0]["sriov"]
    assert isinstance(status, dict) and status["drivers_autoprobe"] is False and status["enabled_vfs"] == 0
    u = run_cli("undo", "--root", str(tree), "--yes")
    assert u.returncode == 0, u.stderr + u.stdout
    status = lines(run_cli("sriov", "07:00.1", "--root", str(tree), "--json").stdout)[0]["sriov"]
    assert isinstance(status, dict) and status["drivers_autoprobe"] is True

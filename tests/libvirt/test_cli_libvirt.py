"""The libvirt commands as a user runs them (subprocesses on the demo hypervisor)."""

from __future__ import annotations

import json
from typing import Any

import pytest

Run = Any


def test_vms_json_contract(run_cli: Run) -> None:
    proc = run_cli("vms", "--demo", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    vms = {v["name"]: v for v in data["vms"]}
    assert vms["router"]["state"] == "running" and vms["router"]["hostdevs"] == ["0000:07:10.2"]
    assert vms["router"]["hostdev_details"][0]["group"] == 17
    assert vms["vfio_test"] == {**vms["vfio_test"], "state": "shut off", "hostdevs": []}


def test_vms_text_shows_groups(run_cli: Run) -> None:
    proc = run_cli("vms", "--demo")
    assert proc.returncode == 0
    assert "router" in proc.stdout and "0000:07:10.2 (group 17, managed)" in proc.stdout


def test_hostdev_xml_is_the_seed_element(run_cli: Run) -> None:
    proc = run_cli("hostdev-xml", "0000:0b:00.0")
    assert proc.returncode == 0
    assert proc.stdout == (
        "<hostdev mode='subsystem' type='pci' managed='yes'>\n  <driver name='vfio'/>\n  <source>\n"
        "    <address domain='0x0000' bus='0x0b' slot='0x00' function='0x0'/>\n  </source>\n</hostdev>\n")


def test_hostdev_xml_all_functions(run_cli: Run) -> None:
    proc = run_cli("hostdev-xml", "0a:00.0", "--all-functions", "--demo", "--managed", "no", "--rom-bar", "off",
                   "--guest-slot", "05:00")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("<hostdev mode='subsystem' type='pci' managed='no'>") == 2
    assert "bus='0x05' slot='0x00' function='0x1'" in proc.stdout and "multifunction='on'" in proc.stdout


def test_attach_dry_run_prints_the_diff_and_changes_nothing(run_cli: Run) -> None:
    proc = run_cli("attach", "0000:0b:00.0", "vfio_test", "--demo", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    assert "--- Original XML\n+++ Altered XML" in proc.stdout
    assert "+        <address domain='0x0000' bus='0x0b' slot='0x00' function='0x0'/>" in proc.stdout
    assert "dry run: nothing was changed" in proc.stdout


def test_attach_and_start_reports_each_step(run_cli: Run) -> None:
    proc = run_cli("attach", "0000:0b:00.0", "vfio_test", "--demo", "--start")
    assert proc.returncode == 0, proc.stderr
    assert "[  ok] define vfio_test with the edited XML" in proc.stdout
    assert "[  ok] start vfio_test" in proc.stdout


def test_attach_json(run_cli: Run) -> None:
    proc = run_cli("attach", "0000:0a:00.0", "win10", "--demo", "--json")
    data = json.loads(proc.stdout)
    assert data["applied"] is True and data["plan"]["hostdevs"] == ["0000:0a:00.0", "0000:0a:00.1"]


def test_attach_of_a_group_another_vm_holds_is_refused(run_cli: Run) -> None:
    # nic_test (demo) has 0000:02:00.0 in its definition: the group goes to one VM only.
    proc = run_cli("attach", "0000:02:00.1", "vfio_test", "--demo")
    assert proc.returncode == 3
    assert "problem: 0000:02:00.0 is assigned to VM 'nic_test' (shut off)" in proc.stdout


def test_attach_conflict_is_refused_with_exit_3(run_cli: Run) -> None:
    proc = run_cli("attach", "0000:07:10.2", "vfio_test", "--demo")
    assert proc.returncode == 3
    assert "problem: 0000:07:10.2 is assigned to VM 'router' (running)" in proc.stdout
    assert "nothing was changed" in proc.stderr


def test_detach(run_cli: Run) -> None:
    proc = run_cli("detach", "0000:07:10.2", "router", "--demo", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["detached"] == ["0000:07:10.2"]


def test_watch_times_out_on_the_demo(run_cli: Run) -> None:
    proc = run_cli("watch", "router", "--demo", "--timeout", "0.5")
    assert proc.returncode == 1 and "router did not stop" in proc.stdout


@pytest.mark.parametrize(("args", "expected"), [
    (("attach", "0000:0b:00.0", "nope", "--demo"), "no VM named 'nope'"),
    (("vms", "--connect", "garbage"), "not a libvirt URI"),
    (("vms", "--connect", "foo+bar://"), "cannot connect to foo+bar://"),
    (("vms", "--connect", "qemu:///system?socket=/nonexistent/libvirt-sock"), "start the libvirt daemon"),
    (("attach", "0000:0b:00.x", "vfio_test", "--demo"), "not a PCI address"),
    (("hostdev-xml", "zz:00.0"), "not a PCI address"),
    (("attach", "0000:0c:00.0", "vfio_test", "--demo"), "no PCI device 0000:0c:00.0"),
    (("detach", "0000:0b:00.0", "vfio_test", "--demo"), "has no hostdev 0000:0b:00.0"),
])
def test_bad_input_is_one_line_exit_2(run_cli: Run, args: tuple[str, ...], expected: str) -> None:
    proc = run_cli(*args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], proc.stderr
    assert "libvirt:" not in proc.stderr  # libvirt's own stderr printer is silenced


def test_no_daemon_on_the_default_uri(run_cli: Run) -> None:
    import os

    if os.path.exists("/run/libvirt/libvirt-sock") or os.path.exists("/var/run/libvirt/libvirt-sock"):
        pytest.skip("a libvirtd is running on this machine")
    proc = run_cli("vms")
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "start the libvirt daemon" in proc.stderr


def test_a_sim_host_tree_keeps_the_demo_vms_between_commands(run_cli: Run, sim_root: Any) -> None:
    root = str(sim_root.root)
    assert run_cli("attach", "0000:0b:00.0", "vfio_test", "--root", root).returncode == 0
    data = json.loads(run_cli("vms", "--root", root, "--json").stdout)
    assert {v["name"]: v["hostdevs"] for v in data["vms"]}["vfio_test"] == ["0000:0b:00.0"]
    again = run_cli("attach", "0000:0b:00.0", "vfio_test", "--root", root)
    assert again.returncode == 3 and "already in VM 'vfio_test'" in again.stdout
    assert run_cli("detach", "0000:0b:00.0", "vfio_test", "--root", root).returncode == 0
    data = json.loads(run_cli("vms", "--root", root, "--json").stdout)
    assert {v["name"]: v["hostdevs"] for v in data["vms"]}["vfio_test"] == []


def test_hostdev_xml_uses_a_free_slot_of_the_vm(run_cli: Run) -> None:
    proc = run_cli("hostdev-xml", "0000:0a:00.1", "--all-functions", "--vm", "vfio_test", "--demo")
    assert proc.returncode == 0, proc.stderr
    # vfio_test's root ports 5 and 6 are free: the card goes to port 5, functions 0 and 1
    assert "bus='0x05' slot='0x00' function='0x0' multifunction='on'" in proc.stdout
    assert "bus='0x05' slot='0x00' function='0x1'" in proc.stdout


def test_seed_flow_bind_then_attach_unmanaged_and_start(run_cli: Run, sim_root: Any) -> None:
    root = str(sim_root.root)
    refused = run_cli("attach", "0000:0b:00.0", "vfio_test", "--managed", "no", "--root", root)
    assert refused.returncode == 3 and "vfio-tui bind 0000:0b:00.0" in refused.stdout
    assert run_cli("bind", "0000:0b:00.0", "--yes", "--root", root).returncode == 0
    proc = run_cli("attach", "0000:0b:00.0", "vfio_test", "--managed", "no", "--start", "--root", root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "managed='no'" in proc.stdout and "[  ok] start vfio_test" in proc.stdout
    data = json.loads(run_cli("vms", "--root", root, "--json").stdout)
    (vm,) = [v for v in data["vms"] if v["name"] == "vfio_test"]
    assert vm["state"] == "running" and vm["hostdev_details"][0]["driver"] == "vfio-pci"
    assert vm["hostdev_details"][0]["managed"] is False

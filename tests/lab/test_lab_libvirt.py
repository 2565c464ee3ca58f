"""Case 6: vfio-tui + a private libvirtd + nested QEMU in the lab guest (../shared/lab step 5).

guest_run.sh starts libvirtd (lib-libvirt.sh's lv_start) before pytest and stops it after;
these tests define a tiny TCG domain, attach a hostdev with managed yes and no, start it,
destroy it, detach, and give the device back; a start that cannot work is explained.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import kview
import pytest
from conftest import Cli, has_command, need, need_command, note
from kinds import BRIDGE_GROUP, LONE, MULTIFUNCTION, Case

VIRSH = ["virsh", "-c", "qemu:///system"]
Bindings = dict[str, tuple[str | None, bytes]]


def virsh(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*VIRSH, *args], capture_output=True, text=True, timeout=timeout, check=False)


def _libvirt_merged() -> None:
    need_command("attach", "detach", "vms")
    if shutil.which("virsh") is None:
        pytest.skip("virsh is not installed")
    if virsh("version", timeout=30).returncode != 0:
        pytest.skip("no libvirtd in the guest (run_lab.py --no-libvirt, or libvirt is not installed)")


_names = iter(range(1, 100))


@pytest.fixture
def domain() -> Iterator[str]:
    """A defined, shut-off TCG domain of its own (lib-libvirt.sh's lv_domain_xml).

    A fresh name per test: `explain --vm` reads the domain's QEMU log, which outlives undefine.
    """
    _libvirt_merged()
    name = f"labvm{next(_names)}"
    xml = subprocess.run(["bash", "-c", f". /lab/lib.sh; . /lab/lib-libvirt.sh; lv_domain_xml {name}"],
                         capture_output=True, text=True, check=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
        f.write(xml)
    try:
        res = virsh("define", f.name)
        assert res.returncode == 0, res.stderr
        yield name
    finally:
        virsh("destroy", name)
        virsh("undefine", name)
        Path(f.name).unlink()


def _state(vm: str) -> str:
    return virsh("domstate", vm).stdout.strip()


def _hostdevs(vt: Cli, name: str) -> list[str]:
    data = vt.json("vms", "--json")
    for vm in data["vms"]:
        if vm["name"] == name:
            return list(vm["hostdevs"])
    raise AssertionError(f"`vfio-tui vms --json` does not list {name}: {data}")


def _give_back(before: Bindings) -> None:
    for addr, value in kview.bindings().items():
        if before.get(addr) != value:
            kview.raw_restore(addr)


def test_managed_yes_attach_start_destroy_detach(vt: Cli, cases: dict[str, Case | None], domain: str,
                                                 host_as_before: Bindings) -> None:
    case = need(cases, LONE)
    t0 = time.monotonic()
    res = vt("attach", case.target, domain, "--config", "--managed", "yes", "--start", timeout=300)
    t_start = time.monotonic() - t0
    try:
        assert res.returncode == 0, res.stderr + res.stdout
        assert _state(domain) == "running"
        assert kview.bindings()[case.target][0] == "vfio-pci", "libvirt (managed=yes) did not bind vfio-pci"
        assert case.target in _hostdevs(vt, domain)
        assert virsh("destroy", domain).returncode == 0
        assert kview.wait_for(lambda: kview.bindings()[case.target] == host_as_before[case.target], timeout=20), \
            "managed=yes: libvirt did not give the device back after destroy"
        res = vt("detach", case.target, domain)
        assert res.returncode == 0, res.stderr
        assert case.target not in _hostdevs(vt, domain)
        note(f"libvirt managed=yes: attach --config --start of {case.target} in {t_start:.1f} s; given back")
    finally:
        virsh("destroy", domain)
        _give_back(host_as_before)


def test_managed_no_after_vfio_tui_bind(vt: Cli, cases: dict[str, Case | None], domain: str,
                                        host_as_before: Bindings) -> None:
    case = need(cases, LONE)
    need_command("bind", "restore")
    try:
        assert vt("bind", case.target, "--yes").returncode == 0
        res = vt("attach", case.target, domain, "--config", "--managed", "no", "--start", timeout=300)
        assert res.returncode == 0, res.stderr + res.stdout
        assert _state(domain) == "running"
        assert virsh("destroy", domain).returncode == 0
        assert kview.bindings()[case.target][0] == "vfio-pci", "managed=no: the device must stay on vfio-pci"
        assert vt("detach", case.target, domain).returncode == 0
        res = vt("restore", case.target)
        assert res.returncode == 0, res.stderr
        assert kview.bindings() == host_as_before
    finally:
        virsh("destroy", domain)
        _give_back(host_as_before)


def _explanation(vt: Cli, vm: str) -> str:
    need_command("explain")
    res = vt("explain", "--vm", vm, "--json")
    assert res.returncode in (0, 1), res.stderr
    return json.dumps(json.loads(res.stdout)).lower()


def test_start_of_a_not_viable_group_is_explained(vt: Cli, cases: dict[str, Case | None], domain: str,
                                                  host_as_before: Bindings) -> None:
    case = next((c for k in (BRIDGE_GROUP, MULTIFUNCTION) if (c := cases.get(k)) and len(c.endpoints) >= 2),
                None)
    if case is None:
        pytest.skip("topology has no group with two endpoints")
    one = case.endpoints[0]
    hostdev = subprocess.run(["bash", "-c", f". /lab/lib.sh; . /lab/lib-libvirt.sh; lv_hostdev_xml {one} yes"],
                             capture_output=True, text=True, check=True).stdout
    with tempfile.NamedTemporaryFile("w", suffix=".xml", delete=False) as f:
        f.write(hostdev)
    try:
        # by hand, as a user would with virsh: one function of a shared group
        assert virsh("attach-device", domain, f.name, "--config").returncode == 0
        start = virsh("start", domain)
        assert start.returncode != 0, "the kernel started a domain with half a group?"
        assert "not viable" in start.stderr, start.stderr
        if not has_command("explain"):
            note(f"libvirt start with half of group {case.group}: '{start.stderr.strip().splitlines()[-1]}'")
        text = _explanation(vt, domain)
        assert "viable" in text and str(case.group) in text, text[:500]
        note(f"explain: start of {domain} with half of group {case.group} explained")
    finally:
        virsh("detach-device", domain, f.name, "--config")
        Path(f.name).unlink()
        _give_back(host_as_before)


def test_start_without_vfio_modules(vt: Cli, cases: dict[str, Case | None], domain: str,
                                   host_as_before: Bindings) -> None:
    """vfio modules unloaded: libvirt 9.0 would say "host doesn't support VFIO PCI passthrough".

    vfio-tui either loads vfio-pci itself before the start (and the domain runs), or the start
    fails and `explain --vm` (from the failure record `attach --start` keeps) says to load it.
    """
    case = need(cases, LONE)
    for addr, (drv, _) in kview.bindings().items():
        if drv == "vfio-pci":
            pytest.skip(f"{addr} is on vfio-pci: cannot unload vfio-pci")
    subprocess.run(["modprobe", "-r", "vfio_pci", "vfio_iommu_type1", "vfio"], check=False)
    if Path("/dev/vfio/vfio").exists():
        pytest.skip("could not unload the vfio modules")
    try:
        res = vt("attach", case.target, domain, "--config", "--managed", "yes", "--start", timeout=300)
        text = res.stdout + res.stderr
        if res.returncode == 0:
            assert _state(domain) == "running"
            assert Path("/sys/module/vfio_pci").exists()
            note("libvirt start with vfio modules unloaded: vfio-tui loaded vfio-pci first; the domain runs")
        else:
            assert "VFIO PCI passthrough" in text, text[-800:]  # libvirt's own words, in the failure record
            explained = _explanation(vt, domain)
            assert "modprobe" in explained and "vfio" in explained, explained[:800]
            note(f"libvirt start with vfio modules unloaded: `attach --start` exit {res.returncode}"
                 " (vfio-tui does not load vfio-pci first); `explain --vm` says to modprobe vfio-pci")
    finally:
        virsh("destroy", domain)
        subprocess.run(["modprobe", "vfio-pci"], check=False)
        _give_back(host_as_before)


@pytest.mark.parametrize("kind", [LONE, MULTIFUNCTION])
def test_pass_start_then_undo_takes_it_out_of_the_vm(vt: Cli, cases: dict[str, Case | None], domain: str,
                                                    host_as_before: Bindings, kind: str) -> None:
    """The transaction on a real kernel and libvirtd: `pass --start`, then restore and a plain undo are
    refused while the guest runs (naming it), then `undo --stop-vm` takes the hostdevs out and gives
    every device of the group back."""
    case = need(cases, kind)
    need_command("pass", "undo")
    t0 = time.monotonic()
    res = vt("pass", case.target, domain, "--start", "--yes", "--json", timeout=600)
    t_pass = time.monotonic() - t0
    try:
        events = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
        assert events and events[-1]["event"] == "result", res.stdout[-2000:] + res.stderr
        assert events[-1]["ok"] is True, events[-1]
        assert _state(domain) == "running"
        assert all(kview.bindings()[a][0] == "vfio-pci" for a in case.endpoints)
        assert sorted(_hostdevs(vt, domain)) == sorted(case.endpoints)
        during = kview.bindings()

        refused = vt("restore", "--all")
        assert refused.returncode == 3 and domain in refused.stderr, refused.stderr
        plain = vt("undo", "--yes")
        assert plain.returncode == 3 and f"{domain} is running with" in plain.stderr, plain.stderr
        assert kview.bindings() == during and _state(domain) == "running", "a refusal changed something"

        t0 = time.monotonic()
        undo = vt("undo", "--stop-vm", "--force", "--shutdown-timeout", "20", "--yes", timeout=300)
        t_undo = time.monotonic() - t0
        assert undo.returncode == 0, undo.stdout[-2000:] + undo.stderr
        assert "Undone (run-" in undo.stdout
        assert _state(domain) == "shut off"
        assert _hostdevs(vt, domain) == []
        assert kview.wait_for(lambda: kview.bindings() == host_as_before, timeout=20), kview.bindings()
        note(f"pass --start of {case.target} (group {case.group}, {len(case.endpoints)} endpoint(s)) in"
             f" {t_pass:.1f} s; restore and undo refused while {domain} ran; undo --stop-vm in {t_undo:.1f} s")
    finally:
        virsh("destroy", domain)
        _give_back(host_as_before)

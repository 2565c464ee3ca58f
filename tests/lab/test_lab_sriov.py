"""Case 7: SR-IOV on a real kernel — an emulated NVMe PF (QEMU 7.2, tests/lab/topologies/sriov-nvme.txt):
`vfio-tui sriov` creates VFs, a VF goes to vfio-pci and back, the count goes back to 0 through `undo`;
the kernel's own answers to sriov_numvfs writes (what the simulated kernel claims); a `sriov` killed
between its writes is undone; and a VF made a working NVMe controller (its secondary controller given
queues and brought online) goes from nvme to vfio-pci and back.

The kernel view is read here with plain readlinks (not core/), as kview does.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import kview
import nvme_admin as na
import pytest
from conftest import Cli, need_command, note

Bindings = dict[str, tuple[str | None, bytes]]
CRASH = str(Path(__file__).resolve().parent / "crash_after.py")
DEVS = kview.PCI_DEVICES


def _read(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def numvfs(pf: str) -> int:
    return int(_read(DEVS / pf / "sriov_numvfs") or 0)


def vfs(pf: str) -> list[str]:
    links = sorted((int(n[6:]), n) for n in os.listdir(DEVS / pf) if n.startswith("virtfn") and n[6:].isdigit())
    return [os.path.basename(os.readlink(DEVS / pf / n)) for _, n in links]


def driver(addr: str) -> str | None:
    link = DEVS / addr / "driver"
    return os.path.basename(os.readlink(link)) if link.is_symlink() else None


def group(addr: str) -> int | None:
    link = DEVS / addr / "iommu_group"
    return int(os.path.basename(os.readlink(link))) if link.is_symlink() else None


def members(gid: int) -> list[str]:
    return sorted(os.listdir(kview.IOMMU_GROUPS / str(gid) / "devices"))


def lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def ctrl_state(addr: str) -> str:
    try:
        names = os.listdir(DEVS / addr / "nvme")
    except OSError:
        return ""
    return _read(DEVS / addr / "nvme" / names[0] / "state") if names else ""


@pytest.fixture(scope="module")
def pf() -> Iterator[str]:
    """The topology's SR-IOV PF, on its host driver (the guest has no udev: nvme is loaded here)."""
    need_command("sriov")
    subprocess.run(["modprobe", "nvme"], check=False)
    subprocess.run(["modprobe", "vfio-pci"], check=False)
    found = [n for n in sorted(os.listdir(DEVS)) if int(_read(DEVS / n / "sriov_totalvfs") or 0) > 0]
    if not found:
        pytest.skip("topology has no SR-IOV PF (run the lab with --devices tests/lab/topologies/sriov-nvme.txt)")
    address = found[0]
    assert kview.wait_for(lambda: driver(address) is not None, 20), f"{address} has no driver after modprobe nvme"
    assert numvfs(address) == 0
    note(f"SR-IOV PF {address}: {_read(DEVS / address / 'vendor')}:{_read(DEVS / address / 'device')} on"
         f" {driver(address)}, sriov_totalvfs {_read(DEVS / address / 'sriov_totalvfs')}, VF offset"
         f" {_read(DEVS / address / 'sriov_offset')} stride {_read(DEVS / address / 'sriov_stride')}")
    yield address
    if numvfs(address):  # a failed test must not leave VFs for the next one
        kview.sysfs_write(DEVS / address / "sriov_numvfs", "0")
    kview.sysfs_write(DEVS / address / "sriov_drivers_autoprobe", "1")


@pytest.fixture(autouse=True)
def no_vfs_before(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test starts (and a failed one ends) with the PF at 0 VFs, autoprobe on, so one failure does
    not cascade into the next test."""
    if "pf" in request.fixturenames:
        address = request.getfixturevalue("pf")
        _reset(address)
    yield
    if "pf" in request.fixturenames:
        _reset(request.getfixturevalue("pf"))


def _reset(address: str) -> None:
    if numvfs(address):
        kview.sysfs_write(DEVS / address / "sriov_numvfs", "0")
    kview.sysfs_write(DEVS / address / "sriov_drivers_autoprobe", "1")


def test_the_kernel_answers_sriov_numvfs_as_the_simulation_says(pf: str) -> None:
    """drivers/pci/iov.c sriov_numvfs_store() on the real kernel: the errno table of core/simulated/sriov.py."""
    total = int(_read(DEVS / pf / "sriov_totalvfs"))
    kmsg = kview.Kmsg()
    try:
        assert kview.sysfs_write(DEVS / pf / "sriov_drivers_autoprobe", "0") == 0
        got = {
            "over total": kview.sysfs_write(DEVS / pf / "sriov_numvfs", str(total + 1)),
            "garbage": kview.sysfs_write(DEVS / pf / "sriov_numvfs", "two"),
            "above u16": kview.sysfs_write(DEVS / pf / "sriov_numvfs", "70000"),
            "create": kview.sysfs_write(DEVS / pf / "sriov_numvfs", str(total)),
            "same count": kview.sysfs_write(DEVS / pf / "sriov_numvfs", str(total)),
            "other count": kview.sysfs_write(DEVS / pf / "sriov_numvfs", "1"),
        }
        created = vfs(pf)
        groups = {v: group(v) for v in created}
        alone = {v: g is not None and members(g) == [v] for v, g in groups.items()}  # before they go again
        unbound = {v: driver(v) for v in created}
        got["remove"] = kview.sysfs_write(DEVS / pf / "sriov_numvfs", "0")
        log = kmsg.new()
    finally:
        kmsg.close()
        kview.sysfs_write(DEVS / pf / "sriov_numvfs", "0")
        kview.sysfs_write(DEVS / pf / "sriov_drivers_autoprobe", "1")
    assert got == {"over total": errno.ERANGE, "garbage": errno.EINVAL, "above u16": errno.EINVAL, "create": 0,
                   "same count": 0,
                   "other count": errno.EBUSY, "remove": 0}, got
    assert any(f"{total} VFs already enabled. Disable before enabling 1 VFs" in line for line in log), log
    assert len(created) == total and all(alone.values()), (created, groups)
    assert set(unbound.values()) == {None}  # sriov_drivers_autoprobe=0: no driver probed them
    assert vfs(pf) == [] and all(not (DEVS / v).exists() for v in created)
    note(f"sriov_numvfs on Linux {os.uname().release}: {got}")


def test_create_bind_a_vf_restore_and_undo(vt: Cli, pf: str, host_as_before: Bindings) -> None:
    res = vt("sriov", pf, "--vfs", "2", "--autoprobe", "off", "--yes", "--json")
    assert res.returncode == 0, res.stderr + res.stdout
    events = lines(res.stdout)
    result = events[-1]
    run_id = str(result["run_id"])
    made = vfs(pf)
    assert numvfs(pf) == 2 and len(made) == 2
    reported = result["vfs"]
    assert isinstance(reported, list) and [v["address"] for v in reported] == made
    assert all(members(g) == [v] for v in made if (g := group(v)) is not None) and all(group(v) for v in made)
    assert [driver(v) for v in made] == [None, None]
    inv = vt.json("inventory", "--json")
    pf_json = next(d for g in inv["groups"] for d in g["devices"] if d["address"] == pf)
    assert pf_json["sriov"]["drivers_autoprobe"] is False
    assert [(v["address"], v["iommu_group"], v["driver"]) for v in pf_json["sriov"]["vfs"]] == [
        (v, group(v), None) for v in made]

    vf = made[0]
    b = vt("bind", vf, "--yes", "--json")
    assert b.returncode == 0, b.stderr + b.stdout
    g = group(vf)
    assert driver(vf) == "vfio-pci" and g is not None and kview.group_viable(g) is True
    r = vt("restore", vf)
    assert r.returncode == 0, r.stderr + r.stdout
    assert driver(vf) is None and str(g) not in kview.dev_vfio_groups()

    u = vt("undo", run_id, "--yes")
    assert u.returncode == 0, u.stderr + u.stdout
    assert numvfs(pf) == 0 and vfs(pf) == [] and _read(DEVS / pf / "sriov_drivers_autoprobe") == "1"
    assert all(not (DEVS / v).exists() for v in made)


def test_a_killed_sriov_is_undone(vt: Cli, pf: str, host_as_before: Bindings) -> None:
    first = vt("sriov", pf, "--vfs", "2", "--autoprobe", "off", "--yes", "--json")
    assert first.returncode == 0, first.stderr
    run_a = str(lines(first.stdout)[-1]["run_id"])
    # 2 -> 1 is: write 0, write 1. SIGKILL right after the write of 0: no VF left, the run says "running".
    killed = vt.python(CRASH, "after", "1", "sriov", pf, "--vfs", "1", "--yes")
    assert killed.returncode == -9, killed.stderr
    assert numvfs(pf) == 0
    nxt = vt("inventory")
    assert "was cut short" in nxt.stderr and "vfio-tui undo run-" in nxt.stderr, nxt.stderr
    run_b = nxt.stderr.split("vfio-tui undo ")[1].split("`")[0].strip()
    u = vt("undo", run_b, "--yes")
    assert u.returncode == 0, u.stderr + u.stdout
    assert numvfs(pf) == 2 and len(vfs(pf)) == 2
    # SIGKILL before the first write: only the run record exists; undo finds nothing to put back
    before = vt.python(CRASH, "before", "1", "sriov", pf, "--vfs", "1", "--yes")
    assert before.returncode == -9 and numvfs(pf) == 2
    u = vt("undo", "--yes")
    assert u.returncode == 0 and "has 2 VFs" in u.stdout, u.stdout
    assert vt("undo", run_a, "--yes").returncode == 0
    assert numvfs(pf) == 0 and _read(DEVS / pf / "sriov_drivers_autoprobe") == "1"
    assert "cut short" not in vt("inventory").stderr
    note("sriov killed after its write of 0 and before its first write: both undone, 0 lost")


def _wait_live(addr: str, timeout: float = 60) -> bool:
    return kview.wait_for(lambda: ctrl_state(addr) == "live", timeout, 0.2)


def test_an_nvme_vf_with_its_secondary_controller_goes_to_vfio_and_back(vt: Cli, pf: str,
                                                                       host_as_before: Bindings) -> None:
    ctrl = os.listdir(DEVS / pf / "nvme")[0]
    dev = f"/dev/{ctrl}"
    cntlid = int(_read(Path("/sys/class/nvme") / ctrl / "cntlid"))
    assert [s.online for s in na.secondaries(dev)] == [False, False]
    # QEMU's PF holds every flexible queue/interrupt: give them up (effective at the next function reset)
    na.virt_mgmt(dev, na.ACT_PRIMARY_FLEXIBLE, cntlid, na.RT_VQ, 0)
    na.virt_mgmt(dev, na.ACT_PRIMARY_FLEXIBLE, cntlid, na.RT_VI, 0)
    assert kview.sysfs_write(DEVS / pf / "reset", "1") == 0
    assert _wait_live(pf), f"{pf} did not come back after its reset (state {ctrl_state(pf)!r})"
    runs: list[str] = []
    try:
        res = vt("sriov", pf, "--vfs", "2", "--autoprobe", "off", "--yes", "--json")
        assert res.returncode == 0, res.stderr + res.stdout
        runs.append(str(lines(res.stdout)[-1]["run_id"]))
        for sec in na.secondaries(dev):
            na.virt_mgmt(dev, na.ACT_SECONDARY_ASSIGN, sec.scid, na.RT_VQ, 2)
            na.virt_mgmt(dev, na.ACT_SECONDARY_ASSIGN, sec.scid, na.RT_VI, 1)
            na.virt_mgmt(dev, na.ACT_SECONDARY_ONLINE, sec.scid)
        assert [s.online for s in na.secondaries(dev)] == [True, True]
        res = vt("sriov", pf, "--autoprobe", "on", "--yes", "--json")
        assert res.returncode == 0, res.stderr + res.stdout
        runs.append(str(lines(res.stdout)[-1]["run_id"]))
        vf = vfs(pf)[0]
        kview.sysfs_write(kview.SYS / "bus" / "pci" / "drivers_probe", vf)
        assert driver(vf) == "nvme" and _wait_live(vf), f"VF {vf}: driver {driver(vf)}, state {ctrl_state(vf)!r}"
        b = vt("bind", vf, "--yes")
        assert b.returncode == 0, b.stderr + b.stdout
        g = group(vf)
        assert driver(vf) == "vfio-pci" and g is not None and kview.group_viable(g) is True
        r = vt("restore", vf)
        assert r.returncode == 0, r.stderr + r.stdout
        assert driver(vf) == "nvme" and _wait_live(vf), f"VF {vf} back on {driver(vf)}, state {ctrl_state(vf)!r}"
        note(f"NVMe VF {vf}: secondary controller online, nvme -> vfio-pci (group {g}, viable) -> nvme (live)")
    finally:
        for run in reversed(runs):
            vt("undo", run, "--yes")
        na.virt_mgmt(dev, na.ACT_PRIMARY_FLEXIBLE, cntlid, na.RT_VQ, 4)
        na.virt_mgmt(dev, na.ACT_PRIMARY_FLEXIBLE, cntlid, na.RT_VI, 2)
        kview.sysfs_write(DEVS / pf / "reset", "1")
        _wait_live(pf)
    assert numvfs(pf) == 0 and driver(pf) == "nvme"

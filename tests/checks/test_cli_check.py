"""`vfio-tui check` as a user runs it: text, the JSON contract, exit codes, --fix/--undo on --root."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

from tests.fixture_paths import RECORDED
from vfio_tui.core.hostpaths import HostPaths

Run = Callable[..., subprocess.CompletedProcess[str]]


def test_json_contract_on_demo(run_cli: Run) -> None:
    p = run_cli("check", "--demo", "--json", "--for", "0b:00.0", "--vm", "vfio_test")
    assert p.returncode == 0, p.stderr
    data = json.loads(p.stdout)
    assert {"id", "title", "status", "evidence", "fix"} <= set(data["checks"][0])
    ids = [c["id"] for c in data["checks"]]
    assert {"iommu-kernel", "device-group", "vm-memlock", "vm-machine"} <= set(ids)
    assert all(c["status"] in ("pass", "warn", "fail", "n/a") for c in data["checks"])


def test_exit_1_when_something_fails(run_cli: Run) -> None:
    p = run_cli("check", "--host-snapshot", str(RECORDED / "host-firecracker-noiommu.json"))
    assert p.returncode == 1
    assert "FAIL  iommu-kernel" in p.stdout and "Traceback" not in p.stderr


def test_bad_input_exits_2_with_one_line(run_cli: Run) -> None:
    for args in (("--for", "zz:00.0"), ("--for", "0000:0b:00.3"), ("--vm", "nope"), ("--fix", "nope"),
                 ("--only", "nope")):
        p = run_cli("check", "--demo", *args)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        assert len(p.stderr.strip().splitlines()) == 1 and "Traceback" not in p.stderr


def test_fix_then_undo_on_a_simulated_root(run_cli: Run, sim_root: HostPaths) -> None:
    conf = sim_root.under("/etc/libvirt/qemu.conf")
    before = conf.read_bytes()
    preview = run_cli("check", "--root", str(sim_root.root), "--fix", "qemu-conf-relaxed-acs")
    assert preview.returncode == 0 and "+#relaxed_acs_check = 1" in preview.stdout
    assert "nothing changed" in preview.stdout and conf.read_bytes() == before
    done = run_cli("check", "--root", str(sim_root.root), "--fix", "qemu-conf-relaxed-acs", "--yes")
    assert done.returncode == 0, done.stderr
    assert "journal: cfg-1" in done.stdout and "systemctl restart libvirtd" in done.stdout
    assert conf.read_bytes() != before
    undo = run_cli("check", "--root", str(sim_root.root), "--undo", "cfg-1", "--yes")
    assert undo.returncode == 0, undo.stderr
    assert conf.read_bytes() == before


def test_fix_refuses_unparsable_qemu_conf(run_cli: Run, sim_root: HostPaths) -> None:
    conf = sim_root.under("/etc/libvirt/qemu.conf")
    conf.write_text('relaxed_acs_check = 1\ncgroup_device_acl = [ "/dev/null",\n')
    p = run_cli("check", "--root", str(sim_root.root), "--fix", "qemu-conf-relaxed-acs", "--yes")
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert conf.read_text().startswith("relaxed_acs_check = 1")

"""`vfio-tui restore --config ID` undoes a file edit made by `vfio-tui check --fix`."""

from __future__ import annotations


def test_restore_config_puts_qemu_conf_back_byte_for_byte(run_cli, sim_root) -> None:  # type: ignore[no-untyped-def]
    conf = sim_root.under("/etc/libvirt/qemu.conf")
    before = conf.read_bytes()
    fixed = run_cli("check", "--root", str(sim_root.root), "--fix", "qemu-conf-acl", "--yes")
    assert fixed.returncode == 0, fixed.stderr
    assert conf.read_bytes() != before and b'"/dev/vfio/vfio"' not in conf.read_bytes()
    res = run_cli("restore", "--root", str(sim_root.root), "--config", "cfg-1", "--yes")
    assert res.returncode == 0, res.stderr
    assert conf.read_bytes() == before


def test_restore_config_alone(run_cli, sim_root) -> None:  # type: ignore[no-untyped-def]
    res = run_cli("restore", "--root", str(sim_root.root), "--config", "cfg-1", "--all")
    assert res.returncode == 2 and "alone" in res.stderr

"""The CLI on bad input: one line naming the file and the problem, exit 2, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import cli_env
from tests.fixture_paths import RECORDED, REPO_ROOT
from vfio_tui.core.simulated.synthetic import synthetic_snapshot


def _one_line_error(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    return lines[0]


def test_truncated_snapshot(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    good = (RECORDED / "q35-viommu.json").read_text()
    bad = tmp_path / "cut.json"
    bad.write_text(good[: len(good) // 2])
    line = _one_line_error(run_cli("inventory", "--host-snapshot", str(bad)))
    assert str(bad) in line and "JSON" in line


@pytest.mark.parametrize("mutate,needle", [
    (lambda s: s.update(schema="something/2"), "schema"),
    (lambda s: s["pci_devices"][0].update(address="0000:zz:00.0"), "bad address"),
    (lambda s: s["pci_devices"][0].update(config_hex="nothex"), "not hex"),
    (lambda s: s["pci_devices"][0].update(config_hex="8680"), "bytes of config"),
    (lambda s: s["pci_devices"][0].update(sysfs_path="/devices/../../etc"), "sysfs_path"),
    (lambda s: s["iommu_groups"].update({"99": {"devices": ["0000:42:00.0"]}}), "not among the devices"),
    (lambda s: s.update(pci_devices="oops"), "pci_devices"),
])
def test_malformed_snapshot(tmp_path: Path, run_cli, mutate, needle: str) -> None:  # type: ignore[no-untyped-def]
    snap = json.loads((RECORDED / "q35-viommu.json").read_text())
    mutate(snap)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(snap))
    line = _one_line_error(run_cli("inventory", "--host-snapshot", str(bad)))
    assert needle in line and str(bad) in line


def test_unreadable_snapshot(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    line = _one_line_error(run_cli("inventory", "--host-snapshot", str(tmp_path / "missing.json")))
    assert "missing.json" in line and "No such file" in line
    directory = _one_line_error(run_cli("inventory", "--host-snapshot", str(tmp_path)))
    assert str(tmp_path) in directory


def test_garbage_config_space_in_a_tree(run_cli, sim_root) -> None:  # type: ignore[no-untyped-def]
    cfg = sim_root.pci_device("0000:0b:00.0") / "config"
    cfg.write_bytes(b"\x00\x00garbage")
    line = _one_line_error(run_cli("inventory", "--root", str(sim_root.root)))
    assert "0000:0b:00.0/config" in line and "garbage config space" in line


def test_missing_pci_ids_file_is_named(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    line = _one_line_error(run_cli("inventory", "--demo", "--pci-ids", str(tmp_path / "pci.ids")))
    assert "pci.ids" in line


def test_without_a_names_database_ids_are_shown(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    empty = tmp_path / "pci.ids"
    empty.write_text("# empty\n")
    res = run_cli("inventory", "--demo", "--json", "--pci-ids", str(empty))
    assert res.returncode == 0
    dev = next(d for g in json.loads(res.stdout)["groups"] for d in g["devices"] if d["address"] == "0000:0b:00.0")
    assert dev["name"] == "device 1077:2432" and dev["vendor_id"] == "1077"


def test_contradictory_host_options(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    line = _one_line_error(run_cli("inventory", "--demo", "--root", str(tmp_path)))
    assert "--demo" in line
    line = _one_line_error(run_cli("inventory", "--root", str(tmp_path / "nope")))
    assert "not a directory" in line


def test_unknown_group(run_cli) -> None:  # type: ignore[no-untyped-def]
    line = _one_line_error(run_cli("inventory", "--demo", "--group", "99"))
    assert "no IOMMU group 99" in line


def test_json_has_the_contract_keys(run_cli) -> None:  # type: ignore[no-untyped-def]
    data = json.loads(run_cli("inventory", "--demo", "--json").stdout)
    assert data["schema"] == "vfio-tui/inventory/1" and data["iommu_enabled"] is True
    g19 = next(g for g in data["groups"] if g["id"] == 19)
    assert g19["verdict"] == "bindable" and isinstance(g19["reasons"], list)
    dev = g19["devices"][0]
    for key in ("address", "vendor_id", "device_id", "class", "name", "driver", "driver_override", "is_bridge",
                "acs", "reset_methods", "multifunction", "parent", "host_use"):
        assert key in dev, key
    assert (dev["address"], dev["vendor_id"], dev["device_id"], dev["class"]) == ("0000:0b:00.0", "1077", "2432", "0c04")
    assert dev["parent"] == "0000:00:09.0" and dev["reset_methods"] == ["pm", "bus"]
    port = next(d for g in data["groups"] for d in g["devices"] if d["address"] == "0000:00:09.0")
    assert port["acs"]["cap"] == 0x5F and port["acs"]["ctrl"] == 0x1D and port["is_bridge"] is True


def test_several_pci_domains(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    snap = tmp_path / "big.json"
    snap.write_text(json.dumps(synthetic_snapshot(200, domains=3)))
    data = json.loads(run_cli("inventory", "--host-snapshot", str(snap), "--json").stdout)
    domains = {d["address"][:4] for g in data["groups"] for d in g["devices"]}
    assert domains == {"0000", "0001", "0002"}


def test_help_teaches(run_cli) -> None:  # type: ignore[no-untyped-def]
    top = run_cli("--help")
    assert top.returncode == 0 and "--demo" in top.stdout and "inventory" in top.stdout
    inv = run_cli("inventory", "--help")
    assert "examples:" in inv.stdout and "bindable" in inv.stdout


def test_importing_core_loads_neither_textual_nor_libvirt() -> None:
    code = ("import sys, vfio_tui, vfio_tui.core, vfio_tui.core.host, vfio_tui.core.sysfs_reader, vfio_tui.core.snapshot;"
            "import vfio_tui.core.inventory_format, vfio_tui.core.simulated.demo_host, vfio_tui.core.passthrough;"
            "import vfio_tui.core.open_host as o, vfio_tui.core.host as h;"
            "host = o.open_host(h.HostOptions(demo=True)); host.inventory(); host.close();"
            "print(','.join(m for m in ('textual', 'libvirt', 'rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO_ROOT,
                         env=cli_env(), check=True).stdout.strip()
    assert out == ""




def test_options_before_the_command_and_values_named_like_commands(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    weird = tmp_path / "check"
    from vfio_tui.core.open_host import create_sim_host
    from vfio_tui.core.simulated.demo_host import demo_snapshot

    create_sim_host(weird, demo_snapshot())
    res = run_cli("--root", str(weird), "inventory", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["schema"] == "vfio-tui/inventory/1"

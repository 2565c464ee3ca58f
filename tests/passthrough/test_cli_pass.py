"""`vfio-tui pass` and `vfio-tui undo` as a user types them, on a simulated host tree."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path

Run = Callable[..., subprocess.CompletedProcess[str]]


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_dry_run_shows_the_plan_and_changes_nothing(run_cli: Run, tree: Path) -> None:
    p = run_cli("pass", "0b:00.0", "vfio_test", "--root", str(tree), "--start", "--dry-run")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "Plan: pass 0000:0b:00.0 (IOMMU group 19) to vfio_test (config, then start it)" in out
    assert "/sys/bus/pci/devices/0000:0b:00.0/driver_override <- vfio-pci" in out
    assert "+    <hostdev mode='subsystem' type='pci' managed='yes'>" in out
    assert f"Undo (`vfio-tui undo --root {tree}` after the run):" in out and "dry run: nothing was changed" in out
    listed = run_cli("undo", "--list", "--root", str(tree))
    assert listed.stdout.strip() == "no passthrough runs recorded on this host"


def test_a_refused_plan_exits_3_with_the_reason_first(run_cli: Run, tree: Path) -> None:
    p = run_cli("pass", "03:00.1", "vfio_test", "--root", str(tree), "--yes")
    assert p.returncode == 3
    first = p.stdout.splitlines()[1:3]
    assert first[0] == "REFUSED — nothing will change:" and "used by the host" in first[1]
    assert p.stderr.startswith("vfio-tui: refused: ")


def test_pass_json_lines_then_undo_refused_then_stop_vm(run_cli: Run, tree: Path) -> None:
    p = run_cli("pass", "0b:00.0", "vfio_test", "--root", str(tree), "--start", "--yes", "--json")
    assert p.returncode == 0, p.stderr
    events = _lines(p.stdout)
    assert events[0]["event"] == "plan" and events[-1]["event"] == "result"
    steps = [e for e in events if e["event"] == "step"]
    assert [e["step"] for e in steps if e["step"] == e["phase"] and e["state"] == "done"] == \
        ["bind", "verify", "attach", "start"]
    assert events[-1]["ok"] is True and events[-1]["run_id"] == "run-1"

    refused = run_cli("undo", "--root", str(tree), "--yes")
    assert refused.returncode == 3
    assert "vfio_test is running with 0000:0b:00.0" in refused.stderr
    assert "--live (hot-unplug) or --stop-vm" in refused.stderr

    done = run_cli("undo", "run-1", "--root", str(tree), "--stop-vm", "--yes")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == (
        "Undone (run-1): shut down vfio_test; removed 0000:0b:00.0 from vfio_test's definition;"
        " drivers back: 0000:0b:00.0 on qla2xxx")
    vms = run_cli("vms", "--root", str(tree), "--json")
    vfio_test = next(d for d in json.loads(vms.stdout)["vms"] if d["name"] == "vfio_test")
    assert vfio_test["state"] == "shut off" and vfio_test["hostdevs"] == []


def test_a_failed_start_is_explained_and_the_undo_hint_names_the_tree(run_cli: Run, tree: Path) -> None:
    p = run_cli("pass", "0b:00.0", "nic_test", "--root", str(tree), "--start", "--yes")
    assert p.returncode == 1
    assert "FAILED: start failed; done so far: bind, verify, attach" in p.stdout
    assert "=== why the VM did not start ===" in p.stdout and "group 13 is not viable" in p.stdout
    assert f"undo: vfio-tui undo run-1 --root {tree}" in p.stdout
    assert run_cli("undo", "--last", "--root", str(tree), "--yes").returncode == 0


def test_bad_input_is_one_line(run_cli: Run, tree: Path) -> None:
    for args, needle in [
        (("pass", "zz:00.0", "vfio_test"), "not a PCI address"),
        (("pass", "0b:00.0", "no_such_vm"), "no VM named 'no_such_vm'"),
        (("undo", "run-42"), "no run 'run-42' on this host"),
        (("undo", "--force"), "--force only goes with --stop-vm"),
        (("undo", "--unplug-timeout", "-1", "--live"), "give a positive number of seconds"),
    ]:
        p = run_cli(*args, "--root", str(tree))
        assert p.returncode == 2, (args, p.stdout, p.stderr)
        assert needle in p.stderr and len(p.stderr.strip().splitlines()) == 1, (args, p.stderr)


def test_without_a_terminal_it_asks_for_yes(run_cli: Run, tree: Path) -> None:
    p = run_cli("pass", "0b:00.0", "vfio_test", "--root", str(tree))
    assert p.returncode == 2 and "refusing to change the host without --yes" in p.stderr


def test_a_run_cut_short_is_noticed_by_the_next_command(run_cli: Run, tree: Path) -> None:
    import sys

    from tests.conftest import cli_env

    killer = Path(__file__).resolve().parent / "kill_after.py"
    killed = subprocess.run([sys.executable, str(killer), "6", "pass", "0b:00.0", "vfio_test", "--root", str(tree),
                             "--start", "--yes"], capture_output=True, text=True, env=cli_env(), timeout=120,
                            check=False)
    assert killed.returncode == -9
    p = run_cli("inventory", "--root", str(tree), "--group", "19")
    assert p.returncode == 0
    assert (f"vfio-tui: notice: passthrough run run-1 (0000:0b:00.0 → vfio_test) was cut short; run `vfio-tui undo"
            f" run-1 --root {tree}` to put it back") in p.stderr
    assert run_cli("undo", "run-1", "--root", str(tree), "--yes").returncode == 0
    assert "notice" not in run_cli("inventory", "--root", str(tree)).stderr

"""The GPU demo hosts through the CLI, as a user types it: --demo NAME, the single-GPU refusal with the hook
plan, a whole run and undo on a sim-host tree, and a run killed right after the GPU was released."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.simulated.kernel import SimulatedKernel


def test_demo_names(run_cli: Any) -> None:
    plain = run_cli("inventory", "--demo", "--group", "19")
    assert plain.returncode == 0 and "host192" in plain.stdout
    ws = run_cli("--demo", "workstation", "inventory", "--json")
    assert ws.returncode == 0, ws.stderr
    data = json.loads(ws.stdout)
    assert data["host"].startswith("demo: workstation")
    gpus = [d for g in data["groups"] for d in g["devices"] if d["gpu"] is not None]
    assert {d["address"] for d in gpus} >= {"0000:00:02.0", "0000:01:00.3", "0000:02:00.1"}
    bad = run_cli("inventory", "--demo=nosuch")
    assert bad.returncode == 2 and "nosuch" in bad.stderr


def test_single_gpu_refusal_names_the_flag_and_shows_the_hook(run_cli: Any) -> None:
    out = run_cli("pass", "0a:00.0", "win11", "--demo", "single-gpu", "--dry-run")
    assert out.returncode == 3
    assert "--stop-display-manager" in out.stdout and "vfio-tui hooks install win11" in out.stdout
    assert "1. systemctl stop gdm.service" in out.stdout
    assert "/sys/class/vtconsole/vtcon1/bind <- 0" in out.stdout
    assert "the host's only GPU" in out.stdout


def _bind(root: Path) -> str:
    return (root / "sys/class/vtconsole/vtcon1/bind").read_text().strip()


def test_single_gpu_pass_and_undo_on_a_sim_host(run_cli: Any, tmp_path: Path) -> None:
    root = tmp_path / "sg"
    assert run_cli("sim-host", str(root), "--demo", "single-gpu").returncode == 0
    run = run_cli("pass", "0a:00.0", "win11", "--root", str(root), "--stop-display-manager", "--start", "--yes",
                  "--json", timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr
    events = [json.loads(line) for line in run.stdout.splitlines()]
    gpu_steps = [e["step"] for e in events if e.get("event") == "step" and e.get("phase") == "gpu"
                 and e.get("state") == "done"]
    assert gpu_steps[:3] == ["systemctl stop gdm.service", "/sys/class/vtconsole/vtcon1/bind <- 0",
                             "/sys/bus/platform/drivers/simple-framebuffer/unbind <- simple-framebuffer.0"]
    assert not (root / "sys/class/vtconsole/vtcon1").exists()  # fbcon went with the last framebuffer
    undo = run_cli("undo", "--root", str(root), "--stop-vm", "--yes", timeout=120)
    assert undo.returncode == 0, undo.stdout + undo.stderr
    assert "systemctl start gdm.service" in undo.stdout and (root / "proc/1210/comm").exists()
    assert "skipped: vtcon1 is gone" in undo.stdout


def test_a_run_killed_after_the_gpu_release_is_undone(run_cli: Any, tmp_path: Path) -> None:
    root = tmp_path / "sg"
    assert run_cli("sim-host", str(root), "--demo", "single-gpu").returncode == 0
    SimulatedKernel(HostPaths(root)).update_metadata(faults=[{"match": "driver_override", "kill": "after"}])
    killed = run_cli("pass", "0a:00.0", "win11", "--root", str(root), "--stop-display-manager", "--yes",
                     timeout=120)
    assert killed.returncode == -9
    assert not (root / "sys/class/vtconsole/vtcon1").exists() and not (root / "proc/1210").exists()
    notice = run_cli("inventory", "--root", str(root), "--group", "11")
    assert "vfio-tui undo run-1" in notice.stderr
    undo = run_cli("undo", "run-1", "--root", str(root), "--yes", timeout=120)
    assert undo.returncode == 0, undo.stdout + undo.stderr
    assert (root / "proc/1210/comm").exists()
    assert (root / "sys/bus/pci/devices/0000:0a:00.0/driver").resolve().name == "nvidia"

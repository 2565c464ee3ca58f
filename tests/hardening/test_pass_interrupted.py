"""Ctrl-C (SIGINT) and a dropped SSH session (SIGHUP) after every step of `pass … --start`: the CLI rolls
the binding back or leaves its run record, and says so (one `interrupted` line and the command that takes
it back, with the host options); following that, the host and every demo domain are exactly as before."""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import cli_env
from tests.hardening.inproc import run_main
from tests.passthrough.test_fault_matrix import _snapshot
from vfio_tui.core.hostpaths import HostPaths

SIGNAL_AFTER = str(Path(__file__).resolve().parent / "signal_after.py")
COUNT = {"points": 0, "restored": 0, "lost": 0}
EXITS: dict[str, dict[int, int]] = {}


def _run(sig: str, n: int, args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, SIGNAL_AFTER, sig, str(n), *args], capture_output=True, text=True,
                          env=cli_env(), timeout=120, check=False)


def _take_back(tree: Path, said: str) -> None:
    """What the user does next: run the command the interrupted one named (the VM may be running:
    --stop-vm), then undo whatever run is left."""
    for line in said.splitlines():
        if "`vfio-tui " in line and ("put it back" in line or "takes it back" in line):
            command = shlex.split(line.split("`")[1])[1:]
            if command[0] == "undo":
                command += ["--stop-vm", "--yes"]
            got = run_main(*command)
            assert got.code == 0, (command, got)
    if run_main("undo", "--list", "--root", str(tree)).out.count(" done") or _running_runs(tree):
        got = run_main("undo", "--root", str(tree), "--stop-vm", "--yes")
        assert got.code == 0 or "nothing to undo" in got.err, got


def _running_runs(tree: Path) -> bool:
    listing = run_main("undo", "--list", "--root", str(tree)).out
    return any(word in listing for word in ("running", "failed"))


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["INT", "HUP"])
def test_a_signal_after_every_step_of_pass(sim_root: HostPaths, sig: str, capsys: pytest.CaptureFixture[str]) -> None:
    tree = sim_root.root
    args = ["pass", "0000:0b:00.0", "vfio_test", "--root", str(tree), "--start", "--yes"]
    before = _snapshot(tree)
    count = _run(sig, 0, args)
    assert count.returncode == 0, count.stderr
    total = int(count.stderr.rsplit("EVENTS ", 1)[1].split()[0])
    _take_back(tree, "")
    assert _snapshot(tree) == before and total >= 15
    for n in range(1, total + 1):
        got = _run(sig, n, args)
        said = got.stdout + got.stderr
        EXITS.setdefault(sig, {}).setdefault(got.returncode, 0)
        EXITS[sig][got.returncode] += 1
        assert "Traceback" not in said and "internal error" not in said, said
        assert got.returncode in (0, 1, 2, 130), (n, got.returncode, said)
        if got.returncode == 130:  # cut short: it says so, and what takes it back, on this host
            assert "vfio-tui: interrupted" in got.stderr and f"--root {tree}" in got.stderr, (n, got.stderr)
        elif got.returncode != 0:  # the bind saw it and rolled back
            assert "interrupted" in said and "rolled back" in said, (n, said)
        _take_back(tree, got.stderr)
        ok = _snapshot(tree) == before
        COUNT["points"] += 1
        COUNT["restored" if ok else "lost"] += 1
        assert ok, (n, said)
    with capsys.disabled():
        print(f"\npass interrupted by SIG{sig}: {COUNT}; exit codes: {EXITS[sig]}")
    assert COUNT["lost"] == 0

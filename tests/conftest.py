"""Shared fixtures. Tests never touch this machine's /sys: every host is the demo host,
a recorded host from ../shared/lab/snapshots, or a synthetic one, in a temp dir."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixture_paths import RECORDED, REPO_ROOT
from vfio_tui.core.host import Host, HostOptions
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.open_host import create_sim_host, open_host
from vfio_tui.core.simulated.demo_host import demo_snapshot


@pytest.fixture(autouse=True)
def _no_live_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """A test that forgets to pick a host must not read or write this machine's /sys."""
    monkeypatch.setenv("VFIO_TUI_TESTING", "1")


@pytest.fixture
def lab_snapshots() -> list[Path]:
    """The lab's real-kernel recordings (tests/fixtures/recorded)."""
    files = sorted(RECORDED.glob("*.json"))
    assert files, "no recorded hosts in tests/fixtures/recorded"
    return files


@pytest.fixture
def demo_host() -> Iterator[Host]:
    """The built-in demo host, materialized in a temp dir (writable through the simulated kernel)."""
    with open_host(HostOptions(demo=True)) as host:
        yield host


@pytest.fixture
def make_host(tmp_path: Path) -> Iterator[Callable[..., Host]]:
    """make_host(snapshot_dict | None, name="h") -> a simulated host at tmp_path/name (the demo by default),
    persistent (a sim-host tree) and closed at the end."""
    opened: list[Host] = []

    def make(snapshot: dict[str, Any] | None = None, name: str = "h") -> Host:
        root = tmp_path / name
        create_sim_host(root, snapshot if snapshot is not None else demo_snapshot())
        host = open_host(HostOptions(root=root))
        opened.append(host)
        return host

    yield make
    for h in opened:
        h.close()


@pytest.fixture
def sim_root(tmp_path: Path) -> HostPaths:
    """A persistent simulated demo host at tmp_path/host, for `--root` runs across processes."""
    return create_sim_host(tmp_path / "host", demo_snapshot())


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("VFIO_TUI_DEBUG", None)
    return env


@pytest.fixture
def run_cli() -> object:
    """Run `vfio-tui ARGS...` in a subprocess (this checkout's code); returns CompletedProcess."""

    def run(*args: str, stdin: str | None = None, timeout: float = 60,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "vfio_tui", *args], input=stdin, capture_output=True, text=True,
            timeout=timeout, cwd=REPO_ROOT, env={**cli_env(), **(env or {})}, check=False,
        )

    return run

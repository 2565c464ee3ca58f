"""Fixtures: the GPU demo hosts, read-only (--demo NAME) or as a persistent sim-host tree for runs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.sim_sessions import Session, reopened_sessions
from vfio_tui.core.host import Host, HostOptions
from vfio_tui.core.open_host import create_sim_host, demo_host_snapshot, open_host


@pytest.fixture
def workstation() -> Iterator[Host]:
    with open_host(HostOptions(demo=True, demo_name="workstation")) as host:
        yield host


@pytest.fixture
def single_gpu() -> Iterator[Host]:
    with open_host(HostOptions(demo=True, demo_name="single-gpu")) as host:
        yield host


@pytest.fixture
def ws_tree(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    create_sim_host(root, demo_host_snapshot("workstation")[1])
    return root


@pytest.fixture
def sg_tree(tmp_path: Path) -> Path:
    root = tmp_path / "sg"
    create_sim_host(root, demo_host_snapshot("single-gpu")[1])
    return root


@pytest.fixture
def ws_session(ws_tree: Path) -> Iterator[Session]:
    yield from reopened_sessions(ws_tree)


@pytest.fixture
def sg_session(sg_tree: Path) -> Iterator[Session]:
    yield from reopened_sessions(sg_tree)

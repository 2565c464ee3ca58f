"""Fixtures for the passthrough transaction: a persistent simulated demo host (a sim-host tree) with
its demo hypervisor, reopened the way each CLI command reopens it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.sim_sessions import reopened_sessions
from vfio_tui.core.host import Host
from vfio_tui.core.libvirt.connection import Hypervisor
from vfio_tui.core.open_host import create_sim_host
from vfio_tui.core.simulated.demo_host import demo_snapshot


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "host"
    create_sim_host(root, demo_snapshot())
    return root


@pytest.fixture
def session(tree: Path) -> Iterator[Callable[[], tuple[Host, Hypervisor]]]:
    """session() -> (host, hypervisor) on the tree; every pair is closed (demo state saved) at the end."""
    yield from reopened_sessions(tree)

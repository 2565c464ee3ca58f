"""Fixtures for the SR-IOV tests: persistent simulated hosts (the demo's 82599 PFs by default)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from vfio_tui.core.host import Host, HostOptions
from vfio_tui.core.open_host import create_sim_host, open_host
from vfio_tui.core.simulated.demo_host import demo_snapshot


@pytest.fixture
def make_host(tmp_path: Path) -> Iterator[Callable[..., Host]]:
    """make_host(snapshot_dict | None, name="h") -> a simulated host at tmp_path/name (the demo by default)."""
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
def demo(make_host: Callable[..., Host]) -> Host:
    return make_host()

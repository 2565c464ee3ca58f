"""Fixtures for the checks: a writable simulated demo host whose /etc can be rewritten per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vfio_tui.core.host import Host, HostOptions
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.open_host import open_host


@pytest.fixture
def etc_host(sim_root: HostPaths) -> Iterator[Callable[..., Host]]:
    """make(files={"/etc/x": "text" | None (delete)}) -> a Host on the simulated demo tree with those files."""
    opened: list[Host] = []

    def make(files: dict[str, str | bytes | None] | None = None) -> Host:
        for path, content in (files or {}).items():
            p = sim_root.under(path)
            if content is None:
                if p.exists():
                    p.unlink()
                continue
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(content if isinstance(content, bytes) else content.encode())
        host = open_host(HostOptions(root=Path(sim_root.root)))
        opened.append(host)
        return host

    yield make
    for h in opened:
        h.close()

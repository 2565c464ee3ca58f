"""Helpers for the binding tests: a comparable host state, faults, lab snapshots."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.fixture_paths import RECORDED
from vfio_tui.core.host import Host
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.simulated.kernel import SimulatedKernel
from vfio_tui.core.snapshot import load_snapshot
from vfio_tui.core.snapshot_record import record_host


def host_state(paths: HostPaths) -> dict[str, Any]:
    """Everything a binding can change, as the recorder sees it (minus the timestamp)."""
    snap = record_host(paths)
    snap.pop("taken_at", None)
    return snap


def journal_files(paths: HostPaths) -> list[str]:
    jdir = paths.state_dir / "journal"
    return sorted(p.name for p in jdir.iterdir()) if jdir.is_dir() else []


def set_faults(host: Host, *faults: dict[str, Any], **more: Any) -> None:
    kernel = host.kernel
    assert isinstance(kernel, SimulatedKernel)
    kernel.update_metadata(faults=list(faults), **more)


def lab_snapshot(name: str) -> dict[str, Any]:
    return load_snapshot(RECORDED / f"{name}.json")


def lab_snapshot_names() -> list[str]:
    return sorted(p.stem for p in RECORDED.glob("*.json"))


def read_meta(paths: HostPaths) -> dict[str, Any]:
    """The simulated kernel's metadata merged with its run-time state."""
    return SimulatedKernel(paths).metadata()


def count_walks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """A list that grows by one for every confined walk from a host root (core.safepath.Walk) from now on."""
    import vfio_tui.core.safepath

    walks: list[int] = []
    real = vfio_tui.core.safepath.Walk.__init__

    def counting(self: vfio_tui.core.safepath.Walk, root: Path) -> None:
        walks.append(1)
        real(self, root)

    monkeypatch.setattr(vfio_tui.core.safepath.Walk, "__init__", counting)
    return walks

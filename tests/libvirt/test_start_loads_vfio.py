"""A start with hostdevs loads vfio-pci first: libvirt 9.0 refuses before it would load it (lab 5b)."""

from __future__ import annotations

from pathlib import Path

from vfio_tui.core.host import HostOptions
from vfio_tui.core.libvirt.start import _ensure_vfio_loaded
from vfio_tui.core.open_host import create_sim_host, open_host
from vfio_tui.core.simulated.synthetic import HostBuilder
from vfio_tui.core.steps import StepEvent, StepReporter


def test_vfio_pci_is_loaded_before_the_start(tmp_path: Path) -> None:
    b = HostBuilder(label="no vfio yet", vfio_loaded=False)
    b.add("0000:00:02.0", 0x8086, 0x10D3, 0x020000, driver="e1000e", group=1, pcie="endpoint")
    root = tmp_path / "h"
    create_sim_host(root, b.snapshot())
    events: list[StepEvent] = []
    with open_host(HostOptions(root=root)) as host:
        assert not (host.paths.dev_vfio / "vfio").exists()
        _ensure_vfio_loaded(host, StepReporter(events.append))
        assert (host.paths.dev_vfio / "vfio").exists()
        assert host.paths.module("vfio_pci").is_dir()
    assert [e.state for e in events] == ["started", "done"]
    assert "vfio-pci" in events[0].step


def test_nothing_happens_when_vfio_is_there(demo_host) -> None:  # type: ignore[no-untyped-def]
    events: list[StepEvent] = []
    _ensure_vfio_loaded(demo_host, StepReporter(events.append))
    assert events == []

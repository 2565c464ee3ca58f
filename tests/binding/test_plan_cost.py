"""What plan_bind reads: no pci.ids names, and the display-server process scan only for a group
with a display device (lab finding: both cost ~0.8 s per plan on a TCG guest)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import vfio_tui.core.usage_live
from vfio_tui.core.address import PciAddress
from vfio_tui.core.binding import plan_bind
from vfio_tui.core.host import Host
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.usage_live import gather_live_extras, usage_source


def test_plan_reads_no_pci_ids_but_inventory_does(make_host: Callable[..., Host]) -> None:
    host = make_host()
    plan = plan_bind(host, "02:00.0")
    assert plan.ok and plan.endpoints == ("0000:02:00.0", "0000:02:00.1")
    assert host._pci_ids is None  # the names database was never loaded
    assert all(d.class_name is None and d.vendor_name is None
               for d in host.inventory(names=False).devices.values())
    host.inventory()
    assert host._pci_ids is not None


def test_chipset_refusal_still_names_the_class_without_pci_ids(make_host: Callable[..., Host]) -> None:
    plan = plan_bind(make_host(), "00:1f.2")
    chipset = [r for r in plan.refused if r.address == "0000:00:1f.0"]
    assert chipset and "part of the chipset (ISA bridge)" in chipset[0].reason


@pytest.mark.parametrize(("focus", "scan"), [(None, True), ("0000:0b:00.0", False), ("0000:02:00.1", False),
                                             ("0000:04:00.0", True)])  # group 8 holds the VGA 05:00.1
def test_display_scan_only_for_a_group_with_a_display_device(
        make_host: Callable[..., Host], monkeypatch: pytest.MonkeyPatch, focus: str | None, scan: bool) -> None:
    inventory = make_host().inventory()
    asked: list[tuple[bool, bool]] = []

    def fake_gather(paths: HostPaths, *, processes: bool = True, sriov_nics: bool = True,
                    scope: object = None) -> dict[str, Any]:
        asked.append((processes, sriov_nics))
        return {}

    monkeypatch.setattr(vfio_tui.core.usage_live, "gather_live_extras", fake_gather)
    provide = usage_source(HostPaths(Path("/")), None)  # the live host's source: gathers when asked
    provide(inventory, PciAddress.parse(focus) if focus else None)
    assert asked == [(scan, False)]  # the guard never asks `ip link` for VF settings it does not read


def test_no_process_scan_when_not_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import psutil

    def boom(*_: object, **__: object) -> None:
        raise AssertionError("process scan")

    monkeypatch.setattr(psutil, "process_iter", boom)
    monkeypatch.setattr(vfio_tui.core.usage_live, "_process_names", None)
    assert gather_live_extras(HostPaths(tmp_path), processes=False)["display_servers"] == []


def test_process_names_are_cached_per_process(monkeypatch: pytest.MonkeyPatch) -> None:
    import psutil

    calls: list[int] = []
    real = psutil.process_iter

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(psutil, "process_iter", counting)
    monkeypatch.setattr(vfio_tui.core.usage_live, "_process_names", None)
    first = vfio_tui.core.usage_live.running_process_names()
    assert vfio_tui.core.usage_live.running_process_names() is first
    assert len(calls) == 1

"""Undo against guests that behave like real ones: a hot-unplug the guest acknowledges, one it never
does (a clean timeout, nothing claimed), and a guest that ignores the ACPI power button."""

from __future__ import annotations

from collections.abc import Callable

from tests.passthrough.guest import with_guest
from tests.passthrough.state import domains_state, host_state
from vfio_tui.core.host import Host
from vfio_tui.core.libvirt.connection import Hypervisor
from vfio_tui.core.passthrough import list_runs, plan_passthrough, run_passthrough, undo_passthrough

Session = Callable[[], tuple[Host, Hypervisor]]


def _started(session: Session, **guest: object) -> tuple[Host, Hypervisor, dict[str, object]]:
    host, hv = session()
    before = host_state(host)
    assert run_passthrough(plan_passthrough(host, hv, "0000:0b:00.0", "vfio_test", "config", True)).ok
    return host, with_guest(hv, "vfio_test", **guest), before  # type: ignore[arg-type]


def test_live_undo_waits_for_the_guest_then_gives_the_device_back(session: Session) -> None:
    host, hv, before = _started(session, unplug_after=0.3)
    result = undo_passthrough(host, hv, None, live=True, unplug_timeout=5)
    assert result.ok, result
    assert result.done[0] == "hot-unplugged 0000:0b:00.0 from vfio_test"
    assert domains_state(hv)["vfio_test"] == ("running", [])  # the VM goes on, without the device
    assert host_state(host)["0000:0b:00.0"] == before["0000:0b:00.0"]


def test_a_guest_that_never_releases_times_out_cleanly(session: Session) -> None:
    host, hv, _ = _started(session, unplug_after=None)
    result = undo_passthrough(host, hv, None, live=True, unplug_timeout=0.6)
    assert not result.ok
    assert "has not released 0000:0b:00.0 within 0.6 s" in result.error
    assert result.left == ("0000:0b:00.0 in vfio_test", "0000:0b:00.0 on vfio-pci")
    assert host_state(host)["0000:0b:00.0"] == ("vfio-pci", "vfio-pci")
    assert list_runs(host)[0].status == "undo-failed"


def test_a_guest_that_ignores_the_power_button(session: Session) -> None:
    host, hv, before = _started(session, obeys_power_button=False)
    refused = undo_passthrough(host, hv, None, stop_vm=True, shutdown_timeout=0.5)
    assert not refused.ok and "did not shut down within 0.5 s" in refused.error
    assert domains_state(hv)["vfio_test"][0] == "running"
    forced = undo_passthrough(host, hv, None, stop_vm=True, force=True, shutdown_timeout=0.5)
    assert forced.ok and forced.done[0] == "shut down vfio_test"
    assert domains_state(hv)["vfio_test"] == ("shut off", []) and host_state(host) == before

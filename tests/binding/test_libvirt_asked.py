"""libvirt is asked which VM holds a device only when one can: a function on a host driver is held by no
VM (VFIO needs vfio-pci), and a /dev/vfio/N nobody has open is held by no running QEMU (issue 15: a
libvirt connection was a third of a bind on the lab's kernel). The refusals themselves are unchanged."""

from __future__ import annotations

import os
from collections.abc import Callable

import pytest

from vfio_tui.core.address import PciAddress
from vfio_tui.core.binding import apply_plan, plan_bind
from vfio_tui.core.holders import holders_of
from vfio_tui.core.host import Host
from vfio_tui.core.model import DomainHold, DomainHolds

HBA = PciAddress.parse("0000:0b:00.0")  # the demo's QLogic HBA, alone in group 19, on qla2xxx


def _asked(holds: DomainHolds) -> tuple[list[int], Callable[[], DomainHolds]]:
    calls: list[int] = []

    def domains() -> DomainHolds:
        calls.append(1)
        return holds

    return calls, domains


RUNNING = {HBA: (DomainHold("win10", "running", True, True),)}


def test_a_group_on_host_drivers_is_planned_without_asking_libvirt(make_host: Callable[..., Host]) -> None:
    host = make_host()
    calls, domains = _asked(RUNNING)  # (what a confused libvirt would say: it cannot, the HBA is on qla2xxx)
    plan = plan_bind(host, HBA, domains=domains)
    assert plan.ok and calls == []


def test_a_group_on_vfio_pci_asks_libvirt_and_refuses_what_a_running_vm_holds(
        make_host: Callable[..., Host]) -> None:
    host = make_host()
    assert apply_plan(host, plan_bind(host, HBA)).problems == ()
    calls, domains = _asked(RUNNING)
    plan = plan_bind(host, HBA, domains=domains)
    assert calls == [1]
    assert not plan.ok and "<hostdev> of running VM 'win10'" in " ".join(r.reason for r in plan.refused)


def test_restore_asks_libvirt_only_when_the_group_is_open(make_host: Callable[..., Host]) -> None:
    host = make_host()
    plan = plan_bind(host, HBA)
    assert apply_plan(host, plan).problems == ()
    calls, domains = _asked(RUNNING)
    assert holders_of(host.paths, [HBA], domains) == {} and calls == []
    # A QEMU with the group open (as the kernel shows it in /proc): now libvirt names the VM.
    fd_dir = host.paths.proc / "4242" / "fd"
    fd_dir.mkdir(parents=True)
    (host.paths.proc / "4242" / "comm").write_text("qemu-system-x86\n")
    os.symlink(host.paths.display(host.paths.dev_vfio / str(plan.group)), fd_dir / "23")
    held = holders_of(host.paths, [HBA], domains)
    assert calls == [1]
    assert [h.describe() for h in held[str(HBA)]] == ["running VM 'win10' holds it"]


def test_an_unreadable_process_makes_restore_ask_libvirt(make_host: Callable[..., Host],
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Without root another user's /proc/PID/fd cannot be listed: then nobody-seen is not nobody."""
    host = make_host()
    assert apply_plan(host, plan_bind(host, HBA)).problems == ()
    (host.paths.proc / "4343" / "fd").mkdir(parents=True)
    listdir = os.listdir

    def as_a_normal_user(path: str | os.PathLike[str]) -> list[str]:
        if str(path).endswith("/4343/fd/"):
            raise PermissionError(13, "Permission denied", str(path))
        return listdir(path)

    monkeypatch.setattr(os, "listdir", as_a_normal_user)
    calls, domains = _asked(RUNNING)
    held = holders_of(host.paths, [HBA], domains)
    assert calls == [1] and [h.describe() for h in held[str(HBA)]] == ["running VM 'win10' holds it"]

"""Provides restore() and pending_recovery(): devices back to the drivers the journal recorded.

`restore --all` also finishes interrupted runs (kill -9, power loss): their journal holds the
original driver and driver_override of every member, written before the first change.
A device on vfio-pci that vfio-tui has no record of is given back like `virsh nodedev-reattach`
does (clear driver_override, unbind, drivers_probe).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vfio_tui.core.address import PciAddress
from vfio_tui.core.binding.journal import APPLYING, Journal, load_journals, lock_is_free, pid_alive, writer_lock
from vfio_tui.core.binding.plan import Step
from vfio_tui.core.binding.state import StepRunner, driver_of, return_devices
from vfio_tui.core.errors import InputError, PlanRefusedError, VfioError
from vfio_tui.core.holders import holders_of
from vfio_tui.core.kernel import DEFAULT_WRITE_TIMEOUT
from vfio_tui.core.model import VFIO_DRIVER, DomainFacts
from vfio_tui.core.steps import OnStep

if TYPE_CHECKING:
    from vfio_tui.core.host import Host


@dataclass(frozen=True)
class RestoreResult:
    """What restore() did: devices put back (with their driver now) and devices that failed."""

    restored: tuple[tuple[str, str | None], ...]
    failed: tuple[tuple[str, str], ...]
    step_times: tuple[tuple[Step, float], ...]
    seconds: float

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass(frozen=True)
class PendingRun:
    """A bind that was interrupted half-way (its journal is still `.applying`)."""

    journal: str
    group: int
    started: str
    pid: int | None
    devices: tuple[str, ...]
    steps_done: int



def pending_recovery(host: Host) -> list[PendingRun]:
    """Interrupted runs on this host (raises HostDataError for a corrupt journal)."""
    free = lock_is_free(host.paths)
    out = []
    for j in load_journals(host.paths):
        if j.status != APPLYING or (not free and pid_alive(j.data.get("pid"))):
            continue
        steps = j.data.get("steps") or []
        out.append(PendingRun(host.paths.display(j.path), j.group, str(j.data.get("started", "?")),
                              j.data.get("pid"), tuple(j.originals),
                              sum(1 for s in steps if isinstance(s, dict) and s.get("state") == "done")))
    return out


def restore(host: Host, addresses: Iterable[str | PciAddress] | None = None, *, all: bool = False,  # noqa: A002
            on_step: OnStep | None = None, timeout: float = DEFAULT_WRITE_TIMEOUT,
            domains: DomainFacts | None = None) -> RestoreResult:
    """Put devices back on the drivers they had before vfio-tui bound them (clearing driver_override).

    Args:
        addresses: the devices to put back. Each is expanded to every device of the bind run(s)
            that recorded it (the whole group that run bound); with all=True every device in every
            journal.

    Raises:
        InputError: no address and not all; an address vfio-tui has no record of and that is not on
            vfio-pci (nothing is written then).
        PlanRefusedError: a device to give back is still held — a running domain has it (`domains`,
            libvirt's view) or a process has its /dev/vfio node open; nothing is written then. On a real
            kernel the unbind would block until the VM lets go, or yank the device out of the guest.
        HostDataError: a corrupt journal (nothing is written).
        LockedError: another vfio-tui holds the lock.
    """
    if not all and not addresses:
        raise InputError("say which devices to restore: an address, or --all")
    wanted = None if all else [str(a if isinstance(a, PciAddress) else PciAddress.parse(a))
                               for a in addresses or ()]
    t0 = time.perf_counter()
    runner = StepRunner(host.paths, host.kernel, timeout, on_step, phase="restore")
    with writer_lock(host.paths, "restore"):
        journals = load_journals(host.paths)
        plan: list[tuple[Journal | None, dict[str, dict[str, Any]]]] = []
        if wanted is None:
            plan = [(j, j.originals) for j in reversed(journals)]  # newest first: unwind in order
        else:
            # A bind run changed its whole group together, so it is undone together: restoring
            # one function of a multi-function group (or one endpoint beside a bridge) and leaving
            # its siblings on vfio-pci would leave the group half bound (lab finding).
            owners = [j for j in reversed(journals) if any(a in j.originals for a in wanted)]
            plan = [(j, j.originals) for j in owners]
            covered = {a for j in owners for a in j.originals}
            for addr in wanted:
                if addr in covered:
                    continue
                if not host.paths.pci_device(addr).exists():
                    raise InputError(f"no PCI device {addr} on {host.label}")
                elif driver_of(host.paths, addr) == VFIO_DRIVER:
                    plan.append((None, {addr: {"address": addr, "driver": None, "override": None,
                                               "reattach": True}}))
                else:
                    raise InputError(f"{addr} is on {driver_of(host.paths, addr) or 'no driver'} and vfio-tui has"
                                     " no record of binding it: nothing to restore")
        held = holders_of(host.paths, [a for _, originals in plan for a in originals], domains, open_groups=True)
        if held:
            raise PlanRefusedError("not giving devices back while they are in use: " + "; ".join(
                f"{a}: {h.detail}" for a, hs in held.items() for h in hs), fix=next(iter(held.values()))[0].fix)
        restored: list[tuple[str, str | None]] = []
        failed: list[tuple[str, str]] = []
        for journal, originals in plan:
            errors = _reattach(runner, originals) if journal is None else return_devices(runner, originals)
            for addr in originals:
                if addr in errors:
                    failed.append((addr, errors[addr]))
                else:
                    restored.append((addr, driver_of(host.paths, addr)))
            if journal is not None:
                journal.drop_devices({a for a in originals if a not in errors})
    return RestoreResult(tuple(restored), tuple(failed), tuple(runner.times), time.perf_counter() - t0)


def _reattach(runner: StepRunner, originals: dict[str, dict[str, Any]]) -> dict[str, str]:
    """libvirt's virPCIDeviceReattach() for devices with no record: clear override, unbind, probe."""
    paths = runner.paths
    failed: dict[str, str] = {}
    for addr in originals:
        bus = paths.pci_bus
        steps = [Step("override", addr, paths.display(bus / "devices" / addr / "driver_override"), "\n", ""),
                 Step("unbind", addr, paths.display(bus / "drivers" / VFIO_DRIVER / "unbind"), addr, ""),
                 Step("probe", addr, paths.display(bus / "drivers_probe"), addr, "")]
        for step in steps:
            try:
                runner.run(step)
            except VfioError as exc:
                failed[addr] = str(exc)
                break
    return failed

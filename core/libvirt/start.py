"""Provides start_domain(): start a VM with live step events, and a FailureRecord when it fails.

With managed='yes' hostdevs, libvirt itself moves each device to vfio-pci before QEMU
starts (virHostdevPreparePCIDevices) and back at stop; QEMU then opens /dev/vfio/N. A
failure anywhere in that chain comes back as one libvirtError, which is why the record also
carries the QEMU log and the kernel messages.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Final

from vfio_tui.core.libvirt.errors import code_name
from vfio_tui.core.libvirt.failure import FailureRecord, collect_failure, log_size, qemu_log_path
from vfio_tui.core.libvirt.xml import DomainXml
from vfio_tui.core.steps import OnStep, StepEvent, StepReporter

if TYPE_CHECKING:
    from vfio_tui.core.host import Host
    from vfio_tui.core.libvirt.connection import Hypervisor

#: How long to wait for a started domain to report "running" (QEMU under TCG can be slow).
RUNNING_TIMEOUT: Final = 30.0
VIR_ERR_INTERNAL_ERROR: Final = 1


@dataclass
class StartResult:
    """The outcome of start_domain."""

    vm: str
    ok: bool
    seconds: float
    record: FailureRecord | None = None
    events: list[StepEvent] = field(default_factory=list)
    already_running: bool = False


def start_domain(hv: Hypervisor, vm: str, host: Host, on_step: OnStep | None = None) -> StartResult:
    """Start `vm`; on failure return (not raise) a FailureRecord with libvirt's error and the logs.

    Raises:
        UnknownDomainError: no such VM.
    """
    lv = hv.libvirt
    rep = StepReporter(on_step)
    t_start = time.perf_counter()
    dom = hv.lookup(vm)
    if dom.isActive():
        rep.info(f"{vm} is already running")
        return StartResult(vm, True, 0.0, events=rep.events, already_running=True)
    hostdevs = [str(h.address) for h in DomainXml(hv.xml(dom, inactive=True)).hostdevs()]
    if hostdevs:
        managed = [str(h.address) for h in DomainXml(hv.xml(dom, inactive=True)).hostdevs() if h.managed]
        if managed:
            rep.info("libvirt will detach from the host", ", ".join(managed) + " (managed='yes')")
    if hostdevs and hv.runs_on(host):
        _ensure_vfio_loaded(host, rep)
    log_path = qemu_log_path(host, vm)
    offset = log_size(log_path) or 0
    name = f"start {vm}"
    rep.emit(StepEvent(name, "started"))
    t0 = time.perf_counter()
    if hv.demo and host.simulated:
        # libvirt's test driver starts anything; the simulated host fails what a real one would.
        from vfio_tui.core.simulated.qemu import domain_starting

        sim = domain_starting(host, vm, hv.xml(dom, inactive=True))
        if sim is not None:
            record = collect_failure(host, vm, uri=hv.uri, hostdevs=hostdevs, log_offset=offset, logs=True)
            # The kernel lines are this start's own (kern.log also holds older runs' lines).
            record = replace(record, error_message=sim.libvirt_error, error_code=VIR_ERR_INTERNAL_ERROR,
                             error_code_name=code_name(VIR_ERR_INTERNAL_ERROR), kernel_log=sim.kernel_lines)
            rep.emit(StepEvent(name, "failed", record.error_message, time.perf_counter() - t0))
            return StartResult(vm, False, time.perf_counter() - t_start, record=record, events=rep.events)
    try:
        dom.create()
        if hv.demo and host.simulated:
            # The order a real host has: the domain runs (kept by "libvirtd"), then QEMU holds the groups.
            from vfio_tui.core.simulated.qemu import domain_running

            hv.save_state()
            domain_running(host, vm, hv.xml(dom, inactive=False))
    except lv.libvirtError as exc:
        record = collect_failure(host, vm, uri=hv.uri, error=exc, hostdevs=hostdevs, log_offset=offset,
                                 logs=hv.runs_on(host))
        rep.emit(StepEvent(name, "failed", record.error_message, time.perf_counter() - t0))
        return StartResult(vm, False, time.perf_counter() - t_start, record=record, events=rep.events)
    rep.emit(StepEvent(name, "done", seconds=time.perf_counter() - t0))
    with rep.step(f"wait until {vm} is running"):
        deadline = time.monotonic() + RUNNING_TIMEOUT
        while hv.state(dom) != "running" and time.monotonic() < deadline:
            time.sleep(0.1)
    state = hv.state(dom)
    if state != "running":
        record = collect_failure(host, vm, uri=hv.uri, hostdevs=hostdevs, log_offset=offset,
                                 logs=hv.runs_on(host))
        record = replace(record, error_message=f"the VM is {state!r} after start")
        return StartResult(vm, False, time.perf_counter() - t_start, record=record, events=rep.events)
    return StartResult(vm, True, time.perf_counter() - t_start, events=rep.events)


def _ensure_vfio_loaded(host: Host, rep: StepReporter) -> None:
    """Load vfio-pci before a start with hostdevs.

    libvirt (9.0, qemuHostdevHostSupportsPassthroughVFIO()) checks that /dev/vfio/vfio exists
    before it would load vfio-pci itself, and otherwise fails with "host doesn't support VFIO PCI
    passthrough" (lab step 5b) - the same words as on a host without an IOMMU.
    """
    if (host.paths.dev_vfio / "vfio").exists() and host.paths.module("vfio_pci").is_dir():
        return
    from vfio_tui.core.errors import VfioError

    try:
        with rep.step("load vfio-pci (libvirt checks /dev/vfio/vfio before it would)"):
            host.kernel.load_module("vfio-pci")
    except VfioError:
        # libvirt's own error and the explain catalog will say what is missing.
        pass

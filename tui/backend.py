"""Provides Backend: the one place the app calls core (inventory, checks, binding, libvirt, explain).

Screens never import core's optional parts themselves. Every call here is blocking and runs in
a thread worker. Parts of core that have not landed yet raise `NotAvailable`, which a screen
shows as a plain sentence instead of failing. Results are turned into the small view records
of tui/views.py, so screens do not depend on the field names of core's objects.
"""

from __future__ import annotations

import importlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from core.address import PciAddress
from core.errors import VfioError
from core.host import Host
from core.model import HostInventory
from tui.views import (
    CheckRow,
    ExplainView,
    Finding,
    PassthroughPlan,
    RunOutcome,
    StepUpdate,
    VmRow,
    attr,
    lines_of,
    step_update_from,
)

HypervisorFactory = Callable[[], Any]
StepCallback = Callable[[StepUpdate], None]


class NotAvailable(Exception):
    """A part of vfio-tui this screen needs has not been built into this version yet."""

    def __init__(self, feature: str, module: str) -> None:
        super().__init__(f"{feature} is not available yet (module {module} is not in this version)")
        self.feature = feature
        self.module = module


LOG_FILE_LIMIT = 32 << 20
"""The most of a log file the app loads into its paste box (explain FILE on the command line reads 256 MiB)."""


def _core(module: str, feature: str) -> ModuleType:
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        # Only the module itself missing means "not built yet"; a missing dependency inside it is a bug.
        if exc.name == module:
            raise NotAvailable(feature, module) from exc
        raise


class Backend:
    """Blocking operations on one host (and, lazily, one hypervisor connection)."""

    def __init__(self, host: Host, hypervisor_factory: HypervisorFactory | None = None) -> None:
        self.host = host
        """The host every operation works on (demo, recorded, tree or live)."""
        self._hypervisor_factory = hypervisor_factory
        self._hypervisor: Any = None
        self._lock = threading.Lock()
        self._failed_start: Any = None
        self.session_log: list[str] = []
        """What this session changed, newest last (shown in the journal screen)."""

    def inventory(self) -> HostInventory:
        return self.host.inventory()

    def hypervisor(self) -> Any:
        """The libvirt connection (opened on first use, in the calling worker thread)."""
        with self._lock:
            if self._hypervisor is None:
                if self._hypervisor_factory is None:
                    raise NotAvailable("the VM list", "core.libvirt")
                self._hypervisor = self._hypervisor_factory()
            return self._hypervisor

    def list_vms(self) -> list[VmRow]:
        hv = self.hypervisor()
        rows = []
        for dom in hv.list_domains():
            hostdevs = tuple(str(h) for h in (attr(dom, "hostdevs") or ()))
            rows.append(VmRow(str(attr(dom, "name")), str(attr(dom, "state") or "?"), hostdevs))
        return rows

    def vm_of_devices(self) -> dict[str, str]:
        """{full PCI address: VM name} for every hostdev a defined VM has."""
        out: dict[str, str] = {}
        for vm in self.list_vms():
            for dev in vm.hostdevs:
                try:
                    out[str(PciAddress.parse(dev))] = vm.name
                except VfioError:
                    continue
        return out

    def checks(self, *, for_address: str | None = None, vm: str | None = None) -> list[CheckRow]:
        mod = _core("core.checks", "Prerequisite checks")
        hv = None
        try:
            hv = self.hypervisor()
        except (NotAvailable, VfioError):
            hv = None
        results = mod.run_checks(self.host, for_address=for_address, vm=vm, hypervisor=hv)
        return [CheckRow(str(attr(r, "id")), str(attr(r, "title")), str(attr(r, "status")),
                         lines_of(attr(r, "evidence")), str(attr(r, "fix") or ""), str(attr(r, "summary") or ""))
                for r in results]

    def plan(self, address: str, vm: str | None) -> PassthroughPlan:
        binding = _core("core.binding", "Binding")
        addr = PciAddress.parse(address)
        bind_plan = binding.plan_bind(self.host, addr)
        problems = [f"{r.address}: {r.reason}" + (f" (fix: {r.fix})" if r.fix else "")
                    for r in attr(bind_plan, "refused") or ()]
        members, undo = [], []
        for d in attr(bind_plan, "devices") or ():
            change = "stays (bridge)" if d.is_bridge else f"{d.from_driver or 'no driver'} -> {d.to_driver}"
            if not d.is_bridge and d.from_driver == d.to_driver:
                change = f"already on {d.to_driver}"
            members.append(f"{d.address}  {change}" + (f"  ({d.note})" if d.note else ""))
            if not d.is_bridge and d.from_driver != d.to_driver:
                undo.append(f"{d.address}: back to {d.from_driver or 'no driver'}"
                            + (f", driver_override {d.from_override}" if d.from_override else
                               ", driver_override cleared"))
        attach_plan = None
        xml_diff = ""
        if vm:
            lv = _core("core.libvirt", "Attaching to a VM")
            attach_plan = lv.plan_attach(self.host, self.hypervisor(), addr, vm, mode="config", managed=True)
            xml_diff = str(attr(attach_plan, "diff") or "")
            problems += [str(p) for p in attr(attach_plan, "problems") or ()]
            undo.append(f"remove the <hostdev> entries from {vm}'s definition")
        return PassthroughPlan(
            address=str(addr), vm=vm, members=members,
            driver_changes=[s.describe() for s in attr(bind_plan, "steps") or ()] or ["nothing to change"],
            xml_diff=xml_diff, undo=undo or ["nothing to undo: the group is on vfio-pci already"],
            problems=problems,
            warnings=lines_of(attr(bind_plan, "warnings")) + lines_of(attr(attach_plan, "notes")),
            bind_plan=bind_plan, attach_plan=attach_plan,
        )

    def run(self, plan: PassthroughPlan, on_step: StepCallback, cancel: threading.Event) -> RunOutcome:
        """bind -> verify -> attach -> start, reporting each step; stops early on failure or cancel.

        apply_plan rolls the whole group back itself when a write or its own verification fails.
        """
        binding = _core("core.binding", "Binding")
        done: list[str] = []

        def forward(event: Any) -> None:
            on_step(step_update_from(event))

        def phase(name: str, work: Callable[[], Any]) -> Any:
            if cancel.is_set():
                raise _Cancelled(name)
            on_step(StepUpdate(name, "started", 0.0))
            t0 = time.monotonic()
            try:
                value = work()
            except Exception as exc:
                on_step(StepUpdate(name, "failed", time.monotonic() - t0, str(exc)))
                raise
            on_step(StepUpdate(name, "done", time.monotonic() - t0))
            done.append(name)
            return value

        try:
            phase("bind", lambda: binding.apply_plan(self.host, plan.bind_plan, on_step=forward, cancel=cancel))
            self.session_log.append(f"bound group of {plan.address} to vfio-pci")
            phase("verify", lambda: self._verify(plan.address))
            if plan.vm and plan.attach_plan is not None:
                lv = _core("core.libvirt", "Attaching to a VM")
                phase("attach", lambda: lv.apply_attach(self.hypervisor(), plan.attach_plan, on_step=forward))
                self.session_log.append(f"added {plan.address} to {plan.vm}'s definition")
                started = phase("start", lambda: self._start(lv, plan.vm or "", forward))
                if attr(started, "already_running"):
                    return RunOutcome(True, done, None, message=f"{plan.vm} was already running: the device is in"
                                      " its definition and reaches the guest at its next start")
        except _Cancelled as exc:
            return RunOutcome(False, done, None, cancelled=True, message=f"cancelled before {exc}")
        except _StartFailed:
            result = self._failed_start
            return RunOutcome(False, done, self._explain_record(attr(result, "record") or result))
        except NotAvailable:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure is explained, not raised into the UI
            return RunOutcome(False, done, self._explain_exception(exc))
        return RunOutcome(True, done, None)

    def _start(self, lv: ModuleType, vm: str, forward: Callable[[Any], None]) -> Any:
        result = lv.start_domain(self.hypervisor(), vm, self.host, on_step=forward)
        if attr(result, "ok") is False:
            # Marks the step failed in the list; run() then explains the failure record.
            self._failed_start = result
            raise _StartFailed(str(attr(attr(result, "record"), "error_message") or "the VM did not start"))
        return result

    def _verify(self, address: str) -> None:
        inv = self.host.inventory()
        group = inv.group_of(PciAddress.parse(address))
        members = inv.members(group.id) if group else []
        left = [str(d.address) for d in members if not d.is_bridge and not d.on_vfio]
        if left:
            raise VfioError(f"still not on vfio-pci: {', '.join(left)}")

    def _explain_record(self, record: Any) -> ExplainView:
        try:
            mod = _core("core.explain", "Explanations")
            report = mod.explain_failure(record, self.host)
        except NotAvailable:
            return ExplainView([], [str(record)], note="explanations are not available yet")
        return ExplainView.from_report(report)

    def _explain_exception(self, exc: Exception) -> ExplainView:
        text = str(exc)
        try:
            view = self.explain_text(text)
        except NotAvailable:
            view = ExplainView([], [text])
        if not view.findings and isinstance(exc, VfioError):
            view = ExplainView([Finding(exc.title, exc.detail, exc.fix, [], "")], [text])
        return view

    def undo(self, plan: PassthroughPlan) -> list[str]:
        """Detach from the VM (when attached), then every group member back to its old driver."""
        binding = _core("core.binding", "Undo")
        lines: list[str] = []
        if plan.vm and plan.attach_plan is not None:
            lv = _core("core.libvirt", "Detaching from a VM")
            try:
                lv.detach(self.host, self.hypervisor(), PciAddress.parse(plan.address), plan.vm)
                lines.append(f"removed {plan.address} from {plan.vm}")
            except Exception as exc:  # noqa: BLE001 - say it and go on with the drivers
                lines.append(f"could not remove it from {plan.vm}: {exc}")
        failed = binding.undo_plan(self.host, plan.bind_plan)
        if failed:
            raise VfioError("could not restore " + "; ".join(f"{a}: {e}" for a, e in dict(failed).items()),
                            fix="vfio-tui restore --all retries; see the journal screen")
        self.session_log.append(f"undid the binding of {plan.address}'s group")
        return [*lines, *plan.undo]

    def restore_all(self) -> list[str]:
        binding = _core("core.binding", "Restore")
        result = binding.restore(self.host, all=True)
        restored = [f"{a}: back to {d or 'no driver'}" for a, d in attr(result, "restored") or ()]
        failed = [f"{a}: FAILED: {e}" for a, e in attr(result, "failed") or ()]
        self.session_log.append(f"restored {len(restored)} devices" + (f", {len(failed)} failed" if failed else ""))
        return restored + failed or ["nothing to restore"]

    def journal(self) -> list[str]:
        binding = _core("core.binding", "The journal")
        out = []
        for run in binding.pending_recovery(self.host):
            devices = ", ".join(attr(run, "devices") or ())
            out.append(f"group {attr(run, 'group')} ({devices}), started {attr(run, 'started')}, "
                       f"{attr(run, 'steps_done')} steps done; journal {attr(run, 'journal')}")
        return out

    def explain_text(self, text: str) -> ExplainView:
        mod = _core("core.explain", "Explanations")
        return ExplainView.from_report(mod.explain_text(text, host=self.host))

    def explain_vm(self, vm: str) -> ExplainView:
        mod = _core("core.explain", "Explanations")
        hv = None
        try:
            hv = self.hypervisor()
        except (NotAvailable, VfioError):
            hv = None
        logs = mod.collect_vm_logs(self.host, vm, hypervisor=hv)
        text = logs if isinstance(logs, str) else "\n".join(lines_of(logs))
        return self.explain_text(text)

    def read_log_file(self, name: str) -> str:
        """A log file the user named; on a simulated host an absolute path is read inside its tree."""
        path = Path(name).expanduser()
        if self.host.simulated and path.is_absolute():
            inside = self.host.paths.under(str(path))
            if inside.exists():
                path = inside
        inputs = _core("core.explain.inputs", "Explanations")
        normalize = _core("core.explain.normalize", "Explanations")
        try:  # a FIFO or /dev/zero is refused at once; a huge file is cut (the app holds it in the text box)
            data, _more = inputs.read_log(path, LOG_FILE_LIMIT, name)
        except OSError as exc:
            raise VfioError(f"cannot read {name}: {exc.strerror}", fix="give the path of a readable log file") \
                from exc
        # the text goes into the paste box as it is shown: no escape sequence or control reaches the screen
        return str(normalize.safe_multiline(data.decode("utf-8", errors="replace")))


class _Cancelled(Exception):
    """The user cancelled before the named step."""


class _StartFailed(Exception):
    """start_domain returned a failure record (kept in Backend._failed_start)."""

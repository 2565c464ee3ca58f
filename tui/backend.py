"""Provides Backend: the app's session on one host — the host, the hypervisor that goes with it, and
the core calls every screen makes (typed: screens get core's own objects).

Every method blocks; screens call them from thread workers. Changes to the host go through core's
passthrough transaction (run/undo) and binding restore, never around them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from vfio_tui.core.address import PciAddress
from vfio_tui.core.binding.restore import RestoreResult, restore
from vfio_tui.core.checks import FixResult, apply_fix, run_checks, undo_fix
from vfio_tui.core.checks.result import CheckResult
from vfio_tui.core.errors import VfioError
from vfio_tui.core.explain import collect_vm_logs, explain_failure, explain_text
from vfio_tui.core.explain.model import ExplainReport
from vfio_tui.core.explain.normalize import safe_multiline
from vfio_tui.core.host import Host
from vfio_tui.core.libvirt.connection import DomainInfo, Hypervisor
from vfio_tui.core.libvirt.failure import FailureRecord
from vfio_tui.core.libvirt.for_host import domain_facts, domain_holds, hypervisor_for
from vfio_tui.core.loginput import read_log
from vfio_tui.core.model import DomainFacts, DomainHold, HostInventory
from vfio_tui.core.passthrough import (
    PassthroughPlan,
    RunRecord,
    RunResult,
    UndoPlan,
    UndoResult,
    find_run,
    interrupted_runs,
    list_runs,
    open_run_for,
    plan_passthrough,
    plan_undo,
    run_passthrough,
    undo_passthrough,
)
from vfio_tui.core.sriov import SriovPlan, SriovResult, apply_sriov, plan_sriov, plan_sriov_undo, undo_sriov
from vfio_tui.core.steps import OnStep

if TYPE_CHECKING:
    from vfio_tui.core.binding.restore import PendingRun
    from vfio_tui.core.hooks.install import InstallPlan

HypervisorFactory = Callable[[], Hypervisor]
LOG_FILE_LIMIT = 32 << 20
"""The most of a log file the app loads into its paste box (explain FILE on the command line reads 256 MiB)."""


@dataclass(frozen=True)
class HostView:
    """One read of the host: what every screen shows until the next read (the tree, the detail,
    the status line and the journal all draw from the same one, so they cannot disagree)."""

    inventory: HostInventory
    holds: dict[PciAddress, tuple[DomainHold, ...]] = field(default_factory=dict)
    """Which VMs have each device in their definition, and whether they run with it."""
    vms_note: str = ""
    """Why there are no domain facts ("" when libvirt answered; "reading…" before it has)."""
    states: dict[int, str] = field(default_factory=dict)
    """Each group's state as the screens name it (tui.rows.group_state), worked out with the read
    so that the screens do not go through 900 groups on the UI thread ({} when not)."""


class Backend:
    """Blocking operations on one host (and, lazily, its hypervisor)."""

    def __init__(self, host: Host, hypervisor_factory: HypervisorFactory | None = None) -> None:
        self.host = host
        """The host every operation works on (demo, recorded, tree or live)."""
        self._hypervisor_factory = hypervisor_factory or (lambda: hypervisor_for(host))
        self._hypervisor: Hypervisor | None = None
        self._lock = threading.Lock()
        self.session_log: list[str] = []
        """What this session changed, newest last (shown in the journal screen)."""

    # -- reading -------------------------------------------------------------------------------
    def inventory(self) -> HostInventory:
        return self.host.inventory()

    def read_view(self, inventory: HostInventory | None = None) -> HostView:
        """The host now: its inventory (or the one given) and which VMs hold which device."""
        inv = inventory if inventory is not None else self.inventory()
        try:
            return HostView(inv, dict(domain_holds(self.hypervisor())))
        except VfioError as exc:  # no libvirt is normal on many hosts
            return HostView(inv, {}, exc.detail)

    def open_run_for(self, address: PciAddress) -> RunRecord | None:
        """The passthrough run that put this device where it is and is not undone yet."""
        return open_run_for(self.host, address)

    def hypervisor(self) -> Hypervisor:
        """The libvirt connection (opened on first use, in the calling worker thread).

        Raises:
            NoHypervisorError: the host has none (a recorded host, a plain tree).
            ConnectError: libvirt could not be reached.
        """
        with self._lock:
            if self._hypervisor is None:
                self._hypervisor = self._hypervisor_factory()
            return self._hypervisor

    def hypervisor_or_none(self) -> Hypervisor | None:
        try:
            return self.hypervisor()
        except VfioError:
            return None

    def list_vms(self) -> list[DomainInfo]:
        return self.hypervisor().list_domains()

    def checks(self, *, for_address: str | None = None, vm: str | None = None) -> list[CheckResult]:
        return run_checks(self.host, for_address=for_address, vm=vm, hypervisor=self.hypervisor_or_none())

    # -- the libvirt hook of a single-GPU host (core.hooks) ----------------------------------------
    def hook_install_plan(self, vm: str) -> InstallPlan:
        """What `vfio-tui hooks install VM` would write and change (nothing is changed)."""
        from vfio_tui.core.hooks.install import plan_install

        return plan_install(self.host, self.hypervisor(), vm)

    def hook_install(self, plan: InstallPlan) -> list[str]:
        """Install it (journaled; `hooks remove VM` undoes it): what was done, as lines to show."""
        from vfio_tui.core.hooks.install import RESTART_NOTE, apply_install

        applied = apply_install(self.host, self.hypervisor(), plan)
        lines = [f"Installed the libvirt hook of {plan.vm}" + (f" (journal {applied.journal_id})" if applied else "")]
        if plan.new_script:
            lines.append(RESTART_NOTE)
        lines.append(f"undo: vfio-tui hooks remove {plan.vm} --yes")
        self.session_log.append(lines[0])
        return lines

    # -- the passthrough transaction -------------------------------------------------------------
    def plan(self, address: str, vm: str | None, *, start: bool = True, mode: str = "config",
             stop_display_manager: bool = False) -> PassthroughPlan:
        hv = self.hypervisor() if vm is not None else self.hypervisor_or_none()
        return plan_passthrough(self.host, hv, address, vm, mode, start,
                                stop_display_manager=stop_display_manager)

    def run(self, plan: PassthroughPlan, on_step: OnStep, cancel: threading.Event) -> RunResult:
        if self.host.remote is not None:
            # A named host's copy here is a recording: vfio-tui on the host runs the transaction.
            from vfio_tui.tui.remote_backend import remote_run

            return self._remember(plan, remote_run(self.host.remote, plan, on_step))
        result = run_passthrough(plan, on_step, cancel=cancel)
        self._saved()
        return self._remember(plan, result)

    def _remember(self, plan: PassthroughPlan, result: RunResult) -> RunResult:
        target = f" to {plan.vm}" if plan.vm else " (bind only)"
        where = f" on {self.host.remote}" if self.host.remote is not None else ""
        self.session_log.append(f"{result.run_id}: passed {plan.address}{target}{where}: "
                                + ("done" if result.ok else f"{result.failed_phase} failed"))
        return result

    def explain_run(self, result: RunResult) -> ExplainReport | None:
        """Why a run's VM did not start (None when it was not the start that failed)."""
        if result.failure is None:
            return None
        return explain_failure(result.failure, self.host)

    def runs(self) -> list[RunRecord]:
        return list_runs(self.host)

    def interrupted(self) -> list[RunRecord]:
        return interrupted_runs(self.host)

    def plan_undo(self, run_id: str | None, *, live: bool = False, stop_vm: bool = False,
                  force: bool = False) -> UndoPlan:
        if self._is_sriov(run_id):
            return plan_sriov_undo(self.host, run_id, domains=self._domains())
        return plan_undo(self.host, self.hypervisor_or_none(), run_id, live=live, stop_vm=stop_vm, force=force)

    def undo(self, run_id: str | None, on_step: OnStep | None = None, *, live: bool = False, stop_vm: bool = False,
             force: bool = False) -> UndoResult:
        if self.host.remote is not None:
            from vfio_tui.tui.remote_backend import remote_undo_run

            result = remote_undo_run(self.host.remote, run_id, on_step, live=live, stop_vm=stop_vm, force=force)
            self.session_log.append(f"{result.summary} (on {self.host.remote})")
            return result
        if self._is_sriov(run_id):  # an SR-IOV change: back to the PF's previous number of VFs
            result = undo_sriov(self.host, run_id, on_step, domains=self._domains())
        else:
            result = undo_passthrough(self.host, self.hypervisor_or_none(), run_id, on_step, live=live,
                                      stop_vm=stop_vm, force=force)
        self._saved()
        self.session_log.append(result.summary)
        return result

    # -- SR-IOV: a PF's number of VFs ------------------------------------------------------------
    def plan_sriov(self, pf: str, num_vfs: int, *, autoprobe: bool | None = None) -> SriovPlan:
        return plan_sriov(self.host, pf, num_vfs, autoprobe=autoprobe, domains=self._domains())

    def apply_sriov(self, plan: SriovPlan, on_step: OnStep) -> SriovResult:
        result = apply_sriov(self.host, plan, on_step=on_step)
        self.session_log.append(f"{result.run_id}: SR-IOV {plan.pf}: {plan.current_vfs} → {plan.target_vfs} VFs")
        return result

    def _domains(self) -> DomainFacts | None:
        hv = self.hypervisor_or_none()
        return domain_facts(hv) if hv is not None else None

    def _is_sriov(self, run_id: str | None) -> bool:
        return find_run(self.host.paths, run_id).kind == "sriov"

    def pending_binds(self) -> list[PendingRun]:
        from vfio_tui.core.binding.restore import pending_recovery

        return pending_recovery(self.host)

    def restore_all(self) -> RestoreResult:
        """Every device vfio-tui bound back to its driver — refused while a VM or a process holds any."""
        if self.host.remote is not None:
            raise VfioError(f"restore on {self.host.remote} is made by vfio-tui there",
                            fix=f"vfio-tui restore --on {self.host.remote}")
        hv = self.hypervisor_or_none()
        result = restore(self.host, all=True, domains=domain_facts(hv) if hv is not None else None)
        self.session_log.append(f"restored {len(result.restored)} devices"
                                + (f", {len(result.failed)} failed" if result.failed else ""))
        return result

    def _saved(self) -> None:
        # A sim-host tree keeps the demo VMs' state on disk, as the CLI does after each command.
        if self._hypervisor is not None:
            self._hypervisor.save_state()

    # -- check fixes (the same core calls as `vfio-tui check --fix ID` / `--undo ID`) ------------------
    def preview_fix(self, check_id: str) -> FixResult:
        """The fix of a check as a diff; nothing changes."""
        return apply_fix(self.host, check_id, hypervisor=self.hypervisor_or_none())

    def apply_fix(self, check_id: str) -> FixResult:
        """Apply it: backup, journal entry cfg-N, atomic replace (undo_fix takes it back)."""
        result = apply_fix(self.host, check_id, yes=True, hypervisor=self.hypervisor_or_none())
        self.session_log.append(f"{result.journal_id}: applied fix {result.fix_id}")
        return result

    def preview_undo_fix(self, ident: str) -> FixResult:
        return undo_fix(self.host, ident, yes=False)

    def undo_fix(self, ident: str) -> FixResult:
        result = undo_fix(self.host, ident, yes=True)
        self.session_log.append(f"{result.journal_id}: undid fix {result.fix_id}")
        return result

    # -- explain ---------------------------------------------------------------------------------
    def explain_text(self, text: str) -> ExplainReport:
        return explain_text(text, host=self.host)

    def explain_record(self, record: FailureRecord) -> ExplainReport:
        return explain_failure(record, self.host)

    def explain_vm(self, vm: str) -> ExplainReport:
        return explain_text(collect_vm_logs(self.host, vm, self.hypervisor_or_none()), host=self.host)

    def read_log_file(self, name: str) -> str:
        """A log file the user named, as the paste box shows it; on a simulated host an absolute path
        is read inside its tree. A FIFO or a device is refused at once; a huge file is cut."""
        path = Path(name).expanduser()
        if self.host.simulated and path.is_absolute():
            inside = self.host.paths.under(str(path))
            if inside.exists():
                path = inside
        try:
            data, _more = read_log(path, LOG_FILE_LIMIT, name)
        except OSError as exc:
            raise VfioError(f"cannot read {name}: {exc.strerror}", fix="give the path of a readable log file") \
                from exc
        # The text goes into the paste box as it is shown: no escape sequence or control reaches the screen.
        return str(safe_multiline(data.decode("utf-8", errors="replace")))

    def close(self) -> None:
        if self._hypervisor is not None:
            self._hypervisor.close()
            self._hypervisor = None



"""The passthrough transaction: plan → bind → verify → attach → start, and its undo.

Every front end (the CLI's `pass`/`undo`, the app's wizard and journal) calls these and nothing
else to change a host and a VM together:

  plan_passthrough(host, hv, address, vm, mode, start) -> PassthroughPlan   (refusals first)
  run_passthrough(plan, on_step) -> RunResult                               (run record run-N)
  plan_undo(host, hv, run_id) -> UndoPlan
  undo_passthrough(host, hv, run_id, on_step, live=, stop_vm=, force=) -> UndoResult
  list_runs(host), interrupted_runs(host), open_run_for(host, address)

The names are loaded on first use: every command asks `records` whether a run was cut short, and
the planner pulls in libvirt and the binding engine, which `inventory` never needs (issue 15's
start-up budget).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vfio_tui.core.lazyexports import lazy_exports

if TYPE_CHECKING:
    from vfio_tui.core.address import PciAddress
    from vfio_tui.core.host import Host
    from vfio_tui.core.passthrough.plan import PassthroughPlan, Refusal, plan_passthrough
    from vfio_tui.core.passthrough.records import Interrupted, RunRecord, find_run, interrupted_work
    from vfio_tui.core.passthrough.run import RunResult, run_passthrough
    from vfio_tui.core.passthrough.undo import UndoPlan, UndoResult, plan_undo, undo_passthrough

_WHERE = {
    "PassthroughPlan": "plan", "Refusal": "plan", "plan_passthrough": "plan",
    "Interrupted": "records", "RunRecord": "records", "find_run": "records", "interrupted_work": "records",
    "RunResult": "run", "run_passthrough": "run",
    "UndoPlan": "undo", "UndoResult": "undo", "plan_undo": "undo", "undo_passthrough": "undo",
}


__getattr__ = lazy_exports(__name__, _WHERE, globals())


def list_runs(host: Host) -> list[RunRecord]:
    """Every passthrough run recorded on this host, oldest first."""
    from vfio_tui.core.passthrough.records import load_runs

    return load_runs(host.paths)


def interrupted_runs(host: Host) -> list[RunRecord]:
    """Runs cut short (kill -9, power loss, SSH drop): `vfio-tui undo RUN` takes them back."""
    from vfio_tui.core.binding.journal import lock_is_free
    from vfio_tui.core.passthrough.records import interrupted_runs as _interrupted

    return _interrupted(host.paths, lock_free=lock_is_free(host.paths))


def open_run_for(host: Host, address: str | PciAddress) -> RunRecord | None:
    """The run not undone yet that holds this device (its undo gives it back), or None."""
    from vfio_tui.core.passthrough.records import open_run_for as _open_run_for

    return _open_run_for(host.paths, str(address))


__all__ = [
    "Interrupted", "PassthroughPlan", "Refusal", "RunRecord", "RunResult", "UndoPlan", "UndoResult", "find_run",
    "interrupted_runs", "interrupted_work", "list_runs", "open_run_for", "plan_passthrough", "plan_undo",
    "run_passthrough",
    "undo_passthrough",
]

"""Provides run_hook(): what the installed script does when libvirt calls it, and watchdog().

It runs inside libvirt's call, which waits for it: it never opens a libvirt connection (that would
deadlock the daemon), only the host's own interfaces through vfio-tui's transaction, non-interactively,
with the plan recorded at install time.

- `prepare begin`: re-plan (bind-only: the hostdevs are in the VM's definition already), compare with the
  recording — the group's members, the card's functions, the release steps — and refuse on a difference or
  on a host use the plan cannot release (exit 3: libvirt aborts the start and prints the message); then
  run_passthrough (display manager, console, framebuffer, modules, bind, verify). A failed run puts back
  what it did at once (exit 2). On success a detached watchdog is started (when the plan has one).
- `stopped end` / `release end`: undo the run the hook made (undo_passthrough, no hypervisor): the
  drivers, then the modules, console and display manager. Nothing open: nothing to do.
- anything else, or a VM without a plan: nothing (exit 0, silent).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vfio_tui.core.errors import VfioError
from vfio_tui.core.hooks.layout import HookRecord, check_vm_name, read_record
from vfio_tui.core.hooks.remove import hook_run_of

if TYPE_CHECKING:
    from vfio_tui.core.host import Host
    from vfio_tui.core.passthrough import PassthroughPlan
    from vfio_tui.core.steps import StepEvent

Say = Callable[[str], None]


@dataclass(frozen=True)
class HookOutcome:
    code: int
    """0 done or nothing to do, 2 failed (what was done is put back), 3 refused (nothing changed)."""
    message: str = ""
    run_id: str | None = None


def _differences(record: HookRecord, plan: PassthroughPlan) -> list[str]:
    """How the host now differs from what the recorded plan was made for."""
    out: list[str] = []
    members = [d.address for d in plan.bind.devices if not d.is_bridge]
    if plan.bind.group != record.group or sorted(members) != sorted(record.members):
        out.append(f"IOMMU group {plan.bind.group} now holds {', '.join(members) or 'nothing'}; the plan was made"
                   f" for group {record.group}: {', '.join(record.members)}")
    gpu = plan.gpu
    if gpu is None:
        out.append(f"{record.gpu} is no longer a GPU")
        return out
    if sorted(gpu.functions) != sorted(record.functions):
        out.append(f"the card's functions are now {', '.join(gpu.functions)} (recorded:"
                   f" {', '.join(record.functions)})")
    known = {(s.kind, s.target) for s in record.release}
    new = [s.describe() for s in gpu.release if (s.kind, s.target) not in known]
    if new:
        out.append(f"releasing the card now also needs: {'; '.join(new)}")
    return out


def prepare(host: Host, record: HookRecord, say: Say, *, spawn: Callable[[HookRecord], None] | None = None
            ) -> HookOutcome:
    from vfio_tui.core.passthrough import plan_passthrough, run_passthrough, undo_passthrough
    from vfio_tui.core.passthrough.records import find_run

    open_run = hook_run_of(host, record.vm)
    if open_run is not None:
        return HookOutcome(0, f"{record.vm}: the GPU is on vfio-pci already ({open_run})", open_run)
    plan = plan_passthrough(host, None, record.gpu, None, stop_display_manager=True, from_hook=True, checks=False)
    diffs = _differences(record, plan)
    if diffs:
        return HookOutcome(3, f"vfio-tui hook: not starting {record.vm}: the host changed since `vfio-tui hooks"
                              f" install {record.vm}`: " + "; ".join(diffs)
                              + f". Check it, then run `vfio-tui hooks install {record.vm}` again.")
    if plan.refusals:
        return HookOutcome(3, f"vfio-tui hook: not starting {record.vm}: " + "; ".join(str(r) for r in plan.refusals))
    def on_step(e: StepEvent) -> None:
        if e.state in ("done", "failed"):
            say(f"  {e.step}: {e.state}" + (f" ({e.detail})" if e.detail else ""))

    result = run_passthrough(plan, on_step)
    if result.run_id is not None:
        run = find_run(host.paths, result.run_id)
        run.data["hook"] = record.vm
        run.save()
    if not result.ok:
        message = f"vfio-tui hook: not starting {record.vm}: {result.failed_phase} failed: {result.error}"
        if result.run_id is not None and find_run(host.paths, result.run_id).status not in ("rolled-back", "undone"):
            undone = undo_passthrough(host, None, result.run_id)
            message += "; " + undone.summary
        else:
            message += "; nothing was changed (what was done is put back: console and display manager too)"
        return HookOutcome(2, message, result.run_id)
    if record.watchdog and spawn is not None:
        spawn(record)
    return HookOutcome(0, f"vfio-tui hook: {record.vm}: group {plan.bind.group} on vfio-pci ({result.run_id})",
                       result.run_id)


def release(host: Host, record: HookRecord, why: str) -> HookOutcome:
    from vfio_tui.core.passthrough import undo_passthrough

    run_id = hook_run_of(host, record.vm)
    if run_id is None:
        return HookOutcome(0)
    result = undo_passthrough(host, None, run_id)
    if result.ok:
        return HookOutcome(0, f"vfio-tui hook: {record.vm} {why}: " + result.summary, run_id)
    return HookOutcome(2, f"vfio-tui hook: {record.vm} {why}: " + result.summary, run_id)


def run_hook(host: Host, vm: str, operation: str, suboperation: str, say: Say | None = None, *,
             spawn: Callable[[HookRecord], None] | None = None) -> HookOutcome:
    """What the script does for libvirt's call `vm operation suboperation` (see the module docstring)."""
    say = say or (lambda _line: None)
    try:
        check_vm_name(vm)
    except VfioError:
        return HookOutcome(0)  # no plan can have such a name
    if (operation, suboperation) not in (("prepare", "begin"), ("stopped", "end"), ("release", "end")):
        return HookOutcome(0)
    record = read_record(host, vm)
    if record is None:
        return HookOutcome(0)
    if operation == "prepare":
        return prepare(host, record, say, spawn=spawn)
    return release(host, record, "stopped" if operation == "stopped" else "released")


def has_started(host: Host, record: HookRecord) -> bool:
    """Whether something (QEMU) holds the group's devices now: the VM did start."""
    from vfio_tui.core.holders import holders_of

    return bool(holders_of(host.paths, record.members))


def watchdog(host: Host, vm: str, after: float, *, sleep: Callable[[float], None] = time.sleep) -> HookOutcome:
    """After `after` seconds: when the hook's run is still open and nothing holds the group's devices, the VM
    never started (or died without libvirt calling the hook): give the GPU back to the host."""
    sleep(after)
    record = read_record(host, vm)
    if record is None or hook_run_of(host, vm) is None:
        return HookOutcome(0)
    if has_started(host, record):
        return HookOutcome(0, f"vfio-tui hook watchdog: {vm} is running")
    return release(host, record, f"did not start within {after:g} s (watchdog)")


def spawn_watchdog(argv: list[str]) -> Callable[[HookRecord], None]:
    """A spawner for `vfio-tui hooks watchdog VM --after S` as a detached process (its own session, output
    to the journal through stderr being closed: libvirt does not wait for it)."""

    def spawn(record: HookRecord) -> None:
        cmd = [sys.executable, "-P", "-m", "vfio_tui", "hooks", "watchdog", record.vm,
               "--after", f"{record.watchdog:g}", *argv]
        env = dict(os.environ)
        import vfio_tui

        env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.realpath(vfio_tui.__file__)))
        with open(os.devnull, "rb") as null_in, open(os.devnull, "wb") as null_out:
            subprocess.Popen(cmd, stdin=null_in, stdout=null_out, stderr=null_out, start_new_session=True,
                             close_fds=True, env=env)

    return spawn

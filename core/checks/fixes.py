"""Provides apply_fix(), undo_fix() and restore_config(): `vfio-tui check --fix ID` and its undo.

A fix is planned from the host's current files (FixPlan), shown as a unified diff, and only
then applied through core.configfiles (backup, journal entry cfg-N before the first byte changes,
atomic replace); undo puts the backups back, but only if the files are still what the fix wrote.
vfio-tui never reboots and never runs update-grub: it prints the follow-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from vfio_tui.core.checks.plan import FIX_PLANNERS, FixPlan
from vfio_tui.core.checks.result import FixResult
from vfio_tui.core.configfiles import apply_changes, list_changes, undo_changes
from vfio_tui.core.errors import InputError, VfioError
from vfio_tui.core.lock import writer_lock

if TYPE_CHECKING:
    from vfio_tui.core.host import Host


def find_fix(host: Host, ident: str, **check_args: Any) -> tuple[str, str]:
    """(check_id, fix_id) for a check id or fix id whose check currently offers a fix."""
    from vfio_tui.core.checks.runner import ALL_CHECK_IDS, run_checks

    if ident not in FIX_PLANNERS and ident not in ALL_CHECK_IDS:
        raise InputError(f"no check or fix named {ident!r}",
                         fix=f"fixes: {', '.join(sorted(FIX_PLANNERS))}; `vfio-tui check` shows which apply")
    results = run_checks(host, **check_args)
    for r in results:
        if ident in (r.id, r.fix_id):
            if r.fix_id is None:
                if r.summary.startswith("cannot tell"):
                    raise InputError(f"refusing to fix {r.id}: {r.summary}", fix=r.fix)
                why = ("it passes" if r.status == "pass"
                       else f"its fix is not a file edit vfio-tui can make ({r.summary})")
                raise InputError(f"check {r.id} has nothing for --fix to apply: {why}")
            return r.id, r.fix_id
    if ident in FIX_PLANNERS:
        # No check offers it; when that is because its file cannot be edited safely (a GRUB assignment
        # inside a condition, a half-edited line), say that rather than "does not apply".
        from vfio_tui.core.checks.runner import make_context
        from vfio_tui.core.checks.textfile import ConfigParseError

        try:
            FIX_PLANNERS[ident](make_context(host, **check_args))
        except ConfigParseError:
            raise
        except VfioError:
            pass
    raise InputError(f"{ident!r} does not apply to this host: no check currently offers it")


def plan_fix(host: Host, ident: str, **check_args: Any) -> FixPlan:
    """The fix as it would be applied now. Raises ConfigParseError for a file it cannot edit safely."""
    from vfio_tui.core.checks.runner import make_context

    _, fix_id = find_fix(host, ident, **check_args)
    ctx = make_context(host, **check_args)
    plan = FIX_PLANNERS[fix_id](ctx)
    if not plan.edits and not plan.load_modules:
        raise InputError(f"fix {fix_id}: nothing to change on this host")
    return plan


def apply_fix(host: Host, check_id: str, *, yes: bool = False, **check_args: Any) -> FixResult:
    """Plan the fix of a check (or fix id); with yes=True apply it: backup, journal, edit, load modules.

    Without yes the returned FixResult is the preview (applied=False, the diffs).
    """
    plan = plan_fix(host, check_id, **check_args)
    if not yes:
        return FixResult(plan.check_id, plan.fix_id, False, plan.edits,
                         tuple(f"load module {m}" for m in plan.load_modules), (), plan.followup)
    messages: list[str] = []
    actions: list[str] = []
    with writer_lock(host.paths, f"check --fix {plan.fix_id}"):  # the edit and the module loads: one writer
        applied = apply_changes(host, plan.edits, what=plan.fix_id, check_id=plan.check_id, fix_id=plan.fix_id,
                                followup=plan.followup)
        for m in plan.load_modules:
            try:
                host.kernel.load_module(m)
                actions.append(f"loaded module {m}")
            except VfioError as exc:
                messages.append(f"could not load {m} now ({exc}); it loads at the next boot")
    return FixResult(plan.check_id, plan.fix_id, True, applied.changes, tuple(actions), tuple(messages),
                     plan.followup, applied.journal_id)


def undo_fix(host: Host, check_id: str, *, yes: bool = True) -> FixResult:
    """Undo the latest applied fix for a journal id (cfg-N), fix id or check id.

    Refuses when a file was changed since the fix (its backup is named so it can be restored by hand).
    """
    undone = undo_changes(host, check_id, yes=yes)
    entry = undone.entry
    # Undoing a command-line change needs the same regeneration and reboot as making it.
    followup = tuple(str(f) for f in entry.get("followup", [])) if undone.applied else ()
    return FixResult(str(entry.get("check_id")), str(entry.get("fix_id")), undone.applied, undone.changes, (),
                     (f"undid {entry['id']}",) if undone.applied else (), followup, str(entry["id"]))


def restore_config(host: Host, journal_id: str, *, yes: bool = True) -> FixResult:
    """What `vfio-tui restore --config ID` calls: undo one config change by its journal id (or fix id)."""
    return undo_fix(host, journal_id, yes=yes)


def list_config_changes(host: Host) -> list[dict[str, Any]]:
    """Journal entries that can still be undone (for `restore --config` listings)."""
    return list_changes(host)

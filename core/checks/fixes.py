"""Provides apply_fix(), undo_fix() and restore_config(): `vfio-tui check --fix ID` and its undo.

A fix is planned from the host's current files (FixPlan), shown as a unified diff, and only
then applied: each file's old bytes go to a backup under the state dir, a journal entry is
written before the first byte changes, and the file is replaced atomically (same mode).
Undo puts the backup back, but only if the file is still exactly what the fix wrote.
vfio-tui never reboots and never runs update-grub: it prints the follow-up.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.checks.plan import FIX_PLANNERS, FileEdit, FixPlan
from core.checks.result import FileChange, FixResult
from core.checks.textfile import decode, encode, unified_diff
from core.errors import InputError, NeedsRootError, VfioError

if TYPE_CHECKING:
    from core.host import Host

JOURNAL_SCHEMA = "vfio-tui/config-journal/1"


def _sha(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def config_dir(host: Host) -> Path:
    return host.paths.state_dir / "config"


def _journal_path(host: Host) -> Path:
    return config_dir(host) / "journal.json"


def read_journal(host: Host) -> list[dict[str, Any]]:
    """Every config change vfio-tui made on this host, oldest first."""
    p = _journal_path(host)
    try:
        data = json.loads(p.read_text())
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as exc:
        raise VfioError(f"the config journal cannot be read ({exc})", path=host.paths.display(p),
                        fix="move it aside; the backups next to it still hold the old files") from None
    entries = data.get("entries") if isinstance(data, dict) else None
    return entries if isinstance(entries, list) else []


def _write_journal(host: Host, entries: list[dict[str, Any]]) -> None:
    d = config_dir(host)
    d.mkdir(parents=True, exist_ok=True, mode=0o700)
    _atomic_write(_journal_path(host), json.dumps({"schema": JOURNAL_SCHEMA, "entries": entries}, indent=1).encode(),
                  mode=0o600)


def _atomic_write(path: Path, data: bytes, mode: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        st_mode: int | None = path.stat().st_mode & 0o7777
    except FileNotFoundError:
        st_mode = None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode if mode is not None else (st_mode if st_mode is not None else 0o644))
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _guard_writes(host: Host, paths: list[str]) -> None:
    if not host.paths.is_live:
        return
    if os.environ.get("VFIO_TUI_TESTING"):
        raise VfioError("refusing to edit this machine's files while VFIO_TUI_TESTING is set")
    if os.geteuid() != 0:
        raise NeedsRootError("editing " + ", ".join(paths) + " needs root", fix="run it with sudo")


def find_fix(host: Host, ident: str, **check_args: Any) -> tuple[str, str]:
    """(check_id, fix_id) for a check id or fix id whose check currently offers a fix."""
    from core.checks.runner import ALL_CHECK_IDS, run_checks

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
    raise InputError(f"{ident!r} does not apply to this host: no check currently offers it")


def plan_fix(host: Host, ident: str, **check_args: Any) -> FixPlan:
    """The fix as it would be applied now. Raises ConfigParseError for a file it cannot edit safely."""
    from core.checks.runner import make_context

    _, fix_id = find_fix(host, ident, **check_args)
    ctx = make_context(host, **check_args)
    plan = FIX_PLANNERS[fix_id](ctx)
    if not plan.edits and not plan.load_modules:
        raise InputError(f"fix {fix_id}: nothing to change on this host")
    return plan


def _changes(host: Host, edits: tuple[FileEdit, ...]) -> list[FileChange]:
    return [FileChange(e.path, unified_diff(e.path, e.old, e.new), created=e.old is None) for e in edits]


def apply_fix(host: Host, check_id: str, *, yes: bool = False, **check_args: Any) -> FixResult:
    """Plan the fix of a check (or fix id); with yes=True apply it: backup, journal, edit, load modules.

    Without yes the returned FixResult is the preview (applied=False, the diffs).
    """
    plan = plan_fix(host, check_id, **check_args)
    if not yes:
        return FixResult(plan.check_id, plan.fix_id, False, tuple(_changes(host, plan.edits)),
                         tuple(f"load module {m}" for m in plan.load_modules), (), plan.followup)
    _guard_writes(host, [e.path for e in plan.edits])
    entries = read_journal(host)
    number = 1 + max((int(str(e.get("id", "cfg-0")).rpartition("-")[2] or 0) for e in entries
                      if str(e.get("id", "")).rpartition("-")[2].isdigit()), default=0)
    jid = f"cfg-{number}"
    backup_dir = config_dir(host) / "backups" / jid
    files: list[dict[str, Any]] = []
    changes: list[FileChange] = []
    for e in plan.edits:
        target = host.paths.under(e.path)
        try:
            old_bytes: bytes | None = target.read_bytes()
        except FileNotFoundError:
            old_bytes = None
        if (decode(old_bytes) if old_bytes is not None else None) != e.old:
            raise VfioError(f"{e.path} changed while the fix was being planned; run it again")
        backup = backup_dir / e.path.strip("/").replace("/", "__")
        if old_bytes is not None:
            _atomic_write(backup, old_bytes, mode=0o600)
        new_bytes = encode(e.new)
        files.append({"path": e.path, "existed": old_bytes is not None,
                      "backup": host.paths.display(backup) if old_bytes is not None else None,
                      "sha256_before": _sha(old_bytes), "sha256_after": _sha(new_bytes)})
        changes.append(FileChange(e.path, unified_diff(e.path, e.old, e.new), e.old is None,
                                  host.paths.display(backup) if old_bytes is not None else None))
    entry = {"id": jid, "fix_id": plan.fix_id, "check_id": plan.check_id,
             "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "state": "applying",
             "files": files, "followup": list(plan.followup)}
    entries.append(entry)
    _write_journal(host, entries)  # journaled before the first byte changes
    for e in plan.edits:
        _atomic_write(host.paths.under(e.path), encode(e.new))
    messages: list[str] = []
    actions: list[str] = []
    for m in plan.load_modules:
        try:
            host.kernel.load_module(m)
            actions.append(f"loaded module {m}")
        except VfioError as exc:
            messages.append(f"could not load {m} now ({exc}); it loads at the next boot")
    entry["state"] = "applied"
    _write_journal(host, entries)
    return FixResult(plan.check_id, plan.fix_id, True, tuple(changes), tuple(actions), tuple(messages),
                     plan.followup, jid)


def _find_entry(entries: list[dict[str, Any]], ident: str) -> dict[str, Any]:
    for e in reversed(entries):
        if e.get("state") == "undone":
            continue
        if isinstance(e, dict) and ident in (e.get("id"), e.get("fix_id"), e.get("check_id")):
            found: dict[str, Any] = e  # the journal's own dict: undo marks it in place
            return found
    known = ", ".join(f"{e.get('id')} ({e.get('fix_id')})" for e in entries if e.get("state") != "undone")
    raise InputError(f"no config change {ident!r} to undo" + (f" (journal: {known})" if known else
                                                             " (vfio-tui has not changed any config file)"))


def undo_fix(host: Host, check_id: str, *, yes: bool = True) -> FixResult:
    """Undo the latest applied fix for a journal id (cfg-N), fix id or check id.

    Refuses when a file was changed since the fix (its backup is named so it can be restored by hand).
    """
    entries = read_journal(host)
    entry = _find_entry(entries, check_id)
    changes: list[FileChange] = []
    restores: list[tuple[Path, bytes | None]] = []
    for f in entry.get("files", []):
        path = str(f["path"])
        target = host.paths.under(path)
        try:
            current: bytes | None = target.read_bytes()
        except FileNotFoundError:
            current = None
        if _sha(current) != f.get("sha256_after"):
            raise VfioError(f"{path} was changed after vfio-tui edited it ({entry['id']}); not undoing",
                            fix=f"compare it with the backup {f.get('backup') or '(the file did not exist)'} and"
                            " restore by hand")
        old: bytes | None = None
        if f.get("existed"):
            old = host.paths.under(str(f["backup"])).read_bytes()
        restores.append((target, old))
        changes.append(FileChange(path, unified_diff(path, decode(current) if current is not None else None,
                                                     decode(old) if old is not None else ""),
                                  backup=f.get("backup")))
    if not yes:
        return FixResult(str(entry.get("check_id")), str(entry.get("fix_id")), False, tuple(changes),
                         journal_id=str(entry["id"]))
    _guard_writes(host, [c.path for c in changes])
    for target, old in restores:
        if old is None:
            target.unlink(missing_ok=True)
        else:
            _atomic_write(target, old)
    entry["state"] = "undone"
    entry["undone_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    _write_journal(host, entries)
    # Undoing a command-line change needs the same regeneration and reboot as making it.
    followup = tuple(str(f) for f in entry.get("followup", []))
    return FixResult(str(entry.get("check_id")), str(entry.get("fix_id")), True, tuple(changes), (),
                     (f"undid {entry['id']}",), followup, str(entry["id"]))


def restore_config(host: Host, journal_id: str, *, yes: bool = True) -> FixResult:
    """What `vfio-tui restore --config ID` calls: undo one config change by its journal id (or fix id)."""
    return undo_fix(host, journal_id, yes=yes)


def list_config_changes(host: Host) -> list[dict[str, Any]]:
    """Journal entries that can still be undone (for `restore --config` listings)."""
    return [e for e in read_journal(host) if e.get("state") != "undone"]

"""Provides FileChange and the one journaled way vfio-tui edits a host's configuration files
(GRUB defaults, qemu.conf, modprobe.d, udev rules): `check --fix`, `bind --persist` and their undo.

A change is planned first (FileChange: the content before and after, shown as a diff); applying it
backs up each file's old bytes under the state dir, writes a journal entry before the first byte
changes, and replaces the file atomically. Undo puts the backups back, but only if a file is still
exactly what vfio-tui wrote (a later edit by someone else is never overwritten).

Every file goes through core.safefile, inside the host root: a config file that is a symlink is
edited through (the link stays) when its target is inside the root and refused when it leads out;
the file keeps its owner, mode and SELinux label, and its bytes (line endings included) are the
plan's exactly. The journal and backups are 0600 and never followed through a link. A journal is
data, not instructions: undo touches only paths under /etc, /boot, ... and backups under its own
backup dir, whatever a tampered journal says.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from vfio_tui.core import private_state, safefile
from vfio_tui.core.clock import utc
from vfio_tui.core.errors import InputError, NeedsRootError, VfioError
from vfio_tui.core.lock import writer_lock
from vfio_tui.core.snapshot_schema import SchemaError, abs_path
from vfio_tui.core.textcodec import decode, encode, unified_diff

if TYPE_CHECKING:
    from vfio_tui.core.host import Host
    from vfio_tui.core.hostpaths import HostPaths

JOURNAL_SCHEMA: Final = "vfio-tui/config-journal/1"
CONFIG_TOPS: Final = frozenset({"etc", "boot", "efi", "usr", "lib"})
"""Where the config files vfio-tui edits live (a journal naming any other path is tampered with)."""
CONFIG_PREFIXES: Final = ("/var/lib/vfio-tui/hooks/",)
"""Files outside CONFIG_TOPS vfio-tui edits the same journaled way: the libvirt hook's recorded plans."""
MAX_JOURNAL_BYTES: Final = 16 * 1024 * 1024
_ENTRY_ID: Final = re.compile(r"^cfg-[0-9]{1,9}$")


@dataclass(frozen=True, slots=True)
class FileChange:
    """One configuration file's content before and after a change."""

    path: str
    """Host-absolute path ("/etc/default/grub")."""
    before: str | None
    """The content now (None: the file does not exist)."""
    after: str | None
    """The content wanted (None: the file is removed)."""
    backup: str | None = None
    """Where the previous content is kept (under the state dir), once applied."""
    mode: int | None = None
    """The mode a created or replaced file gets (None: it keeps its mode; a new file is 0644). A mode
    without group/other bits makes a private file: 0600-style, never written through a link."""

    @property
    def diff(self) -> str:
        """Unified diff of the change, as `diff -u` prints it."""
        return unified_diff(self.path, self.before, self.after or "")

    @property
    def created(self) -> bool:
        return self.before is None and self.after is not None

    @property
    def removed(self) -> bool:
        return self.before is not None and self.after is None

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "diff": self.diff, "created": self.created, "removed": self.removed,
                "backup": self.backup}


@dataclass(frozen=True, slots=True)
class AppliedChanges:
    """What apply_changes() did: the journal id that undoes it and the changes with their backups."""

    journal_id: str
    changes: tuple[FileChange, ...]


def _sha(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


def config_dir(host: Host) -> Path:
    return host.paths.state_dir / "config"


def _journal_path(host: Host) -> Path:
    return host.paths.config_journal


def _bad_journal(host: Host, what: str) -> VfioError:
    return VfioError(f"the config journal {what}", path=host.paths.display(_journal_path(host)),
                     fix="move it aside; the backups next to it still hold the old files")


def read_journal(host: Host) -> list[dict[str, Any]]:
    """Every config change vfio-tui made on this host, oldest first.

    Raises:
        VfioError: the journal is a link, too big, not JSON or not vfio-tui's (nothing is changed then).
    """
    p = _journal_path(host)
    try:
        raw = safefile.read_bytes(host.paths.root, p, limit=MAX_JOURNAL_BYTES, follow=False)
        if len(raw) > MAX_JOURNAL_BYTES:
            raise ValueError(f"bigger than {MAX_JOURNAL_BYTES} bytes")
        data = json.loads(raw)
    except FileNotFoundError:
        return []
    except safefile.UnsafePathError as exc:
        raise _bad_journal(host, f"cannot be used: {exc.detail}") from None
    except (OSError, ValueError, RecursionError) as exc:
        what = "is nested too deeply" if isinstance(exc, RecursionError) else f"cannot be read ({exc})"
        raise _bad_journal(host, what) from None
    entries = data.get("entries") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise _bad_journal(host, "is not in vfio-tui's format")
    return entries


def _write_journal(host: Host, entries: list[dict[str, Any]]) -> None:
    private_state.private_dir(host.paths.root, host.paths.state_dir)
    private_state.private_dir(host.paths.root, config_dir(host))
    private_state.sweep_temp_files(host.paths.root, config_dir(host))
    write_private(host, _journal_path(host), json.dumps({"schema": JOURNAL_SCHEMA, "entries": entries},
                                                        indent=1).encode())


def write_private(host: Host, path: Path, data: bytes) -> None:
    """A journal or backup file: 0600, atomically, never through a link."""
    safefile.replace(host.paths.root, path, data, private=True, dir_mode=0o700)


def write_config(host: Host, path: str, data: bytes, mode: int | None = None) -> None:
    """Replace a config file (host-absolute `path`) under the host root, keeping what it had: a
    symlink inside the root is edited through, owner, mode and SELinux label are kept. With `mode` the
    file gets that mode; a private mode (no group/other bits) is never written through a link."""
    if mode is not None and not mode & 0o077:
        safefile.replace(host.paths.root, host.paths.under(path), data, mode=mode, private=True, dir_mode=0o700)
        return
    safefile.replace(host.paths.root, host.paths.under(path), data, mode=mode)


def _backup_path(host: Host, jid: str, path: str) -> Path:
    return config_dir(host) / "backups" / jid / path.strip("/").replace("/", "__")


def guard_writes(host: Host, paths: Iterable[str]) -> None:
    """Refuse to edit the live host's files in tests, or without root (naming the files)."""
    if not host.paths.is_live or host.simulated:
        return
    if os.environ.get("VFIO_TUI_TESTING"):
        raise VfioError("refusing to edit this machine's files while VFIO_TUI_TESTING is set")
    if os.geteuid() != 0:
        raise NeedsRootError("editing " + ", ".join(paths) + " needs root", fix="run it with sudo")


def read_current(host: Host, path: str) -> str | None:
    """A config file's text now (None when it does not exist); read inside the host root."""
    data = _read_config(host, path)
    return decode(data) if data is not None else None


def _read_config(host: Host, path: str) -> bytes | None:
    try:
        return safefile.read_bytes(host.paths.root, host.paths.under(path))
    except FileNotFoundError:
        return None


def apply_changes(host: Host, changes: Sequence[FileChange], *, what: str, check_id: str = "",
                  fix_id: str = "", followup: Sequence[str] = ()) -> AppliedChanges:
    """Back up, journal, then write each change. Returns the journal id (cfg-N) that undoes them.

    Raises:
        VfioError: a file changed since the changes were planned (nothing is written then).
        NeedsRootError: the live host, not root.
    """
    changes = [c for c in changes if c.changed]
    guard_writes(host, [c.path for c in changes])
    # Under the one writer lock: two fixes at once each read the journal, took the same cfg-N and
    # one edit and its entry were lost. The second writer is refused, naming the first.
    with writer_lock(host.paths, what):
        return _apply_locked(host, changes, what=what, check_id=check_id, fix_id=fix_id, followup=followup)


def _apply_locked(host: Host, changes: Sequence[FileChange], *, what: str, check_id: str, fix_id: str,
                  followup: Sequence[str]) -> AppliedChanges:
    entries = read_journal(host)
    number = 1 + max((int(str(e.get("id", "cfg-0")).rpartition("-")[2] or 0) for e in entries
                      if str(e.get("id", "")).rpartition("-")[2].isdigit()), default=0)
    jid = f"cfg-{number}"
    files: list[dict[str, Any]] = []
    done: list[FileChange] = []
    writes: list[tuple[str, bytes | None, bytes | None, int | None]] = []
    for c in changes:
        _config_path(c.path)
        old_bytes = _read_config(host, c.path)
        if (decode(old_bytes) if old_bytes is not None else None) != c.before:
            raise VfioError(f"{c.path} changed while the change was being planned; run it again")
        backup = _backup_path(host, jid, c.path)
        if old_bytes is not None:
            try:
                private_state.private_dir(host.paths.root, host.paths.state_dir)
                write_private(host, backup, old_bytes)
            except OSError as exc:
                raise VfioError(f"cannot back up {c.path} ({exc.strerror}); nothing was changed",
                                path=host.paths.display(backup)) from None
        new_bytes = encode(c.after) if c.after is not None else None
        shown = host.paths.display(backup) if old_bytes is not None else None
        files.append({"path": c.path, "existed": old_bytes is not None, "backup": shown,
                      "sha256_before": _sha(old_bytes), "sha256_after": _sha(new_bytes)})
        done.append(FileChange(c.path, c.before, c.after, shown, c.mode))
        writes.append((c.path, new_bytes, old_bytes, c.mode))
    entry = {"id": jid, "what": what, "fix_id": fix_id or what, "check_id": check_id or what,
             "time": utc(), "state": "applying",
             "files": files, "followup": list(followup)}
    entries.append(entry)
    try:
        _write_journal(host, entries)  # journaled before the first byte changes
    except OSError as exc:
        raise VfioError(f"cannot write the config journal ({exc.strerror}); nothing was changed",
                        path=host.paths.display(_journal_path(host))) from None
    written: list[tuple[str, bytes | None]] = []
    try:
        for path, data, old, mode in writes:
            written.append((path, old))  # first: a write cut short may still have landed
            _put(host, path, data, mode)
        entry["state"] = "applied"
        _write_journal(host, entries)
    except BaseException as exc:
        # A failed write, a full disk, Ctrl-C, a hang-up: every file goes back as it was, now. (A kill -9
        # leaves the entry "applying"; the next command names `check --undo`, which finishes this.)
        left = _put_back(host, written)
        entry["state"] = "applying" if left else "rolled-back"
        with contextlib.suppress(OSError, VfioError):
            _write_journal(host, entries)
        if not isinstance(exc, OSError):
            raise
        where = written[-1][0] if written else host.paths.display(_journal_path(host))
        raise VfioError(f"writing {where} failed ({exc.strerror}); " + (
            "rolled back: every file is as it was" if not left else
            f"could not put back {', '.join(left)}: run `vfio-tui check --undo {jid}`")) from None
    return AppliedChanges(jid, tuple(done))


def _put(host: Host, path: str, data: bytes | None, mode: int | None = None) -> None:
    """Make the config file `path` hold `data` (None: remove it)."""
    if data is None:
        safefile.unlink(host.paths.root, host.paths.under(path))
    else:
        write_config(host, path, data, mode)


def _put_back(host: Host, written: Sequence[tuple[str, bytes | None]]) -> list[str]:
    """Put each file back as it was; the ones that could not be."""
    left: list[str] = []
    for path, old in reversed(written):
        try:
            _put(host, path, old)
        except (OSError, VfioError):
            left.append(path)
    return left


def _config_path(value: object, host: Host | None = None) -> str:
    """A config file path vfio-tui may edit: absolute, plain components, under CONFIG_TOPS."""
    try:
        if isinstance(value, str) and value.startswith(CONFIG_PREFIXES):
            return abs_path(value, "config file")
        return abs_path(value, "config file", tops=CONFIG_TOPS)
    except SchemaError as exc:
        if host is None:
            raise VfioError(f"refusing to edit {str(value)[:80]!r}: {exc}") from None
        raise _bad_journal(host, f"names a file vfio-tui does not edit ({str(value)[:80]!r})") from None


def find_entry(entries: list[dict[str, Any]], ident: str) -> dict[str, Any]:
    """The newest not-undone journal entry named `ident` (its id cfg-N, fix id or check id)."""
    for e in reversed(entries):
        if e.get("state") in ("undone", "rolled-back"):
            continue
        if ident in (e.get("id"), e.get("fix_id"), e.get("check_id")):
            found: dict[str, Any] = e  # the journal's own dict: undo marks it in place
            return found
    known = ", ".join(f"{e.get('id')} ({e.get('fix_id')})" for e in entries
                      if e.get("state") not in ("undone", "rolled-back"))
    raise InputError(f"no config change {ident!r} to undo" + (f" (journal: {known})" if known else
                                                             " (vfio-tui has not changed any config file)"))


@dataclass(frozen=True, slots=True)
class UndoneChanges:
    """What undo_changes() did or would do."""

    entry: dict[str, Any]
    changes: tuple[FileChange, ...]
    applied: bool


def undo_changes(host: Host, ident: str, *, yes: bool = True) -> UndoneChanges:
    """Undo the newest applied change named `ident`; without yes only say what it would do.

    Raises:
        InputError: no such change.
        VfioError: a file was changed after vfio-tui edited it (its backup is named for a manual restore).
    """
    if yes:
        with writer_lock(host.paths, f"undo {ident}"):
            return _undo_locked(host, ident, yes=True)
    return _undo_locked(host, ident, yes=False)


def _undo_locked(host: Host, ident: str, *, yes: bool) -> UndoneChanges:
    entries = read_journal(host)
    entry = find_entry(entries, ident)
    changes: list[FileChange] = []
    restores: list[tuple[str, bytes | None]] = []
    jid = str(entry.get("id", ""))
    if not _ENTRY_ID.match(jid) or not isinstance(entry.get("files", []), list):
        raise _bad_journal(host, f"has an entry that is not vfio-tui's ({jid[:40]!r})")
    for f in entry.get("files", []):
        path = _config_path(f.get("path") if isinstance(f, dict) else None, host)
        current = _read_config(host, path)
        if _sha(current) == f.get("sha256_before") and _sha(current) != f.get("sha256_after"):
            continue  # already as it was: an undo or a write cut short (kill -9) before this file
        if _sha(current) != f.get("sha256_after"):
            raise VfioError(f"{path} was changed after vfio-tui edited it ({jid}); not undoing",
                            fix=f"compare it with the backup {f.get('backup') or '(the file did not exist)'} and"
                            " restore by hand")
        old: bytes | None = None
        if f.get("existed"):
            # The backup is where apply_changes() put it, whatever the journal says.
            expected = _backup_path(host, jid, path)
            if f.get("backup") != host.paths.display(expected):
                raise _bad_journal(host, f"names a backup outside its own ({str(f.get('backup'))[:80]!r})")
            try:
                old = safefile.read_bytes(host.paths.root, expected, follow=False)
            except (OSError, safefile.UnsafePathError) as exc:
                raise VfioError(f"the backup of {path} cannot be read ({exc})",
                                path=host.paths.display(expected)) from None
        restores.append((path, old))
        changes.append(FileChange(path, decode(current) if current is not None else None,
                                  decode(old) if old is not None else None, f.get("backup")))
    if not yes:
        return UndoneChanges(entry, tuple(changes), False)
    guard_writes(host, [c.path for c in changes])
    for path, old in restores:
        try:
            _put(host, path, old)
        except OSError as exc:
            # The files put back so far are as they were; running the undo again finishes the rest.
            raise VfioError(f"putting back {path} failed ({exc.strerror})",
                            fix=f"run `vfio-tui check --undo {jid}` again") from None
    entry["state"] = "undone"
    entry["undone_at"] = utc()
    try:
        _write_journal(host, entries)
    except OSError as exc:
        raise VfioError(f"the files are back as they were, but the config journal could not record it"
                        f" ({exc.strerror})", fix=f"run `vfio-tui check --undo {jid}` again") from None
    return UndoneChanges(entry, tuple(changes), True)


def list_changes(host: Host) -> list[dict[str, Any]]:
    """Journal entries that can still be undone."""
    return [e for e in read_journal(host) if e.get("state") not in ("undone", "rolled-back")]


def interrupted_changes(paths: HostPaths) -> list[str]:
    """Ids of config changes a killed vfio-tui left half-done ("applying"): cheap (one stat when there
    is no journal), and silent about a journal it cannot read (the command that uses it says so)."""
    p = paths.config_journal
    try:
        raw = safefile.read_bytes(paths.root, p, limit=MAX_JOURNAL_BYTES, follow=False) if p.is_file() else b"{}"
        data = json.loads(raw) if len(raw) <= MAX_JOURNAL_BYTES else {}
    except (OSError, ValueError, RecursionError, VfioError):
        return []
    entries = data.get("entries") if isinstance(data, dict) else None
    return [str(e.get("id")) for e in entries or [] if isinstance(e, dict) and e.get("state") == "applying"
            and _ENTRY_ID.match(str(e.get("id")))]

"""Provides RunRecord: the journal of one passthrough run (bind → verify → attach → start), kept so
that `vfio-tui undo` can take exactly that run back — after a success, a failure, or a kill -9.

One file per run, /var/lib/vfio-tui/runs/run-N.json (0600, written atomically with fsync): the
device and its group, the VM, what was attached (hostdevs, controllers added), whether this run
started the VM, the bind journal that holds the devices' original drivers, and each phase's state
("intent" is written before a phase touches anything, "done" after). Undo works from the state it
finds (the domain's XML, the devices' drivers), so a record cut short by a crash is enough.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

from vfio_tui.core import private_state, safefile
from vfio_tui.core.binding.journal import (
    ensure_state_dir,
    interrupted_names,
    journal_dir,
    lock_is_free,
    pid_alive,
    read_private,
    read_private_in,
    write_private,
)
from vfio_tui.core.clock import utc
from vfio_tui.core.errors import HostDataError, InputError, VfioError
from vfio_tui.core.hostpaths import HostPaths

RUN_SCHEMA: Final = "vfio-tui/passthrough-run/1"
PHASES: Final = ("bind", "verify", "attach", "start")
RunStatus = Literal["running", "done", "failed", "rolled-back", "undone", "undo-failed"]
FINISHED: Final = ("undone", "rolled-back")
"""Statuses that leave nothing to undo."""


def runs_dir(paths: HostPaths) -> Path:
    return paths.state_dir / "runs"


@dataclass
class RunRecord:
    """One passthrough run's record (see the module docstring)."""

    path: Path
    data: dict[str, Any]
    root: Path
    """The host root the record lives under (every write stays inside it)."""

    @property
    def id(self) -> str:
        return str(self.data["id"])

    @property
    def kind(self) -> str:
        """"passthrough" (bind → verify → attach → start) or "sriov" (a PF's number of VFs, core.sriov)."""
        return str(self.data.get("kind") or "passthrough")

    @property
    def status(self) -> str:
        return str(self.data.get("status", "running"))

    @property
    def address(self) -> str:
        return str(self.data.get("address", ""))

    @property
    def vm(self) -> str | None:
        vm = self.data.get("vm")
        return str(vm) if vm else None

    @property
    def group(self) -> int | None:
        g = self.data.get("group")
        return g if isinstance(g, int) else None

    @property
    def devices(self) -> list[str]:
        """The group's members the run bound (the bind journal's originals)."""
        return [str(d) for d in self.data.get("devices", [])]

    @property
    def attached(self) -> list[str]:
        """The hostdevs this run added (or was adding) to the VM's definition."""
        return [str(a) for a in (self.data.get("attach") or {}).get("hostdevs", [])]

    @property
    def added_controllers(self) -> list[int]:
        """Indexes of the PCI controllers this run added for its hostdevs (root ports, pci-bridges)."""
        attach = self.data.get("attach") or {}
        return [int(i) for i in attach.get("controllers", attach.get("root_ports", []))]

    @property
    def started_vm(self) -> bool:
        return bool(self.data.get("started_vm"))

    @property
    def what(self) -> str:
        """The change in a few words: "0000:0b:00.0 → vfio_test", "SR-IOV 0000:07:00.1: 0 → 2 VFs"."""
        if self.kind == "sriov":
            s = self.data.get("sriov") or {}
            return f"SR-IOV {self.address}: {s.get('from_vfs', '?')} → {s.get('to_vfs', '?')} VFs"
        return f"{self.address} → {self.vm or 'vfio-pci'}"

    def phase(self, name: str) -> str:
        return str((self.data.get("phases") or {}).get(name, "planned"))

    def set_phase(self, name: str, state: str, **extra: Any) -> None:
        self.data.setdefault("phases", {})[name] = state
        self.data.update(extra)
        self.save()

    def set_status(self, status: RunStatus, **extra: Any) -> None:
        self.data["status"] = status
        self.data.update(extra)
        self.save()

    def save(self) -> None:
        try:
            write_private(self.root, self.path, json.dumps(self.data, indent=1) + "\n", sync_dir=False)
        except OSError as exc:
            # The host may be part-way through the run: the record still names the run and what it started
            # from, which is all its undo needs.
            raise VfioError(f"cannot update the run record of {self.id} ({exc.strerror}); the run stopped here:"
                            f" take it back with `vfio-tui undo {self.id}`, then run the command again") from None

    def summary(self) -> str:
        """One line for journals: "run-3: 0000:0b:00.0 (group 19) → vfio_test, attached ..., done"."""
        if self.kind == "sriov":
            return f"{self.id}: {self.what}; {self.status}, {self.data.get('started', '?')}"
        target = f" → {self.vm}" if self.vm else " (bind only)"
        bits = [f"{self.id}: {self.address} (group {self.group}){target}"]
        if self.attached:
            bits.append(f"attached {', '.join(self.attached)} ({self.data.get('mode', 'config')})")
        if self.started_vm:
            bits.append(f"started {self.vm}")
        bits.append(f"{self.status}, {self.data.get('started', '?')}")
        return "; ".join(bits)


def new_run(paths: HostPaths, fields: dict[str, Any]) -> RunRecord:
    """A new record run-N (N one more than any before), saved before anything changes.

    Call it under the writer lock (two runs must not take the same number).
    """
    ensure_state_dir(paths)
    rdir = runs_dir(paths)
    private_state.private_dir(paths.root, rdir)
    private_state.sweep_temp_files(paths.root, rdir)
    numbers = [int(n[4:-5]) for n in os.listdir(rdir) if n.startswith("run-") and n.endswith(".json")
               and n[4:-5].isdigit()]
    run_id = f"run-{max(numbers, default=0) + 1}"
    data = {"schema": RUN_SCHEMA, "id": run_id, "pid": os.getpid(), "status": "running",
            "started": utc(),
            "phases": dict.fromkeys(PHASES, "planned"), **fields}
    record = RunRecord(rdir / f"{run_id}.json", data, paths.root)
    try:
        write_private(paths.root, record.path, json.dumps(data, indent=1) + "\n")
    except OSError as exc:
        # Saved before anything changes: a record that cannot be written stops the run with the host as it was.
        raise VfioError(f"cannot write the run record {paths.display(record.path)} ({exc.strerror}): nothing was"
                        " changed", fix="free space or fix the state directory, then run the command again") from None
    return record


def load_runs(paths: HostPaths) -> list[RunRecord]:
    """Every run record, oldest first.

    Raises:
        HostDataError: a record is unreadable or not vfio-tui's (nothing is changed then).
    """
    rdir = runs_dir(paths)
    try:
        names = [n for n in os.listdir(rdir) if n.startswith("run-") and n.endswith(".json") and n[4:-5].isdigit()]
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise HostDataError(f"cannot read the run records: {exc.strerror}", path=paths.display(rdir)) from None
    out = []
    # Every command's start asks for interrupted runs: the directory is walked to once, not once per record
    # (a host with a history of runs paid a walk from the root for each, 9 ms on the lab's kernel).
    held = _open_dir(paths.root, rdir) if names else None
    try:
        for name in sorted(names, key=lambda n: int(n[4:-5])):
            path = rdir / name
            try:
                data = json.loads(read_private(paths.root, path) if held is None else read_private_in(held, name))
                ok = isinstance(data, dict) and data.get("schema") == RUN_SCHEMA and data.get("id") == name[:-5]
            except (OSError, ValueError, RecursionError, safefile.UnsafePathError):
                ok = False
            if not ok:
                raise HostDataError("a corrupted vfio-tui run record; nothing was changed", path=paths.display(path),
                                    fix="inspect it (the devices' original drivers are in the bind journal too),"
                                        " then move it aside")
            out.append(RunRecord(path, data, paths.root))
    finally:
        if held is not None:
            held.close()
    return out


def _open_dir(root: Path, directory: Path) -> private_state.HeldDir | None:
    """`directory` opened on the confined walk, for reading several files in it (None: it cannot be;
    each read then walks and says why)."""
    try:
        return private_state.HeldDir(root, directory)
    except (OSError, safefile.UnsafePathError):
        return None


def find_run(paths: HostPaths, ident: str | None) -> RunRecord:
    """The run named `ident` (run-N or N), or the newest one that is not undone (ident None).

    Raises:
        InputError: no such run, or nothing left to undo.
    """
    runs = load_runs(paths)
    if ident is None:
        open_runs = [r for r in runs if r.status not in FINISHED]
        if not open_runs:
            raise InputError("nothing to undo: no passthrough run of vfio-tui is left on this host",
                             fix="`vfio-tui restore --all` gives back devices bound with `vfio-tui bind`")
        return open_runs[-1]
    want = ident if ident.startswith("run-") else f"run-{ident}"
    for r in runs:
        if r.id == want:
            return r
    known = ", ".join(r.id for r in runs[-5:]) or "none"
    raise InputError(f"no run {ident!r} on this host (latest: {known})", fix="`vfio-tui undo --list` lists them")



def open_run_for(paths: HostPaths, address: str) -> RunRecord | None:
    """The newest run not undone whose group (or attached hostdevs) holds `address` (a full PCI
    address): the one whose undo gives that device back. None when no run of vfio-tui put it there."""
    try:
        runs = load_runs(paths)
    except HostDataError:
        return None
    for run in reversed(runs):
        if run.status not in FINISHED and (address in run.devices or address in run.attached
                                           or address == run.address):
            return run
    return None


def interrupted_runs(paths: HostPaths, *, lock_free: bool) -> list[RunRecord]:
    """Runs left "running" by a process that is gone (kill -9, power loss, SSH drop)."""
    try:
        runs = load_runs(paths)
    except HostDataError:
        return []
    return [r for r in runs if r.status == "running" and (lock_free or not pid_alive(r.data.get("pid")))]


@dataclass(frozen=True)
class Interrupted:
    """Work a vfio-tui process left half-done, and the command that finishes or takes it back."""

    what: str
    command: str


def interrupted_work(paths: HostPaths) -> list[Interrupted]:
    """What a killed vfio-tui left half-done on the host under `paths` (cheap: one listdir when all is
    well, so every command can ask at its start)."""
    binds = interrupted_names(paths)
    rdir = runs_dir(paths)
    configs: list[str] = []
    if paths.config_journal.is_file():  # (configfiles costs 3 ms to import)
        from vfio_tui.core.configfiles import interrupted_changes

        configs = interrupted_changes(paths)
    if not binds and not rdir.is_dir() and not configs:
        return []
    free = lock_is_free(paths)
    if not free:
        return []  # another vfio-tui is at work: its journal is open, not interrupted
    out: list[Interrupted] = [Interrupted(f"config change {cid} was cut short (files may be half-edited)",
                                          f"vfio-tui check --undo {cid} --yes") for cid in configs]
    runs = interrupted_runs(paths, lock_free=True)
    for run in runs:
        kind = "SR-IOV change" if run.kind == "sriov" else "passthrough run"
        out.append(Interrupted(f"{kind} {run.id} ({run.what}) was cut short",
                               f"vfio-tui undo {run.id}"))
    if binds and not runs:
        where = paths.display(journal_dir(paths) / binds[0])
        out.append(Interrupted(f"an interrupted bind left devices half-done ({where})", "vfio-tui restore --all"))
    return out

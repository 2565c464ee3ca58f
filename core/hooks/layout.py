"""Provides where the libvirt hook lives and what it is: the one script in libvirt's native hook dir, its
text, the per-VM recorded plans, and what other hooks are already there (so nothing of theirs is
overwritten, and the user is told what would run beside vfio-tui's).

libvirt (>= 6.5) runs `/etc/libvirt/hooks/qemu` and then every executable regular file in
`/etc/libvirt/hooks/qemu.d/` (alphabetically) for every QEMU domain, with the arguments DOMAIN OPERATION
SUB-OPERATION and the domain XML on stdin, and waits for each; a non-zero exit at `prepare begin`
aborts the start. It reads the hook dir when the daemon starts: a new script is seen after a restart of
libvirtd (or virtqemud).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from vfio_tui.core import safefile
from vfio_tui.core.errors import InputError, VfioError
from vfio_tui.core.gpu.hookplan import HOOK_PLANS
from vfio_tui.core.gpu.steps import GpuStep

if TYPE_CHECKING:
    from vfio_tui.core.host import Host

HOOKS_DIR: Final = "/etc/libvirt/hooks"
LEGACY_DISPATCHER: Final = "/etc/libvirt/hooks/qemu"
QEMU_D: Final = "/etc/libvirt/hooks/qemu.d"
PLAN_SCHEMA: Final = "vfio-tui/hook-plan/1"
MARKER: Final = "# vfio-tui libvirt hook"
"""The script's second line: how `install` knows a qemu.d/vfio-tui file is its own (never overwrites another)."""
MAX_PLAN_BYTES: Final = 1 << 20
OPERATIONS: Final = ("prepare", "start", "started", "stopped", "release", "migrate", "restore", "reconnect",
                     "attach")
_VM_NAME: Final = re.compile(r"^[^/\x00-\x1f\x7f.\-][^/\x00-\x1f\x7f]{0,199}$")


def check_vm_name(vm: str) -> str:
    """A VM name usable as a plan file's name (libvirt's names never hold "/")."""
    if not _VM_NAME.match(vm or ""):
        raise InputError(f"{vm[:60]!r} is not a VM name vfio-tui can keep a hook plan for",
                         fix="`vfio-tui vms` lists the VMs; a name with '/', a control character or a leading"
                             " '.' or '-' is not one")
    return vm


def plan_path(vm: str) -> str:
    """Host-absolute path of a VM's recorded plan."""
    return f"{HOOK_PLANS}/{check_vm_name(vm)}.json"


def script_text(interpreter: str, package_dir: str, root: Path | None) -> str:
    """The hook script: tiny POSIX sh that hands the call to vfio-tui for VMs with a plan, silently
    exits 0 for every other VM (libvirt runs it for all of them)."""
    plans = (str(root).rstrip("/") if root is not None else "") + HOOK_PLANS
    host = f" --root {shlex.quote(str(root))}" if root is not None else ""
    return f"""#!/bin/sh
{MARKER} (`vfio-tui hooks install VM` wrote it; `vfio-tui hooks remove VM` takes it out).
# libvirt (>= 6.5) runs every executable file in /etc/libvirt/hooks/qemu.d for every QEMU domain with the
# arguments DOMAIN OPERATION SUB-OPERATION and waits for it. This one acts only for VMs with a plan in
# {HOOK_PLANS}: at "prepare begin" it binds the GPU's group (releasing the console and the display
# manager), at "stopped end"/"release end" it gives everything back. It never calls libvirt (libvirt is
# waiting for it: that would deadlock). What it prints on stderr is what libvirt shows when it fails.
case "$2" in prepare|stopped|release) ;; *) exit 0 ;; esac
case "$1" in -*|.*|*/*) exit 0 ;; esac
[ -f {shlex.quote(plans)}/"$1".json ] || exit 0
PYTHONPATH={shlex.quote(package_dir)} exec {shlex.quote(interpreter)} -P -m vfio_tui hooks run "$1" "$2" "$3"{host}
"""


@dataclass(frozen=True)
class HookRecord:
    """A VM's recorded hook plan (/var/lib/vfio-tui/hooks/VM.json), checked when read: data, not code."""

    vm: str
    gpu: str
    group: int
    members: tuple[str, ...]
    """The group's endpoints at install time (every one goes to vfio-pci)."""
    functions: tuple[str, ...]
    cards: tuple[str, ...]
    release: tuple[GpuStep, ...]
    watchdog: float
    hostdevs_added: tuple[str, ...] = ()
    controllers_added: tuple[int, ...] = ()
    data: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return dict(self.data)


def make_record(data: dict[str, Any]) -> HookRecord:
    """A HookRecord from its JSON; ValueError when it is not one of vfio-tui's."""
    if not isinstance(data, dict) or data.get("schema") != PLAN_SCHEMA:
        raise ValueError("not a vfio-tui hook plan")

    def strs(key: str) -> tuple[str, ...]:
        v = data.get(key, [])
        if not isinstance(v, list) or not all(isinstance(x, str) and len(x) < 64 for x in v):
            raise ValueError(f"{key} is not a list of names")
        return tuple(v)

    vm, gpu, group, watchdog = data.get("vm"), data.get("gpu"), data.get("group"), data.get("watchdog", 0)
    if not isinstance(vm, str) or not isinstance(gpu, str) or not isinstance(group, int) or isinstance(group, bool):
        raise ValueError("vm, gpu or group missing")
    if not isinstance(watchdog, (int, float)) or isinstance(watchdog, bool) or not 0 <= watchdog <= 3600:
        raise ValueError("watchdog is not a number of seconds")
    steps = data.get("release", [])
    if not isinstance(steps, list):
        raise ValueError("release is not a list")
    controllers = data.get("controllers_added", [])
    if not isinstance(controllers, list) or not all(isinstance(c, int) for c in controllers):
        raise ValueError("controllers_added is not a list of indexes")
    check_vm_name(vm)
    return HookRecord(vm, gpu, group, strs("members"), strs("functions"), strs("cards"),
                      tuple(GpuStep.from_json(s) for s in steps), float(watchdog), strs("hostdevs_added"),
                      tuple(controllers), data)


def read_record(host: Host, vm: str) -> HookRecord | None:
    """The VM's recorded plan, None when it has none.

    Raises:
        VfioError: the file is there but not a plan vfio-tui wrote (a link, too big, not its JSON).
    """
    path = host.paths.under(plan_path(vm))
    try:
        raw = safefile.read_bytes(host.paths.root, path, limit=MAX_PLAN_BYTES, follow=False)
    except FileNotFoundError:
        return None
    except safefile.UnsafePathError as exc:
        raise VfioError(f"the hook plan of {vm} cannot be used: {exc.detail}", path=plan_path(vm)) from None
    except OSError as exc:
        raise VfioError(f"the hook plan of {vm} cannot be read ({exc.strerror})", path=plan_path(vm)) from None
    try:
        if len(raw) > MAX_PLAN_BYTES:
            raise ValueError("too big")
        record = make_record(json.loads(raw))
    except (ValueError, RecursionError) as exc:
        raise VfioError(f"the hook plan of {vm} is not vfio-tui's ({str(exc)[:120]})", path=plan_path(vm),
                        fix=f"`vfio-tui hooks install {vm}` records it again") from None
    if record.vm != vm:
        raise VfioError(f"the hook plan {plan_path(vm)} is for {record.vm!r}, not {vm!r}", path=plan_path(vm))
    return record


def recorded_vms(host: Host) -> list[str]:
    """The VMs with a recorded plan, sorted."""
    d = host.paths.under(HOOK_PLANS)
    try:
        names = os.listdir(d)
    except OSError:
        return []
    return sorted(n[:-5] for n in names if n.endswith(".json") and _VM_NAME.match(n[:-5])
                  and safefile.exists(host.paths.root, d / n))


@dataclass(frozen=True)
class OtherHooks:
    """What is in libvirt's hook dir besides vfio-tui's script."""

    dispatcher: str | None = None
    """/etc/libvirt/hooks/qemu, described ("the community's per-VM dispatcher ...")."""
    scripts: tuple[str, ...] = ()
    """Other executable files in qemu.d (libvirt runs each for every VM)."""
    per_vm: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """{vm: the scripts under qemu.d/VM/OP/SUBOP/} of the community dispatcher's layout."""
    ours: bool | None = None
    """qemu.d/vfio-tui: None absent, True vfio-tui's, False someone else's file of that name."""
    ours_mode: int | None = None

    def lines(self, vm: str | None = None) -> list[str]:
        out: list[str] = []
        if self.dispatcher:
            out.append(f"{LEGACY_DISPATCHER}: {self.dispatcher}; libvirt runs it before qemu.d, and vfio-tui leaves"
                       " it as it is")
        for s in self.scripts:
            out.append(f"{s}: another hook script; libvirt runs it too, for every VM")
        for name, files in sorted(self.per_vm.items()):
            if vm is not None and name != vm:
                continue
            conflict = (f" — they run too and would unbind the GPU as well: move {QEMU_D}/{name} aside"
                        if self.dispatcher else f" (run only by a dispatcher at {LEGACY_DISPATCHER}, which is"
                        " absent: they do not run now)")
            out.append(f"{QEMU_D}/{name}/: per-VM hook scripts of {name} ({', '.join(files)}){conflict}")
        return out

    def conflicts(self, vm: str) -> tuple[str, ...]:
        """The scripts that would run at the same points for `vm` (only when a dispatcher runs them)."""
        return self.per_vm.get(vm, ()) if self.dispatcher else ()

    def to_json(self) -> dict[str, Any]:
        return {"dispatcher": self.dispatcher, "scripts": list(self.scripts),
                "per_vm": {k: list(v) for k, v in self.per_vm.items()}, "script_is_ours": self.ours}


def _executable(st: os.stat_result) -> bool:
    return stat.S_ISREG(st.st_mode) and bool(st.st_mode & 0o111)


def survey(host: Host) -> OtherHooks:
    """What is in /etc/libvirt/hooks now (read-only, inside the host root, links not followed out)."""
    root = host.paths.root
    dispatcher = None
    main = host.paths.under(LEGACY_DISPATCHER)
    try:
        text = safefile.read_bytes(root, main, limit=256 << 10).decode("utf-8", "replace")
        st = os.stat(main)
        kind = ("the community's per-VM dispatcher (runs qemu.d/VM/OPERATION/SUB-OPERATION/*, as"
                " PassthroughPOST's hooks use)" if "qemu.d" in text else "a hook script")
        dispatcher = kind + ("" if _executable(st) else " (not executable: libvirt does not run it)")
    except FileNotFoundError:
        pass
    except (OSError, safefile.UnsafePathError) as exc:
        dispatcher = f"present but unreadable ({exc})"
    scripts: list[str] = []
    per_vm: dict[str, tuple[str, ...]] = {}
    ours: bool | None = None
    ours_mode: int | None = None
    qd = host.paths.under(QEMU_D)
    try:
        entries = sorted(os.listdir(qd))
    except OSError:
        entries = []
    for name in entries:
        p = qd / name
        try:
            st = os.lstat(p)
        except OSError:
            continue
        if name == "vfio-tui":
            try:
                head = safefile.read_bytes(root, p, limit=4096, follow=False)
                ours = MARKER.encode() in head
            except (OSError, safefile.UnsafePathError):
                ours = False
            ours_mode = stat.S_IMODE(st.st_mode)
            continue
        if stat.S_ISDIR(st.st_mode):
            found = []
            for dirpath, _dirs, files in os.walk(p):
                for f in sorted(files):
                    found.append(os.path.relpath(os.path.join(dirpath, f), p))
                if len(found) > 50:
                    break
            if found:
                per_vm[name] = tuple(sorted(found)[:50])
        elif _executable(os.stat(p) if stat.S_ISLNK(st.st_mode) and os.path.exists(p) else st):
            scripts.append(f"{QEMU_D}/{name}")
    return OtherHooks(dispatcher, tuple(scripts), per_vm, ours, ours_mode)


def created_dirs(value: object) -> list[str]:
    """The hook dirs a recorded plan says install created (only libvirt's hook dirs: a plan is data)."""
    if not isinstance(value, list):
        return []
    return [d for d in (QEMU_D, HOOKS_DIR) if d in value]

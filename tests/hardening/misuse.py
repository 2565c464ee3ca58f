"""The misuse table's cases: every subcommand × (missing/extra/bad arguments, bad addresses, unknown VMs,
files that are missing, unreadable, directories, /dev/zero, FIFOs, binary, huge, over-long paths,
symlink loops) — each with the exit codes the documentation allows for it.

Placeholders in a case's argv are filled per environment (tests/hardening/misuse_envs.py):
{HOST} the host options, {ADDR} a device of that host, {OUT} a fresh output path, {NEWDIR} a fresh
directory path, {LOG} a readable QEMU log, and {F:role:kind} a file of that kind for that role.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from dataclasses import dataclass, field

from vfio_tui.tui.cli import build_parser
from vfio_tui.tui.cli.registry import COMMANDS

DOCUMENTED = frozenset({0, 1, 2, 3})
"""0 ok, 1 a check failed / no known cause / VM did not start, 2 bad input, 3 plan refused."""
BAD = frozenset({2})
ANY = DOCUMENTED

FILE_KINDS = ("missing", "unreadable", "directory", "devzero", "fifo", "binary", "huge", "empty", "longpath",
              "loop")
EXPENSIVE = ("devzero", "huge", "fifo")
"""Kinds that cost a second or more to refuse (reading to the memory cap): run for every command as
root, and through inventory (the same reader) in the other environments."""
DIR_KINDS = ("missing", "file", "unreadable", "devzero", "fifo", "longpath", "loop")
OUT_KINDS = ("directory", "noparent", "unwritable", "devnode", "fifo", "longpath", "loop")
BAD_ADDRESSES = ("zz:zz.z", "0000:ff:1f.7", "", "0" * 5000, "0b:00.8", "10000:0b:00.0", "0b:00", "０b:00.0",
                 "0b:00.0/../..", "0b:00.0\x7f")
BAD_VMS = ("no_such_vm", "", "x" * 300, "../../etc/passwd", "vm'\"<x>")
BAD_RUNS = ("run-999", "", "../../x", "run-" + "9" * 400)

# A case that fails only in another engineer's area is reported as theirs (xfail with the reason),
# never skipped: its count is printed in the table.
OWNERS = {
    ("--host-snapshot", "devzero"): "security (snapshots as untrusted input)",
    ("--host-snapshot", "fifo"): "security (snapshots as untrusted input)",
    ("--host-snapshot", "huge"): "security (snapshots as untrusted input)",
    ("--pci-ids", "devzero"): "perf (/dev/zero as --pci-ids)",
    ("--pci-ids", "fifo"): "perf (pci.ids reader)",
    ("--pci-ids", "huge"): "perf (pci.ids reader)",
    ("explain", "FILE"): "explain (log bounds)",
    ("snapshot", "OUT"): "security (one safe file writer)",
}


@dataclass(frozen=True)
class Case:
    command: str
    category: str
    """missing-args, extra-args, bad-option, bad-address, unknown-vm, file, valid, write."""
    argv: tuple[str, ...]
    expect: frozenset[int]
    detail: str = ""
    owner: str = ""
    envs: tuple[str, ...] = field(default=())
    """Only in these environments (empty: all)."""

    @property
    def ident(self) -> str:
        return f"{self.command}|{self.category}|{self.detail}"


VALID: dict[str, tuple[str, ...]] = {
    "inventory": ("inventory",),
    "snapshot": ("snapshot", "{OUT}"),
    "sim-host": ("sim-host", "{NEWDIR}"),
    "bind": ("bind", "{ADDR}", "--dry-run"),
    "restore": ("restore", "--all"),
    "check": ("check",),
    "explain": ("explain", "{LOG}"),
    "vms": ("vms",),
    "hostdev-xml": ("hostdev-xml", "{ADDR}"),
    "attach": ("attach", "{ADDR}", "vfio_test", "--dry-run"),
    "detach": ("detach", "{ADDR}", "vfio_test"),
    "pass": ("pass", "{ADDR}", "vfio_test", "--dry-run"),
    "undo": ("undo", "--list"),
    "watch": ("watch", "vfio_test", "--timeout", "0.5"),
    "web": ("web", "--port", "8000"),  # never run: a valid `web` starts a server
    "completion": ("completion", "bash"),
    "rom": ("rom", "{ADDR}"),
    "sriov": ("sriov", "{ADDR}"),
    "hosts": ("hosts", "list"),
    "fleet": ("fleet",),
    "export": ("export", "--format", "nova"),
    "hooks": ("hooks", "status"),
}
MISSING: dict[str, tuple[str, ...]] = {
    "snapshot": ("snapshot",), "sim-host": ("sim-host",), "bind": ("bind",), "restore": ("restore",),
    "explain": ("explain",), "hostdev-xml": ("hostdev-xml",), "attach": ("attach", "{ADDR}"),
    "detach": ("detach", "{ADDR}"), "pass": ("pass", "{ADDR}"), "watch": ("watch",), "completion": ("completion",),
    "rom": ("rom",),
    "hosts": ("hosts",), "export": ("export",), "sriov": ("sriov",), "hooks": ("hooks",),
}
WRITES: tuple[tuple[str, ...], ...] = (
    ("bind", "{ADDR}", "--yes"), ("restore", "--all"), ("check", "--fix", "qemu-conf-relaxed-acs", "--yes"),
    ("check", "--undo", "qemu-conf-relaxed-acs", "--yes"), ("pass", "{ADDR}", "vfio_test", "--yes"),
    ("undo", "--yes"), ("bind", "{ADDR}", "--yes", "--persist"), ("restore", "--all", "--persist"),
    ("hooks", "install", "vfio_test", "--gpu", "{ADDR}", "--yes"), ("hooks", "remove", "vfio_test", "--yes"),
    ("hooks", "run", "vfio_test", "prepare", "begin"), ("hooks", "run", "vfio_test", "release", "end"),
)
BAD_OPTIONS: dict[str, tuple[tuple[str, ...], ...]] = {
    "inventory": (("--group", "-1"), ("--group", "x"), ("--group", "99999999999"), ("--on", "no-such-host"),
                  ("--on", "")),
    "sriov": (("--vfs", "-1"), ("--vfs", "x"), ("--vfs", "99999999999")),
    "fleet": (("--timeout", "-1"), ("--class", "toaster")),
    "export": (("--format", "yaml"),),
    "bind": tuple(("--timeout", v) for v in ("-1", "0", "nan", "inf", "x")),
    "restore": (("--timeout", "-1"), ("--timeout", "nan"), ("--config", "cfg-999"), ("--config", "")),
    "pass": (("--timeout", "-1"), ("--timeout", "nan"), ("--managed", "maybe")),
    "undo": (("--timeout", "0"), ("--shutdown-timeout", "nan"), ("--unplug-timeout", "-5"), ("--force",)),
    "watch": (("--timeout", "-1"), ("--timeout", "inf")),
    "web": (("--port", "0"), ("--port", "65536"), ("--port", "http")),
    "hostdev-xml": (("--guest-slot", "zz"), ("--guest-slot", "100:00"), ("--rom-bar", "maybe")),
    "attach": (("--managed", "maybe"), ("--config", "--live")),
    "check": (("--only", "no-such-check"), ("--fix", "no-such-fix"), ("--undo", "cfg-999"),
              ("--fix", "x", "--undo", "y")),
    "explain": (("--vm", "x", "--connect", "no-such-scheme://"),),
    "hooks": (("--watchdog", "-1"), ("--watchdog", "nan"), ("--gpu", "0b:00.0"), ("--json", "--yes"),
              ("--no-such-action",)),
}


def _host_options(command: str) -> set[str]:
    parser = build_parser([command, "--help"])  # every option of the command, the host ones included
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {s for a in sub.choices[command]._actions for s in a.option_strings}


def accepts_connect(command: str) -> bool:
    return "--connect" in _host_options(command)


def cases() -> Iterator[Case]:
    """Every case of the table (environment-independent; placeholders filled later)."""
    for command in COMMANDS:
        valid = VALID[command]
        host = () if command == "sim-host" else ("{HOST}",)
        if command in MISSING:
            # `explain` with no FILE reads standard input (here: empty, so "no known cause", 1).
            expect = frozenset({1, 2}) if command == "explain" else BAD
            yield Case(command, "missing-args", (*MISSING[command], *host), expect, "required argument left out")
        yield Case(command, "extra-args", (*valid, "stray-word", *host), BAD, "an extra positional")
        yield Case(command, "bad-option", (*valid, "--no-such-option", *host), BAD, "unknown option")
        for bad in BAD_OPTIONS.get(command, ()):
            yield Case(command, "bad-option", (*valid, *bad, *host), BAD, " ".join(bad))
        if "{ADDR}" in valid:
            for addr in BAD_ADDRESSES:
                argv = tuple(addr if w == "{ADDR}" else w for w in valid)
                yield Case(command, "bad-address", (*argv, *host), BAD, repr(addr)[:24])
        if command == "restore":
            for addr in BAD_ADDRESSES:
                yield Case(command, "bad-address", ("restore", addr, *host), BAD, repr(addr)[:24])
        if command == "check":
            for addr in BAD_ADDRESSES:
                yield Case(command, "bad-address", ("check", "--for", addr, *host), BAD, repr(addr)[:24])
            for vm in BAD_VMS:
                yield Case(command, "unknown-vm", ("check", "--vm", vm, *host), BAD, repr(vm)[:24])
        if "vfio_test" in valid:
            for vm in BAD_VMS:
                argv = tuple(vm if w == "vfio_test" else w for w in valid)
                yield Case(command, "unknown-vm", (*argv, *host), BAD, repr(vm)[:24])
        if command in ("hostdev-xml", "explain"):
            for vm in BAD_VMS:
                base = ("hostdev-xml", "{ADDR}") if command == "hostdev-xml" else ("explain",)
                yield Case(command, "unknown-vm", (*base, "--vm", vm, *host), BAD, repr(vm)[:24])
        if command == "completion":
            yield Case(command, "bad-option", ("completion", "fish"), BAD, "an unknown shell")
        if command == "hooks":
            for action in ("install", "remove"):
                for vm in BAD_VMS:
                    yield Case(command, "unknown-vm", ("hooks", action, vm, *host), BAD, f"{action} {vm!r}"[:24])
            for argv in (("hooks", "bogus"), ("hooks", "run", "x"), ("hooks", "install", "a", "b")):
                yield Case(command, "bad-option", (*argv, *host), BAD, " ".join(argv[1:]))
            for vm in BAD_VMS:
                # libvirt calls the hook for every VM: one without a plan is not an error
                yield Case(command, "valid", ("hooks", "run", vm or "x", "prepare", "begin", *host), frozenset({0}),
                           f"run {vm!r}"[:24])
        if command == "undo":
            for run in BAD_RUNS:
                yield Case(command, "bad-run", ("undo", run, *host), BAD, repr(run)[:24])
        yield from _file_cases(command, valid)
        if command != "web":
            yield Case(command, "valid", (*valid, *host), ANY, "the documented use")
    for argv in WRITES:
        yield Case(argv[0], "write", (*argv, "{HOST}"), ANY, " ".join(argv[1:]))


def _file_cases(command: str, valid: tuple[str, ...]) -> Iterator[Case]:
    if command in ("web", "completion"):
        return  # host files of `web` are read by the app it serves; `completion` reads no host
    if command != "sim-host":
        for kind in DIR_KINDS:
            yield Case(command, "file", (*valid, "--root", f"{{F:dir:{kind}}}"), BAD, f"--root {kind}")
        for kind in FILE_KINDS:
            if kind in EXPENSIVE and command != "inventory":
                envs: tuple[str, ...] = ("root",)  # the same reader as inventory's; a second each
            else:
                envs = ()
            ok = kind == "unreadable"  # root reads it (its content is a valid recording)
            yield Case(command, "file", (*valid, "--host-snapshot", f"{{F:snapshot:{kind}}}"), ANY if ok else BAD,
                       f"--host-snapshot {kind}", OWNERS.get(("--host-snapshot", kind), ""), envs)
            # pci.ids is read only by a command that prints names: a bad one must be refused or cost only
            # the names, never hang or crash.
            yield Case(command, "file", (*valid, "--pci-ids", f"{{F:pciids:{kind}}}", "{HOST}"), ANY,
                       f"--pci-ids {kind}", OWNERS.get(("--pci-ids", kind), ""), envs)
    if command == "explain":
        for kind in FILE_KINDS:
            # A huge log is read up to explain's cap and said so ("stopped after the first 256 MiB"): 1 or 2.
            expect = ANY if kind in ("binary", "empty", "unreadable") else frozenset({1, 2}) if kind == "huge" else BAD
            yield Case(command, "file", ("explain", f"{{F:log:{kind}}}", "{HOST}"), expect, f"FILE {kind}",
                       OWNERS[("explain", "FILE")])
    if command == "rom":
        for kind in FILE_KINDS:
            # A file that is there and readable is validated (and may be no ROM: 1); anything else is refused.
            expect = ANY if kind in ("binary", "empty", "unreadable", "huge") else BAD
            yield Case(command, "file", ("rom", "--check", f"{{F:log:{kind}}}", "{HOST}"), expect, f"--check {kind}")
    if command == "snapshot":
        for kind in OUT_KINDS:
            yield Case(command, "file", ("snapshot", f"{{F:out:{kind}}}", "{HOST}"), BAD, f"OUT {kind}",
                       OWNERS[("snapshot", "OUT")])
    if command == "sim-host":
        for kind in (*DIR_KINDS, "nonempty"):
            if kind != "missing":  # a new directory is what sim-host makes
                yield Case(command, "file", ("sim-host", f"{{F:dir:{kind}}}"), BAD, f"DIR {kind}")
        for kind in FILE_KINDS:
            yield Case(command, "file", ("sim-host", "{NEWDIR}", "--from", f"{{F:snapshot:{kind}}}"),
                       ANY if kind == "unreadable" else BAD, f"--from {kind}",
                       OWNERS.get(("--host-snapshot", kind), ""))

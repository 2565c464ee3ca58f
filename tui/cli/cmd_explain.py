"""`vfio-tui explain`: why a VM with a passed-through device did not start, and what to do."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import BinaryIO

from core.host import HostOptions, open_host

HELP = "explain a failed VM start (virsh error, QEMU log, dmesg) and check the cause on this host"
DESCRIPTION = """\
Read a pasted virsh error, a QEMU domain log, a journal or dmesg excerpt (any mix, any order,
with or without timestamps, 2015 qemu-kvm wording or current wording) and say what went wrong:
the root cause first, the lines that show it, the fix as commands or file edits, and the result of
an automatic check against this host (e.g. "group 19 is not viable: 0000:0b:00.0 is still bound to
qla2xxx"). Secondary findings follow. When nothing matches a known cause it says so and shows the
lines that look most relevant; it never guesses.

With --vm NAME it collects the text itself: libvirt's last error (when libvirt is reachable), the
domain's QEMU log since its last start (/var/log/libvirt/qemu/NAME.log) and the kernel's VFIO/IOMMU
lines. Exit status: 0 a cause was found, 1 no known cause, 2 bad input.
"""
EPILOG = """\
examples:
  virsh start win10 2>&1 | vfio-tui explain -
  vfio-tui explain /var/log/libvirt/qemu/win10.log
  vfio-tui explain --vm win10
  journalctl -k -b | vfio-tui explain - --json | jq '.findings[0].cause_id'
  vfio-tui explain --vm vfio_test --demo            (the demo host's failed VM)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", metavar="FILE|-",
                        help="the text to explain; - reads stdin (default when stdin is a pipe)")
    parser.add_argument("--vm", metavar="NAME", help="collect the domain's logs and libvirt's last error")
    parser.add_argument("--json", action="store_true",
                        help='print JSON: {"findings": [{"cause_id","title","explanation","fix","evidence",'
                             '"check"}...]} best first, [] when no known cause')
    parser.add_argument("--connect", "-c", metavar="URI",
                        help="libvirt URI the VM runs under (used by --vm and the checks; qemu:///session is flagged)")
    parser.add_argument("--verbose", "-v", action="store_true", help="full explanation for every finding")


def run(args: argparse.Namespace, options: HostOptions) -> int:
    from core.errors import InputError
    from core.explain import collect_vm_logs, explain_stream, explain_text
    from core.explain.collect import open_hypervisor_if_available
    from core.explain.render import format_report
    from tui.cli.common import print_json, use_color

    if args.file is None and args.vm is None:
        if sys.stdin.isatty():
            raise InputError("nothing to explain", fix="give a FILE, - for stdin, or --vm NAME (see --help)")
        args.file = "-"
    with open_host(options) as host:
        if args.vm is not None:
            hyper = open_hypervisor_if_available(args.connect, demo=host.kind == "demo")
            text = collect_vm_logs(host, args.vm, hyper)
            if args.file is not None:
                text += _read_file(args.file)
            report = explain_text(text, host, uri=args.connect)
        elif args.file == "-":
            report = explain_stream(sys.stdin.buffer, host, uri=args.connect)
        else:
            path = Path(args.file)
            try:
                with _open_regular(path) as fh:
                    report = explain_stream(fh, host, uri=args.connect)
            except (FileNotFoundError, IsADirectoryError, PermissionError) as exc:
                raise InputError(f"cannot read {path}: {exc.strerror}") from None
        if report.truncated:
            sys.stderr.write("vfio-tui explain: stopped after the first 256 MiB of input; explain a smaller excerpt "
                             "(e.g. journalctl -b -k, or the QEMU log of the failed start)\n")
        if args.json:
            print_json(report.to_json())
        else:
            sys.stdout.write(format_report(report, color=use_color(), verbose=args.verbose))
    return 0 if report.findings else 1


def _open_regular(path: Path) -> BinaryIO:
    """Open a log file for reading; a FIFO, device (/dev/zero) or socket is refused at once (use - for a pipe)."""
    import os
    import stat

    from core.errors import InputError

    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)  # O_NONBLOCK: a FIFO must not block the open
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InputError(f"{path} is not a regular file", fix="give a log file, or pipe it: ... | vfio-tui explain -")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def _read_file(name: str) -> str:
    from core.errors import InputError

    if name == "-":
        return sys.stdin.buffer.read().decode("utf-8", errors="replace")
    try:
        return Path(name).read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror}") from None

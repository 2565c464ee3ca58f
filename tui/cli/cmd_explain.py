"""`vfio-tui explain`: why a VM with a passed-through device did not start, and what to do."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import BinaryIO

from vfio_tui.core.host import HostOptions
from vfio_tui.core.open_host import open_host

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
    from vfio_tui.core.errors import InputError
    from vfio_tui.core.explain import collect_vm_logs, explain_stream, explain_text
    from vfio_tui.core.explain.collect import open_hypervisor_if_available
    from vfio_tui.core.explain.render import format_report
    from vfio_tui.core.loginput import MAX_INPUT
    from vfio_tui.tui.cli.common import print_json, use_color

    if args.file is None and args.vm is None:
        if sys.stdin.isatty():
            raise InputError("nothing to explain", fix="give a FILE, - for stdin, or --vm NAME (see --help)")
        args.file = "-"
    with open_host(options) as host:
        if args.vm is not None:
            hyper = open_hypervisor_if_available(host, args.connect)
            text = collect_vm_logs(host, args.vm, hyper).encode("utf-8", errors="replace")
            extra, more = _read_file(args.file) if args.file is not None else (b"", False)
            report = explain_text(text + extra, host, uri=args.connect)
            if more:
                report = dataclasses.replace(report, truncated=True)
        elif args.file == "-":
            report = explain_stream(sys.stdin.buffer, host, uri=args.connect)
        else:
            with _open_file(args.file) as fh:
                report = explain_stream(fh, host, uri=args.connect)
        if report.truncated:
            sys.stderr.write(f"vfio-tui explain: stopped after the first {MAX_INPUT >> 20} MiB of input; explain a "
                             "smaller excerpt (e.g. journalctl -b -k, or the QEMU log of the failed start)\n")
        if args.json:
            print_json(report.to_json())
        else:
            sys.stdout.write(format_report(report, color=use_color(), verbose=args.verbose))
    return 0 if report.findings else 1


def _open_file(name: str) -> BinaryIO:
    """A log file, opened at once: a FIFO, device (/dev/zero), socket or directory is refused (use - for a pipe)."""
    from vfio_tui.core.errors import InputError
    from vfio_tui.core.loginput import open_log

    try:
        return open_log(Path(name), name)
    except OSError as exc:
        raise InputError(f"cannot read {name}: {exc.strerror}") from None


def _read_file(name: str) -> tuple[bytes, bool]:
    """The text of FILE or stdin given next to --vm, capped (and whether there was more)."""
    from vfio_tui.core.loginput import read_stream

    if name == "-":
        return read_stream(sys.stdin.buffer)
    with _open_file(name) as fh:
        return read_stream(fh)

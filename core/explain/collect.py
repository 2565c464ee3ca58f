"""Provides collect_vm_logs() and explain_failure(): gather what a failed start left behind.

The libvirt part (core.libvirt, optional) gives a FailureRecord with libvirt's last error, the
QEMU log tail and kernel lines; without it we read the domain's QEMU log and the host kernel log
ourselves, so `explain --vm NAME` also works on the demo host and on hosts without libvirt-python.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vfio_tui.core.errors import InputError
from vfio_tui.core.explain.engine import explain_text
from vfio_tui.core.explain.model import ExplainReport
from vfio_tui.core.loginput import NotRegularFile, open_log, read_tail

if TYPE_CHECKING:
    from vfio_tui.core.host import Host

_QEMU_LOG_TAIL = 1 << 20
_KERNEL_LOG_TAIL = 2 << 20
_KERNEL_LOGS = ("/var/log/kern.log", "/var/log/messages", "/var/log/syslog", "/var/log/dmesg")
_VM_NAME = re.compile(r"^[\w.+-]{1,200}$")
_KERNEL_INTEREST = re.compile(r"vfio|iommu|dmar|amd-vi|remapping|memlock|can't reserve|probe of|probe with driver",
                              re.I)


def _tail(path: Path, limit: int, shown: str | None = None) -> str | None:
    """The end of a log; None when it is missing or unreadable.

    Raises:
        NotRegularFile: a FIFO, device or socket sits where the log should be (never opened blocking).
    """
    try:
        with open_log(path, shown) as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > limit:
                fh.seek(size - limit)
            return fh.read(limit).decode("utf-8", errors="replace")
    except OSError:
        return None


_QEMU_TIME = re.compile(r"^(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.\d{1,9})?(\+\d{4}|Z)?")
_ISO_LINE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.\d{1,9})?([+-]\d\d:?\d\d|Z)")
_SYSLOG_LINE = re.compile(r"^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d:\d\d:\d\d) ")
_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                                       "Dec"), 1)}


def _attempt_window(attempt: str) -> tuple[datetime, datetime | None] | None:
    """When the last start attempt began and (if logged) ended, from the QEMU log's own UTC stamps."""
    stamps = []
    for line in attempt.splitlines():
        m = _QEMU_TIME.match(line)
        if m and ("starting up" in line or "shutting down" in line):
            try:
                stamps.append(datetime.fromisoformat(f"{m.group(1)}T{m.group(2)}+00:00"))
            except ValueError:
                continue
    if not stamps:
        return None
    return stamps[0], (stamps[-1] if len(stamps) > 1 else None)


def _line_time(line: str, year: int) -> datetime | None:
    """The time of a kernel log line: ISO with offset (journal) or syslog (local time, no year)."""
    m = _ISO_LINE.match(line)
    if m:
        try:
            return datetime.fromisoformat(m.group(1) + m.group(2).replace("Z", "+00:00"))
        except ValueError:
            return None
    m = _SYSLOG_LINE.match(line)
    if m and m.group(1) in _MONTHS:
        try:
            hh, mm, ss = (int(x) for x in m.group(3).split(":"))
            return datetime(year, _MONTHS[m.group(1)], int(m.group(2)), hh, mm, ss).astimezone()
        except ValueError:
            return None
    return None


def kernel_lines_for_attempt(text: str, window: tuple[datetime, datetime | None] | None) -> list[str]:
    """The kernel's VFIO/IOMMU lines, limited to the attempt's time window when both sides have times
    (lines without a usable time, e.g. dmesg's seconds-since-boot, are kept)."""
    out = []
    for line in text.splitlines():
        if not _KERNEL_INTEREST.search(line):
            continue
        if window is not None:
            when = _line_time(line, window[0].year)
            start, end = window
            if when is not None and (when < start - timedelta(seconds=2)
                                     or (end is not None and when > end + timedelta(seconds=10))):
                continue
        out.append(line)
    return out


def _last_start(log: str) -> str:
    """The part of a QEMU domain log since the last "starting up" line (the last attempt)."""
    at = log.rfind("starting up")
    if at == -1:
        return log
    return log[log.rfind("\n", 0, at) + 1:]


def _field(record: Any, name: str) -> Any:
    return record.get(name) if isinstance(record, Mapping) else getattr(record, name, None)


def _record_fields(record: Any) -> tuple[str, str, list[str]]:
    def get(name: str) -> Any:
        return record.get(name) if isinstance(record, Mapping) else getattr(record, name, None)

    # Two spellings: the libvirt part's FailureRecord (error_message, qemu_log, kernel_log)
    # and a plain dict/object with libvirt_error, qemu_log_tail, kernel_lines.
    error = get("libvirt_error") or get("error_message") or ""
    tail = get("qemu_log_tail") or get("qemu_log") or ""
    kernel = get("kernel_lines") or get("kernel_log") or []
    if isinstance(tail, list | tuple):
        tail = "\n".join(map(str, tail))
    if isinstance(kernel, str):
        kernel = kernel.splitlines()
    return str(error), str(tail), [str(k) for k in kernel] if isinstance(kernel, Iterable) else []


def _failure_from_hypervisor(hypervisor: Any, vm: str) -> Any:
    for name in ("last_failure", "failure_record", "get_failure_record", "collect_failure"):
        fn = getattr(hypervisor, name, None)
        if callable(fn):
            try:
                return fn(vm)
            except Exception:  # noqa: BLE001 - the libvirt part is optional; fall back to the files
                return None
    return None


def _saved_failure(host: Host, vm: str, log_path: Any) -> Any:
    """The failure record `vfio-tui attach --start` saved for `vm`, unless the VM was started again
    after it (then the QEMU log describes a newer attempt and the record is stale)."""
    try:
        from vfio_tui.core.libvirt.failure import load_failure
    except ImportError:
        return None
    record = load_failure(host, vm)
    if record is None:
        return None
    try:
        text = _tail(log_path, _QEMU_LOG_TAIL)
    except NotRegularFile:
        text = None
    started = _start_time(text) if text else None
    try:
        when = datetime.fromisoformat(str(record.when).replace("Z", "+00:00")) if record.when else None
    except ValueError:
        when = None
    if started is not None and when is not None and started > when + timedelta(seconds=60):
        return None
    return record


def _start_time(log: str) -> datetime | None:
    """When the last "starting up" line of a QEMU domain log was written (libvirt's own format)."""
    at = log.rfind("starting up")
    if at == -1:
        return None
    line = log[log.rfind("\n", 0, at) + 1:at].rstrip(": ")
    try:
        return datetime.strptime(line, "%Y-%m-%d %H:%M:%S.%f%z")
    except ValueError:
        return None


def collect_vm_logs(host: Host, vm: str, hypervisor: Any = None) -> str:
    """The text explain needs for a domain: libvirt's last error, the domain's QEMU log since its last
    start, and the host kernel's VFIO/IOMMU lines.

    Raises:
        InputError: a malformed VM name, or nothing at all could be found for it.
    """
    if not _VM_NAME.match(vm):
        raise InputError(f"{vm!r} is not a domain name")
    record = _failure_from_hypervisor(hypervisor, vm) if hypervisor is not None else None
    log_path = host.paths.var_log / "libvirt" / "qemu" / f"{vm}.log"
    if record is None:
        record = _saved_failure(host, vm, log_path)
    error, tail, kernel = _record_fields(record) if record is not None else ("", "", [])
    # A FailureRecord says whether this start wrote to the QEMU log; when it did not (libvirt
    # refused before QEMU ran), the file's last attempt is an older one and must not be mixed in.
    stale_file = record is not None and _field(record, "qemu_log_from_this_start") is False
    if not tail and not stale_file:
        try:
            text = _tail(log_path, _QEMU_LOG_TAIL, host.paths.display(log_path))
        except NotRegularFile:
            if not error:
                raise
            text = None
        if text is not None:
            tail = _last_start(text)
        elif not error:
            raise InputError(f"nothing to explain for domain {vm!r}: no libvirt error and no "
                             f"{host.paths.display(log_path)}",
                             fix="check the name with `virsh list --all`, or paste the error: vfio-tui explain -")
    window = _attempt_window(tail) if tail else None
    if not kernel:
        for name in _KERNEL_LOGS:
            raw = read_tail(host.paths.under(name), _KERNEL_LOG_TAIL)  # a FIFO or device here is skipped
            ktext = raw.decode("utf-8", errors="replace") if raw else None
            if ktext:
                # without a time window, only the most recent lines (older ones belong to other starts)
                kernel = kernel_lines_for_attempt(ktext, window)[-200:]
                break
    pieces = [p for p in (error, tail, "\n".join(kernel)) if p.strip()]
    return "\n".join(pieces) + "\n"


def explain_failure(record: Any, host: Host | None = None) -> ExplainReport:
    """Explain a FailureRecord of the libvirt part (or any object/dict with .libvirt_error,
    .qemu_log_tail and .kernel_lines)."""
    error, tail, kernel = _record_fields(record)
    return explain_text("\n".join([error, tail, *kernel]), host)


def open_hypervisor_if_available(host: Host, uri: str | None) -> Any:
    """The libvirt that goes with `host` (core.libvirt.hypervisor_for) when it can be reached, else None."""
    from vfio_tui.core.libvirt.for_host import hypervisor_for

    try:
        return hypervisor_for(host, uri)
    except InputError:
        if uri is not None:
            raise  # a malformed --connect URI is bad input
        return None
    except Exception:  # noqa: BLE001 - no daemon, no permission: fall back to the log files
        return None

"""Provides FailureRecord: everything known about a VM that failed to start, in one object.

Three sources, kept verbatim (the explainer matches the exact texts, kernel-semantics Part B):
libvirt's error (code, domain, message), the tail of the domain's QEMU log
(/var/log/libvirt/qemu/VM.log, only what this start wrote when we know where it began) and
the kernel messages about VFIO/IOMMU and the devices involved.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from vfio_tui.core.clock import utc
from vfio_tui.core.libvirt.errors import code_name, domain_name, error_fields

if TYPE_CHECKING:
    from vfio_tui.core.host import Host

SCHEMA: Final = "vfio-tui/failure-record/1"
QEMU_LOG_LINES: Final = 60
KERNEL_LINES: Final = 40
#: Kernel lines worth showing next to a failed start (VFIO, IOMMU, BAR and memlock messages).
_KERNEL_RELEVANT: Final = re.compile(
    r"vfio|iommu|DMAR|AMD-Vi|remapping|RLIMIT_MEMLOCK|can't reserve|MSI interrupts", re.I)


@dataclass(frozen=True)
class FailureRecord:
    """A failed start (or attach) of a domain, with the evidence for `vfio-tui explain`."""

    vm: str
    uri: str
    operation: str = "start"
    when: str = ""
    """UTC time, ISO 8601."""
    error_message: str = ""
    """libvirt's message, verbatim ("unsupported configuration: host doesn't support VFIO PCI passthrough")."""
    error_code: int | None = None
    error_code_name: str | None = None
    """VIR_ERR_* (e.g. VIR_ERR_CONFIG_UNSUPPORTED for 67)."""
    error_domain: int | None = None
    error_domain_name: str | None = None
    hostdevs: tuple[str, ...] = ()
    groups: dict[str, int | None] = field(default_factory=dict)
    """IOMMU group of each hostdev on this host (None: unknown device or no group)."""
    qemu_log_path: str = ""
    qemu_log: tuple[str, ...] = ()
    qemu_log_from_this_start: bool = False
    """False when the lines are the end of an earlier run (this start wrote nothing)."""
    kernel_log_source: str = ""
    kernel_log: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["hostdevs"] = list(self.hostdevs)
        data["qemu_log"] = list(self.qemu_log)
        data["kernel_log"] = list(self.kernel_log)
        return {"schema": SCHEMA, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FailureRecord:
        fields = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        for key in ("hostdevs", "qemu_log", "kernel_log"):
            fields[key] = tuple(fields.get(key) or ())
        return cls(**fields)

    @property
    def evidence(self) -> list[str]:
        """Every line of evidence, libvirt's error first (what `explain` reads)."""
        return [self.error_message, *self.qemu_log, *self.kernel_log]

    def format_text(self) -> str:
        """Clearly labelled sections for a terminal."""
        code = f" [{self.error_code_name or self.error_code}"
        code += f", {self.error_domain_name}]" if self.error_domain_name else "]"
        lines = [f"VM {self.vm!r} failed to {self.operation} ({self.uri}, {self.when})",
                 f"libvirt error{code if self.error_code is not None else ''}:", f"  {self.error_message}"]
        if self.hostdevs:
            lines.append("hostdevs: " + ", ".join(
                f"{a} (group {self.groups.get(a)})" if self.groups.get(a) is not None else a
                for a in self.hostdevs))
        if not self.qemu_log_path and not self.qemu_log and not self.kernel_log:
            lines.append(f"logs: {self.kernel_log_source or 'not collected'}")
            return "\n".join(lines) + "\n"
        which = "this start" if self.qemu_log_from_this_start else "an earlier start; this one wrote nothing"
        if self.qemu_log:
            lines.append(f"QEMU log {self.qemu_log_path} (last {len(self.qemu_log)} lines, from {which}):")
            lines += [f"  {line}" for line in self.qemu_log]
        elif self.qemu_log_path:
            lines.append(f"QEMU log {self.qemu_log_path}: nothing")
        if self.kernel_log:
            lines.append(f"kernel messages ({self.kernel_log_source}):")
            lines += [f"  {line}" for line in self.kernel_log]
        else:
            where = f" ({self.kernel_log_source})" if self.kernel_log_source else ""
            lines.append(f"kernel messages: none relevant{where}")
        return "\n".join(lines) + "\n"


LOG_READ_LIMIT: Final = 8 << 20
"""The end of a QEMU or kernel log read for a failure record (the lines kept are far fewer)."""


def qemu_log_path(host: Host, vm: str) -> Path:
    return host.paths.var_log / "libvirt" / "qemu" / f"{vm}.log"


def log_size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except OSError:
        return None


def read_qemu_log(path: Path, since: int | None) -> tuple[list[str], bool]:
    """(lines, from_this_start): what was appended after offset `since`, else the last run's tail."""
    import os

    from vfio_tui.core.errors import InputError
    from vfio_tui.core.loginput import open_log

    try:  # a FIFO or device where the log should be is refused at once; the read is capped
        with open_log(path) as f:
            size = os.fstat(f.fileno()).st_size
            start = max(0, size - LOG_READ_LIMIT)
            f.seek(start)
            data = f.read(LOG_READ_LIMIT)
    except (OSError, InputError):
        return [], False
    if since is not None and start + len(data) > since:
        return data[max(0, since - start):].decode(errors="replace").splitlines()[-QEMU_LOG_LINES:], True
    lines = data.decode(errors="replace").splitlines()
    starts = [i for i, line in enumerate(lines) if "starting up" in line]
    if starts:
        lines = lines[starts[-1]:]
    return lines[-QEMU_LOG_LINES:], False


def read_kernel_log(host: Host, addresses: list[str]) -> tuple[list[str], str]:
    """Relevant kernel lines and where they came from: the host's kern.log, or dmesg on the live host."""
    from vfio_tui.core.loginput import read_tail

    text = ""
    source = ""
    for name in ("kern.log", "dmesg"):
        path = host.paths.var_log / name
        data = read_tail(path, LOG_READ_LIMIT)  # None: missing, unreadable, or a FIFO/device (never blocks)
        if data is None:
            continue
        text = data.decode(errors="replace")
        source = host.paths.display(path)
        break
    if not source and host.paths.is_live:
        try:
            proc = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=3, check=False)
        except (OSError, subprocess.TimeoutExpired):
            proc = None
        if proc is not None and proc.returncode == 0:
            text, source = proc.stdout, "dmesg"
        else:
            source = "dmesg not readable (needs root)"
    wanted = [a for a in addresses if a]
    lines = [line for line in text.splitlines()
             if _KERNEL_RELEVANT.search(line) or any(a in line for a in wanted)]
    return lines[-KERNEL_LINES:], source


def collect_failure(host: Host, vm: str, *, uri: str = "", error: Any = None, operation: str = "start",
                    hostdevs: list[str] | None = None, log_offset: int | None = None,
                    logs: bool = True) -> FailureRecord:
    """Build a FailureRecord from a libvirtError (or none) and the host's logs.

    logs=False when the VM does not run on `host` (a remote URI, a simulated host next to a
    real daemon): the host's logs would be someone else's, so they are not collected.
    """
    code = dom = None
    message = ""
    if error is not None:
        code, dom, message = error_fields(error)
    addrs = list(hostdevs or [])
    groups: dict[str, int | None] = {}
    if addrs:
        try:
            inv = host.inventory()
        except Exception:  # noqa: BLE001 - the record must be built even when the host cannot be read
            inv = None
        for a in addrs:
            dev = next((d for d in inv if str(d.address) == a), None) if inv is not None else None
            groups[a] = dev.iommu_group if dev is not None else None
    log_path = qemu_log_path(host, vm)
    if logs:
        qemu_lines, fresh = read_qemu_log(log_path, log_offset)
        kernel_lines, source = read_kernel_log(host, addrs)
        shown_path = host.paths.display(log_path)
    else:
        qemu_lines, fresh, kernel_lines, shown_path = [], False, [], ""
        source = f"not collected: the VMs of {uri or 'this connection'} do not run on {host.label}"
    return FailureRecord(
        vm=vm, uri=uri, operation=operation, when=utc("%Y-%m-%dT%H:%M:%S+00:00"),
        error_message=message, error_code=code, error_code_name=code_name(code), error_domain=dom,
        error_domain_name=domain_name(dom), hostdevs=tuple(addrs), groups=groups,
        qemu_log_path=shown_path, qemu_log=tuple(qemu_lines), qemu_log_from_this_start=fresh,
        kernel_log_source=source, kernel_log=tuple(kernel_lines),
    )


def failure_path(host: Host, vm: str) -> Path:
    """Where the last failure record of `vm` is kept (/var/lib/vfio-tui/failures/VM.json)."""
    # One plain file name whatever the name holds (`explain --vm` takes it from the command line).
    safe = vm.replace("%", "%25").replace("/", "%2F").replace("\0", "%00")
    return host.paths.state_dir / "failures" / f"{'%2E' + safe[1:] if safe.startswith('.') else safe}.json"


def save_failure(host: Host, record: FailureRecord) -> Path | None:
    """Keep the record for `vfio-tui explain --vm` (0600); None when the state dir is not writable."""
    import json

    from vfio_tui.core import safefile
    from vfio_tui.core.errors import VfioError

    path = failure_path(host, record.vm)
    try:
        # Inside the host root, never through a link, a random temp name (the VM name is libvirt's).
        safefile.replace(host.paths.root, path, json.dumps(record.to_json(), indent=2).encode(), private=True)
    except (OSError, VfioError):
        return None
    return path


def load_failure(host: Host, vm: str) -> FailureRecord | None:
    """The last saved failure record of `vm`, if any (unreadable or foreign files count as none)."""
    import json

    from vfio_tui.core import safefile
    from vfio_tui.core.errors import VfioError

    try:
        data = json.loads(safefile.read_bytes(host.paths.root, failure_path(host, vm), limit=4 << 20, follow=False))
    except (OSError, ValueError, RecursionError, VfioError):
        return None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        return None
    try:
        return FailureRecord.from_json(data)
    except TypeError:
        return None

"""Provides record_check_files(): the small host files the prerequisite checks read, for a recording
(host extras `files`, materialized back at their paths), so that `check` — and the fleet's IOMMU,
interrupt-remapping and failing-check columns — answer on a replayed or fetched host as they do on
the host itself. Read-only, each file bounded; kernel messages are cut to the IOMMU/VFIO lines.
"""

from __future__ import annotations

import os
import re
from typing import Final

from vfio_tui.core.hostpaths import HostPaths

MAX_FILE: Final = 256 * 1024
_TEXT_FILES: Final = ("/etc/default/grub", "/etc/kernel/cmdline", "/etc/kernelstub/configuration", "/etc/os-release",
                      "/etc/modules", "/etc/libvirt/qemu.conf", "/etc/selinux/config")
_CONF_DIRS: Final = ("/etc/modprobe.d", "/etc/modules-load.d")
_KERNEL_LINES: Final = re.compile(r"DMAR|AMD-Vi|IOMMU|iommu|[Ii]nterrupt remapping|IRQ remapping|x2apic|vfio|VFIO")
_KERNEL_LOG: Final = "/var/log/kern.log"


def _read(path: str, limit: int = MAX_FILE) -> str | None:
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError:
        return None
    if len(data) > limit:
        return None  # a file this big is not one the checks read whole; leave it out rather than cut it
    return data.decode(errors="replace")


def _cpuinfo(paths: HostPaths) -> str | None:
    """The first CPU's block of /proc/cpuinfo (vendor and flags are what the checks read)."""
    text = _read(str(paths.under("/proc/cpuinfo")), 4 * 1024 * 1024)
    return None if text is None else text.split("\n\n", 1)[0] + "\n"


def _interrupts(paths: HostPaths) -> str | None:
    """/proc/interrupts cut to its MSI lines without the per-CPU counts (the check looks for IR-;
    counts change every second and on a big host make the file megabytes)."""
    text = _read(str(paths.under("/proc/interrupts")), 16 * 1024 * 1024)
    if text is None:
        return None
    keep = []
    for line in text.splitlines()[1:]:
        fields = line.split()
        if "MSI" in line and fields:
            keep.append(" ".join([fields[0], *(f for f in fields[1:] if not f.isdigit())])[:200])
    return "CPU-counts-omitted\n" + "".join(f"{k}\n" for k in keep[:64])


def _kmsg_lines(paths: HostPaths, limit: int = 20000) -> list[str]:
    """IOMMU/VFIO lines of the kernel ring buffer (/dev/kmsg, non-blocking: the records there now)."""
    out: list[str] = []
    try:
        fd = os.open(paths.under("/dev/kmsg"), os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return out
    try:
        for _ in range(limit):
            try:
                rec = os.read(fd, 8192).decode(errors="replace")
            except BlockingIOError:
                break
            except OSError:  # EPIPE: a record was overwritten while reading; go on with the next
                continue
            if not rec:
                break
            head, _, msg = rec.partition(";")
            msg = msg.split("\n", 1)[0]
            if _KERNEL_LINES.search(msg):
                fields = head.split(",")
                usec = int(fields[2]) if len(fields) > 2 and fields[2].isdigit() else 0
                out.append(f"[{usec // 1000000:5d}.{usec % 1000000:06d}] {msg}"[:400])
    finally:
        os.close(fd)
    return out[-400:]


def record_check_files(paths: HostPaths) -> dict[str, str]:
    """{host path: text} of the files the checks read (what exists and is readable)."""
    files: dict[str, str] = {}
    for path in _TEXT_FILES:
        text = _read(str(paths.under(path)))
        if text is not None:
            files[path] = text
    for d in _CONF_DIRS:
        try:
            names = sorted(n for n in os.listdir(paths.under(d)) if n.endswith(".conf"))[:64]
        except OSError:
            continue
        for name in names:
            text = _read(str(paths.under(f"{d}/{name}")))
            if text is not None:
                files[f"{d}/{name}"] = text
    for path, text in (("/proc/cpuinfo", _cpuinfo(paths)), ("/proc/interrupts", _interrupts(paths))):
        if text is not None:
            files[path] = text
    try:
        tables = sorted(n for n in os.listdir(paths.under("/sys/firmware/acpi/tables")) if n in ("DMAR", "IVRS"))
    except OSError:
        tables = []
    for name in tables:  # the IOMMU firmware check looks for the table, not into it
        files[f"/sys/firmware/acpi/tables/{name}"] = ""
    if os.path.lexists(paths.under("/dev/kvm")):
        files["/dev/kvm"] = ""  # a plain file in the replay: the check asks whether it exists
    release = _read(str(paths.under("/proc/sys/kernel/osrelease")), 256)
    if release and "/" not in release.strip() and release.strip() not in ("", ".", ".."):
        builtin = f"/lib/modules/{release.strip()}/modules.builtin"
        text = _read(str(paths.under(builtin)), 4 * 1024 * 1024)
        if text is not None:  # only the lines the VFIO module check looks for
            files[builtin] = "".join(f"{line}\n" for line in text.splitlines() if re.search(r"vfio|iommufd|kvm", line))
    kernel = _kmsg_lines(paths) if paths.is_live else []
    if not kernel:
        text = _read(str(paths.under(_KERNEL_LOG)), 64 * 1024 * 1024)
        kernel = [line[:400] for line in (text or "").splitlines() if _KERNEL_LINES.search(line)][-400:]
    if kernel:
        files[_KERNEL_LOG] = "\n".join(kernel) + "\n"
    return files

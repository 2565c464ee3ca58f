"""Provides CheckContext: what the checks read from a host, read once and cached.

Every path comes from host.paths. A read never raises: it returns the text or the reason
it could not be read, so a check can say "cannot tell, because ..." instead of failing.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vfio_tui.core.checks.textfile import decode
from vfio_tui.core.errors import InputError, VfioError
from vfio_tui.core.safefile import read_bytes
from vfio_tui.core.safepath import UnsafePathError

if TYPE_CHECKING:
    from vfio_tui.core.address import PciAddress
    from vfio_tui.core.host import Host
    from vfio_tui.core.hostpaths import HostPaths
    from vfio_tui.core.model import HostInventory

#: Kernel log files, newest first; the interrupt-remapping line is printed once at boot.
KERNEL_LOGS = ("/var/log/kern.log", "/var/log/dmesg", "/var/log/messages", "/var/log/syslog")
_LOG_TAIL = 4 * 1024 * 1024
"""How much of a large log is read (the end of it): keeps `check` fast on busy hosts."""


MAX_FILE_READ = 16 << 20
"""The most of one host file a check reads (config files and logs are far smaller)."""


@dataclass(frozen=True, slots=True)
class FileRead:
    """The outcome of reading one host file."""

    path: str
    """Host-absolute path, for evidence."""
    text: str | None
    error: str | None = None
    """Why there is no text: "not present", "permission denied", ..."""

    @property
    def ok(self) -> bool:
        return self.text is not None


@dataclass
class CheckContext:
    """The host and the options of one `check` run."""

    host: Host
    for_address: PciAddress | None = None
    vm: str | None = None
    hypervisor: Any = None
    connect_uri: str | None = None
    _files: dict[str, FileRead] = field(default_factory=dict)
    _inventory: HostInventory | None = None
    _inventory_error: str | None = None
    _hv_tried: bool = False
    _hv_error: str | None = None

    @property
    def paths(self) -> HostPaths:
        return self.host.paths

    def path(self, absolute: str) -> Path:
        return self.host.paths.under(absolute)

    def read(self, absolute: str, *, tail: int | None = None) -> FileRead:
        """Read a host file (cached). Never raises."""
        cached = self._files.get(absolute)
        if cached is not None:
            return cached
        p = self.path(absolute)
        try:
            # Inside the host root only, regular files only (a FIFO would block, /dev/zero never end, a
            # planted link in a --root tree would read this machine's files), and bounded.
            data = read_bytes(self.paths.root, p, limit=MAX_FILE_READ)
            if tail is not None and len(data) > tail:
                data = data[-tail:]
            result = FileRead(absolute, decode(data[:MAX_FILE_READ]))
        except UnsafePathError as exc:
            result = FileRead(absolute, None, exc.detail)
        except FileNotFoundError:
            result = FileRead(absolute, None, "not present")
        except PermissionError:
            result = FileRead(absolute, None, "permission denied (run as root to read it)")
        except IsADirectoryError:
            result = FileRead(absolute, None, "is a directory")
        except OSError as exc:
            result = FileRead(absolute, None, exc.strerror or str(exc))
        self._files[absolute] = result
        return result

    def exists(self, absolute: str) -> bool:
        return os.path.lexists(self.path(absolute))

    def listdir(self, absolute: str) -> list[str] | None:
        """Sorted entries of a host directory, or None when it cannot be listed."""
        try:
            return sorted(os.listdir(self.path(absolute)))
        except OSError:
            return None

    def attr(self, absolute: str) -> str | None:
        """A small sysfs/proc attribute, stripped; None when unreadable."""
        r = self.read(absolute)
        return r.text.strip() if r.text is not None else None

    @property
    def release(self) -> str | None:
        """The running kernel's release (uname -r) of the host."""
        value = self.attr("/proc/sys/kernel/osrelease")
        if value:
            return value
        if self.host.paths.is_live:
            return platform.release()
        return None

    @property
    def cmdline(self) -> FileRead:
        return self.read("/proc/cmdline")

    def cmdline_params(self) -> list[str] | None:
        r = self.cmdline
        return r.text.split() if r.text is not None else None

    def cpu_vendor(self) -> tuple[str | None, str]:
        """("intel"|"amd"|None, evidence)."""
        info = self.read("/proc/cpuinfo")
        if info.text is not None:
            for line in info.text.splitlines():
                if line.startswith("vendor_id"):
                    v = line.partition(":")[2].strip()
                    kind = {"GenuineIntel": "intel", "AuthenticAMD": "amd", "HygonGenuine": "amd"}.get(v)
                    return kind, f"/proc/cpuinfo: vendor_id {v}"
        tables = self.listdir("/sys/firmware/acpi/tables") or []
        if "DMAR" in tables:
            return "intel", "/sys/firmware/acpi/tables/DMAR present"
        if "IVRS" in tables:
            return "amd", "/sys/firmware/acpi/tables/IVRS present"
        units = self.listdir("/sys/class/iommu") or []
        if any(u.startswith("dmar") for u in units):
            return "intel", f"/sys/class/iommu: {' '.join(units)}"
        if any(u.startswith("ivhd") for u in units):
            return "amd", f"/sys/class/iommu: {' '.join(units)}"
        return None, "/proc/cpuinfo: " + (info.error or "no vendor_id")

    def inventory(self) -> HostInventory | None:
        """The host's PCI inventory (None, with inventory_error set, when it cannot be read)."""
        if self._inventory is None and self._inventory_error is None:
            try:
                self._inventory = self.host.inventory()
            except VfioError as exc:
                self._inventory_error = str(exc)
        return self._inventory

    @property
    def inventory_error(self) -> str | None:
        return self._inventory_error

    def kernel_log(self) -> list[FileRead]:
        """The kernel's messages that could be read: the live ring buffer (/dev/kmsg, root), then log files."""
        if "/dev/kmsg" not in self._files:
            self._files["/dev/kmsg"] = self._read_kmsg()
        sources = [self._files["/dev/kmsg"], *(self.read(p, tail=_LOG_TAIL) for p in KERNEL_LOGS)]
        return [r for r in sources if r.ok]

    def _read_kmsg(self) -> FileRead:
        """The live kernel ring buffer, read without blocking (needs root unless dmesg_restrict=0)."""
        if not self.host.paths.is_live:
            return FileRead("/dev/kmsg", None, "not a live host")
        try:
            fd = os.open(self.path("/dev/kmsg"), os.O_RDONLY | os.O_NONBLOCK)
        except OSError as exc:
            return FileRead("/dev/kmsg", None, exc.strerror or str(exc))
        chunks: list[bytes] = []
        size = 0
        try:
            while size < _LOG_TAIL:
                try:
                    rec = os.read(fd, 8192)
                except BlockingIOError:
                    break
                except BrokenPipeError:  # a record was overwritten while reading: skip it
                    continue
                except OSError:
                    break
                if not rec:
                    break
                # "6,339,5140900,-;DMAR-IR: Enabled IRQ remapping in x2apic mode\n": keep the message.
                chunks.append(rec.partition(b";")[2])
                size += len(rec)
        finally:
            os.close(fd)
        return FileRead("/dev/kmsg", decode(b"".join(chunks)))

    def get_hypervisor(self) -> tuple[Any, str | None]:
        """(hypervisor or None, why not). Opens the one that goes with the host (hypervisor_for)."""
        if self.hypervisor is not None or self._hv_tried:
            return self.hypervisor, self._hv_error
        self._hv_tried = True
        from vfio_tui.core.libvirt.for_host import NoHypervisorError, hypervisor_for

        try:
            self.hypervisor = hypervisor_for(self.host, self.connect_uri)
        except NoHypervisorError as exc:
            self._hv_error = str(exc)
        except InputError:
            raise  # a malformed --connect URI is bad input (exit 2), not a finding
        except VfioError as exc:
            self._hv_error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a broken connection must not stop the other checks
            self._hv_error = f"{type(exc).__name__}: {exc}"
        return self.hypervisor, self._hv_error

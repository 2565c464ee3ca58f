"""Provides read() and listdir(): the host's files and directories read inside its tree — on a --root tree a
link that leads out is not followed (core.safefile), so a planted link cannot make the GPU facts show this
machine's files or processes."""

from __future__ import annotations

import os
from pathlib import Path

from vfio_tui.core.address import PciAddress
from vfio_tui.core.hostpaths import HostPaths


def read(paths: HostPaths, path: str | os.PathLike[str]) -> str | None:
    """A small file of the host, or None."""
    from vfio_tui.core import safefile

    try:
        return safefile.read_bytes(paths.root, Path(path), limit=1 << 20).decode("utf-8", "replace")
    except (OSError, safefile.UnsafePathError, ValueError):
        return None


def listdir(paths: HostPaths, path: Path) -> list[str]:
    """The names in a host directory, only when it lies inside the host's tree ([] otherwise)."""
    from vfio_tui.core import safefile

    try:
        real = path if paths.is_live else safefile.resolve(paths.root, path)
        return os.listdir(real)
    except (OSError, safefile.UnsafePathError):
        return []


def pci_in(real: str) -> PciAddress | None:
    """The last PCI address in a resolved sysfs path (the device a class entry belongs to)."""
    found = None
    for part in real.split("/"):
        if part.count(":") == 2 and "." in part:
            addr = PciAddress.try_parse(part)
            if addr is not None:
                found = addr
    return found


def device_of(paths: HostPaths, cls: str, name: str) -> PciAddress | None:
    """The PCI device behind /sys/class/CLS/NAME (its `device` link)."""
    link = paths.sys / "class" / cls / name / "device"
    try:
        return pci_in(os.path.realpath(link)) if os.path.lexists(link) else None
    except OSError:
        return None

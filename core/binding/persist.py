"""Provides --persist: keep a binding across reboots by address, in the style of driverctl.

Two files, both only ever listing addresses vfio-tui bound:
- /etc/udev/rules.d/61-vfio-tui.rules: on `add` of that PCI address, set driver_override to
  vfio-pci and re-probe it (driverctl's approach; per address, so an identical second card keeps
  its host driver);
- /etc/modprobe.d/vfio-tui.conf: `softdep <host driver> pre: vfio-pci`, so vfio-pci is loaded
  (also in the initramfs) before the host driver can claim the device at boot.
Never `vfio-pci.ids=` / `options vfio-pci ids=`: that claims every card with the same ids (A2).
Each file is backed up under the state dir before it changes; the change is shown as a diff.
"""

from __future__ import annotations

import difflib
import os
import shutil
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from core.binding.journal import write_private
from core.binding.plan import BindPlan

if TYPE_CHECKING:
    from core.host import Host

UDEV_RULES: Final = "/etc/udev/rules.d/61-vfio-tui.rules"
MODPROBE_CONF: Final = "/etc/modprobe.d/vfio-tui.conf"
_HEADER: Final = "# Managed by vfio-tui (vfio-tui bind --persist / vfio-tui restore --persist). One line per device.\n"


@dataclass(frozen=True)
class FileChange:
    """A config file's content before and after, with a unified diff."""

    path: str
    before: str
    after: str

    @property
    def diff(self) -> str:
        return "".join(difflib.unified_diff(self.before.splitlines(True), self.after.splitlines(True),
                                            fromfile=f"{self.path} (now)", tofile=f"{self.path} (new)"))

    @property
    def changed(self) -> bool:
        return self.before != self.after


def _udev_line(address: str) -> str:
    # $kernel is the device name (the address); /sys$devpath its sysfs directory (udev(7)).
    return (f'ACTION=="add", SUBSYSTEM=="pci", KERNEL=="{address}", ATTR{{driver_override}}="vfio-pci", '
            'RUN+="/bin/sh -c \'[ -e /sys$devpath/driver ] && echo $kernel > /sys$devpath/driver/unbind; '
            'modprobe vfio-pci; echo $kernel > /sys/bus/pci/drivers_probe\'"'
            f"  # vfio-tui {address}\n")


def _read(host: Host, path: str) -> str:
    try:
        return host.paths.under(path).read_text()
    except OSError:
        return ""


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines(True) if line.strip() and not line.startswith("# Managed by vfio-tui")]


def _compose(lines: list[str]) -> str:
    return _HEADER + "".join(sorted(set(lines))) if lines else ""


def persist_changes(host: Host, plan: BindPlan) -> list[FileChange]:
    """The file changes that make this plan's binding survive a reboot."""
    endpoints = [d for d in plan.devices if d.to_driver == "vfio-pci"]
    udev_before = _read(host, UDEV_RULES)
    udev_lines = [ln for ln in _lines(udev_before) if not any(f"# vfio-tui {d.address}" in ln for d in endpoints)]
    udev_lines += [_udev_line(d.address) for d in endpoints]
    mp_before = _read(host, MODPROBE_CONF)
    mp_lines = _lines(mp_before)
    for d in endpoints:
        if d.from_driver and d.from_driver != "vfio-pci":
            line = f"softdep {d.from_driver.replace('-', '_')} pre: vfio-pci\n"
            if line not in mp_lines:
                mp_lines.append(line)
    return [c for c in (FileChange(UDEV_RULES, udev_before, _compose(udev_lines)),
                        FileChange(MODPROBE_CONF, mp_before, _compose(mp_lines))) if c.changed]


def unpersist_changes(host: Host, addresses: Iterable[str] | None) -> list[FileChange]:
    """The file changes that drop the persisted binding of `addresses` (None: all of them)."""
    udev_before = _read(host, UDEV_RULES)
    keep = [ln for ln in _lines(udev_before)
            if addresses is not None and not any(f"# vfio-tui {a}" in ln for a in addresses)]
    changes = [FileChange(UDEV_RULES, udev_before, _compose(keep))]
    if not keep:
        mp_before = _read(host, MODPROBE_CONF)
        changes.append(FileChange(MODPROBE_CONF, mp_before, ""))
    return [c for c in changes if c.changed]


def apply_changes(host: Host, changes: list[FileChange]) -> list[str]:
    """Write the changes (backing up each file first); returns the backup paths."""
    backups = []
    bdir = host.paths.state_dir / "backups"
    for change in changes:
        target = host.paths.under(change.path)
        if target.exists():
            bdir.mkdir(parents=True, exist_ok=True, mode=0o700)
            backup = bdir / f"{Path(change.path).name}.{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}"
            shutil.copy2(target, backup)
            os.chmod(backup, 0o600)
            backups.append(host.paths.display(backup))
        if change.after:
            target.parent.mkdir(parents=True, exist_ok=True)
            write_private(target, change.after)
            os.chmod(target, 0o644)
        elif target.exists():
            target.unlink()
    return backups

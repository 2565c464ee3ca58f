"""Provides --persist: keep a binding across reboots by address, in the style of driverctl.

Two files, both only ever listing addresses vfio-tui bound:
- /etc/udev/rules.d/61-vfio-tui.rules: on `add` of that PCI address, set driver_override to
  vfio-pci and re-probe it (driverctl's approach; per address, so an identical second card keeps
  its host driver);
- /etc/modprobe.d/vfio-tui.conf: `softdep <host driver> pre: vfio-pci`, so vfio-pci is loaded
  (also in the initramfs) before the host driver can claim the device at boot.
Never `vfio-pci.ids=` / `options vfio-pci ids=`: that claims every card with the same ids (A2).
Both are changed through core.configfiles: shown as a diff, backed up, journaled (cfg-N, undone by
`vfio-tui restore --config cfg-N` as well as by `restore --persist`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Final

from vfio_tui.core.binding.plan import BindPlan
from vfio_tui.core.configfiles import FileChange, read_current

if TYPE_CHECKING:
    from vfio_tui.core.host import Host

UDEV_RULES: Final = "/etc/udev/rules.d/61-vfio-tui.rules"
MODPROBE_CONF: Final = "/etc/modprobe.d/vfio-tui.conf"
_HEADER: Final = "# Managed by vfio-tui (vfio-tui bind --persist / vfio-tui restore --persist). One line per device.\n"


def _udev_line(address: str) -> str:
    # $kernel is the device name (the address); /sys$devpath its sysfs directory (udev(7)).
    return (f'ACTION=="add", SUBSYSTEM=="pci", KERNEL=="{address}", ATTR{{driver_override}}="vfio-pci", '
            'RUN+="/bin/sh -c \'[ -e /sys$devpath/driver ] && echo $kernel > /sys$devpath/driver/unbind; '
            'modprobe vfio-pci; echo $kernel > /sys/bus/pci/drivers_probe\'"'
            f"  # vfio-tui {address}\n")


def _read(host: Host, path: str) -> str | None:
    if host.paths.is_live and not os.path.lexists(host.paths.under(path)):
        # Nothing there: what the confined read would find too on this machine (its links resolve from
        # "/", as the kernel's do), for one system call; every restore asks (a missing file: 3-8 ms of
        # walking on the lab's 9p root).
        return None
    return read_current(host, path)


def _lines(text: str | None) -> list[str]:
    return [line for line in (text or "").splitlines(True)
            if line.strip() and not line.startswith("# Managed by vfio-tui")]


def _compose(lines: list[str]) -> str | None:
    # No line left: the file goes (it only ever holds vfio-tui's lines).
    return _HEADER + "".join(sorted(set(lines))) if lines else None


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
        changes.append(FileChange(MODPROBE_CONF, mp_before, None))
    return [c for c in changes if c.changed]


def persisted_addresses(host: Host) -> list[str]:
    """The addresses `bind --persist` keeps on vfio-pci across reboots (its udev lines), in file order."""
    found: list[str] = []
    for line in _lines(_read(host, UDEV_RULES)):
        _, mark, address = line.rstrip("\n").rpartition("# vfio-tui ")
        if mark and address.strip() and address.strip() not in found:
            found.append(address.strip())
    return found


def persistence_left(host: Host, addresses: Iterable[str] | None) -> list[str]:
    """Of `addresses` (None: all), those whose persistence is still in place: a restore without --persist
    leaves it, and at the next boot those devices go back to vfio-pci."""
    kept = persisted_addresses(host)
    return kept if addresses is None else [a for a in kept if a in set(addresses)]

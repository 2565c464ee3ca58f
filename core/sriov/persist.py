"""Provides `sriov --persist`: keep a PF's number of VFs across reboots, by PF address.

One udev rule per PF in /etc/udev/rules.d/61-vfio-tui-sriov.rules, on the PF's `bind` event (the
kernel sends it once a driver is bound, Linux >= 4.14: sriov_numvfs needs the PF driver, so `add` is
too early and the write would fail with ENOENT). udev writes the ATTR{} assignments in the order
given, so sriov_drivers_autoprobe is set before the VFs appear. A count of 0 is the boot default:
its line goes. Changed through core.configfiles: shown as a diff, backed up, journaled (cfg-N), undone
with the SR-IOV run (`vfio-tui undo`) or `vfio-tui restore --config cfg-N`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from vfio_tui.core.configfiles import FileChange, read_current

if TYPE_CHECKING:
    from vfio_tui.core.host import Host

UDEV_RULES: Final = "/etc/udev/rules.d/61-vfio-tui-sriov.rules"
_HEADER: Final = "# Managed by vfio-tui (vfio-tui sriov ADDR --vfs N --persist). One line per PF.\n"


def rule_line(pf: str, num_vfs: int, autoprobe: bool | None) -> str:
    probe = "" if autoprobe is None else f'ATTR{{sriov_drivers_autoprobe}}="{1 if autoprobe else 0}", '
    return (f'ACTION=="bind", SUBSYSTEM=="pci", KERNEL=="{pf}", {probe}ATTR{{sriov_numvfs}}="{num_vfs}"'
            f"  # vfio-tui sriov {pf}\n")


def persist_changes(host: Host, pf: str, num_vfs: int, autoprobe: bool | None) -> list[FileChange]:
    """The rules file change that makes `num_vfs` VFs on `pf` survive a reboot."""
    before = read_current(host, UDEV_RULES)
    lines = [ln for ln in (before or "").splitlines(True)
             if ln.strip() and not ln.startswith("# Managed by vfio-tui") and f"# vfio-tui sriov {pf}" not in ln]
    if num_vfs:
        lines.append(rule_line(pf, num_vfs, autoprobe))
    after = _HEADER + "".join(sorted(lines)) if lines else None
    change = FileChange(UDEV_RULES, before, after)
    return [change] if change.changed else []

"""What a test compares before and after: the host's drivers and the domains' definitions and states."""

from __future__ import annotations

import os
from typing import Any

from vfio_tui.core.host import Host
from vfio_tui.core.libvirt.connection import Hypervisor
from vfio_tui.core.libvirt.xml import DomainXml


def host_state(host: Host) -> dict[str, Any]:
    """Every device's driver and driver_override, the /dev/vfio nodes, open groups and QEMU processes."""
    out: dict[str, Any] = {}
    paths = host.paths
    for dev in sorted(os.listdir(paths.pci_devices)):
        d = paths.pci_devices / dev
        drv = os.path.basename(os.readlink(d / "driver")) if (d / "driver").is_symlink() else None
        try:
            override = (d / "driver_override").read_text().strip()
        except OSError:
            override = None
        out[dev] = (drv, override if override not in ("", "(null)") else None)
    out["dev_vfio"] = sorted(p.name for p in paths.dev_vfio.iterdir()) if paths.dev_vfio.is_dir() else []
    out["qemu"] = sorted(p.name for p in paths.proc.iterdir() if p.name.isdigit()) if paths.proc.is_dir() else []
    return out


def domains_state(hv: Hypervisor) -> dict[str, tuple[str, list[str]]]:
    """{vm: (state, persistent hostdevs)} for every demo VM."""
    return {d.name: (d.state, [str(h.address) for h in DomainXml(hv.xml(d.name, inactive=True)).hostdevs()])
            for d in hv.list_domains()}

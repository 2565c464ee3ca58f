"""Provides the checks a VF needs before a VM can open it (facts only; the plans that refuse on them
are in core.libvirt.vfnic, core.binding and core.passthrough)."""

from __future__ import annotations

from vfio_tui.core.address import PciAddress
from vfio_tui.core.model import HostInventory


def vf_token_problem(inv: HostInventory, address: PciAddress) -> tuple[str, str] | None:
    """(problem, fix) when `address` is a VF whose PF is on vfio-pci (its VF token is needed)."""
    dev = inv.device(address)
    if dev is None or dev.physfn is None:
        return None
    pf = inv.device(dev.physfn)
    if pf is None or not pf.on_vfio:
        return None
    return (f"{address} is a VF of {pf.address}, which is bound to {pf.driver}: vfio-pci opens such a VF only with"
            " the VF token the PF's user set (vf_token, Linux >= 5.7; without it 'VF token required to access"
            " device', EACCES); libvirt cannot pass one, QEMU only from 8.1 (-device vfio-pci,vf-token=UUID)",
            f"give the PF its host driver back (vfio-tui restore {pf.address}) so its VFs need no token; or run"
            " QEMU by hand with vf-token= after the PF's user set it")

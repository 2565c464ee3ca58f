"""Provides the SR-IOV side of giving a VF to a VM: the NIC form `<interface type='hostdev'>` (with the
MAC and VLAN libvirt programs into the VF through its PF) and the checks a VF needs before a VM can
open it.

Why <interface type='hostdev'> for NIC VFs: a VF's MAC and VLAN are set by its PF driver, not by the
guest; libvirt does it at start (virHostdevNetConfigReplace → virNetDevSetVfConfig, through the PF's
netdev) and puts the VF's previous settings back at stop. With a plain <hostdev> the VF keeps whatever
MAC the PF driver gave it (often 00:00:00:00:00:00, which many guest drivers refuse).

The checks, from the sources:
- libvirt takes <interface type='hostdev'> for SR-IOV VFs only ("Interface type hostdev is currently
  supported on SR-IOV Virtual Functions only", virHostdevNetDevice/virHostdevIsVirtualFunction), and
  needs the PF's netdev to set the MAC ("The PF device for VF %s has no network device name",
  virPCIGetVirtualFunctionInfo);
- a VF whose PF is bound to vfio-pci opens only with the VF token its PF's user set (Linux >= 5.7,
  drivers/vfio/pci/vfio_pci_core.c vfio_pci_validate_vf_token(): "VF token required to access device",
  EACCES). libvirt has no element for the token and QEMU takes it only from 8.1 (-device
  vfio-pci,host=...,vf-token=UUID): through libvirt such a VF cannot start.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from vfio_tui.core.address import PciAddress
from vfio_tui.core.errors import InputError
from vfio_tui.core.libvirt.devicexml import Hostdev
from vfio_tui.core.model import HostInventory
from vfio_tui.core.sriovinfo.checks import vf_token_problem

__all__ = ["NicOptions", "as_interfaces", "nic_problems", "vf_token_problem"]

_MAC = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")


@dataclass(frozen=True, slots=True)
class NicOptions:
    """Give a NIC VF as <interface type='hostdev'> with this MAC (None: libvirt generates one) and VLAN."""

    mac: str | None = None
    vlan: int | None = None

    def __post_init__(self) -> None:
        if self.mac is not None:
            if not _MAC.match(self.mac):
                raise InputError(f"--mac {self.mac!r}: give six hex bytes, e.g. 52:54:00:6d:90:02")
            if int(self.mac[:2], 16) & 1:  # virMacAddrIsMulticast: libvirt refuses it
                raise InputError(f"--mac {self.mac}: a multicast address (the first byte is odd); a NIC needs"
                                 " a unicast one, e.g. 52:54:00:...")
            if self.mac == "00:00:00:00:00:00":
                raise InputError("--mac 00:00:00:00:00:00: that is no address; leave --mac out and libvirt picks one")
        if self.vlan is not None and not 1 <= self.vlan <= 4094:
            raise InputError(f"--vlan {self.vlan}: a VLAN id is 1 to 4094")


def nic_problems(inv: HostInventory, address: PciAddress) -> list[tuple[str, str]]:
    """Why `address` cannot be given as <interface type='hostdev'> ([] when it can): (problem, fix)."""
    dev = inv.device(address)
    if dev is None or dev.physfn is None:
        return [(f"{address} is not an SR-IOV VF: libvirt takes <interface type='hostdev'> for SR-IOV Virtual"
                 " Functions only", "give it as a plain <hostdev> (leave out --as-interface)")]
    out = []
    if not dev.class_code.startswith("02"):
        out.append((f"{address} is not a network VF (class {dev.class_short}): libvirt sets a MAC and VLAN only on a"
                    " NIC VF", "give it as a plain <hostdev> (leave out --as-interface)"))
    pf = inv.device(dev.physfn)
    if pf is not None and not pf.net_interfaces:
        out.append((f"its PF {pf.address} has no network interface (driver {pf.driver or 'none'}): libvirt sets the"
                    " VF's MAC through it ('The PF device for VF ... has no network device name')",
                    f"give the PF its NIC driver back (vfio-tui restore {pf.address}), or leave out --as-interface"))
    return out


def as_interfaces(hostdevs: Sequence[Hostdev], address: PciAddress, nic: NicOptions) -> list[Hostdev]:
    """The hostdevs with `address` turned into <interface type='hostdev'> with the MAC/VLAN."""
    return [replace(h, interface=True, mac=nic.mac, vlan=(nic.vlan,) if nic.vlan is not None else ())
            if h.address == address else h for h in hostdevs]

"""Provides the explain checks of the SR-IOV causes (catalog/sriov.toml): whether a VF's PF is on
vfio-pci (its VF token is needed) and whether a VF has an IOMMU group of its own."""

from __future__ import annotations

from vfio_tui.core.explain.checks import _device_check
from vfio_tui.core.explain.model import CheckOutcome
from vfio_tui.core.model import HostInventory, PciDevice
from vfio_tui.core.sriovinfo.checks import vf_token_problem


def _token_outcome(dev: PciDevice, inv: HostInventory) -> CheckOutcome:
    if dev.physfn is None:
        return CheckOutcome("vf_token", "pass", f"{dev.address} is no VF: no VF token is involved")
    problem = vf_token_problem(inv, dev.address)
    if problem is not None:
        return CheckOutcome("vf_token", "fail", problem[0])
    pf = inv.device(dev.physfn)
    return CheckOutcome("vf_token", "pass", f"the PF {dev.physfn} is on {pf.driver if pf else '?'}: {dev.address}"
                        " opens without a VF token")


def _group_outcome(dev: PciDevice, inv: HostInventory) -> CheckOutcome:
    group = inv.group_of(dev.address)
    if group is None:
        return CheckOutcome("vf_group", "fail", f"{dev.address} has no IOMMU group")
    others = [str(m) for m in group.members if m != dev.address]
    if not others:
        return CheckOutcome("vf_group", "pass", f"{dev.address} is alone in IOMMU group {group.id}")
    return CheckOutcome("vf_group", "fail", f"{dev.address} shares IOMMU group {group.id} with {', '.join(others)}")


_device_check("vf_token", _token_outcome)
_device_check("vf_group", _group_outcome)

"""Provides the `--for ADDR` SR-IOV check: for a VF, whether it has an IOMMU group of its own (no ACS
on a port above the PF puts it with the PF's neighbours, drivers/iommu/iommu.c pci_device_group())
and whether its PF is on vfio-pci (then a VM needs the PF user's VF token); for a PF, whether VFs
are enabled (vfio-pci refuses such a PF: "Cannot bind to PF with SR-IOV enabled")."""

from __future__ import annotations

from vfio_tui.core.checks.checks_device import _device
from vfio_tui.core.checks.context import CheckContext
from vfio_tui.core.checks.result import CheckResult
from vfio_tui.core.sriovinfo.checks import vf_token_problem


def check_sriov(ctx: CheckContext) -> CheckResult:
    cid, title = "device-sriov", f"SR-IOV of {ctx.for_address}"
    inv, dev, early = _device(ctx, cid, title)
    if early is not None:
        return early
    assert inv is not None and dev is not None
    if dev.physfn is None and dev.sriov_total_vfs is None:
        return CheckResult(cid, title, "n/a", "neither an SR-IOV PF nor a VF")
    if dev.physfn is None:
        ev: tuple[str, ...] = (f"/sys/bus/pci/devices/{dev.address}/sriov_numvfs: {dev.sriov_num_vfs or 0}"
                               f" of {dev.sriov_total_vfs}",)
        if dev.sriov_num_vfs:
            return CheckResult(cid, title, "warn", f"a PF with {dev.sriov_num_vfs} VFs: vfio-pci refuses it while they"
                               " exist (pass a VF instead)", ev,
                               f"vfio-tui sriov {dev.address}   # its VFs, with their groups and VMs")
        return CheckResult(cid, title, "pass", "a PF without VFs: it can be passed whole, or given VFs", ev,
                           f"vfio-tui sriov {dev.address} --vfs N --dry-run")
    group = inv.group_of(dev.address)
    others = [str(m) for m in (group.members if group else ()) if m != dev.address]
    ev = (f"/sys/bus/pci/devices/{dev.address}/physfn -> {dev.physfn}",
          f"IOMMU group {dev.iommu_group}: {', '.join([str(dev.address), *others])}")
    token = vf_token_problem(inv, dev.address)
    if token is not None:
        return CheckResult(cid, title, "fail", token[0], ev, token[1])
    if others:
        return CheckResult(cid, title, "warn", f"the VF shares IOMMU group {dev.iommu_group} with {', '.join(others)}:"
                           " a port above its PF has no ACS, so they can only be passed together", ev,
                           "use a slot whose root port has ACS (vfio-tui inventory shows ACS per port)")
    return CheckResult(cid, title, "pass", f"a VF of {dev.physfn} alone in IOMMU group {dev.iommu_group}", ev)

"""Provides the explain checks about the PCI device a log names (its driver, group, reset methods, VFs,
whether it is a bridge): each looks the device up in the host's inventory (core.explain.checks runs them)."""

from __future__ import annotations

from vfio_tui.core.explain.checks import _device_check, _drv
from vfio_tui.core.explain.model import CheckOutcome, CheckStatus
from vfio_tui.core.model import HostInventory, PciDevice


def _driver_outcome(dev: PciDevice, inv: HostInventory) -> CheckOutcome:
    status: CheckStatus = "pass" if dev.on_vfio else "fail"
    group = f", IOMMU group {dev.iommu_group}" if dev.iommu_group is not None else ", no IOMMU group"
    return CheckOutcome("bdf_driver", status, f"{dev.address} is bound to {_drv(dev)}{group}"
                        + ("" if dev.on_vfio else " (not vfio-pci)"))


def _group_outcome(dev: PciDevice, inv: HostInventory) -> CheckOutcome:
    members = inv.members(dev.iommu_group) if dev.iommu_group is not None else []
    listing = ", ".join(f"{m.address} → {_drv(m)}" for m in members)
    return CheckOutcome("bdf_group", "unknown", f"{dev.address} is in IOMMU group {dev.iommu_group}: {listing}; "
                        "another running domain may hold any of them (virsh list)")


def _reset_outcome(dev: PciDevice, inv: HostInventory) -> CheckOutcome:
    methods = dev.reset_methods
    if methods == "needs root":
        return CheckOutcome("reset_method", "unknown", f"reading {dev.address}'s reset methods needs root")
    if not methods:
        return CheckOutcome("reset_method", "fail", f"{dev.address} has no reset method (reset_method empty)")
    return CheckOutcome("reset_method", "pass", f"{dev.address} reset methods: {' '.join(methods)}")


def _sriov_outcome(dev: PciDevice, inv: HostInventory) -> CheckOutcome:
    if dev.sriov_num_vfs:
        return CheckOutcome("sriov", "fail", f"{dev.address} has {dev.sriov_num_vfs} VFs enabled "
                            f"(echo 0 > /sys/bus/pci/devices/{dev.address}/sriov_numvfs)")
    return CheckOutcome("sriov", "pass", f"{dev.address} has no VFs enabled")


def _bridge_outcome(dev: PciDevice, inv: HostInventory) -> CheckOutcome:
    if dev.is_bridge:
        return CheckOutcome("hostdev_bridges", "fail", f"{dev.address} is a bridge ({dev.kind_label}): remove it "
                            f"from the VM; endpoints below it: "
                            + (", ".join(str(c.address) for c in inv.children(dev.address)) or "none"))
    return CheckOutcome("hostdev_bridges", "pass", f"{dev.address} is an endpoint ({dev.kind_label})")


_device_check("bdf_driver", _driver_outcome)
_device_check("bdf_group", _group_outcome)
_device_check("bdf_exists", lambda dev, inv: None)
_device_check("reset_method", _reset_outcome)
_device_check("sriov", _sriov_outcome)
_device_check("hostdev_bridges", _bridge_outcome)

"""Real message texts for the SR-IOV causes (core/explain/catalog/sriov.toml), with where each was taken from.
explain_messages.REAL_MESSAGES includes them."""

from __future__ import annotations

LINUX = "Linux 6.1 {} (format string, values filled)"
SIM = "vfio-tui's own error for a refused sysfs write (core/errors.py SysfsWriteError), as the lab's kernel answers"

SRIOV_MESSAGES: dict[str, list[tuple[str, str]]] = {
    "SR1": [
        ("vfio-pci 0000:01:00.1: VF token required to access device",
         LINUX.format("drivers/vfio/pci/vfio_pci_core.c vfio_pci_validate_vf_token()")),
        ("[ 1203.488125] vfio-pci 0000:3b:02.0: Incorrect VF token provided for device",
         LINUX.format("drivers/vfio/pci/vfio_pci_core.c vfio_pci_validate_vf_token()")),
    ],
    "SR2": [
        ("pci 0000:07:00.1: no driver bound to device; cannot configure SR-IOV",
         LINUX.format("drivers/pci/iov.c sriov_numvfs_store()")),
        ("e1000e 0000:01:00.0: driver does not support SR-IOV configuration via sysfs",
         LINUX.format("drivers/pci/iov.c sriov_numvfs_store()")),
        ("vfio-tui: error: writing '2' to /sys/bus/pci/devices/0000:07:00.1/sriov_numvfs failed: No such file or "
         "directory", SIM),
    ],
    "SR3": [
        ("nvme 0000:01:00.0: 2 VFs already enabled. Disable before enabling 1 VFs",
         LINUX.format("drivers/pci/iov.c sriov_numvfs_store()")),
    ],
    "SR4": [
        ("vfio-tui: error: writing '3' to /sys/bus/pci/devices/0000:01:00.0/sriov_numvfs failed: Numerical result out "
         "of range", SIM),
    ],
    "SR5": [
        ("error: Cannot set interface MAC to 52:52:52:52:52:52 for ifname enp65s0f0np0 vf 0: Resource temporarily "
         "unavailable", "netdev list 2023-08-07, [PATCH net v3 1/2] Revert \"ice: Fix ice VF reset during iavf "
         "initialization\" (libvirt, ice)"),
        ("Cannot set interface MAC/vlanid to 52:54:00:6d:90:02/42 for ifname enp7s0f0 vf 1: Operation not permitted",
         "libvirt src/util/virnetdev.c virNetDevSetVfConfig() before the MAC/VLAN split (format string, values filled)"),
    ],
    "SR6": [
        ("  WARNING: VF 0000:01:10.0 shares IOMMU group 1 with 0000:00:1c.0, 0000:01:00.0: a port above the PF has no "
         "ACS (SV RR CR UF), so the VF can only be passed together with them",
         "vfio-tui sriov's verification (core/sriov/apply.py verify())"),
    ],
}

"""Real message texts for every catalog cause, with where each was taken from.

A cause without an entry here fails tests/explain/test_catalog.py: adding a cause to the catalog
means adding the real text that proves its pattern.
"""

from __future__ import annotations

LAB5 = "lab results/step5-nested-libvirt.md (libvirt 9.0, QEMU 7.2, Linux 6.1)"
LAB4 = "lab results/step4-host-libvirt.md (libvirt 9.0, no IOMMU)"
LAB3 = "lab results/step3-results.json (Linux 6.1 sysfs writes)"
SEED = "seed blog 000_8f45fa051d8ba48c.txt section 五 (qemu-kvm, 2015)"


def ref(entry: str) -> str:
    return f"reference kernel-semantics-and-errors.md Part B {entry} (format string, values filled)"


REAL_MESSAGES: dict[str, list[tuple[str, str]]] = {
    "E01": [
        ("error: internal error: process exited whileconnecting to monitor: 2015-08-11T06:11:06.627255Zqemu-kvm: "
         "-device vfio-pci,host=0e:00.0,id=hostdev0,bus=pci.2,addr=0x6: vfio:failed to open /dev/vfio/vfio: "
         "Operation not permitted", SEED),
        ("2024-03-02T10:00:00.000000Z qemu-system-x86_64: -device {\"driver\":\"vfio-pci\",\"host\":\"0000:01:00.0\"}: "
         "vfio 0000:01:00.0: Could not open '/dev/vfio/vfio': No such file or directory", ref("E01")),
    ],
    "E02": [
        ("2015-08-11T06:11:06.627315Z qemu-kvm: -devicevfio-pci,host=0e:00.0,id=hostdev0,bus=pci.2,addr=0x6: "
         "vfio: failed to setupcontainer for group 19", SEED),
    ],
    "E03": [
        ("2015-08-11T06:11:06.627331Z qemu-kvm: -devicevfio-pci,host=0e:00.0,id=hostdev0,bus=pci.2,addr=0x6: "
         "vfio: failed to get group19", SEED),
        ("2015-08-11T06:11:06.627371Z qemu-kvm: -devicevfio-pci,host=0e:00.0,id=hostdev0,bus=pci.2,addr=0x6: "
         "Device 'vfio-pci' couldnot be initialized", SEED),
    ],
    "E04": [
        ("4.虚拟机不能开机,/dev/vfio/16 Operation not permitted", SEED),
        ("vfio 0000:0c:00.0: failed to open /dev/vfio/17: Permission denied", ref("E04 (quoted real log)")),
        ("qemu-system-x86_64: -device vfio-pci,host=0000:02:00.0: vfio 0000:02:00.0: Could not open '/dev/vfio/13': "
         "Device or resource busy", ref("E04")),
    ],
    "E05": [
        ("error: internal error: qemu unexpectedly closed the monitor: 2026-11-24T20:35:08.893749Z qemu-system-x86_64: "
         "-device {\"driver\":\"vfio-pci\",\"host\":\"0000:04:01.0\",\"id\":\"hostdev0\",\"bus\":\"pci.0\",\"addr\":\"0x2\"}: "
         "vfio 0000:04:01.0: group 13 is not viable", LAB5),
        ("vfio: error, group 8 is not viable, please ensure all devices within the iommu_group are bound to their "
         "vfio bus driver.", ref("E05 (old QEMU)")),
    ],
    "E06": [("vfio 0000:02:00.0: Failed to set group container: Operation not permitted", ref("E06"))],
    "E07": [
        ("3.虚拟机不能开机,failed to set iommu for\u00a0Container", SEED),
        ("vfio: failed to set iommu for container: Operation not permitted", ref("E07 (old QEMU)")),
    ],
    "E08": [("vfio 0000:01:00.0: No available IOMMU models", ref("E08"))],
    "E09": [
        ("vfio 0000:02:00.0: error getting device from group 13: No such device\n"
         "Verify all devices in group 13 are bound to vfio-pci or pci-stub and not already in use", ref("E09")),
    ],
    "E10": [("vfio 0000:01:00.0: no iommu_group found: Invalid argument", ref("E10"))],
    "E11": [("vfio 0000:02:00.1: group 13 used in multiple address spaces", ref("E11"))],
    "E12": [("vfio: error: device 0000:02:00.0 is already attached", ref("E12 (old QEMU)"))],
    "E13": [("qemu-system-x86_64: vfio-pci: Failed to mmap 0000:0a:00.0 BAR 3. Performance may be slow", ref("E13"))],
    "E14": [
        ("qemu-system-x86_64: -device vfio-pci,host=0000:02:00.0: vfio 0000:02:00.0: failed to setup container for "
         "group 13: memory listener initialization failed: Region pc.ram: vfio_dma_map(0x55d0c3a0e2b0, 0x100000, "
         "0xbff00000, 0x7f2a4bf00000) = -12 (Cannot allocate memory)", ref("E14")),
        ("qemu-kvm: VFIO_MAP_DMA: -12", ref("E14 (old QEMU)")),
    ],
    "E15": [("vfio: Cannot reset device 0000:00:1f.3, no available reset mechanism.", ref("E15 (real report)"))],
    "E16": [("vfio: Cannot reset device 0000:05:00.1, depends on group 8 which is not owned.", ref("E16"))],
    "E17": [("vfio 0000:04:00.0: Failed to set up TRIGGER eventfd signaling for interrupt INTX-0: "
             "VFIO_DEVICE_SET_IRQS failure: Device or resource busy", ref("E17"))],
    "E18": [("vfio: Unable to power on device, stuck in D3", ref("E18"))],
    "L01": [
        ("error: Failed to start domain 'labvm'\nerror: unsupported configuration: host doesn't support VFIO PCI "
         "passthrough", LAB4),
        ("libvirtError: 67 10 \"unsupported configuration: host doesn't support VFIO PCI passthrough\"", LAB4),
    ],
    "L02": [
        ("2.直通了一张显卡,虚拟机不能开机\n\npci 0000:08:00.0 is not assignable", SEED),
        ("error: Requested operation is not valid: PCI device 0000:08:00.0 is not assignable", ref("L02")),
    ],
    "L03": [("error: Failed to start domain 'labvm'\nerror: internal error: Non-endpoint PCI devices cannot be "
             "assigned to guests", LAB5)],
    "L04": [("error: Requested operation is not valid: PCI device 0000:02:00.0 is in use by driver QEMU, "
             "domain win10", ref("L04"))],
    "L05": [("error: Requested operation is not valid: Unmanaged PCI device 0000:01:00.0 must be manually detached "
             "from the host", ref("L05"))],
    "L06": [("error: internal error: Failed to load PCI driver module vfio-pci: administratively prohibited",
             ref("L06"))],
    "L07": [("error: Failed to add driver 'vfio-pci' to driver_override interface of PCI device '0000:01:00.0': "
             "Read-only file system", ref("L07"))],
    "L08": [("error: Failed to unbind PCI device '0000:01:00.0' from e1000e: Permission denied", ref("L08"))],
    "L09": [("error: Failed to trigger a probe for PCI device '0000:03:00.0': Invalid argument", ref("L09"))],
    "L10": [("error: internal error: Unable to reset PCI device 0000:00:1f.2: no FLR, PM reset or bus reset "
             "available", ref("L10"))],
    "L11": [("error: cannot limit locked memory of process 4242 to 9663676416: Operation not permitted",
             ref("L11"))],
    "L12": [("error: Failed to start domain 'labvm'\nerror: Device 0000:0b:00.0 not found: could not access "
             "/sys/bus/pci/devices/0000:0b:00.0/config: No such file or directory", LAB5)],
    "L13": [("error: internal error: Not reattaching active device 0000:02:00.0", ref("L13"))],
    "L14": [
        ("error: internal error: process exited whileconnecting to monitor: 2015-08-11T06:11:06.627255Zqemu-kvm: "
         "-device vfio-pci,host=0e:00.0,id=hostdev0,bus=pci.2,addr=0x6: vfio:failed to open /dev/vfio/vfio: "
         "Operation not permitted", SEED),
        ("error: internal error: qemu unexpectedly closed the monitor: 2026-11-24T20:35:19.014241Z "
         "qemu-system-x86_64: -device {\"driver\":\"vfio-pci\",\"host\":\"0000:02:00.0\",\"id\":\"hostdev0\","
         "\"bus\":\"pci.0\",\"addr\":\"0x2\"}: vfio 0000:02:00.0: group 12 is not viable", LAB5),
    ],
    "K01": [("[  812.331245] vfio_iommu_type1_attach_group: No interrupt remapping support.  Use the module param "
             "\"allow_unsafe_interrupts\" to enable VFIO IOMMU support on this platform", ref("K01"))],
    "K02": [("Nov 25 10:01:02 host kernel: vfio_pin_pages_remote: RLIMIT_MEMLOCK (67108864) exceeded", ref("K02"))],
    "K03": [("iommufd: MSI interrupts are not secure, they cannot be isolated by the platform. Check that platform "
             "features like interrupt remapping are enabled. Use the \"allow_unsafe_interrupts\" module parameter "
             "to override", ref("K03"))],
    "K04": [("[    3.101000] vfio-pci 0000:0a:00.0: BAR 1: can't reserve [mem 0xc0000000-0xcfffffff 64bit pref]",
             ref("K04"))],
    "K05": [
        ("[  153.087568] vfio-pci: probe of 0000:03:00.0 failed with error -22", LAB5),
        ("vfio-pci 0000:07:00.0: probe with driver vfio-pci failed with error -16", ref("K05")),
    ],
    "K06": [("vfio-pci 0000:3d:00.0: 8086:37c8 exists in vfio-pci device denylist, driver probing disallowed.",
             ref("K06"))],
    "K07": [("vfio-pci 0000:0a:00.0: Relaying device request to user (#10)", ref("K07"))],
    "K08": [("vfio-pci 0000:07:00.0: Cannot bind to PF with SR-IOV enabled", ref("K08"))],
    "K09": [
        ("sh: echo: write error: Device or resource busy", LAB3),
        ("bash: echo: write error: No such device", LAB3),
    ],
    "K10": [("[    0.000000] AMD-Vi: Unknown option - 'on'", ref("K10"))],
    "K11": [("vfio-pci 0000:01:00.0: Adding kernel taint for vfio-noiommu group on device", ref("K11"))],
    "P01": [("No IOMMU detected, please activate it.See Documentation for further information.", ref("P01"))],
    "X01": [("error: Failed to start domain 'labvm'\nerror: Path '/dev/vfio/11' is not accessible: No such file or "
             "directory", LAB5)],
    "X03": [
        ("  QEMU: Checking for device assignment IOMMU support                         : WARN (Unknown if this "
         "platform has IOMMU support)", LAB4),
        ("  QEMU: Checking for device assignment IOMMU support                         : WARN (No ACPI IVRS table "
         "found, IOMMU either disabled in BIOS or not supported by this hardware platform)", LAB5),
    ],
    "X02": [("error: Could not find matching device 'pci_0000_0b_00_0'\nerror: Node device not found: no node "
             "device with matching name 'pci_0000_0b_00_0'", LAB4)],
}

#: The 44 causes of the reference catalog (Part B); the catalog must cover every one.
REFERENCE_IDS = (
    [f"E{i:02d}" for i in range(1, 19)] + [f"L{i:02d}" for i in range(1, 15)]
    + [f"K{i:02d}" for i in range(1, 12)] + ["P01"]
)

from tests.explain.sriov_messages import SRIOV_MESSAGES  # noqa: E402 - the SR-IOV causes' texts, in their own file

REAL_MESSAGES.update(SRIOV_MESSAGES)

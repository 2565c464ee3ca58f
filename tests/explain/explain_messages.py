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


#: Causes from the source inventory (core/explain/catalog/sources.toml): a line as printed by a real
#: system where one was at hand, otherwise the source format string with realistic values filled in.
REAL_MESSAGES.update({
    'K12': [('[ 1523.442811] DMAR: [DMA Read NO_PASID] Request device [01:00.0] fault addr 0xfffd0000 [fault reason 0x06] PTE Read access is not set', 'DMA fault line as printed by Linux 6.x dmar_fault_do_one() (format from drivers/iommu/intel/dmar.c 6.12)')],
    'K13': [('[  812.331245] AMD-Vi: /dev/vfio/13: IOAPIC[13] not in IVRS table', 'inventory linux:aa4990e182: drivers/iommu/amd/init.c check_ioapic_information() (format string, values filled)')],
    'K14': [('[  812.331245] AMD-Vi: Failed to allocate memory for copying old device table!', 'inventory linux:5159030911: drivers/iommu/amd/init.c __copy_device_table() (format string, values filled)')],
    'K15': [('[  812.331245] AMD-Vi: Wrong old irq remapping flag: 1f', 'inventory linux:e01d2631c8: drivers/iommu/amd/init.c __copy_device_table() (format string, values filled)')],
    'K16': [('vfio-pci 0000:00:02.0: Device is ineligible for IOMMU domain attach due to platform RMRR requirement.  Contact your platform vendor.', 'Linux 5.x/6.1 drivers/iommu/intel/iommu.c, as reported on HP ProLiant hosts')],
    'K17': [('[  341.905712] vfio-pci 0000:0b:00.0: not ready 65535ms after FLR; giving up', 'Linux 6.1 drivers/pci/pci.c pci_dev_wait()')],
    'K18': [('vfio-pci 0000:01:00.0: Unable to change power state from D3cold to D0, device inaccessible', 'Linux 6.1 drivers/pci/pci.c pci_power_up()')],
    'K19': [("vfio-pci 0000:02:00.0: can't ioremap BAR 13: [mem 0xc0000000-0xcfffffff 64bit pref]", 'inventory linux:abcef4762f: drivers/pci/pci.c __pci_ioremap_resource() (format string, values filled)')],
    'K20': [('ixgbe 0000:03:00.0: not enough MMIO resources for SR-IOV', 'Linux 6.1 drivers/pci/iov.c sriov_enable()')],
    'K21': [('vfio-pci 0000:02:00.0: failed to check QM HPRE HAC INT state!', 'inventory linux:646d710e94: drivers/vfio/pci/hisilicon/hisi_acc_vfio_pci.c hisi_acc_check_int_state() (format string, values filled)')],
    'K22': [('vfio-pci 0000:02:00.0: ACS Flags missing', 'inventory linux:c9d468008e: drivers/pci/pci.c __pci_config_acs() (format string, values filled)')],
    'K23': [('[  812.331245] iommu: iommu driver failed to attach a compatible domain', 'inventory linux:b06eaec803: drivers/iommu/iommu.c __iommu_attach_group() (format string, values filled)')],
    'K24': [('Error: failed to generate container spec: failed to generate spec: lstat /dev/vfio/devices/vfio0: no such file or directory', 'kubevirt/kubevirt issue #18895 (KubeVirt 1.9, Debian 13)')],
    'K25': [("error: internal error: device API '0000:02:00.0' not supported yet", 'inventory libvirt:c599a74887: src/util/virmdev.c virMediatedDeviceCheckModel() (format string, values filled)')],
    'K26': [('[  812.331245] AMD-Vi: amd_iommu=fullflush deprecated; use iommu.strict=1 instead', 'inventory linux:99fd536abb: drivers/iommu/amd/init.c parse_amd_iommu_options() (format string, values filled)')],
    'K27': [('vfio-pci 0000:02:00.0: /dev/vfio/13: PCI config conflict @1f, was cap 1f now cap 1f', 'inventory linux:04fc4b46ba: drivers/vfio/pci/vfio_pci_config.c vfio_cap_init() (format string, values filled)')],
    'K28': [('vfio-pci 0000:02:00.0: VFIO_FSL_MC: Object /dev/vfio/13 bound to driver /dev/vfio/13 while DPRC bound to vfio-fsl-mc', 'inventory linux:87e226a0f6: drivers/vfio/fsl-mc/vfio_fsl_mc.c vfio_fsl_mc_bus_notifier() (format string, values filled)')],
    'E19': [('2024-03-02T10:00:00.000000Z qemu-system-x86_64: -device vfio-pci,host=0000:02:00.0,id=hostdev0: vfio 0000:02:00.0: Failed to get VFIO IOMMU info: Device or resource busy', 'inventory qemu:0fc6ee2ba2: hw/vfio/common.c vfio_connect_container() (format string, values filled)')],  # CHECK
    'E21': [("2024-03-02T10:00:00.000000Z qemu-system-x86_64: -device vfio-pci,host=0000:02:00.0,id=hostdev0: vfio 0000:02:00.0: Hot-plugged device without ROM bar can't have an option ROM", 'inventory qemu:cea0323d0e: hw/pci/pci.c pci_add_option_rom() (format string, values filled)')],
    'E22': [('vfio-pci 0000:02:00.0: Failed to setup Intel IGD regions', 'inventory linux:24cada6514: drivers/vfio/pci/vfio_pci.c vfio_pci_open_device() (format string, values filled)')],
    'E23': [('2024-03-02T10:00:00.000000Z qemu-system-x86_64: -device vfio-pci,host=0000:02:00.0,id=hostdev0: vfio 0000:02:00.0: Multiple VFIO devices migration is supported only if all of them support P2P migration', 'inventory qemu:758bafc4c3: hw/vfio/common.c vfio_block_multiple_devices_migration() (format string, values filled)')],
    'E25': [('2024-03-02T10:00:00.000000Z qemu-system-x86_64: -device vfio-pci,host=0000:02:00.0,id=hostdev0: vfio 0000:02:00.0: Failed to add fd 13 to KVM VFIO device: Device or resource busy', 'inventory qemu:c96c979e44: hw/vfio/common.c vfio_kvm_device_add_fd() (format string, values filled)')],
    'E26': [('2024-03-02T10:00:00.000000Z qemu-system-x86_64: -device vfio-pci,host=0000:02:00.0,id=hostdev0: vfio 0000:02:00.0: Invalid PCI device address 0000:02:00.0 for device 0000:02:00.0', 'inventory qemu:2b89e1b2d7: hw/pci/pci.c pci_init_nic_in_slot() (format string, values filled)')],
    'E27': [('2024-03-02T10:00:00.000000Z qemu-system-x86_64: -device vfio-pci,host=0000:02:00.0,id=hostdev0: vfio 0000:02:00.0: Cannot set discarding of RAM broken: Device or resource busy', 'inventory qemu:8dc665a788: hw/vfio/common.c vfio_connect_container() (format string, values filled)')],
    'L15': [('error: internal error: Failed to clear security context for monitor for 0000:02:00.0', 'inventory libvirt:f84bc809fb: src/qemu/qemu_process.c qemuConnectMonitor() (format string, values filled)')],
    'L16': [("error: internal error: cannot load AppArmor profile 'libvirt-4b7f8a0e-8c54-4d1e-9d2a-6f2c1e1b1a11' (/dev/vfio/13)", 'inventory libvirt:6e8bb902af: src/security/security_apparmor.c AppArmorGenSecurityLabel() (format string, values filled)')],  # CHECK
    'L17': [('error: internal error: cannot generate dac user and group id for domain /dev/vfio/13', 'inventory libvirt:24af2516fa: src/security/security_dac.c virSecurityDACGenLabel() (format string, values filled)')],  # CHECK
    'L18': [('error: internal error: Unable to create symlink /dev/vfio/13 (pointing to /dev/vfio/devices/vfio0): File exists', 'inventory libvirt:7b9c16a9ab: src/qemu/qemu_namespace.c qemuDomainEnableNamespace() (format string, values filled)')],  # CHECK
    'L19': [("error: internal error: Failed to convert '/dev/vfio/13' to unsigned int", 'inventory libvirt:90216466e4: src/util/virpci.c logStrToLong_ui() (format string, values filled)')],
    'L20': [("error: internal error: pci backend driver '0000:02:00.0' is not supported", 'inventory libvirt:441ae88cbe: src/hypervisor/virhostdev.c virHostdevGetPCIHostDevice() (format string, values filled)')],
    'L21': [('error: internal error: No stub driver configured for PCI device 0000:02:00.0', 'inventory libvirt:bacb9c2c38: src/util/virpci.c virPCIDeviceBindToStub() (format string, values filled)')],
    'L22': [("error: internal error: Failed to create state dir '/dev/vfio/13'", 'inventory libvirt:8194c7265c: src/hypervisor/virhostdev.c virHostdevManagerNew() (format string, values filled)')],
    'L23': [("error: internal error: Unable to write '/dev/vfio/13' to '/dev/vfio/13': Device or resource busy", 'inventory libvirt:2fd7515b95: src/qemu/qemu_cgroup.c qemuSetupCgroupAppid() (format string, values filled)')],
    'L24': [('error: internal error: PCI device 1f:1f:1f.1f allocated from network /dev/vfio/13 is already in use by domain /dev/vfio/13', 'inventory libvirt:08b355a757: src/qemu/qemu_process.c qemuProcessNetworkPrepareDevices() (format string, values filled)')],  # CHECK
    'XN1': [('libxl: error: libxl_pci.c:1508:pci_add_dm_done: Domain 3:PCI device 1f:1f:1f.1f is not assignable', 'inventory xen:0dbcd8e239: tools/libs/light/libxl_pci.c libxl__device_pci_add() (format string, values filled)')],
    'XN2': [('libxl: error: libxl_pci.c:1508:pci_add_dm_done: Domain 3:xc_domain_iomem_permission error 1f/1f: Device or resource busy', 'inventory xen:2745590968: tools/libs/light/libxl_pci.c do_pci_remove() (format string, values filled)')],
    'XN3': [('(XEN) Cannot find supported IVHD type.', 'inventory xen:c34954e940: xen/drivers/passthrough/amd/iommu_acpi.c get_supported_ivhd_type() (format string, values filled)')],
    'XN4': [("error: internal error: libxenlight failed to create new domain '/dev/vfio/13'", 'inventory libvirt:8e7208b6f1: src/libxl/libxl_domain.c libxlDomainStartPerform() (format string, values filled)')],
    'P02': [('Cannot bind /dev/vfio/13 to vfio', 'inventory wrappers:pve-bind: PVE/QemuServer/PCI.pm prepare_pci_device() (format string, values filled)')],
    'W01': [("error: Failed to start domain 'win10'\n-device vfio-pci,host=0000:01:00.0,id=hostdev0", "virsh tools/virsh-domain.c cmdStart() + the VM's QEMU command line")],
    "E20": [("2024-03-02T10:00:00.000000Z qemu-system-x86_64: vfio 0000:02:00.0: vfio: Error: Failed to enable MSI",
             "QEMU hw/vfio/pci.c vfio_msi_enable() (format string)")],
    "E24": [("qemu-system-x86_64: -device vfio-pci,host=0000:02:00.0,x-pci-vendor-id=0x1ffff: vfio 0000:02:00.0: invalid PCI vendor ID provided",
             "QEMU hw/vfio/pci.c vfio_realize() (format string)")],
    "L25": [('audit: type=1400 audit(1700000000.123:456): apparmor="DENIED" operation="open" class="file" '
             'profile="libvirt-4b7f8a0e-8c54-4d1e-9d2a-6f2c1e1b1a11" name="/dev/vfio/12" pid=12345 comm="qemu-system-x86" '
             'requested_mask="wr" denied_mask="wr" fsuid=64055 ouid=0', "AppArmor audit record format (Ubuntu/Debian libvirt)")],
    "L26": [('type=AVC msg=audit(1700000000.123:456): avc:  denied  { read write } for  pid=12345 comm="qemu-kvm" name="12" '
             'dev="devtmpfs" ino=1234 scontext=system_u:system_r:svirt_t:s0:c100,c200 '
             'tcontext=system_u:object_r:vfio_device_t:s0 tclass=chr_file permissive=0', "SELinux AVC record format (RHEL/Fedora)")],
    "K04": REAL_MESSAGES["K04"],
    'K29': [('[  812.331245] AMD-Vi: Completion-Wait loop timed out', 'inventory linux:93fde39f0a: drivers/iommu/amd/iommu.c wait_on_sem() (format string, values filled)')],
    'K30': [('[  812.331245] IOMMU: /dev/vfio/13: Page request without PASID', 'inventory linux:d1fae6f68a: drivers/iommu/intel/svm.c prq_event_thread() (format string, values filled)')],
    'K31': [('[  812.331245] AMD-Vi: SNP: IOMMU is disabled or configured in passthrough mode, SNP cannot be supported', 'inventory linux:843b586b91: drivers/iommu/amd/init.c amd_iommu_snp_enable() (format string, values filled)')],
    'L27': [("error: Failed to start domain 'vm1'\nerror: internal error: Multiple USB devices for 1f:1f, use <address> to specify one", 'inventory libvirt:4cb8ee6377: src/hypervisor/virhostdev.c virHostdevFindUSBDevice() (format string, values filled)')],
    'L28': [("error: internal error: failed to close device handle '0000:02:00.0'", 'inventory libvirt:285f419ec4: src/qemu/qemu_monitor.c qemuMonitorOpenGraphics() (format string, values filled)')],
    'E28': [('2024-03-02T10:00:00.000000Z qemu-system-x86_64: -device vfio-pci,host=0000:02:00.0,id=hostdev0: vfio 0000:02:00.0: /dev/vfio/13(/dev/vfio/13) Unrecoverable error detected. Please collect any data possible and then kill the guest', 'inventory qemu:deaa9e91a4: hw/vfio/pci.c vfio_err_notifier_handler() (format string, values filled)')],
})


#: Lines the lab printed when tests/lab/provoke_failures.sh provoked the failure (tests/fixtures/explain/
#: real_logs.toml has each with its whole context); they prove the patterns added for them.
LABP = "lab tests/lab/provoke_failures.sh (Linux 6.1.0 / QEMU 7.2 / libvirt 9.0, Debian 12, 2026-11-26)"
for _cause, _text in (
    ("K02", "[  902.430419] oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=emulator,mems_allowed=0,"
            "oom_memcg=/machine/qemu-9-p-memlock.libvirt-qemu,task_memcg=/machine/qemu-9-p-memlock.libvirt-qemu,"
            "task=qemu-system-x86,pid=3785,uid=64055"),
    ("K19", "[    2.207493] pci 0000:0b:00.0: BAR 2 [mem size 0x10000000000 64bit pref]: can't assign; no space"),
    ("E09", "[ 1285.218178] vfio-pci 0000:0a:00.1: VF token required to access device"),
    ("E26", "qemu-system-x86_64: -device vfio-pci,host=0000:07:00.0,addr=0x1: PCI: slot 1 function 0 not available "
            "for vfio-pci, in use by PIIX3,id=(null)"),
    ("E26", "error: Failed to define domain from /tmp/p-addr.xml\n"
            "error: XML error: Attempted double use of PCI Address 0000:00:01.0"),
    ("L20", "error: Failed to start domain 'p-kvm'\n"
            "error: unsupported configuration: host doesn't support legacy PCI passthrough"),
    ("L27", "error: Failed to start domain 'p-usb'\nerror: internal error: Did not find USB device 1234:5678"),
    ("L27", "error: Failed to start domain 'p-scsi'\n"
            "error: cannot open directory '/sys/bus/scsi/devices/7:0:0:0/scsi_generic': No such file or directory"),
):
    REAL_MESSAGES[_cause].append((_text, LABP))
REAL_MESSAGES["K13"].append((
    "[2017-10-23 09:08:16.331] [    0.000000] Your BIOS is broken; DMAR reported at address fbffc000 returns all ones!",
    "https://github.com/linuxboot/heads/issues/286 (Linux 4.9, warn_invalid_dmar() through WARN())"))

# The GPU steps' messages (core/explain/catalog/gpu.toml) live in their own file.
from tests.explain.explain_messages_gpu import GPU_MESSAGES  # noqa: E402

REAL_MESSAGES.update(GPU_MESSAGES)

from tests.explain.sriov_messages import SRIOV_MESSAGES  # noqa: E402 - the SR-IOV causes' texts, in their own file

REAL_MESSAGES.update(SRIOV_MESSAGES)

"""Provides the built-in demo host: the seed blog's host192, made consistent.

An HP/Intel 5520 + ICH10 server with:
- 0b:00.0 QLogic ISP2432 FC HBA alone in group 19 (the seed's first case);
- 02:00.0/02:00.1 dual-port Intel 82576 NIC sharing group 13 (the seed's second case);
- group 8: the ICH10 root ports 00:1c.0/.2/.4, which have no ACS, and everything behind
  them: BCM5709 NICs (eno1 carries the SSH session and the default route) and the iLO
  functions with the console VGA (the seed's third case);
- the root-disk controller (LSI SAS2008, / and swap), a USB controller with the admin's
  keyboard, a GPU + HDMI audio pair, an SR-IOV NIC with two VFs (one already on vfio-pci).
"""

from __future__ import annotations

from typing import Any

from vfio_tui.core.simulated.synthetic import ACS_FULL, HostBuilder

DEMO_LABEL = "demo: host192 (seed blog server, made consistent)"

_GRUB = """# If you change this file, run 'update-grub' afterwards to update
# /boot/grub/grub.cfg.
GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT="quiet"
GRUB_CMDLINE_LINUX="intel_iommu=on"
"""

_QEMU_CONF = """# Master configuration file for the QEMU driver.
# All settings described here are optional - if omitted, sensible
# defaults are used.

#user = "root"
#group = "root"
#dynamic_ownership = 1

# The blog's advice from 2015; obsolete for <hostdev> devices on current libvirt:
cgroup_device_acl = [
    "/dev/null", "/dev/full", "/dev/zero",
    "/dev/random", "/dev/urandom",
    "/dev/ptmx", "/dev/kvm",
    "/dev/vfio/vfio"
]

relaxed_acs_check = 1
"""

_CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
model name\t: Intel(R) Xeon(R) CPU           X5670  @ 2.93GHz
flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc arch_perfmon pebs bts rep_good nopl xtopology nonstop_tsc cpuid aperfmperf pni pclmulqdq dtes64 monitor ds_cpl vmx smx est tm2 ssse3 cx16 xtpr pdcm pcid dca sse4_1 sse4_2 popcnt aes lahf_lm epb pti tpr_shadow vnmi flexpriority ept vpid dtherm ida arat

"""

_VM_LOG = """2026-11-25 09:12:01.123+0000: starting up libvirt version: 9.0.0, package: 4+deb12u2 (Debian), qemu version: 7.2.22
LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin HOME=/var/lib/libvirt/qemu/domain-3-vfio_test /usr/bin/qemu-system-x86_64 -name guest=vfio_test -machine pc-q35-7.2,usb=off -m 4096 -device {"driver":"vfio-pci","host":"0000:02:00.0","id":"hostdev0","bus":"pci.2","addr":"0x0"}
2026-11-25T09:12:02.456789Z qemu-system-x86_64: -device {"driver":"vfio-pci","host":"0000:02:00.0","id":"hostdev0","bus":"pci.2","addr":"0x0"}: vfio 0000:02:00.0: group 13 is not viable
Please ensure all devices within the iommu_group are bound to their vfio bus driver.
2026-11-25 09:12:02.512+0000: shutting down, reason=failed
"""

# A second failed VM for `vfio-tui explain --vm hba_test --demo`: the seed's HBA with too little
# locked memory (the kernel line is in /var/log/kern.log below).
_VM_LOG_MEMLOCK = """2026-11-25 09:20:00.001+0000: starting up libvirt version: 9.0.0, package: 4+deb12u2 (Debian), qemu version: 7.2.22
LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin HOME=/var/lib/libvirt/qemu/domain-4-hba_test /usr/bin/qemu-system-x86_64 -name guest=hba_test -machine pc-q35-7.2,usb=off -m 8192 -device {"driver":"vfio-pci","host":"0000:0b:00.0","id":"hostdev0","bus":"pci.3","addr":"0x0"}
2026-11-25T09:20:01.234567Z qemu-system-x86_64: -device {"driver":"vfio-pci","host":"0000:0b:00.0","id":"hostdev0","bus":"pci.3","addr":"0x0"}: vfio 0000:0b:00.0: failed to setup container for group 19: memory listener initialization failed: Region pc.ram: vfio_dma_map(0x55d0c3a0e2b0, 0x100000, 0x7ff00000, 0x7f2a40100000) = -12 (Cannot allocate memory)
2026-11-25 09:20:01.300+0000: shutting down, reason=failed
"""


_VM_XML = """<domain type='kvm'>
  <name>vfio_test</name>
  <uuid>6f1d3c2e-5b0a-4c1e-9d6b-0b0019000001</uuid>
  <memory unit='KiB'>4194304</memory>
  <currentMemory unit='KiB'>4194304</currentMemory>
  <vcpu placement='static'>4</vcpu>
  <os>
    <type arch='x86_64' machine='pc-q35-7.2'>hvm</type>
  </os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <hostdev mode='subsystem' type='pci' managed='yes'>
      <driver name='vfio'/>
      <source>
        <address domain='0x0000' bus='0x02' slot='0x00' function='0x0'/>
      </source>
    </hostdev>
  </devices>
</domain>
"""

# The seed's fix (c), persisted at boot: still works, but a security downgrade (check flags it).
_MODPROBE_VFIO = """# vfio passthrough (from the 2015 blog post)
options vfio_iommu_type1 allow_unsafe_interrupts=1
"""


def demo_snapshot() -> dict[str, Any]:
    """The demo host as a recorded host (materialize it to use it)."""
    b = HostBuilder(label=DEMO_LABEL, kernel="6.1.0-28-amd64",
                    cmdline="BOOT_IMAGE=/vmlinuz-6.1.0-28-amd64 root=/dev/mapper/vg0-root ro intel_iommu=on quiet",
                    extra_drivers=("pci-stub", "e1000e", "nvme", "xhci_hcd"))
    port = dict(header_type=1, driver="pcieport", pcie="root_port", acs=ACS_FULL)
    b.add("0000:00:00.0", 0x8086, 0x3406, 0x060000, group=0, revision=0x22)
    b.add("0000:00:01.0", 0x8086, 0x3408, 0x060400, group=1, buses=(0, 1, 1), **port)  # type: ignore[arg-type]
    b.add("0000:00:03.0", 0x8086, 0x340A, 0x060400, group=2, buses=(0, 2, 2), **port)  # type: ignore[arg-type]
    b.add("0000:00:05.0", 0x8086, 0x340C, 0x060400, group=3, buses=(0, 7, 7), **port)  # type: ignore[arg-type]
    b.add("0000:00:07.0", 0x8086, 0x340E, 0x060400, group=4, buses=(0, 0x0A, 0x0A), **port)  # type: ignore[arg-type]
    b.add("0000:00:09.0", 0x8086, 0x3410, 0x060400, group=5, buses=(0, 0x0B, 0x0B), **port)  # type: ignore[arg-type]
    for fn, did in ((0, 0x342E), (1, 0x3422), (2, 0x3423), (3, 0x3438)):
        b.add(f"0000:00:14.{fn}", 0x8086, did, 0x088000, group=6, multifunction=True, pm=False,
              driver="i7core_edac" if fn == 0 else None)
    b.add("0000:00:1a.0", 0x8086, 0x3A37, 0x0C0300, group=7, multifunction=True, driver="uhci_hcd", reset="bus")
    b.add("0000:00:1a.7", 0x8086, 0x3A3C, 0x0C0320, group=7, multifunction=True, driver="ehci-pci", reset="pm")
    # ICH10 root ports: no ACS capability, so the IOMMU core puts them and everything below in one group.
    ich = dict(header_type=1, driver="pcieport", pcie="root_port", multifunction=True, group=8)
    b.add("0000:00:1c.0", 0x8086, 0x3A40, 0x060400, buses=(0, 3, 3), **ich)  # type: ignore[arg-type]
    b.add("0000:00:1c.2", 0x8086, 0x3A44, 0x060400, buses=(0, 4, 4), **ich)  # type: ignore[arg-type]
    b.add("0000:00:1c.4", 0x8086, 0x3A48, 0x060400, buses=(0, 5, 5), **ich)  # type: ignore[arg-type]
    b.add("0000:00:1d.0", 0x8086, 0x3A34, 0x0C0300, group=9, multifunction=True, driver="uhci_hcd", reset="bus")
    b.add("0000:00:1d.1", 0x8086, 0x3A35, 0x0C0300, group=9, multifunction=True, driver="uhci_hcd", reset="bus")
    b.add("0000:00:1d.7", 0x8086, 0x3A3A, 0x0C0320, group=9, multifunction=True, driver="ehci-pci", reset="pm")
    b.add("0000:00:1e.0", 0x8086, 0x244E, 0x060401, group=10, header_type=1, buses=(0, 6, 6), pm=False)
    b.add("0000:00:1f.0", 0x8086, 0x3A18, 0x060100, group=11, multifunction=True, driver="lpc_ich", pm=False)
    b.add("0000:00:1f.2", 0x8086, 0x3A22, 0x010601, group=11, multifunction=True, driver="ahci", reset="pm")
    b.add("0000:00:1f.3", 0x8086, 0x3A30, 0x0C0500, group=11, multifunction=True, driver="i801_smbus", pm=False)
    # Behind the 5520 root ports (each with ACS, so each endpoint has its own group).
    b.add("0000:01:00.0", 0x1000, 0x0072, 0x010700, group=12, parent="0000:00:01.0", driver="mpt3sas",
          pcie="endpoint", flr=False, reset="pm bus")
    b.add("0000:02:00.0", 0x8086, 0x10C9, 0x020000, group=13, parent="0000:00:03.0", driver="igb",
          pcie="endpoint", flr=True, multifunction=True, reset="flr bus", nets=("enp2s0f0",))
    b.add("0000:02:00.1", 0x8086, 0x10C9, 0x020000, group=13, parent="0000:00:03.0", driver="igb",
          pcie="endpoint", flr=True, multifunction=True, reset="flr bus", nets=("enp2s0f1",))
    b.add("0000:03:00.0", 0x14E4, 0x1639, 0x020000, group=8, parent="0000:00:1c.0", driver="bnx2",
          pcie="endpoint", multifunction=True, reset="pm bus", nets=("eno1",), revision=0x20)
    b.add("0000:03:00.1", 0x14E4, 0x1639, 0x020000, group=8, parent="0000:00:1c.0", driver="bnx2",
          pcie="endpoint", multifunction=True, reset="pm bus", nets=("eno2",), revision=0x20)
    b.add("0000:04:00.0", 0x14E4, 0x1639, 0x020000, group=8, parent="0000:00:1c.2", driver="bnx2",
          pcie="endpoint", multifunction=True, reset="pm bus", nets=("eno3",), revision=0x20)
    b.add("0000:04:00.1", 0x14E4, 0x1639, 0x020000, group=8, parent="0000:00:1c.2", driver="bnx2",
          pcie="endpoint", multifunction=True, reset="pm bus", nets=("eno4",), revision=0x20)
    b.add("0000:05:00.0", 0x103C, 0x3306, 0x088000, group=8, parent="0000:00:1c.4", pcie="endpoint",
          multifunction=True)
    b.add("0000:05:00.1", 0x102B, 0x0533, 0x030000, group=8, parent="0000:00:1c.4", driver="mgag200",
          pcie="endpoint", multifunction=True, boot_vga=True, reset="pm")
    b.add("0000:05:00.2", 0x103C, 0x3307, 0x088000, group=8, parent="0000:00:1c.4", driver="hpilo",
          pcie="endpoint", multifunction=True)
    b.add("0000:05:00.4", 0x103C, 0x3300, 0x0C0300, group=8, parent="0000:00:1c.4", driver="uhci_hcd",
          pcie="endpoint", multifunction=True)
    # SR-IOV: an 82599 PF with two VFs enabled, its sister port without, VF 07:10.2 already on vfio-pci.
    sriov_acs = (0x001F, 0x001D)
    b.add("0000:07:00.0", 0x8086, 0x10FB, 0x020000, group=14, parent="0000:00:05.0", driver="ixgbe",
          pcie="endpoint", flr=True, multifunction=True, acs=sriov_acs, sriov=(63, 2), sriov_vf=(0x80, 2, 0x10ED), reset="flr bus",
          nets=("enp7s0f0",))
    b.add("0000:07:00.1", 0x8086, 0x10FB, 0x020000, group=15, parent="0000:00:05.0", driver="ixgbe",
          pcie="endpoint", flr=True, multifunction=True, acs=sriov_acs, sriov=(63, 0), sriov_vf=(0x80, 2, 0x10ED), reset="flr bus",
          nets=("enp7s0f1",))
    b.add("0000:07:10.0", 0x8086, 0x10ED, 0x020000, group=16, physfn="0000:07:00.0", driver="ixgbevf",
          pcie="endpoint", flr=True, pm=False, reset="flr", nets=("enp7s0f0v0",))
    b.add("0000:07:10.2", 0x8086, 0x10ED, 0x020000, group=17, physfn="0000:07:00.0", driver="vfio-pci",
          pcie="endpoint", flr=True, pm=False, reset="flr", override="vfio-pci")
    # A GPU and its HDMI audio function: no FLR, bus reset only (the common case for GPUs).
    b.add("0000:0a:00.0", 0x10DE, 0x1B80, 0x030000, group=18, parent="0000:00:07.0", driver="nouveau",
          pcie="endpoint", multifunction=True, boot_vga=False, reset="bus", revision=0xA1)
    b.add("0000:0a:00.1", 0x10DE, 0x10F0, 0x040300, group=18, parent="0000:00:07.0", driver="snd_hda_intel",
          pcie="endpoint", multifunction=True, reset="bus", revision=0xA1)
    # The seed's HBA, alone in group 19.
    b.add("0000:0b:00.0", 0x1077, 0x2432, 0x0C0400, group=19, parent="0000:00:09.0", driver="qla2xxx",
          pcie="endpoint", reset="pm bus", revision=0x03)
    return b.snapshot(demo_extras())


def demo_extras() -> dict[str, Any]:
    """What the demo host uses its devices for, and a few host files the checks read."""
    return {
        "schema": "vfio-tui/host-extras/1",
        "mounts": [
            {"source": "/dev/mapper/vg0-root", "target": "/", "fstype": "ext4"},
            {"source": "/dev/sda1", "target": "/boot", "fstype": "ext2"},
            {"source": "/dev/mapper/vg0-var", "target": "/var", "fstype": "xfs"},
        ],
        "swaps": ["/dev/mapper/vg0-swap"],
        "block_devices": {
            "sda": {"pci": "0000:01:00.0", "slaves": []},
            "sda1": {"pci": "0000:01:00.0", "slaves": [], "parent": "sda"},
            "sda2": {"pci": "0000:01:00.0", "slaves": [], "parent": "sda"},
            "dm-0": {"pci": None, "slaves": ["sda2"], "name": "vg0-root"},
            "dm-1": {"pci": None, "slaves": ["sda2"], "name": "vg0-var"},
            "dm-2": {"pci": None, "slaves": ["sda2"], "name": "vg0-swap"},
            "sr0": {"pci": "0000:00:1f.2", "slaves": []},
        },
        "net_interfaces": {
            "eno1": {"pci": "0000:03:00.0", "addresses": ["192.0.2.10/24", "fe80::21e:c9ff:fe00:1/64"],
                     "state": "up"},
            "eno2": {"pci": "0000:03:00.1", "addresses": [], "state": "down"},
            "eno3": {"pci": "0000:04:00.0", "addresses": [], "state": "down"},
            "eno4": {"pci": "0000:04:00.1", "addresses": [], "state": "down"},
            "enp2s0f0": {"pci": "0000:02:00.0", "addresses": [], "state": "down"},
            "enp2s0f1": {"pci": "0000:02:00.1", "addresses": [], "state": "down"},
            "enp7s0f0": {"pci": "0000:07:00.0", "addresses": ["198.51.100.20/24"], "state": "up"},
            "enp7s0f1": {"pci": "0000:07:00.1", "addresses": [], "state": "down"},
            "enp7s0f0v0": {"pci": "0000:07:10.0", "addresses": [], "state": "down"},
        },
        # What ixgbe reports for the VFs of enp7s0f0 (`ip -j link show enp7s0f0`, vfinfo_list): VF 1
        # is the router VM's, with the MAC and VLAN libvirt programmed through the PF.
        "sriov_nics": {
            "0000:07:00.0": {"ifname": "enp7s0f0", "vfs": [
                {"vf": 0, "mac": "02:1b:21:7a:00:10", "vlan": 0, "qos": 0, "spoofchk": True, "trust": False,
                 "link_state": "auto"},
                {"vf": 1, "mac": "52:54:00:6d:90:02", "vlan": 42, "qos": 0, "spoofchk": True, "trust": False,
                 "link_state": "auto"},
            ]},
            "0000:07:00.1": {"ifname": "enp7s0f1", "vfs": []},
        },
        "routes": [
            {"destination": "default", "gateway": "192.0.2.1", "dev": "eno1"},
            {"destination": "192.0.2.0/24", "gateway": None, "dev": "eno1"},
            {"destination": "198.51.100.0/24", "gateway": None, "dev": "enp7s0f0"},
        ],
        "sessions": [
            {"kind": "ssh", "local": "192.0.2.10:22", "remote": "203.0.113.5:50514", "dev": "eno1",
             "user": "root"},
        ],
        "consoles": [
            {"kind": "fbcon", "fb": "fb0", "driver": "mgag200drmfb", "pci": "0000:05:00.1"},
        ],
        "display_servers": [],
        "keyboards": [
            {"name": "Dell USB Keyboard", "pci": "0000:00:1d.0", "usb": "2-1"},
        ],
        "modules_available": ["vfio", "vfio_iommu_type1", "vfio_pci", "vfio_pci_core", "pci_stub", "kvm",
                              "kvm_intel"],
        "files": {
            "/etc/default/grub": _GRUB,
            "/etc/libvirt/qemu.conf": _QEMU_CONF,
            "/proc/cpuinfo": _CPUINFO,
            "/etc/os-release": 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n',
            "/sys/firmware/acpi/tables/DMAR": "DMAR (recorded: present)\n",
            "/dev/kvm": "",
            "/lib/modules/6.1.0-28-amd64/modules.builtin": "kernel/drivers/vfio/vfio.ko\n",
            "/var/log/libvirt/qemu/vfio_test.log": _VM_LOG,
            "/etc/libvirt/qemu/vfio_test.xml": _VM_XML,
            "/etc/modprobe.d/vfio.conf": _MODPROBE_VFIO,
            "/var/log/libvirt/qemu/hba_test.log": _VM_LOG_MEMLOCK,
            "/var/log/kern.log": (
                "Nov 25 09:00:01 host192 kernel: DMAR: IOMMU enabled\n"
                "Nov 25 09:00:01 host192 kernel: DMAR-IR: Enabled IRQ remapping in x2apic mode\n"
                "Nov 25 09:20:01 host192 kernel: vfio_pin_pages_remote: RLIMIT_MEMLOCK (67108864) exceeded\n"
            ),
        },
    }

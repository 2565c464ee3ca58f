"""Precision over recall: logs without a VFIO problem give "no known cause", never a guess."""

from __future__ import annotations

import json
from typing import Any

from vfio_tui.core.explain import explain_text
from vfio_tui.core.host import Host

NORMAL_BOOT_DMESG = """\
[    0.000000] Linux version 6.1.0-28-amd64 (debian-kernel@lists.debian.org) (gcc-12 (Debian 12.2.0-14) 12.2.0) #1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1 (2024-11-22)
[    0.000000] Command line: BOOT_IMAGE=/vmlinuz-6.1.0-28-amd64 root=/dev/mapper/vg0-root ro intel_iommu=on iommu=pt quiet
[    0.000000] DMAR: IOMMU enabled
[    0.012345] ACPI: DMAR 0x00000000BF79E0D0 000128 (v01 HP     ProLiant 00000001 \xd2?   0000162E)
[    0.112233] DMAR-IR: Queued invalidation will be enabled to support x2apic and Intr-remapping.
[    0.112301] DMAR-IR: Enabled IRQ remapping in x2apic mode
[    0.356789] pci 0000:00:1c.0: [8086:3a40] type 01 class 0x060400
[    0.356800] pci 0000:00:1c.0: PME# supported from D0 D3hot D3cold
[    0.401122] pci 0000:02:00.0: BAR 0: assigned [mem 0xfbe00000-0xfbe1ffff]
[    0.789012] iommu: Default domain type: Passthrough (set via kernel command line)
[    0.801234] pci 0000:00:00.0: Adding to iommu group 0
[    0.801240] pci 0000:02:00.0: Adding to iommu group 13
[    0.801244] pci 0000:02:00.1: Adding to iommu group 13
[    0.812345] DMAR: Intel(R) Virtualization Technology for Directed I/O
[    1.234567] igb 0000:02:00.0: Intel(R) Gigabit Ethernet Network Connection
[    1.345678] nouveau 0000:0a:00.0: vgaarb: deactivate vga console
[    1.456789] snd_hda_intel 0000:0a:00.1: Disabling MSI
[    2.000001] EXT4-fs (dm-0): mounted filesystem with ordered data mode. Quota mode: none.
[    3.100000] VFIO - User Level meta-driver version: 0.3
[    3.100500] vfio-pci 0000:0b:00.0: enabling device (0140 -> 0142)
[    3.101000] vfio_pci: add [1077:2432[ffffffff:ffffffff]] class 0x000000/00000000
[    4.200000] ACPI Error: AE_NOT_FOUND, While resolving a named reference package element - \\_SB.PCI0.LPCB (20220331/dspkginit-438)
[    5.000000] systemd[1]: Failed to start Load Kernel Module drm.
[    9.000000] usb 2-1: new full-speed USB device number 2 using uhci_hcd
[   12.345678] virbr0: port 1(vnet0) entered forwarding state
"""

UNRELATED_QEMU_ERROR = """\
error: Failed to start domain 'web01'
error: internal error: qemu unexpectedly closed the monitor: 2024-05-04T08:00:00.123456Z qemu-system-x86_64: -blockdev {"driver":"file","filename":"/var/lib/libvirt/images/web01.qcow2","node-name":"libvirt-1-storage"}: Could not open '/var/lib/libvirt/images/web01.qcow2': Permission denied
"""

SUCCESSFUL_START_LOG = """\
2026-11-24 20:34:02.101+0000: starting up libvirt version: 9.0.0, package: 4+deb12u2 (Debian), qemu version: 7.2.22Debian 1:7.2+dfsg-7+deb12u16, kernel: 6.1.0-56-amd64, hostname: lab
LC_ALL=C PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin HOME=/var/lib/libvirt/qemu/domain-2-labvm /usr/bin/qemu-system-x86_64 -name guest=labvm,debug-threads=on -machine pc-i440fx-7.2,usb=off -m 256 -device {"driver":"vfio-pci","host":"0000:01:00.0","id":"hostdev0","bus":"pci.0","addr":"0x2"}
char device redirected to /dev/pts/1 (label charserial0)
2026-11-24T20:34:11.000000Z qemu-system-x86_64: terminating on signal 15 from pid 1234 (/usr/sbin/virtqemud)
2026-11-24 20:34:11.500+0000: shutting down, reason=destroyed
"""


def test_normal_boot_dmesg_has_no_known_cause(demo_host: Host) -> None:
    report = explain_text(NORMAL_BOOT_DMESG, demo_host)
    assert report.findings == []


def test_unrelated_qemu_error_is_not_diagnosed_but_shown() -> None:
    report = explain_text(UNRELATED_QEMU_ERROR)
    assert report.findings == []
    assert any("Permission denied" in line for line in report.relevant_lines)


def test_successful_libvirt_start_has_no_known_cause() -> None:
    assert explain_text(SUCCESSFUL_START_LOG).findings == []


def test_cli_says_no_known_cause(run_cli: Any) -> None:
    proc = run_cli("explain", "-", "--demo", stdin=UNRELATED_QEMU_ERROR)
    assert proc.returncode == 1
    assert proc.stdout.startswith("No known cause.")
    assert "Could not open '/var/lib/libvirt/images/web01.qcow2': Permission denied" in proc.stdout
    proc = run_cli("explain", "-", "--demo", "--json", stdin=NORMAL_BOOT_DMESG)
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["findings"] == []

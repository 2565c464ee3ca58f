"""Provides the GPU demo hosts: `--demo workstation` and `--demo single-gpu`.

workstation — an Alder Lake desktop (Z690) that is the case most GPU passthrough is about:
- 00:02.0 Intel UHD 770 (i915) is the boot VGA: fbcon on fb0 (i915drmfb) and GNOME (gnome-shell, Xwayland,
  started by gdm) on it: the host's own screen;
- 01:00.0-.3 NVIDIA RTX 2080 Ti (TU102) with its four functions in group 12 — VGA (nvidia, nvidia_drm
  modeset=Y), HDMI audio (snd_hda_intel, PipeWire has it open), USB-C xHCI (xhci_hcd), UCSI (nvidia-gpu);
- 02:00.0/.1 AMD RX 580 (Polaris 10, amdgpu) + HDMI audio in group 13: a family without a working reset;
- 03:00.0 the NVMe root disk; 00:14.0 the USB controller with the keyboard;
- a chipset group: an ASMedia switch whose downstream ports have no ACS merges the 2.5G NIC (the default
  route) and a USB 3.2 controller into group 10;
- libvirt: `win11` (the gaming VM, still hiding KVM as 2019 guides said) and `cuda` (a Linux CUDA VM).
The operator sits at the desktop (a terminal in GNOME): stopping the display manager would end this session.

single-gpu — a Ryzen desktop whose only GPU, an RTX 3080 (Resizable BAR: a 16 GiB BAR1), is the boot VGA
with the firmware framebuffer (simpledrm: the kernel's sysfb makes it a simple-framebuffer device, so the
`video=efifb:off` a guide put on its command line does nothing) and fbcon on it, and Xorg + GNOME on nvidia;
the operator comes in over SSH from a laptop; libvirt has `win11`.
"""

from __future__ import annotations

from typing import Any

from vfio_tui.core.simulated.demo_gpu_facts import single_gpu_extras, workstation_extras
from vfio_tui.core.simulated.synthetic import ACS_FULL, HostBuilder, resource_lines

WORKSTATION_LABEL = "demo: workstation (iGPU + RTX 2080 Ti + RX 580, GNOME on the iGPU)"
SINGLE_GPU_LABEL = "demo: single-gpu (RTX 3080 is the only GPU, GNOME on it)"

_G = 1 << 30
_M = 1 << 20


def workstation_snapshot() -> dict[str, Any]:
    """The workstation demo host as a recorded host."""
    b = HostBuilder(label=WORKSTATION_LABEL, kernel="6.12.48+deb13-amd64",
                    cmdline="BOOT_IMAGE=/vmlinuz-6.12.48+deb13-amd64 root=/dev/nvme0n1p2 ro quiet splash"
                            " intel_iommu=on",
                    extra_drivers=("pci-stub",))
    port = dict(header_type=1, driver="pcieport", pcie="root_port", acs=ACS_FULL)
    b.add("0000:00:00.0", 0x8086, 0x4660, 0x060000, group=0, revision=0x02)
    b.add("0000:00:01.0", 0x8086, 0x460D, 0x060400, group=1, buses=(0, 1, 1), multifunction=True,
          **port)  # type: ignore[arg-type]
    b.add("0000:00:01.1", 0x8086, 0x462D, 0x060400, group=2, buses=(0, 2, 2), multifunction=True,
          **port)  # type: ignore[arg-type]
    b.add("0000:00:02.0", 0x8086, 0x4680, 0x030000, group=3, driver="i915", boot_vga=True, reset="flr",
          flr=True, revision=0x0C, resources=resource_lines({0: (0x6000000000, 16 * _M), 2: (0x4000000000, 256 * _M)},
                                                            rom=(0xC0000, 0x20000)))
    b.add("0000:00:06.0", 0x8086, 0x464D, 0x060400, group=4, buses=(0, 3, 3), **port)  # type: ignore[arg-type]
    b.add("0000:00:14.0", 0x8086, 0x7AE0, 0x0C0330, group=5, driver="xhci_hcd", multifunction=True, reset="pm")
    b.add("0000:00:14.2", 0x8086, 0x7AA7, 0x050000, group=5, multifunction=True)
    b.add("0000:00:16.0", 0x8086, 0x7AE8, 0x078000, group=6, driver="mei_me", reset="pm")
    b.add("0000:00:17.0", 0x8086, 0x7AE2, 0x010601, group=7, driver="ahci", reset="pm")
    b.add("0000:00:1c.0", 0x8086, 0x7AB8, 0x060400, group=8, buses=(0, 4, 7), **port)  # type: ignore[arg-type]
    for fn, did, cls, drv in ((0, 0x7A84, 0x060100, None), (3, 0x7AD0, 0x040300, "snd_hda_intel"),
                              (4, 0x7AA3, 0x0C0500, "i801_smbus"), (5, 0x7AA4, 0x0C8000, "intel-spi")):
        b.add(f"0000:00:1f.{fn}", 0x8086, did, cls, group=11, driver=drv, multifunction=True, pm=fn == 3)
    # The ASMedia switch below the PCH port: its downstream ports lack ACS, so one group (10) holds both
    # ports and everything behind them.
    b.add("0000:04:00.0", 0x1B21, 0x1182, 0x060400, group=9, parent="0000:00:1c.0", header_type=1,
          driver="pcieport", pcie="upstream_port", buses=(4, 5, 7))
    down = dict(header_type=1, driver="pcieport", pcie="downstream_port", group=10, parent="0000:04:00.0")
    b.add("0000:05:03.0", 0x1B21, 0x1182, 0x060400, buses=(5, 6, 6), **down)  # type: ignore[arg-type]
    b.add("0000:05:07.0", 0x1B21, 0x1182, 0x060400, buses=(5, 7, 7), **down)  # type: ignore[arg-type]
    b.add("0000:06:00.0", 0x8086, 0x15F3, 0x020000, group=10, parent="0000:05:03.0", driver="igc",
          pcie="endpoint", flr=True, reset="flr bus", nets=("enp6s0",), revision=0x03)
    b.add("0000:07:00.0", 0x1B21, 0x3241, 0x0C0330, group=10, parent="0000:05:07.0", driver="xhci_hcd",
          pcie="endpoint", reset="pm bus")
    # RTX 2080 Ti: four functions, no FLR (bus reset only), one group behind the CPU's x16 port.
    gpu = dict(group=12, parent="0000:00:01.0", pcie="endpoint", multifunction=True, reset="bus", revision=0xA1)
    b.add("0000:01:00.0", 0x10DE, 0x1E07, 0x030000, driver="nvidia", boot_vga=False,
          resources=resource_lines({0: (0xA0000000, 16 * _M), 1: (0x6010000000, 256 * _M), 3: (0x6020000000, 32 * _M)},
                                   rom=(0xA1000000, 512 * 1024)), **gpu)  # type: ignore[arg-type]
    b.add("0000:01:00.1", 0x10DE, 0x10F7, 0x040300, driver="snd_hda_intel", **gpu)  # type: ignore[arg-type]
    b.add("0000:01:00.2", 0x10DE, 0x1AD6, 0x0C0330, driver="xhci_hcd", **gpu)  # type: ignore[arg-type]
    b.add("0000:01:00.3", 0x10DE, 0x1AD7, 0x0C8000, driver="nvidia-gpu", **gpu)  # type: ignore[arg-type]
    # RX 580 (Polaris 10): no FLR, and its bus reset does not bring it back either (the AMD reset bug).
    amd = dict(group=13, parent="0000:00:01.1", pcie="endpoint", multifunction=True, reset="bus", revision=0xE7)
    b.add("0000:02:00.0", 0x1002, 0x67DF, 0x030000, driver="amdgpu", boot_vga=False,
          resources=resource_lines({0: (0x5000000000, 256 * _M), 2: (0x5010000000, 2 * _M), 5: (0xA2000000, 256 * 1024)},
                                   rom=(0xA2040000, 128 * 1024)), **amd)  # type: ignore[arg-type]
    b.add("0000:02:00.1", 0x1002, 0xAAF0, 0x040300, driver="snd_hda_intel", **amd)  # type: ignore[arg-type]
    b.add("0000:03:00.0", 0x144D, 0xA80A, 0x010802, group=14, parent="0000:00:06.0", driver="nvme",
          pcie="endpoint", flr=True, reset="flr bus")
    return b.snapshot(workstation_extras())


def single_gpu_snapshot() -> dict[str, Any]:
    """The single-GPU demo host as a recorded host."""
    b = HostBuilder(label=SINGLE_GPU_LABEL, kernel="6.12.48+deb13-amd64",
                    cmdline="BOOT_IMAGE=/vmlinuz-6.12.48+deb13-amd64 root=/dev/nvme0n1p2 ro quiet amd_iommu=on iommu=pt"
                            " video=efifb:off",
                    iommu_units=("ivhd0",), extra_drivers=("pci-stub",))
    port = dict(header_type=1, driver="pcieport", pcie="root_port", acs=ACS_FULL)
    b.add("0000:00:00.0", 0x1022, 0x1480, 0x060000, group=0)
    b.add("0000:00:01.1", 0x1022, 0x1483, 0x060400, group=1, buses=(0, 1, 1), **port)  # type: ignore[arg-type]
    b.add("0000:00:02.1", 0x1022, 0x1483, 0x060400, group=2, buses=(0, 5, 5), **port)  # type: ignore[arg-type]
    b.add("0000:00:03.1", 0x1022, 0x1483, 0x060400, group=3, buses=(0, 0x0A, 0x0A), **port)  # type: ignore[arg-type]
    b.add("0000:00:08.1", 0x1022, 0x1484, 0x060400, group=4, buses=(0, 0x0C, 0x0C), **port)  # type: ignore[arg-type]
    b.add("0000:00:14.0", 0x1022, 0x790B, 0x0C0500, group=5, driver="piix4_smbus", multifunction=True, pm=False)
    b.add("0000:00:14.3", 0x1022, 0x790E, 0x060100, group=5, multifunction=True, pm=False)
    b.add("0000:01:00.0", 0x144D, 0xA80A, 0x010802, group=10, parent="0000:00:01.1", driver="nvme",
          pcie="endpoint", flr=True, reset="flr bus")
    b.add("0000:05:00.0", 0x10EC, 0x8168, 0x020000, group=13, parent="0000:00:02.1", driver="r8169",
          pcie="endpoint", reset="pm bus", nets=("enp5s0",), revision=0x15)
    # RTX 3080 with Resizable BAR on: BAR1 is 16 GiB, above 4 GiB. The boot VGA: the kernel maps its ROM
    # to the shadow copy at 0xC0000.
    gpu = dict(group=11, parent="0000:00:03.1", pcie="endpoint", multifunction=True, reset="bus", revision=0xA1)
    b.add("0000:0a:00.0", 0x10DE, 0x2206, 0x030000, driver="nvidia", boot_vga=True,
          resources=resource_lines({0: (0xFB000000, 16 * _M), 1: (0x7800000000, 16 * _G), 3: (0x7C00000000, 32 * _M)},
                                   rom=(0xC0000, 0x20000)), **gpu)  # type: ignore[arg-type]
    b.add("0000:0a:00.1", 0x10DE, 0x1AEF, 0x040300, driver="snd_hda_intel", **gpu)  # type: ignore[arg-type]
    b.add("0000:0c:00.3", 0x1022, 0x149C, 0x0C0330, group=12, parent="0000:00:08.1", driver="xhci_hcd",
          pcie="endpoint", multifunction=True, reset="pm bus")
    b.add("0000:0c:00.4", 0x1022, 0x1487, 0x040300, group=14, parent="0000:00:08.1", driver="snd_hda_intel",
          pcie="endpoint", multifunction=True, reset="pm bus")
    return b.snapshot(single_gpu_extras())


#: The GPU demo hosts: name -> (label, the demo hypervisor's file in core/data).
DEMOS: dict[str, tuple[str, str]] = {
    "workstation": (WORKSTATION_LABEL, "demo-workstation-libvirt.xml"),
    "single-gpu": (SINGLE_GPU_LABEL, "demo-single-gpu-libvirt.xml"),
}


def demo_gpu_snapshot(name: str) -> dict[str, Any]:
    return workstation_snapshot() if name == "workstation" else single_gpu_snapshot()

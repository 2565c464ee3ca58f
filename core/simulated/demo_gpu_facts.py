"""Provides the host facts of the GPU demo hosts (core/simulated/demo_workstation.py): what the host uses its
devices for, and the GPU side the simulated tree renders (core/simulated/gpu_tree.py) — framebuffers,
consoles, /proc/iomem, the driver modules, the processes holding the cards' nodes, the display manager, the
cards' ROMs.
"""

from __future__ import annotations

from typing import Any

from vfio_tui.core.simulated.synthetic_rom import make_option_rom, shadow_copy

_OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 13 (trixie)"\nID=debian\nVERSION_ID="13"\n'
_GRUB = """GRUB_DEFAULT=0
GRUB_TIMEOUT=5
GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`
GRUB_CMDLINE_LINUX_DEFAULT="quiet splash"
GRUB_CMDLINE_LINUX="{args}"
"""
_QEMU_CONF = "# Master configuration file for the QEMU driver.\n#user = \"root\"\n#dynamic_ownership = 1\n"


def _nvidia_modules(modeset: str, fbdev: str) -> list[dict[str, Any]]:
    return [
        {"name": "nvidia_drm", "size": 126976, "users": [], "params": {"modeset": modeset, "fbdev": fbdev},
         "proprietary": True},
        {"name": "nvidia_modeset", "size": 1638400, "users": ["nvidia_drm"], "proprietary": True,
         "nodes": ["/dev/nvidia-modeset"]},
        {"name": "nvidia_uvm", "size": 4988928, "users": [], "proprietary": True, "nodes": ["/dev/nvidia-uvm"]},
        {"name": "nvidia", "size": 60080128, "users": ["nvidia_uvm", "nvidia_modeset"], "driver": "nvidia",
         "proprietary": True, "nodes": ["/dev/nvidiactl"]},
    ]


def _user(pid: int, comm: str, opened: list[str], *, unit: str, stops_with: str | None = "gdm.service",
          user: bool = True) -> dict[str, Any]:
    cgroup = (f"0::/user.slice/user-1000.slice/user@1000.service/session.slice/{unit}" if user and
              unit.endswith(".service") else f"0::/user.slice/user-1000.slice/{unit}" if user
              else f"0::/system.slice/{unit}")
    return {"pid": pid, "comm": comm, "cgroup": cgroup, "open": opened, "stops_with": stops_with}


def _files(cmdline_args: str, extra: dict[str, str]) -> dict[str, str]:
    return {
        "/etc/default/grub": _GRUB.format(args=cmdline_args),
        "/etc/libvirt/qemu.conf": _QEMU_CONF,
        "/etc/os-release": _OS_RELEASE,
        "/dev/kvm": "",
        **extra,
    }


def workstation_extras() -> dict[str, Any]:
    """Host facts of `--demo workstation`."""
    iomem = [
        [0, "4000000000-6fffffffff", "PCI Bus 0000:00", None],
        [2, "4000000000-400fffffff", "0000:00:02.0", None],
        [4, "4000000000-400fffffff", "i915", "claim:0000:00:02.0"],
        [2, "5000000000-5011ffffff", "PCI Bus 0000:02", None],
        [4, "5000000000-500fffffff", "0000:02:00.0", None],
        [6, "5000000000-500fffffff", "amdgpu", "claim:0000:02:00.0"],
        [2, "6000000000-6000ffffff", "0000:00:02.0", None],
        [2, "6010000000-6021ffffff", "PCI Bus 0000:01", None],
        [4, "6010000000-601fffffff", "0000:01:00.0", None],
        [6, "6010000000-601fffffff", "nvidia", "claim:0000:01:00.0"],
    ]
    gpu = {
        "iomem": iomem,
        "vtconsoles": [{"name": "vtcon0", "desc": "(S) dummy device", "bind": 0},
                       {"name": "vtcon1", "desc": "(M) frame buffer device", "bind": 1}],
        "platform_fbs": [],
        "cards": {
            "0000:00:02.0": {"driver": "i915", "drm": ["card0", "renderD128"], "fb": [{"fb": "fb0", "name": "i915drmfb"}]},
            "0000:01:00.0": {"driver": "nvidia", "drm": ["card1", "renderD129"], "nvidia_minor": 0,
                             "model": "NVIDIA GeForce RTX 2080 Ti"},
            "0000:01:00.1": {"driver": "snd_hda_intel", "sound": ["card1"]},
            "0000:02:00.0": {"driver": "amdgpu", "drm": ["card2", "renderD130"],
                             "fb": [{"fb": "fb1", "name": "amdgpudrmfb"}]},
            "0000:02:00.1": {"driver": "snd_hda_intel", "sound": ["card2"]},
            "0000:00:1f.3": {"driver": "snd_hda_intel", "sound": ["card0"]},
        },
        "modules": [{"name": "i915", "size": 4018176, "users": [], "driver": "i915"},
                    {"name": "amdgpu", "size": 15474688, "users": [], "driver": "amdgpu", "nodes": ["/dev/kfd"]},
                    *_nvidia_modules("Y", "N")],
        "processes": [
            _user(1412, "gnome-shell", ["/dev/dri/card0", "/dev/dri/renderD128"], unit="session-2.scope"),
            _user(1530, "Xwayland", ["/dev/dri/card0", "/dev/dri/renderD128"], unit="session-2.scope"),
            _user(1301, "pipewire", ["/dev/snd/controlC0", "/dev/snd/controlC1", "/dev/snd/controlC2"],
                  unit="pipewire.service"),
            _user(1302, "wireplumber", ["/dev/snd/controlC0", "/dev/snd/controlC1", "/dev/snd/controlC2"],
                  unit="wireplumber.service"),
        ],
        "services": {"gdm.service": {"active": True, "display_manager": True},
                     "nvidia-persistenced.service": {"active": False}},
        "display_manager": "gdm.service",
        "roms": {
            "0000:01:00.0": make_option_rom(0x10DE, 0x1E07, legacy_kib=48, efi_kib=64).hex(),
            "0000:02:00.0": make_option_rom(0x1002, 0x67DF, legacy_kib=40, efi_kib=48).hex(),
            "0000:00:02.0": shadow_copy(0x8086, 0x4680).hex(),
        },
    }
    return {
        "schema": "vfio-tui/host-extras/1",
        "mounts": [{"source": "/dev/nvme0n1p2", "target": "/", "fstype": "ext4"},
                   {"source": "/dev/nvme0n1p1", "target": "/boot/efi", "fstype": "vfat"},
                   {"source": "/dev/sda1", "target": "/data", "fstype": "ext4"}],
        "swaps": [],
        "block_devices": {"nvme0n1": {"pci": "0000:03:00.0", "slaves": []},
                          "nvme0n1p1": {"pci": "0000:03:00.0", "slaves": [], "parent": "nvme0n1"},
                          "nvme0n1p2": {"pci": "0000:03:00.0", "slaves": [], "parent": "nvme0n1"},
                          "sda": {"pci": "0000:00:17.0", "slaves": []},
                          "sda1": {"pci": "0000:00:17.0", "slaves": [], "parent": "sda"}},
        "net_interfaces": {"enp6s0": {"pci": "0000:06:00.0", "addresses": ["192.168.1.20/24"], "state": "up"}},
        "routes": [{"destination": "default", "gateway": "192.168.1.1", "dev": "enp6s0"}],
        "sessions": [],
        "consoles": [],
        "display_servers": [],
        "keyboards": [{"name": "Logitech USB Keyboard", "pci": "0000:00:14.0", "usb": "1-3"}],
        "operator": {"via": "desktop", "detail": "a terminal in the GNOME session on the iGPU"},
        "libvirt_demo": "demo-workstation-libvirt.xml",
        "modules_available": ["vfio", "vfio_iommu_type1", "vfio_pci", "vfio_pci_core", "kvm", "kvm_intel",
                              "nvidia", "nvidia_drm", "nvidia_modeset", "nvidia_uvm", "amdgpu", "i915"],
        "gpu": gpu,
        "files": _files("intel_iommu=on", {
            "/sys/firmware/acpi/tables/DMAR": "DMAR (recorded: present)\n",
            "/lib/modules/6.12.48+deb13-amd64/modules.builtin": "kernel/drivers/vfio/vfio.ko\n",
            "/lib/modules/6.12.48+deb13-amd64/modules.dep": "kernel/drivers/vfio/pci/vfio-pci.ko:\n",
            "/proc/cpuinfo": "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: 12th Gen Intel(R) Core(TM)"
                             " i7-12700K\nflags\t\t: fpu vme de pse tsc msr pae vmx ept vpid\n\n",
            "/var/log/kern.log": "Nov 25 08:00:01 ws kernel: DMAR: IOMMU enabled\n"
                                 "Nov 25 08:00:01 ws kernel: DMAR-IR: Enabled IRQ remapping in x2apic mode\n",
        }),
    }


def single_gpu_extras() -> dict[str, Any]:
    """Host facts of `--demo single-gpu`."""
    iomem = [
        [0, "7800000000-7c01ffffff", "PCI Bus 0000:0a", None],
        [2, "7800000000-7bffffffff", "0000:0a:00.0", None],
        [4, "7800000000-78007e8fff", "BOOTFB", "sysfb:simple-framebuffer.0"],
        [6, "7800000000-78007e8fff", "simpledrm", "fbdrv:simple-framebuffer.0"],
        [2, "7c00000000-7c01ffffff", "0000:0a:00.0", None],
        [0, "fb000000-fc0fffff", "PCI Bus 0000:0a", None],
        [2, "fb000000-fbffffff", "0000:0a:00.0", None],
        [4, "fb000000-fbffffff", "nvidia", "claim:0000:0a:00.0"],
    ]
    gpu = {
        "iomem": iomem,
        "vtconsoles": [{"name": "vtcon0", "desc": "(S) dummy device", "bind": 0},
                       {"name": "vtcon1", "desc": "(M) frame buffer device", "bind": 1}],
        "platform_fbs": [{"device": "simple-framebuffer.0", "driver": "simple-framebuffer", "bound": True,
                          "fb": {"fb": "fb0", "name": "simpledrm"}, "pci": "0000:0a:00.0"}],
        "cards": {
            "0000:0a:00.0": {"driver": "nvidia", "drm": ["card0", "renderD128"], "nvidia_minor": 0,
                             "model": "NVIDIA GeForce RTX 3080"},
            "0000:0a:00.1": {"driver": "snd_hda_intel", "sound": ["card1"]},
            "0000:0c:00.4": {"driver": "snd_hda_intel", "sound": ["card0"]},
        },
        "modules": _nvidia_modules("Y", "N"),
        "processes": [
            _user(1210, "Xorg", ["/dev/dri/card0", "/dev/nvidiactl", "/dev/nvidia0", "/dev/nvidia-modeset"],
                  unit="session-2.scope"),
            _user(1290, "gnome-shell", ["/dev/dri/card0", "/dev/nvidiactl", "/dev/nvidia0"], unit="session-2.scope"),
            _user(1320, "pipewire", ["/dev/snd/controlC0", "/dev/snd/controlC1"], unit="pipewire.service"),
        ],
        "services": {"gdm.service": {"active": True, "display_manager": True}},
        "display_manager": "gdm.service",
        "roms": {"0000:0a:00.0": shadow_copy(0x10DE, 0x2206).hex()},
    }
    return {
        "schema": "vfio-tui/host-extras/1",
        "mounts": [{"source": "/dev/nvme0n1p2", "target": "/", "fstype": "ext4"},
                   {"source": "/dev/nvme0n1p1", "target": "/boot/efi", "fstype": "vfat"}],
        "swaps": [],
        "block_devices": {"nvme0n1": {"pci": "0000:01:00.0", "slaves": []},
                          "nvme0n1p1": {"pci": "0000:01:00.0", "slaves": [], "parent": "nvme0n1"},
                          "nvme0n1p2": {"pci": "0000:01:00.0", "slaves": [], "parent": "nvme0n1"}},
        "net_interfaces": {"enp5s0": {"pci": "0000:05:00.0", "addresses": ["192.168.1.30/24"], "state": "up"}},
        "routes": [{"destination": "default", "gateway": "192.168.1.1", "dev": "enp5s0"}],
        "sessions": [{"kind": "ssh", "local": "192.168.1.30:22", "remote": "192.168.1.44:51122", "dev": "enp5s0",
                      "user": "gamer"}],
        "consoles": [],
        "display_servers": [],
        "keyboards": [{"name": "Corsair K70 Keyboard", "pci": "0000:0c:00.3", "usb": "3-2"}],
        "operator": {"via": "ssh", "detail": "SSH from 192.168.1.44"},
        "libvirt_demo": "demo-single-gpu-libvirt.xml",
        "modules_available": ["vfio", "vfio_iommu_type1", "vfio_pci", "vfio_pci_core", "kvm", "kvm_amd",
                              "nvidia", "nvidia_drm", "nvidia_modeset", "nvidia_uvm"],
        "gpu": gpu,
        "files": _files("amd_iommu=on iommu=pt video=efifb:off", {
            "/sys/firmware/acpi/tables/IVRS": "IVRS (recorded: present)\n",
            "/lib/modules/6.12.48+deb13-amd64/modules.builtin": "kernel/drivers/vfio/vfio.ko\n",
            "/lib/modules/6.12.48+deb13-amd64/modules.dep": "kernel/drivers/vfio/pci/vfio-pci.ko:\n",
            "/proc/cpuinfo": "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD Ryzen 7 5800X 8-Core"
                             " Processor\nflags\t\t: fpu vme de pse tsc msr pae svm npt\n\n",
            "/var/log/kern.log": "Nov 25 08:00:01 gamer kernel: AMD-Vi: Interrupt remapping enabled\n",
        }),
    }

"""Provides HostPaths: the one injectable root every host path is derived from.

A live host is `HostPaths(Path("/"))`; a recorded or simulated host is a tree in a temp
dir. No other module in core/ spells out "/sys", "/dev", "/proc" or "/etc".
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=128)
def _under_root(root: Path, relative: str) -> Path:
    # The fixed places under a root are asked for thousands of times a run (every sysfs read starts
    # from one), and each pathlib join parses its parts again: a Path is immutable, so one per root.
    return root / relative


@dataclass(frozen=True, slots=True)
class HostPaths:
    """Where the host's /sys, /dev, /proc, /etc, /var and /lib/modules live."""

    root: Path = Path("/")
    """The host's root directory ("/" for the live host)."""

    @property
    def is_live(self) -> bool:
        """True when this is the machine we are running on."""
        return self.root == Path("/")

    def under(self, absolute: str) -> Path:
        """Map an absolute host path ("/etc/default/grub") to this root."""
        return self.root / absolute.lstrip("/")

    def display(self, path: Path) -> str:
        """The host-absolute spelling of a path under this root, for messages and evidence."""
        try:
            rel = path.relative_to(self.root)
        except ValueError:
            return str(path)
        return "/" + str(rel) if str(rel) != "." else "/"

    @property
    def sys(self) -> Path:
        return _under_root(self.root, "sys")

    @property
    def dev(self) -> Path:
        return _under_root(self.root, "dev")

    @property
    def proc(self) -> Path:
        return _under_root(self.root, "proc")

    @property
    def etc(self) -> Path:
        return _under_root(self.root, "etc")

    @property
    def boot(self) -> Path:
        return _under_root(self.root, "boot")

    @property
    def var_log(self) -> Path:
        return _under_root(self.root, "var/log")

    @property
    def var_lib(self) -> Path:
        return _under_root(self.root, "var/lib")

    @property
    def run(self) -> Path:
        return _under_root(self.root, "run")

    @property
    def lib_modules(self) -> Path:
        return _under_root(self.root, "lib/modules")

    @property
    def state_dir(self) -> Path:
        """vfio-tui's own journal and backups (/var/lib/vfio-tui)."""
        return _under_root(self.root, "var/lib/vfio-tui")

    @property
    def config_journal(self) -> Path:
        """The journal of config-file changes (GRUB, modprobe.d, qemu.conf)."""
        return _under_root(self.root, "var/lib/vfio-tui/config/journal.json")

    @property
    def pci_bus(self) -> Path:
        return _under_root(self.root, "sys/bus/pci")

    @property
    def pci_devices(self) -> Path:
        return _under_root(self.root, "sys/bus/pci/devices")

    @property
    def pci_drivers(self) -> Path:
        return _under_root(self.root, "sys/bus/pci/drivers")

    @property
    def iommu_groups(self) -> Path:
        return _under_root(self.root, "sys/kernel/iommu_groups")

    @property
    def class_iommu(self) -> Path:
        return _under_root(self.root, "sys/class/iommu")

    @property
    def dev_vfio(self) -> Path:
        return _under_root(self.root, "dev/vfio")

    def pci_device(self, address: object) -> Path:
        """/sys/bus/pci/devices/<address> (the argument is a PciAddress or its text)."""
        return self.pci_devices / str(address)

    def pci_driver(self, name: str) -> Path:
        return self.pci_drivers / name

    def module(self, name: str) -> Path:
        """/sys/module/<name> (module names use underscores: vfio_pci)."""
        return self.sys / "module" / name.replace("-", "_")

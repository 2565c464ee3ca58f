"""Provides Host and HostOptions: the live machine, a host tree (--root), a recorded host
(--host-snapshot) or the built-in demo (--demo), all behind one plain value (core.open_host opens one).

Host says where its paths are, what kind it is, what uses its devices (a UsageSource) and which
kernel interface changes it (both injected by open_host). It knows nothing of libvirt or of the
simulation: the hypervisor that goes with a host is chosen by core.libvirt.hypervisor_for(), and the
facts of which VM holds which device are passed to the plans that need them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias

from vfio_tui.core.address import PciAddress
from vfio_tui.core.demos import DEMO_NAMES
from vfio_tui.core.errors import InputError
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.kernel import KernelInterface, LiveKernel, ReadOnlyKernel
from vfio_tui.core.model import HostInventory
from vfio_tui.core.pciids import PciIds
from vfio_tui.core.services import ServiceManager
from vfio_tui.core.sriovinfo.read import with_sriov
from vfio_tui.core.usage import UsageSource
from vfio_tui.core.verdict import without_host_use_facts

HostKind: TypeAlias = Literal["live", "root", "snapshot", "demo"]
Annotator: TypeAlias = Callable[[HostPaths, HostInventory, PciAddress | None], HostInventory]


@dataclass(frozen=True)
class HostOptions:
    """How the user asked to pick the host (--demo, --root DIR, --host-snapshot FILE, --on NAME)."""

    demo: bool = False
    root: Path | None = None
    snapshot: Path | None = None
    pci_ids: Path | None = None
    unprivileged: bool | None = None
    """Read config space as a non-root user would (testing and `--as-user`)."""
    demo_pace: float | None = None
    """Seconds each simulated sysfs write takes (`--demo-pace`), so a run can be watched."""
    demo_name: str = "host192"
    """Which built-in demo host `demo` opens (`--demo NAME`; DEMO_NAMES)."""
    on: str | None = None
    """A named host (`vfio-tui hosts add`): its recording, fetched over ssh, replayed here."""

    def validate(self) -> None:
        chosen = sum([self.demo, self.root is not None, self.snapshot is not None, self.on is not None])
        if chosen > 1:
            raise InputError("choose one of --demo, --root, --host-snapshot and --on")
        if self.demo_name not in DEMO_NAMES:
            raise InputError(f"--demo {self.demo_name}: no such demo host", fix="one of " + ", ".join(DEMO_NAMES))
        if self.demo_pace is not None:
            if not self.demo:
                raise InputError("--demo-pace goes with --demo (it slows the demo's simulated kernel)")
            if not 0 <= self.demo_pace <= 10:
                raise InputError(f"--demo-pace {self.demo_pace}: give seconds between 0 and 10")


@dataclass
class Host:
    """A host vfio-tui works on."""

    paths: HostPaths
    kind: HostKind
    label: str
    simulated: bool
    metadata: dict[str, Any] = field(default_factory=dict)
    """The simulated host's metadata (driver id tables, recorded host usage); {} when live."""
    pci_ids_path: Path | None = None
    unprivileged: bool | None = None
    usage: UsageSource | None = None
    """What uses each device (the guard's facts); None: nothing is known."""
    host_use_known: bool = True
    """False when nothing records what the host uses its devices for (then "unused" is unknown)."""
    kernel_factory: Callable[[HostPaths], KernelInterface] | None = None
    """Makes the interface every host change goes through (open_host gives a simulated host its
    simulated kernel); None: this machine's kernel for the live host, read-only for a tree."""
    annotators: tuple[Annotator, ...] = ()
    """More of what the host does with its devices, read from the tree after the usage facts (open_host
    adds core.gpu.inventory.annotate: the console, display servers and every process holding a GPU)."""
    services_factory: Callable[[HostPaths], ServiceManager] | None = None
    """Makes the interface host services are stopped and started through (the simulated host's own);
    None: this machine's systemd for the live host, read-only for a tree."""
    remote: str | None = None
    """The named host this recording was fetched from (`--on NAME`); None: not a remote host."""
    libvirt_uri: str | None = None
    """The libvirt that goes with this host when no --connect is given (a remote host's qemu+ssh://)."""
    _tmpdir: Path | None = None
    _kernel: KernelInterface | None = None
    _services: ServiceManager | None = None
    _pci_ids: PciIds | None = None

    @property
    def kernel(self) -> KernelInterface:
        """The interface every host change goes through."""
        if self._kernel is None:
            if self.kernel_factory is not None:
                self._kernel = self.kernel_factory(self.paths)
            elif self.paths.is_live:
                self._kernel = LiveKernel(self.paths)
            else:
                self._kernel = ReadOnlyKernel(self.paths)
        return self._kernel

    @property
    def services(self) -> ServiceManager:
        """The interface every service stop/start goes through (the display manager, for a GPU)."""
        if self._services is None:
            from vfio_tui.core.services import LiveServices, ReadOnlyServices

            if self.services_factory is not None:
                self._services = self.services_factory(self.paths)
            elif self.paths.is_live:
                self._services = LiveServices(self.paths)
            else:
                self._services = ReadOnlyServices(self.paths)
        return self._services

    @property
    def pci_ids(self) -> PciIds:
        if self._pci_ids is None:
            self._pci_ids = PciIds.find(self.paths, self.pci_ids_path)
        return self._pci_ids

    @property
    def extras(self) -> dict[str, Any]:
        """Recorded host-usage facts (mounts, addresses, sessions...) of a simulated host."""
        value = self.metadata.get("host_extras") or {}
        return value if isinstance(value, dict) else {}

    def inventory(self, *, names: bool = True, focus: PciAddress | None = None,
                  group_only: bool = False) -> HostInventory:
        """Read the host's devices and groups, with host usage and verdicts.

        Args:
            names: look up vendor/device/class names in pci.ids. A bind plan needs none, and the
                lookups cost ~0.5 s on a slow (TCG) machine; without them every name is None.
            focus: the device a plan is about. Host-usage facts that cannot concern its IOMMU
                group are then not gathered on the live host (the display-server process scan
                runs only when the group holds a display-class device, 03xx).
            group_only: read only focus's IOMMU group and the PFs of its VFs (HostInventory.partial_group):
                what a bind plan looks at, a fraction of a whole read on a host of many functions.
        """
        from vfio_tui.core.sysfs_reader import read_inventory

        source = self.usage
        inv = read_inventory(self.paths, pci_ids=self.pci_ids if names else PciIds(),
                             unprivileged=self.unprivileged,
                             usage=None if source is None else (lambda i: source(i, focus)),
                             only_group_of=focus if group_only else None)
        # VF lists per PF (a few files per PF); the live host's VF NIC settings (`ip link`) only
        # for a whole-host read, not for a plan about one device.
        inv = with_sriov(self.paths, inv, self.extras if self.simulated else None, live_query=focus is None)
        if source is not None:
            for annotate in self.annotators:
                inv = annotate(self.paths, inv, focus)
        return inv if self.host_use_known else without_host_use_facts(inv)

    def close(self) -> None:
        """Remove the temp copy of a recorded or demo host."""
        if self._tmpdir is not None:
            import shutil

            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> Host:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

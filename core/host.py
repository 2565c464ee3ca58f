"""Provides Host and open_host(): the live machine, a host tree (--root), a recorded host
(--host-snapshot) or the built-in demo (--demo), all behind one object.

A recorded or demo host is materialized into a private temp dir and is writable there
through the simulated kernel; nothing ever reaches this machine's /sys.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias

from core.address import PciAddress
from core.errors import InputError
from core.hostpaths import HostPaths
from core.kernel import KernelInterface, LiveKernel, ReadOnlyKernel
from core.model import HostInventory
from core.pciids import PciIds
from core.simulated.materialize import materialize, read_sim_metadata
from core.snapshot import load_snapshot

HostKind: TypeAlias = Literal["live", "root", "snapshot", "demo"]


@dataclass(frozen=True)
class HostOptions:
    """How the user asked to pick the host (--demo, --root DIR, --host-snapshot FILE)."""

    demo: bool = False
    root: Path | None = None
    snapshot: Path | None = None
    pci_ids: Path | None = None
    unprivileged: bool | None = None
    """Read config space as a non-root user would (testing and `--as-user`)."""

    def validate(self) -> None:
        chosen = sum([self.demo, self.root is not None, self.snapshot is not None])
        if chosen > 1:
            raise InputError("choose one of --demo, --root and --host-snapshot")


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
    _tmpdir: Path | None = None
    _kernel: KernelInterface | None = None
    _pci_ids: PciIds | None = None

    @property
    def kernel(self) -> KernelInterface:
        """The interface every host change goes through (simulated for recorded/demo hosts)."""
        if self._kernel is None:
            if self.simulated:
                from core.simulated.kernel import SimulatedKernel

                self._kernel = SimulatedKernel(self.paths)
            elif self.paths.is_live:
                self._kernel = LiveKernel(self.paths)
            else:
                self._kernel = ReadOnlyKernel(self.paths)
        return self._kernel

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

    def inventory(self, *, names: bool = True, focus: PciAddress | None = None) -> HostInventory:
        """Read the host's devices and groups, with host usage and verdicts.

        Args:
            names: look up vendor/device/class names in pci.ids. A bind plan needs none, and the
                lookups cost ~0.5 s on a slow (TCG) machine; without them every name is None.
            focus: the device a plan is about. Host-usage facts that cannot concern its IOMMU
                group are then not gathered on the live host (the display-server process scan
                runs only when the group holds a display-class device, 03xx).
        """
        from core.sysfs_reader import read_inventory

        usage = None
        try:
            from core.usage import usage_provider
        except ImportError:  # the guard is optional at this layer
            pass
        else:
            usage = usage_provider(self, focus=focus)
        return read_inventory(self.paths, pci_ids=self.pci_ids if names else PciIds(),
                              unprivileged=self.unprivileged, usage=usage)

    def close(self) -> None:
        """Remove the temp copy of a recorded or demo host."""
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> Host:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def materialized_host(snapshot: dict[str, Any], kind: HostKind, label: str,
                      options: HostOptions | None = None) -> Host:
    """A simulated host in a fresh temp dir, built from a recorded host."""
    tmp = Path(tempfile.mkdtemp(prefix="vfio-tui-host-"))
    try:
        paths = materialize(snapshot, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    opts = options or HostOptions()
    return Host(paths=paths, kind=kind, label=label, simulated=True,
                metadata=read_sim_metadata(paths) or {}, pci_ids_path=opts.pci_ids,
                unprivileged=opts.unprivileged, _tmpdir=tmp)


def open_host(options: HostOptions) -> Host:
    """Open the host the options name (the live machine when none).

    Raises:
        InputError: contradictory options or a missing root.
        HostDataError: a recorded host that cannot be used.
    """
    options.validate()
    if options.demo:
        from core.simulated.demo_host import DEMO_LABEL, demo_snapshot

        return materialized_host(demo_snapshot(), "demo", DEMO_LABEL, options)
    if options.snapshot is not None:
        snap = load_snapshot(options.snapshot)
        label = snap.get("label") or options.snapshot.name
        return materialized_host(snap, "snapshot", f"recorded: {label}", options)
    if options.root is not None:
        root = options.root
        if not root.is_dir():
            raise InputError(f"--root {root}: not a directory")
        paths = HostPaths(root.resolve())
        meta = read_sim_metadata(paths)
        if meta is not None:
            return Host(paths=paths, kind="root", label=f"simulated: {meta.get('label') or root}",
                        simulated=True, metadata=meta, pci_ids_path=options.pci_ids,
                        unprivileged=options.unprivileged)
        return Host(paths=paths, kind="root", label=f"tree: {root}", simulated=False,
                    pci_ids_path=options.pci_ids, unprivileged=options.unprivileged)
    return Host(paths=HostPaths(Path("/")), kind="live", label="this machine", simulated=False,
                pci_ids_path=options.pci_ids, unprivileged=options.unprivileged)


def create_sim_host(dest: Path, snapshot: dict[str, Any]) -> HostPaths:
    """Materialize a recorded host into `dest` as a persistent simulated host (for --root)."""
    if dest.exists() and any(dest.iterdir()):
        raise InputError(f"{dest} is not empty; give a new or empty directory")
    dest.mkdir(parents=True, exist_ok=True)
    return materialize(snapshot, dest)

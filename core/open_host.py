"""Provides open_host(): the Host the user's options name — this machine, a tree, a recording or the
demo — with its usage facts and its kernel interface wired in; and create_sim_host() for `sim-host`.

A recorded or demo host is materialized into a private temp dir and is writable there through the
simulated kernel; nothing ever reaches this machine's /sys.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vfio_tui.core.errors import HostDataError, InputError
from vfio_tui.core.gpu import AUDIO_CLASS, DISPLAY_CLASS
from vfio_tui.core.host import Host, HostKind, HostOptions
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.simulated.materialize import SIM_METADATA, materialize, read_sim_metadata
from vfio_tui.core.snapshot import load_snapshot
from vfio_tui.core.usage import facts_recorded
from vfio_tui.core.usage_live import usage_source

if TYPE_CHECKING:
    from vfio_tui.core.address import PciAddress
    from vfio_tui.core.model import HostInventory
    from vfio_tui.core.remote.fetch import FetchedSnapshot
    from vfio_tui.core.remote.hosts import HostEntry
    from vfio_tui.core.simulated.kernel import SimulatedKernel
    from vfio_tui.core.simulated.services import SimulatedServices


def gpu_annotate(paths: HostPaths, inv: HostInventory, focus: PciAddress | None = None) -> HostInventory:
    """core.gpu.inventory.annotate, imported only where a display or audio function exists (its modules
    cost ~7 ms of start-up, and most hosts in a fleet have no GPU to pass)."""
    if not any(d.class_code.startswith((DISPLAY_CLASS, AUDIO_CLASS)) for d in inv):
        return inv
    from vfio_tui.core.gpu.inventory import annotate

    return annotate(paths, inv, focus)


ANNOTATORS = (gpu_annotate,)
"""What open_host adds to every host whose usage it knows: the GPU facts (docs/gpu.md)."""


def materialized_host(snapshot: dict[str, Any], kind: HostKind, label: str,
                      options: HostOptions | None = None) -> Host:
    """A simulated host in a fresh temp dir, built from a recorded host."""
    import shutil
    import tempfile

    tmp = Path(tempfile.mkdtemp(prefix="vfio-tui-host-"))
    try:
        paths = materialize(snapshot, tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    opts = options or HostOptions()
    if opts.demo_pace:
        _simulated_kernel(paths).update_metadata(pace=opts.demo_pace)
    return _simulated(paths, kind, label, read_sim_metadata(paths) or {}, opts, tmp)


def _simulated_kernel(paths: HostPaths) -> SimulatedKernel:
    # Imported when the first write comes: a read-only command (most of them) never loads the simulator.
    from vfio_tui.core.simulated.kernel import SimulatedKernel

    return SimulatedKernel(paths)


def _simulated_services(paths: HostPaths) -> SimulatedServices:
    from vfio_tui.core.simulated.services import SimulatedServices

    return SimulatedServices(paths)


def _simulated(paths: HostPaths, kind: HostKind, label: str, metadata: dict[str, Any], options: HostOptions,
               tmpdir: Path | None = None) -> Host:
    extras = metadata.get("host_extras")
    extras = extras if isinstance(extras, dict) else {}
    return Host(paths=paths, kind=kind, label=label, simulated=True, metadata=metadata,
                pci_ids_path=options.pci_ids, unprivileged=options.unprivileged,
                usage=usage_source(paths, extras), host_use_known=facts_recorded(extras), annotators=ANNOTATORS,
                kernel_factory=_simulated_kernel, services_factory=_simulated_services, _tmpdir=tmpdir)


def _is_live_root(root: Path) -> bool:
    """Whether a --root names this machine's own root, however spelled (/, //, /tmp/.., /proc/self/root)."""
    try:
        # One identity check covers every spelling: a path that resolves to / is / (a realpath would
        # add ~10 lstats to every --root read).
        return os.path.samefile(root, "/")
    except OSError:
        return False


def open_host(options: HostOptions) -> Host:
    """Open the host the options name (the live machine when none).

    Raises:
        InputError: contradictory options or a missing root.
        HostDataError: a recorded host that cannot be used.
    """
    options.validate()
    if options.on is not None:
        return open_remote_host(options)
    if options.demo:
        label, snapshot = demo_host_snapshot(options.demo_name)
        return materialized_host(snapshot, "demo", label, options)
    if options.snapshot is not None:
        snap = load_snapshot(options.snapshot)
        label = snap.get("label") or options.snapshot.name
        return materialized_host(snap, "snapshot", f"recorded: {label}", options)
    if options.root is not None:
        root = options.root
        if not root.is_dir():
            raise InputError(f"--root {root}: not a directory")
        if _is_live_root(root):
            # A tree that is this machine is this machine: labelled, guarded and changed as such.
            return _live(options, label=f"this machine (--root {root} is /)")
        paths = HostPaths(root.resolve())
        meta = read_sim_metadata(paths)
        if meta is None and os.path.lexists(paths.root / SIM_METADATA):
            raise HostDataError("this simulated host's metadata is damaged (not vfio-tui's JSON)",
                                path=str(paths.root / SIM_METADATA),
                                fix="make the tree again with `vfio-tui sim-host DIR`")
        if meta is not None:
            return _simulated(paths, "root", f"simulated: {meta.get('label') or root}", meta, options)
        # A plain tree (a mounted system, an image): its devices can be read, but nothing says
        # what that system uses them for.
        return Host(paths=paths, kind="root", label=f"tree: {root}", simulated=False,
                    pci_ids_path=options.pci_ids, unprivileged=options.unprivileged,
                    usage=None, host_use_known=False)
    return _live(options)


def open_remote_host(options: HostOptions) -> Host:
    """A named host's recording, fetched over ssh now and replayed like --host-snapshot: every read
    command on `--on NAME` is the local command on that recording."""
    from vfio_tui.core.remote.hosts import load_hosts

    assert options.on is not None
    return remote_host(load_hosts().get(options.on), options)[0]


def remote_host(entry: HostEntry, options: HostOptions | None = None,
                timeout: float = 120.0) -> tuple[Host, FetchedSnapshot]:
    """Fetch `entry`'s recording and open it as a host (kind "snapshot", `remote` set)."""
    from vfio_tui.core.remote.fetch import fetch_snapshot

    fetched = fetch_snapshot(entry, timeout=timeout)
    label = fetched.data.get("label") or fetched.node or entry.destination
    host = materialized_host(fetched.data, "snapshot", f"{entry.name}: {label}", options)
    host.remote = entry.name
    # A remote sim-host tree or demo has no libvirtd behind it: its VMs are its own vfio-tui's.
    host.libvirt_uri = None if entry.root or entry.demo else entry.default_libvirt_uri()
    return host, fetched


def _live(options: HostOptions, *, label: str = "this machine") -> Host:
    paths = HostPaths(Path("/"))
    return Host(paths=paths, kind="live", label=label, simulated=False, pci_ids_path=options.pci_ids,
                unprivileged=options.unprivileged, usage=usage_source(paths, None), annotators=ANNOTATORS)


def demo_host_snapshot(name: str = "host192") -> tuple[str, dict[str, Any]]:
    """(label, recorded host) of a built-in demo host (core.host.DEMO_NAMES); its data is loaded when asked."""
    if name == "host192":
        from vfio_tui.core.simulated.demo_host import DEMO_LABEL, demo_snapshot

        return DEMO_LABEL, demo_snapshot()
    from vfio_tui.core.simulated.demo_workstation import DEMOS, demo_gpu_snapshot

    if name not in DEMOS:
        raise InputError(f"--demo {name}: no such demo host")
    return DEMOS[name][0], demo_gpu_snapshot(name)


def create_sim_host(dest: Path, snapshot: dict[str, Any]) -> HostPaths:
    """Materialize a recorded host into `dest` as a persistent simulated host (for --root)."""
    existed = dest.exists()
    if existed and any(dest.iterdir()):
        raise InputError(f"{dest} is not empty; give a new or empty directory")
    dest.mkdir(parents=True, exist_ok=True)
    try:
        return materialize(snapshot, dest)
    except BaseException:
        import shutil

        # A refused recording leaves nothing: not half a tree to mistake for a host later.
        shutil.rmtree(dest, ignore_errors=True)  # rmtree never follows a link inside the tree
        if existed:
            dest.mkdir(exist_ok=True)
        raise

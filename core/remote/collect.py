"""The collector: what a host without vfio-tui runs (`python3 - [--root DIR]`, its code on stdin) to
print the same `vfio-lab-sysfs-snapshot/1` recording `vfio-tui snapshot -` prints. Read-only.

It is this module and the core modules it imports, carried to the host in memory by
core.remote.bundle; so it must import nothing outside the standard library and core's stdlib-only
modules (a test runs the bundle with `python3 -I -S`, no site-packages at all). The device part is
core.snapshot_record itself; the host-use facts are core.usage_live's, read without psutil.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Final

SIM_METADATA: Final = ".vfio-tui-sim.json"
"""core.simulated.materialize.SIM_METADATA (not imported: the simulation stays off the wire)."""


def collect(root: Path, label: str | None = None) -> dict[str, Any]:
    """The recording `vfio-tui snapshot` makes of the host under `root` (/ for the machine itself)."""
    from vfio_tui.core.hostpaths import HostPaths
    from vfio_tui.core.snapshot_record import record_host

    paths = HostPaths(root)
    extras: dict[str, Any] | None
    if paths.is_live:
        from vfio_tui.core.livefacts import ProcFacts
        from vfio_tui.core.usage_live import gather_live_extras

        extras = gather_live_extras(paths, facts=ProcFacts(paths))
        held = virsh_vm_devices()
        if held is not None:
            extras["vm_devices"] = held
        default_label = "this machine"
    else:
        meta = _sim_metadata(paths.root)
        if meta is not None:
            host_extras = meta.get("host_extras")
            extras = dict(host_extras) if isinstance(host_extras, dict) else {}
            default_label = f"simulated: {meta.get('label') or root}"
        else:
            extras = {}
            default_label = f"tree: {root}"
    from vfio_tui.core.recordfiles import record_check_files

    files = record_check_files(paths)
    if files:  # as `vfio-tui snapshot` does: the checks answer on the replay
        extras = {**(extras or {}), "files": {**files, **((extras or {}).get("files") or {})}}
    return record_host(paths, label=label or default_label, extras=extras or None)


def hostdev_addresses(domain_xml: str) -> list[str]:
    """The PCI host devices of a domain definition (<hostdev type='pci'> and <interface type='hostdev'>),
    as 0000:0b:00.0 — with the standard library's XML parser (lxml is not on the host)."""
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(domain_xml)
    except ET.ParseError:
        return []
    found = []
    for el in root.iter():
        is_pci = el.tag == "hostdev" and el.get("type") == "pci"
        if not (is_pci or (el.tag == "interface" and el.get("type") == "hostdev")):
            continue
        addr = el.find("source/address")
        if addr is None:
            continue
        try:
            parts = [int(addr.get(k, "0"), 0) for k in ("domain", "bus", "slot", "function")]
        except ValueError:
            continue
        found.append(f"{parts[0]:04x}:{parts[1]:02x}:{parts[2]:02x}.{parts[3]:x}")
    return found


def virsh_vm_devices(timeout: float = 20.0, max_vms: int = 500) -> list[dict[str, Any]] | None:
    """Which libvirt VM has which PCI device ({pci, vm, state, active, live}, as `vfio-tui snapshot`
    records them), asked through `virsh -r` (read-only); None when there is no virsh or no libvirtd."""
    import shutil
    import subprocess

    virsh = shutil.which("virsh")
    if virsh is None:
        return None

    def run(*args: str) -> str | None:
        try:
            res = subprocess.run([virsh, "-r", "-c", "qemu:///system", "-q", *args], capture_output=True,
                                 text=True, timeout=timeout, check=False)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return res.stdout if res.returncode == 0 else None

    names = run("list", "--all", "--name")
    if names is None:
        return None
    out: list[dict[str, Any]] = []
    for name in [n.strip() for n in names.splitlines() if n.strip()][:max_vms]:
        state = (run("domstate", name) or "").strip() or "?"
        active = state not in ("shut off", "?")
        live = set(hostdev_addresses(run("dumpxml", name) or "")) if active else set()
        persistent = set(hostdev_addresses(run("dumpxml", "--inactive", name) or ""))
        for pci in sorted(live | persistent):
            out.append({"pci": pci, "vm": name, "state": state, "active": active, "live": pci in live})
    return out


def _sim_metadata(root: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((root / SIM_METADATA).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def main(argv: list[str]) -> int:
    """`--root DIR` / `--label TEXT`; the recording on stdout, one line on stderr when it fails."""
    root, label = Path("/"), None
    args = list(argv)
    while args:
        word = args.pop(0)
        if word in ("--root", "--label") and args:
            value = args.pop(0)
            if word == "--root":
                root = Path(value)
            else:
                label = value
        elif word == "--demo":
            print("vfio-tui collector: the demo host needs vfio-tui itself on that machine", file=sys.stderr)
            return 2
        else:
            print(f"vfio-tui collector: unknown argument {word[:60]!r}", file=sys.stderr)
            return 2
    if not root.is_dir():
        print(f"vfio-tui collector: --root {root}: not a directory", file=sys.stderr)
        return 2
    try:
        snap = collect(root.resolve() if str(root) != "/" else root, label)
    except Exception as exc:  # noqa: BLE001 - one line back over ssh, never a traceback
        print(f"vfio-tui collector: {type(exc).__name__}: {exc}"[:400], file=sys.stderr)
        return 2
    sys.stdout.write(json.dumps(snap, indent=1, sort_keys=True) + "\n")
    return 0

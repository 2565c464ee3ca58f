"""Provides the demo hypervisor's persistence in a simulated host tree.

libvirt's test driver keeps its state in the process. A persistent simulated host
(`vfio-tui sim-host DIR`, then `--root DIR`) keeps the demo's domains in
DIR/var/lib/vfio-tui/demo-libvirt.xml, so `attach` in one command is seen by `vms` in the
next, as with a real daemon. The file is the test driver's own format (a <node> with
<domain> children; <test:runstate>5</test:runstate> marks a domain shut off).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from lxml import etree

from core import safefile
from core.libvirt.connection import DEMO_XML, Hypervisor

if TYPE_CHECKING:
    from core.host import Host

TEST_NS: Final = "http://libvirt.org/schemas/domain/test/1.0"
RUNNING: Final = 1


@dataclass(frozen=True, slots=True)
class DemoStateFile:
    """The demo hypervisor's state file of a sim-host tree, and the tree it must stay inside."""

    root: Path
    path: Path


def demo_state_file(host: Host) -> DemoStateFile | None:
    """Where a persistent simulated host keeps the demo hypervisor (None for other hosts)."""
    if host.kind == "root" and host.simulated:
        return DemoStateFile(host.paths.root, host.paths.state_dir / "demo-libvirt.xml")
    return None


def ensure_demo_state(state: DemoStateFile) -> Path:
    """The state file, created from the shipped demo on first use (inside the tree, never through a
    link; a state file that is a link or not a regular file is refused). Returns its in-tree path
    with every directory link resolved, for libvirt's test driver to open."""
    if not safefile.exists(state.root, state.path):
        safefile.replace(state.root, state.path, DEMO_XML.read_bytes(), private=True)
    with safefile.open_regular(state.root, state.path):
        pass  # a regular file, not a link
    return safefile.resolve(state.root, state.path, follow_last=False)


def save_demo_state(hv: Hypervisor, state: DemoStateFile) -> None:
    """Write every domain of the test driver back into the state file (atomically)."""
    lv = hv.libvirt
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    tree = etree.fromstring(safefile.read_bytes(state.root, state.path, follow=False), parser).getroottree()
    root = tree.getroot()
    for old in root.findall("domain"):
        root.remove(old)
    for dom in sorted(hv.conn.listAllDomains(), key=lambda d: d.name()):
        flags = lv.VIR_DOMAIN_XML_INACTIVE if dom.isPersistent() else 0
        el = etree.fromstring(dom.XMLDesc(flags).encode())
        if "id" in el.attrib:
            del el.attrib["id"]
        run_state = int(dom.state()[0])
        if run_state != RUNNING:
            etree.SubElement(el, f"{{{TEST_NS}}}runstate").text = str(run_state)
        etree.indent(el, space="  ", level=1)
        el.tail = "\n"
        root.append(el)
    etree.indent(root, space="  ")
    data = etree.tostring(tree, xml_declaration=True, encoding="UTF-8")
    safefile.replace(state.root, state.path, data, private=True)

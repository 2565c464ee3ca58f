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

from vfio_tui.core import safefile
from vfio_tui.core.libvirt.connection import DEMO_XML, Hypervisor

if TYPE_CHECKING:
    from vfio_tui.core.host import Host

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


def demo_state_source(state: DemoStateFile, source: Path | None = None) -> Path:
    """The file the demo hypervisor starts from: the tree's state file (inside the tree, never through a
    link; one that is a link or not a regular file is refused), or the shipped demo (`source`, host192's
    by default) before the first change. Nothing is written here, so a read-only command works on a
    read-only /var (and for a user who may read the tree but not write it)."""
    if not safefile.exists(state.root, state.path):
        return Path(source or DEMO_XML)
    with safefile.open_regular(state.root, state.path):
        pass  # a regular file, not a link
    return safefile.resolve(state.root, state.path, follow_last=False)


def demo_state_bytes(hv: Hypervisor, state: DemoStateFile) -> bytes:
    """The state file's content for the test driver's domains now."""
    lv = hv.libvirt
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    source = (safefile.read_bytes(state.root, state.path, follow=False) if safefile.exists(state.root, state.path)
              else Path(hv.uri.removeprefix("test://")).read_bytes())  # the shipped demo it was opened from
    tree = etree.fromstring(source, parser).getroottree()
    root = tree.getroot()
    for old in root.findall("domain"):
        root.remove(old)
    for dom in sorted(hv.conn.listAllDomains(), key=lambda d: d.name()):
        flags = lv.VIR_DOMAIN_XML_INACTIVE if dom.isPersistent() else 0
        el = etree.fromstring(dom.XMLDesc(flags).encode())
        if "id" in el.attrib:
            del el.attrib["id"]
        state_now = int(dom.state()[0])
        if state_now != RUNNING:
            etree.SubElement(el, f"{{{TEST_NS}}}runstate").text = str(state_now)
        etree.indent(el, space="  ", level=1)
        el.tail = "\n"
        root.append(el)
    etree.indent(root, space="  ")
    return bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))


def save_demo_state(hv: Hypervisor, state: DemoStateFile, unchanged: bytes | None = None) -> None:
    """Write every domain of the test driver back into the state file (atomically), unless nothing
    changed since `unchanged` was taken (a read-only command writes nothing)."""
    data = demo_state_bytes(hv, state)
    if data != unchanged:
        safefile.replace(state.root, state.path, data, private=True)

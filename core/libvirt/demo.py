"""Provides the demo hypervisor's persistence in a simulated host tree.

libvirt's test driver keeps its state in the process. A persistent simulated host
(`vfio-tui sim-host DIR`, then `--root DIR`) keeps the demo's domains in
DIR/var/lib/vfio-tui/demo-libvirt.xml, so `attach` in one command is seen by `vms` in the
next, as with a real daemon. The file is the test driver's own format (a <node> with
<domain> children; <test:runstate>5</test:runstate> marks a domain shut off).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Final

from lxml import etree

from core.libvirt.connection import DEMO_XML, Hypervisor

if TYPE_CHECKING:
    from core.host import Host

TEST_NS: Final = "http://libvirt.org/schemas/domain/test/1.0"
RUNNING: Final = 1


def demo_state_file(host: Host) -> Path | None:
    """Where a persistent simulated host keeps the demo hypervisor (None for other hosts)."""
    if host.kind == "root" and host.simulated:
        return host.paths.state_dir / "demo-libvirt.xml"
    return None


def demo_state_source(path: Path) -> Path:
    """The file the demo hypervisor starts from: the tree's state, or the shipped demo before the
    first change. Nothing is written here, so a read-only command works on a read-only /var (and for
    a user who may read the tree but not write it)."""
    return path if path.is_file() else Path(DEMO_XML)


def demo_state_bytes(hv: Hypervisor, path: Path) -> bytes:
    """The state file's content for the test driver's domains now."""
    lv = hv.libvirt
    tree = etree.parse(str(demo_state_source(path)), etree.XMLParser(resolve_entities=False, no_network=True))
    root = tree.getroot()
    for old in root.findall("domain"):
        root.remove(old)
    for dom in sorted(hv.conn.listAllDomains(), key=lambda d: d.name()):
        flags = lv.VIR_DOMAIN_XML_INACTIVE if dom.isPersistent() else 0
        el = etree.fromstring(dom.XMLDesc(flags).encode())
        if "id" in el.attrib:
            del el.attrib["id"]
        state = int(dom.state()[0])
        if state != RUNNING:
            etree.SubElement(el, f"{{{TEST_NS}}}runstate").text = str(state)
        etree.indent(el, space="  ", level=1)
        el.tail = "\n"
        root.append(el)
    etree.indent(root, space="  ")
    return bytes(etree.tostring(tree, xml_declaration=True, encoding="UTF-8"))


def save_demo_state(hv: Hypervisor, path: Path, unchanged: bytes | None = None) -> None:
    """Write every domain of the test driver back into the state file (atomically), unless nothing
    changed since `unchanged` was taken (a read-only command writes nothing)."""
    data = demo_state_bytes(hv, path)
    if data == unchanged:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)

"""Provides the demo hypervisor's persistence in a simulated host tree.

libvirt's test driver keeps its state in the process. A persistent simulated host
(`vfio-tui sim-host DIR`, then `--root DIR`) keeps the demo's domains in
DIR/var/lib/vfio-tui/demo-libvirt.xml, so `attach` in one command is seen by `vms` in the
next, as with a real daemon. The file is the test driver's own format (a <node> with
<domain> children; <test:runstate>5</test:runstate> marks a domain shut off).
"""

from __future__ import annotations

import os
import shutil
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


def ensure_demo_state(path: Path, source: Path | None = None) -> Path:
    """The state file, created from the shipped demo (`source`, host192's by default) on first use."""
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source or DEMO_XML, path)
    return path


def save_demo_state(hv: Hypervisor, path: Path) -> None:
    """Write every domain of the test driver back into the state file (atomically)."""
    lv = hv.libvirt
    tree = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
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
    tmp = path.with_suffix(".tmp")
    tree.write(str(tmp), xml_declaration=True, encoding="UTF-8")
    os.replace(tmp, path)

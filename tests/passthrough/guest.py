"""A guest's behaviour around libvirt's test driver, which cannot hot-unplug and powers off at once:
a domain wrapper whose guest acknowledges an ACPI unplug after a delay (or never), and may ignore the
ACPI power button. It stands in for QEMU and the guest OS — the libvirt side of the world — while
vfio-tui's core runs unchanged on top of it."""

from __future__ import annotations

import threading
import time
from typing import Any

from lxml import etree

from vfio_tui.core.libvirt.connection import Hypervisor


class GuestDomain:
    """A virDomain of the test driver with a guest that answers (or not) ACPI events."""

    def __init__(self, dom: Any, lv: Any, *, unplug_after: float | None, obeys_power_button: bool) -> None:
        self._dom = dom
        self._lv = lv
        self._live: str | None = None
        self._unplug_after = unplug_after
        self._obeys = obeys_power_button
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dom, name)

    def XMLDesc(self, flags: int = 0) -> str:  # noqa: N802 - libvirt's name
        with self._lock:
            if not flags & self._lv.VIR_DOMAIN_XML_INACTIVE and self._live is not None and self._dom.isActive():
                return self._live
        return str(self._dom.XMLDesc(flags))

    def detachDeviceFlags(self, xml: str, flags: int) -> None:  # noqa: N802 - libvirt's name
        if not flags & self._lv.VIR_DOMAIN_AFFECT_LIVE:
            self._dom.detachDeviceFlags(xml, flags)
            return
        source = etree.fromstring(xml.encode()).find("source/address")
        assert source is not None
        with self._lock:
            if self._live is None:
                self._live = str(self._dom.XMLDesc(0))
        if self._unplug_after is None:
            return  # the guest never answers the ACPI eject request: libvirt keeps the device

        def release() -> None:
            time.sleep(self._unplug_after or 0.0)
            with self._lock:
                root = etree.fromstring((self._live or "").encode())
                for hd in root.iterfind("devices/hostdev"):
                    addr = hd.find("source/address")
                    if addr is not None and addr.attrib == source.attrib:
                        hd.getparent().remove(hd)  # type: ignore[union-attr]
                self._live = etree.tostring(root, encoding="unicode")

        threading.Thread(target=release, daemon=True).start()

    def shutdown(self) -> None:
        if self._obeys:
            self._dom.shutdown()


class GuestConn:
    """The test driver's connection, handing out GuestDomain for one VM."""

    def __init__(self, conn: Any, lv: Any, vm: str, **guest: Any) -> None:
        self._conn = conn
        self._vm = vm
        self._guest = GuestDomain(conn.lookupByName(vm), lv, **guest)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    def lookupByName(self, name: str) -> Any:  # noqa: N802 - libvirt's name
        return self._guest if name == self._vm else self._conn.lookupByName(name)

    def listAllDomains(self, flags: int = 0) -> list[Any]:  # noqa: N802 - libvirt's name
        return [self._guest if d.name() == self._vm else d for d in self._conn.listAllDomains(flags)]


def with_guest(hv: Hypervisor, vm: str, *, unplug_after: float | None = 0.2,
               obeys_power_button: bool = True) -> Hypervisor:
    """The same hypervisor, with `vm`'s guest behaving as told."""
    conn = GuestConn(hv.conn, hv.libvirt, vm, unplug_after=unplug_after, obeys_power_button=obeys_power_button)
    return Hypervisor(conn, hv.uri, demo=hv.demo, state_file=hv.state_file)

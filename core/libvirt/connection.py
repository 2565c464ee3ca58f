"""Provides open_hypervisor() and Hypervisor: a libvirt connection with domain listing.

libvirt-python is imported only here, inside functions. Its default error handler prints
every error to stderr ("libvirt: QEMU Driver error : ..."); it is replaced by a silent one,
because every error reaches the user once, as a VfioError with a fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from vfio_tui.core.address import PciAddress
from vfio_tui.core.errors import InputError
from vfio_tui.core.libvirt.errors import (
    VIR_ERR_NO_DOMAIN,
    UnknownDomainError,
    connect_error,
    error_fields,
    operation_error,
)
from vfio_tui.core.libvirt.xml import DomainXml, Hostdev

if TYPE_CHECKING:
    from vfio_tui.core.host import Host
    from vfio_tui.core.libvirt.demo import DemoStateFile

DEFAULT_URI: Final = "qemu:///system"
DEMO_XML: Final = Path(__file__).resolve().parent.parent / "data" / "demo-libvirt.xml"

#: virDomainState -> the words virsh prints (tools/virsh-domain-monitor.c virshDomainStateToString).
STATE_NAMES: Final = {0: "no state", 1: "running", 2: "idle", 3: "paused", 4: "in shutdown",
                      5: "shut off", 6: "crashed", 7: "pmsuspended"}


def demo_uri(xml: Path | None = None) -> str:
    """The test-driver URI of a demo hypervisor shipped with vfio-tui (the seed's host192 by default)."""
    return f"test://{xml or DEMO_XML}"


def demo_xml_named(name: object) -> Path:
    """The shipped demo hypervisor file a demo host names (its `libvirt_demo` fact), else host192's."""
    if isinstance(name, str) and name and "/" not in name and name.endswith(".xml"):
        path = DEMO_XML.parent / name
        if path.is_file():
            return path
    return DEMO_XML


def _silence_libvirt(libvirt: Any) -> None:
    def ignore(_ctx: object, _err: object) -> None:
        return None

    libvirt.registerErrorHandler(ignore, None)


_silenced: list[bool] = []


def import_libvirt() -> Any:
    """libvirt-python, with its stderr printer silenced (once per process)."""
    try:
        import libvirt
    except ImportError:
        raise InputError("libvirt-python is not installed",
                         fix="pip install libvirt-python (needs libvirt-dev), or apt install python3-libvirt") from None
    if not _silenced:
        _silence_libvirt(libvirt)
        _silenced.append(True)
    return libvirt


@dataclass(frozen=True)
class DomainInfo:
    """A libvirt domain as `vfio-tui vms` shows it."""

    name: str
    state: str
    """virsh's words: running, shut off, paused, ..."""
    hostdevs: list[PciAddress]
    """PCI hostdevs in the persistent or the live definition (sorted, no duplicates): <hostdev> and
    <interface type='hostdev'> alike, as libvirt claims both at start (virHostdevPreparePCIDevices
    gets an interface's hostdev through def->hostdevs, src/conf/domain_conf.c)."""
    persistent: bool = True
    active: bool = False
    id: int | None = None
    details: list[Hostdev] = field(default_factory=list)
    """The hostdev elements (live definition when running, else the persistent one); an SR-IOV VF
    given as a NIC has Hostdev.interface set, with its mac and vlan."""
    config_hostdevs: list[PciAddress] = field(default_factory=list)
    live_hostdevs: list[PciAddress] = field(default_factory=list)


class Hypervisor:
    """An open libvirt connection."""

    def __init__(self, conn: Any, uri: str, *, demo: bool = False, state_file: DemoStateFile | None = None) -> None:
        self.conn = conn
        self.uri = uri
        self.demo = demo
        """True for the shipped demo (libvirt's test driver over core/data/demo-libvirt.xml)."""
        self.state_file = state_file
        """The demo's state in a persistent simulated host; written back on close() when it changed."""
        self._state_at_open: bytes | None = None

    @property
    def driver(self) -> str:
        """libvirt's driver name: QEMU, Test, ..."""
        try:
            return str(self.conn.getType())
        except Exception:  # noqa: BLE001
            return "unknown"

    @property
    def libvirt(self) -> Any:
        return import_libvirt()

    def runs_on(self, host: Host) -> bool:
        """Whether this hypervisor's VMs run on `host`, so that the host's logs are theirs.

        The demo goes with any simulated host; a local URI (no host name: qemu:///system) with
        the live machine. A simulated host next to a real daemon, or a remote URI, does not.
        """
        if self.demo:
            return host.simulated
        rest = self.uri.split("://", 1)[1] if "://" in self.uri else ""
        return rest.startswith("/") and host.paths.is_live

    def lookup(self, name: str) -> Any:
        """The virDomain called `name`.

        Raises:
            UnknownDomainError: no such domain (the message lists the ones there are).
        """
        lv = self.libvirt
        try:
            return self.conn.lookupByName(name)
        except lv.libvirtError as exc:
            code, _dom, _msg = error_fields(exc)
            if code == VIR_ERR_NO_DOMAIN:
                names = sorted(d.name() for d in self.conn.listAllDomains())
                known = ", ".join(names) if names else "none"
                raise UnknownDomainError(f"no VM named {name!r} on {self.uri} (VMs: {known})",
                                         fix="`vfio-tui vms` lists them") from None
            raise operation_error(f"looking up VM {name!r}", exc) from None

    def xml(self, name_or_dom: str | Any, *, inactive: bool) -> str:
        """The domain's XML: the persistent definition (inactive=True) or the live one."""
        lv = self.libvirt
        dom = self.lookup(name_or_dom) if isinstance(name_or_dom, str) else name_or_dom
        flags = lv.VIR_DOMAIN_XML_INACTIVE if inactive else 0
        try:
            return str(dom.XMLDesc(flags))
        except lv.libvirtError as exc:
            raise operation_error(f"reading the XML of {dom.name()!r}", exc) from None

    def define(self, xml: str) -> Any:
        """defineXML: replace the persistent definition."""
        lv = self.libvirt
        try:
            return self.conn.defineXML(xml)
        except lv.libvirtError as exc:
            raise operation_error("defining the VM", exc) from None

    def state(self, dom: Any) -> str:
        lv = self.libvirt
        try:
            st = dom.state()[0]
        except lv.libvirtError as exc:
            raise operation_error(f"reading the state of {dom.name()!r}", exc) from None
        return STATE_NAMES.get(int(st), f"state {st}")

    def domain_info(self, dom: Any) -> DomainInfo:
        active = bool(dom.isActive())
        persistent = bool(dom.isPersistent())
        config = DomainXml(self.xml(dom, inactive=True)).hostdevs() if persistent else []
        live = DomainXml(self.xml(dom, inactive=False)).hostdevs() if active else []
        cfg_addrs = [h.address for h in config]
        live_addrs = [h.address for h in live]
        dom_id = dom.ID() if active else None
        return DomainInfo(
            name=str(dom.name()), state=self.state(dom), hostdevs=sorted(set(cfg_addrs) | set(live_addrs)),
            persistent=persistent, active=active, id=dom_id if dom_id is None or dom_id >= 0 else None,
            details=live if active else config, config_hostdevs=cfg_addrs, live_hostdevs=live_addrs,
        )

    def list_domains(self) -> list[DomainInfo]:
        """Every domain (defined and running), sorted by name."""
        lv = self.libvirt
        try:
            doms = self.conn.listAllDomains()
        except lv.libvirtError as exc:
            raise operation_error("listing VMs", exc) from None
        return sorted((self.domain_info(d) for d in doms), key=lambda i: i.name)

    def hostdev_owners(self) -> dict[PciAddress, list[DomainInfo]]:
        """Which domains hold each PCI address (in their persistent or live definition), through a
        <hostdev> or an <interface type='hostdev'>."""
        owners: dict[PciAddress, list[DomainInfo]] = {}
        for info in self.list_domains():
            for a in info.hostdevs:
                owners.setdefault(a, []).append(info)
        return owners

    def save_state(self) -> None:
        """Write a sim-host tree's demo VMs back to its state file (nothing for other hypervisors)."""
        if self.state_file is not None:
            from vfio_tui.core.libvirt.demo import save_demo_state

            save_demo_state(self, self.state_file, self._state_at_open)

    def remember_state(self) -> None:
        """Note the demo's state now, so that close() writes only a change."""
        if self.state_file is not None:
            from vfio_tui.core.libvirt.demo import demo_state_bytes

            self._state_at_open = demo_state_bytes(self, self.state_file)

    def close(self) -> None:
        if self.state_file is not None:
            self.save_state()
            self.state_file = None
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001 - closing a dead connection is not an error worth reporting
            pass

    def __enter__(self) -> Hypervisor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_uri(uri: str) -> None:
    if "://" not in uri or uri.startswith("://"):
        raise InputError(f"not a libvirt URI: {uri!r}",
                         fix="e.g. qemu:///system, qemu+ssh://root@host/system, test:///default")
    if uri.startswith("test:///") and not uri.startswith("test:///default"):
        # libxml2 would print an "I/O warning" to stderr before libvirt reports the error.
        path = Path(uri[len("test://"):].split("?", 1)[0])
        if not path.is_file():
            raise InputError(f"--connect {uri}: no test-driver file {path}",
                             fix="give an existing file, or test:///default")


def open_hypervisor(uri: str | None, *, demo: bool = False, events: bool = False,
                    state_file: DemoStateFile | None = None, demo_xml: Path | None = None) -> Hypervisor:
    """Open a libvirt connection.

    uri None means qemu:///system, or the shipped demo (test driver) when `demo` is set;
    with `state_file` the demo starts from (and close() saves to) that file instead.
    events=True runs libvirt's event loop first (needed by watch_domain).

    Raises:
        InputError: a malformed URI.
        ConnectError: libvirt could not connect (no daemon, no permission, bad driver), with a fix.
    """
    is_demo = uri is None and demo
    if uri is None and demo and state_file is not None:
        from vfio_tui.core.libvirt.demo import demo_state_source

        uri = f"test://{demo_state_source(state_file, demo_xml)}"
    elif uri is None:
        uri = demo_uri(demo_xml) if demo else DEFAULT_URI
    _check_uri(uri)
    lv = import_libvirt()
    if events:
        from vfio_tui.core.libvirt.watch import enable_events

        enable_events()
    try:
        conn = lv.open(uri)
    except lv.libvirtError as exc:
        raise connect_error(uri, exc) from None
    if conn is None:  # very old bindings returned None instead of raising
        raise connect_error(uri, RuntimeError("libvirt returned no connection"))
    hv = Hypervisor(conn, uri, demo=is_demo or uri == demo_uri(demo_xml),
                    state_file=state_file if is_demo and state_file is not None else None)
    hv.remember_state()
    return hv

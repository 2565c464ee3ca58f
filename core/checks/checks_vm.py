"""Provides the `--vm NAME` checks: locked-memory limit against the VM's RAM (kernel-semantics A5:
VFIO pins all guest RAM; libvirt sets QEMU's limit to RAM + 1 GiB) and the machine type.

The domain XML comes from the hypervisor when one is reachable, else from the persistent
definition /etc/libvirt/qemu/NAME.xml under the host root.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vfio_tui.core.checks.context import CheckContext
from vfio_tui.core.checks.result import CheckResult, cannot_tell
from vfio_tui.core.errors import InputError

GiB = 1024**3
_UNITS = {"b": 1, "bytes": 1, "kb": 1000, "k": 1024, "kib": 1024, "mb": 1000**2, "m": 1024**2, "mib": 1024**2,
          "gb": 1000**3, "g": GiB, "gib": GiB, "tb": 1000**4, "t": 1024**4, "tib": 1024**4}


@dataclass(frozen=True)
class VmFacts:
    """What the checks need from a domain definition."""

    name: str
    source: str
    memory: int | None
    """Bytes."""
    locked: bool
    hard_limit: int | None
    machine: str | None
    hostdevs: int
    running: bool
    xml: str = ""
    """The definition itself (for the checks that read more of it)."""


def _size(el: Any) -> int | None:
    if el is None or not (el.text or "").strip().isdigit():
        return None
    unit = (el.get("unit") or "KiB").lower()
    return int(el.text.strip()) * _UNITS.get(unit, 1024)


def parse_domain_xml(name: str, xml: str, source: str) -> VmFacts:
    from lxml import etree

    try:
        root = etree.fromstring(xml.encode())
    except etree.XMLSyntaxError as exc:
        raise InputError(f"the definition of VM {name} is not valid XML: {exc}", path=source) from None
    os_type = root.find("os/type")
    return VmFacts(
        name=name, source=source,
        memory=_size(root.find("memory")),
        locked=root.find("memoryBacking/locked") is not None,
        hard_limit=_size(root.find("memtune/hard_limit")),
        machine=os_type.get("machine") if os_type is not None else None,
        hostdevs=len(root.findall("devices/hostdev")),
        running=root.get("id") not in (None, "-1"),
        xml=xml,
    )


def _xml_from_hypervisor(hv: Any, name: str) -> str | None:
    for meth in ("domain_xml", "get_domain_xml", "xml_of"):
        fn = getattr(hv, meth, None)
        if callable(fn):
            try:
                value = fn(name)
            except Exception:  # noqa: BLE001 - an unknown VM: fall back to the files
                return None
            if isinstance(value, str):
                return value
    conn = getattr(hv, "conn", None) or getattr(hv, "connection", None) or hv
    lookup = getattr(conn, "lookupByName", None)
    if callable(lookup):
        try:
            return str(lookup(name).XMLDesc(0))
        except Exception:  # noqa: BLE001 - libvirt.libvirtError (no such domain)
            return None
    return None


def vm_facts(ctx: CheckContext) -> VmFacts:
    """The VM's facts. Raises InputError when no VM of that name is known."""
    assert ctx.vm is not None
    hv, _ = ctx.get_hypervisor()
    if hv is not None:
        xml = _xml_from_hypervisor(hv, ctx.vm)
        if xml is not None:
            return parse_domain_xml(ctx.vm, xml, "hypervisor")
    path = f"/etc/libvirt/qemu/{ctx.vm}.xml"
    if "/" in ctx.vm:
        raise InputError(f"bad VM name {ctx.vm!r}")
    r = ctx.read(path)
    if r.text is None:
        known = sorted(n[:-4] for n in ctx.listdir("/etc/libvirt/qemu") or [] if n.endswith(".xml"))
        raise InputError(f"no VM named {ctx.vm!r} " + (f"(defined: {', '.join(known)})" if known else
                                                       "(no libvirt connection and no definitions under"
                                                       " /etc/libvirt/qemu)"),
                         fix="list them with `virsh list --all`; use --connect URI for another libvirt")
    return parse_domain_xml(ctx.vm, r.text, path)


def _gib(n: int) -> str:
    return f"{n / GiB:.1f} GiB"


def _running_limit(ctx: CheckContext, name: str) -> tuple[int | None, str | None]:
    pid = ctx.attr(f"/run/libvirt/qemu/{name}.pid")
    if not pid or not pid.isdigit():
        return None, None
    limits = ctx.read(f"/proc/{pid}/limits").text or ""
    for line in limits.splitlines():
        if line.startswith("Max locked memory"):
            soft = line.split()[3]
            return (-1 if soft == "unlimited" else int(soft)), f"/proc/{pid}/limits: {' '.join(line.split())}"
    return None, None


def check_memlock(ctx: CheckContext) -> CheckResult:
    cid, title = "vm-memlock", f"Locked-memory limit for VM {ctx.vm}"
    facts = vm_facts(ctx)
    if facts.memory is None:
        return cannot_tell(cid, title, f"the definition ({facts.source}) has no <memory>")
    need = facts.memory + GiB
    ev = [f"{facts.source}: memory {_gib(facts.memory)}, {facts.hostdevs} <hostdev>",
          f"needed: RAM + 1 GiB = {_gib(need)} (libvirt's rule, tests/qemumemlocktest.c)"]
    if facts.locked:
        ev.append(f"{facts.source}: <memoryBacking><locked/>")
    if facts.hard_limit is not None:
        ev.append(f"{facts.source}: <memtune><hard_limit> {_gib(facts.hard_limit)}")
    limit, lim_ev = _running_limit(ctx, facts.name)
    if lim_ev:
        ev.append(lim_ev)
        if limit is not None and limit != -1 and limit < need:
            return CheckResult(cid, title, "fail", f"the running QEMU may lock only {_gib(limit)}: VFIO DMA mapping"
                               " fails with -12 (RLIMIT_MEMLOCK exceeded)", tuple(ev),
                               "let libvirt set the limit (remove a too low <hard_limit>), or run the VM under"
                               " qemu:///system; then restart the VM")
    if facts.hard_limit is not None and not facts.locked and facts.hard_limit < need:
        return CheckResult(cid, title, "fail", f"<hard_limit> {_gib(facts.hard_limit)} is below RAM + 1 GiB:"
                           " libvirt uses it as the memlock limit", tuple(ev),
                           f"raise <memtune><hard_limit> to at least {need // 1024} KiB (virsh edit {facts.name})"
                           " or remove it")
    uri = ctx.connect_uri or ""
    if uri.endswith("/session"):
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_MEMLOCK)
        ev.append(f"RLIMIT_MEMLOCK of this session: {'unlimited' if soft < 0 else _gib(soft)}")
        if 0 <= soft < need:
            return CheckResult(cid, title, "fail", "qemu:///session cannot raise the limit (no CAP_SYS_RESOURCE):"
                               " \"cannot limit locked memory\"", tuple(ev),
                               f"raise memlock for your user in /etc/security/limits.d (>= {need // 1024} KiB),"
                               " or use qemu:///system")
    summary = ("unlimited (<locked/>), which libvirt sets itself" if facts.locked else
               "libvirt raises QEMU's limit to RAM + 1 GiB when the VM starts (qemu:///system)")
    return CheckResult(cid, title, "pass", summary, tuple(ev))


def check_machine(ctx: CheckContext) -> CheckResult:
    cid, title = "vm-machine", f"Machine type of VM {ctx.vm}"
    facts = vm_facts(ctx)
    if not facts.machine:
        return cannot_tell(cid, title, f"the definition ({facts.source}) names no machine type")
    ev = (f"{facts.source}: <os><type machine='{facts.machine}'>",)
    if "q35" in facts.machine:
        return CheckResult(cid, title, "pass", "q35: PCIe root ports for passed-through PCIe devices", ev)
    if facts.machine.startswith("pc") or "i440fx" in facts.machine:
        return CheckResult(cid, title, "warn", "i440fx has no PCIe: a PCIe device appears as conventional PCI"
                           " (drivers that need PCIe capabilities, e.g. most GPUs, misbehave)", ev,
                           "create the VM with q35 (virt-install --machine q35 ...); changing the machine type"
                           " of an installed guest renumbers its devices")
    return CheckResult(cid, title, "pass", f"machine type {facts.machine}", ev)

"""Provides run_check(): the automatic checks a finding names (catalog field `check`).

Each check reads the host through `host.paths` / `host.inventory()` only (never a literal /sys
path) and says whether the cause is present on this host now: fail (present), pass (not present),
warn, or unknown (with the command that would tell).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from vfio_tui.core.address import PciAddress
from vfio_tui.core.errors import InputError, VfioError
from vfio_tui.core.explain.model import CheckOutcome, CheckStatus, ExplainContext
from vfio_tui.core.loginput import read_log, read_tail
from vfio_tui.core.model import HostInventory, PciDevice

if TYPE_CHECKING:
    from vfio_tui.core.host import Host

CheckFn = Callable[["Host", dict[str, str], ExplainContext, dict[str, object]], CheckOutcome]
CHECKS: dict[str, CheckFn] = {}

_KERNEL_LOGS = ("/var/log/kern.log", "/var/log/messages", "/var/log/syslog", "/var/log/dmesg")
_IR_ON = re.compile(r"DMAR-IR: Enabled IRQ remapping|AMD-Vi: Interrupt remapping enabled|IRQ remapping was enabled")
_IR_OFF = re.compile(r"No interrupt remapping support|DMAR-IR: (?:IRQ remapping disabled|Queued invalidation will be "
                     r"enabled to support x2apic and Intr-remapping)?\s{0,16}$|intremap=off|"
                     r"x2apic: IRQ remapping doesn't")
_TAIL = 4 << 20


def check(name: str) -> Callable[[CheckFn], CheckFn]:
    def register(fn: CheckFn) -> CheckFn:
        CHECKS[name] = fn
        return fn

    return register


def run_check(check_id: str, host: Host, values: dict[str, str], ctx: ExplainContext,
              cache: dict[str, object]) -> CheckOutcome | None:
    """Run one check; a host that cannot be read gives an "unknown" outcome, never an exception."""
    fn = CHECKS.get(check_id)
    if fn is None:
        return None
    try:
        return fn(host, values, ctx, cache)
    except (OSError, VfioError, ValueError) as exc:
        return CheckOutcome(check_id, "unknown", f"could not check this host: {exc}")


# ---------------------------------------------------------------- helpers

def _inventory(host: Host, cache: dict[str, object]) -> HostInventory:
    inv = cache.get("inventory")
    if not isinstance(inv, HostInventory):
        inv = host.inventory()
        cache["inventory"] = inv
    return inv


def _read(path: Path, limit: int = 1 << 20) -> str | None:
    """The start of a host file; None when missing, unreadable or not a regular file (never blocks)."""
    try:
        data, _ = read_log(path, limit)
    except (OSError, InputError):
        return None
    return data.decode("utf-8", errors="replace")


def _read_tail(path: Path) -> str | None:
    """The end of a kernel log; None when missing, unreadable or not a regular file (a FIFO is skipped)."""
    data = read_tail(path, _TAIL)
    return data.decode("utf-8", errors="replace") if data is not None else None


def _param(host: Host, module: str, name: str) -> str | None:
    text = _read(host.paths.module(module) / "parameters" / name)
    return text.strip() if text is not None else None


def _address(text: str | None) -> PciAddress | None:
    if not text:
        return None
    try:
        return PciAddress.parse(text)
    except VfioError:
        return None


def _bdf(values: dict[str, str], ctx: ExplainContext) -> PciAddress | None:
    return _address(values.get("bdf")) or (_address(ctx.hostdevs[0]) if ctx.hostdevs else None)


def _drv(dev: PciDevice) -> str:
    return dev.driver or "no driver"


def _group_id(inv: HostInventory, values: dict[str, str], ctx: ExplainContext) -> int | None:
    if values.get("group", "").isdigit():
        return int(values["group"])
    addr = _bdf(values, ctx)
    if addr is not None and (dev := inv.device(addr)) is not None:
        return dev.iommu_group
    return None


def qemu_conf_settings(host: Host) -> dict[str, str]:
    """Uncommented settings of /etc/libvirt/qemu.conf (name → raw value text, lists joined)."""
    text = _read(host.paths.under("/etc/libvirt/qemu.conf"))
    if text is None:
        return {}
    settings: dict[str, str] = {}
    current: str | None = None
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].rstrip()
        if current is not None:
            settings[current] += " " + line.strip()
            if "]" in line:
                current = None
            continue
        m = re.match(r"\s*(\w+)\s*=\s*(.*)", line)
        if m:
            settings[m.group(1)] = m.group(2).strip()
            if m.group(2).strip().startswith("[") and "]" not in m.group(2):
                current = m.group(1)
    return settings


def _session_note(ctx: ExplainContext) -> str | None:
    if ctx.uri and "session" in ctx.uri:
        return (f"the VM runs under {ctx.uri}: a rootless libvirt cannot open root-owned /dev/vfio nodes or raise "
                "memlock; run passthrough VMs under qemu:///system")
    return None


def _acl_note(host: Host) -> str | None:
    acl = qemu_conf_settings(host).get("cgroup_device_acl")
    if acl is None:
        return None
    vfio = re.findall(r"/dev/vfio/[\w]+", acl)
    extra = f" including {', '.join(vfio)}" if vfio else ""
    return (f"/etc/libvirt/qemu.conf sets cgroup_device_acl{extra}: this replaces libvirt's default list; "
            "for <hostdev> devices libvirt adds /dev/vfio/vfio and /dev/vfio/N itself, so the 2015 fix is "
            "not needed (keep it only for <qemu:commandline> devices)")


# ---------------------------------------------------------------- checks

@check("group_viable")
def _group_viable(host: Host, values: dict[str, str], ctx: ExplainContext, cache: dict[str, object]) -> CheckOutcome:
    inv = _inventory(host, cache)
    if not inv.iommu_enabled:
        return CheckOutcome("group_viable", "fail", "the IOMMU is not enabled on this host: there are no IOMMU groups")
    gid = _group_id(inv, values, ctx)
    if gid is None:
        return CheckOutcome("group_viable", "unknown", "the log names no IOMMU group or device this host has")
    members = inv.members(gid)
    if not members:
        return CheckOutcome("group_viable", "unknown",
                            f"this host has no IOMMU group {gid} (is the log from another machine?)")
    offenders = [m for m in members if not m.keeps_group_viable]
    own = {a for a in (_address(h) for h in ctx.hostdevs) if a is not None}
    details = tuple(f"{m.address} {m.kind_label}: {_drv(m)}"
                    + (" (a hostdev of this VM)" if m.address in own else "")
                    + ("" if m.keeps_group_viable else "  <- keeps the group non-viable") for m in members)
    others = [m for m in offenders if m.address not in own]
    if offenders and not others:
        names = ", ".join(f"{m.address} → {_drv(m)}" for m in offenders)
        return CheckOutcome("group_viable", "warn",
                            f"group {gid} holds only this VM's own hostdev(s), now on host drivers ({names}): "
                            "libvirt binds them at start with managed='yes'; with managed='no' detach them first",
                            details)
    if offenders:
        names = ", ".join(f"{m.address} is still bound to {_drv(m)}"
                          + (" (the VM's hostdev)" if m.address in own and others else "") for m in offenders)
        fixes = tuple(f"to free {m.address}: virsh nodedev-detach {m.address.nodedev_name}" for m in offenders
                      if not m.is_bridge)
        fixes += (f"or bind the whole group at once (plan first, reversible): vfio-tui bind {offenders[0].address}",)
        note = ("libvirt detaches only the VM's own managed='yes' hostdevs at start; every other member must be "
                "on vfio-pci or unbound (or be a hostdev of the same VM)",)
        return CheckOutcome("group_viable", "fail", f"group {gid} is not viable: {names}", details + fixes + note)
    return CheckOutcome("group_viable", "pass",
                        f"group {gid} is viable now (every member is on vfio-pci, pci-stub, pcieport or unbound)",
                        details)


@check("group_node")
def _group_node(host: Host, values: dict[str, str], ctx: ExplainContext, cache: dict[str, object]) -> CheckOutcome:
    inv = _inventory(host, cache)
    gid = _group_id(inv, values, ctx)
    notes = tuple(n for n in (_session_note(ctx), _acl_note(host)) if n)
    if gid is None:
        return CheckOutcome("group_node", "unknown", "the log names no IOMMU group", notes)
    node = host.paths.dev_vfio / str(gid)
    members = inv.members(gid)
    drivers = ", ".join(f"{m.address} → {_drv(m)}" for m in members) or "no such group on this host"
    if not node.exists():
        return CheckOutcome("group_node", "fail",
                            f"{host.paths.display(node)} does not exist: group {gid} is not bound to vfio-pci "
                            f"({drivers})", notes)
    return CheckOutcome("group_node", "warn",
                        f"{host.paths.display(node)} exists ({drivers}); an EPERM/EACCES now comes from the cgroup "
                        "or a security label, see the fix", notes)


@check("vfio_container")
def _vfio_container(host: Host, values: dict[str, str], ctx: ExplainContext,
                    cache: dict[str, object]) -> CheckOutcome:
    base = _vfio_modules(host, values, ctx, cache)
    notes = tuple(n for n in (_session_note(ctx), _acl_note(host)) if n)
    if base.status == "fail":
        return CheckOutcome("vfio_container", "fail", base.summary, base.details + notes)
    return CheckOutcome("vfio_container", "warn" if notes else "pass",
                        base.summary + ("; qemu.conf overrides cgroup_device_acl" if notes else ""),
                        base.details + notes)


@check("vfio_modules")
def _vfio_modules(host: Host, values: dict[str, str], ctx: ExplainContext, cache: dict[str, object]) -> CheckOutcome:
    missing = [m for m in ("vfio", "vfio_iommu_type1", "vfio_pci") if not host.paths.module(m).is_dir()]
    node = host.paths.dev_vfio / "vfio"
    problems = []
    if missing:
        problems.append(f"module(s) not loaded: {', '.join(missing)} (modprobe vfio-pci)")
    if not node.exists():
        problems.append(f"{host.paths.display(node)} does not exist")
    if problems:
        return CheckOutcome("vfio_modules", "fail", "; ".join(problems))
    return CheckOutcome("vfio_modules", "pass", f"vfio, vfio_iommu_type1 and vfio_pci are loaded; "
                        f"{host.paths.display(node)} exists")


@check("iommu_enabled")
def _iommu_enabled(host: Host, values: dict[str, str], ctx: ExplainContext, cache: dict[str, object]) -> CheckOutcome:
    inv = _inventory(host, cache)
    cmdline = (_read(host.paths.proc / "cmdline") or "").strip()
    details: tuple[str, ...] = (f"kernel command line: {cmdline}",) if cmdline else ()
    if "amd_iommu=on" in cmdline:
        details += ("amd_iommu=on is not a kernel option (the AMD IOMMU is on by default); it does nothing",)
    if inv.iommu_enabled:
        units = ", ".join(inv.iommu_units) or "no units listed"
        return CheckOutcome("iommu_enabled", "pass",
                            f"the IOMMU is enabled: {len(inv.groups)} IOMMU groups ({units})", details)
    return CheckOutcome("iommu_enabled", "fail",
                        "the IOMMU is not enabled: /sys/kernel/iommu_groups is empty", details)


@check("interrupt_remapping")
def _interrupt_remapping(host: Host, values: dict[str, str], ctx: ExplainContext,
                         cache: dict[str, object]) -> CheckOutcome:
    unsafe = _param(host, "vfio_iommu_type1", "allow_unsafe_interrupts")
    unsafe_fd = _param(host, "iommufd", "allow_unsafe_interrupts")
    details: list[str] = []
    if unsafe in ("Y", "1") or unsafe_fd in ("Y", "1"):
        details.append("allow_unsafe_interrupts is ON: VFIO runs without MSI isolation (security downgrade)")
    lines = list(ctx.kernel_lines)
    for name in _KERNEL_LOGS:
        text = _read_tail(host.paths.under(name))
        if text:
            lines += [ln for ln in text.splitlines() if "remapping" in ln.lower() or "DMAR-IR" in ln
                      or "intremap" in ln]
    cmdline = _read(host.paths.proc / "cmdline") or ""
    if "intremap=off" in cmdline:
        return CheckOutcome("interrupt_remapping", "fail",
                            "interrupt remapping is switched off on the kernel command line (intremap=off)",
                            tuple(details))
    on = [ln for ln in lines if _IR_ON.search(ln)]
    off = [ln for ln in lines if "No interrupt remapping support" in ln or "remapping disabled" in ln.lower()]
    if off and not on:
        return CheckOutcome("interrupt_remapping", "fail",
                            "interrupt remapping: not supported or not enabled on this host",
                            (*details, off[-1].strip()))
    if on:
        return CheckOutcome("interrupt_remapping", "pass",
                            "interrupt remapping is enabled on this host (" + on[-1].split("kernel:")[-1].strip() + ")",
                            tuple(details))
    return CheckOutcome("interrupt_remapping", "warn" if details else "unknown",
                        "no kernel log line says whether interrupt remapping is on; run: dmesg | grep -E "
                        "'DMAR-IR|AMD-Vi: Interrupt remapping|No interrupt remapping'", tuple(details))


def _size(n: int) -> str:
    for unit, shift in (("GiB", 30), ("MiB", 20), ("KiB", 10)):
        if n >= 1 << shift:
            value = n / (1 << shift)
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{n} bytes"


@check("memlock")
def _memlock(host: Host, values: dict[str, str], ctx: ExplainContext, cache: dict[str, object]) -> CheckOutcome:
    limit = int(values["bytes"]) if values.get("bytes", "").isdigit() else ctx.memlock_bytes
    ram = ctx.ram_bytes
    need = ram + (1 << 30) if ram else None
    if limit is not None and ram is not None:
        status: CheckStatus = "fail" if limit < ram else "warn"
        return CheckOutcome("memlock", status,
                            f"memlock limit {_size(limit)} < VM RAM {_size(ram)} (libvirt uses RAM + 1 GiB = "
                            f"{_size(need or 0)})" if limit < ram else
                            f"memlock limit {_size(limit)} ≥ VM RAM {_size(ram)} but below RAM + 1 GiB")
    if limit is not None:
        return CheckOutcome("memlock", "fail", f"memlock limit was {_size(limit)} (the VM's RAM is not in the log)")
    if ram is not None:
        return CheckOutcome("memlock", "unknown",
                            f"VM RAM {_size(ram)}: QEMU needs a locked-memory limit of at least {_size(need or 0)}; "
                            "check: grep 'Max locked memory' /proc/$(pgrep -f guest=VM)/limits")
    return CheckOutcome("memlock", "unknown", "the log shows neither the limit nor the VM's RAM; check: "
                        "grep 'Max locked memory' /proc/$(pgrep -f guest=VM)/limits")


@check("relaxed_acs")
def _relaxed_acs(host: Host, values: dict[str, str], ctx: ExplainContext, cache: dict[str, object]) -> CheckOutcome:
    setting = qemu_conf_settings(host).get("relaxed_acs_check")
    details: list[str] = []
    addr = _bdf(values, ctx)
    if addr is not None:
        inv = _inventory(host, cache)
        dev = inv.device(addr)
        if dev is None:
            details.append(f"{addr} is not present on this host")
        elif dev.iommu_group is not None:
            verdict = inv.verdicts.get(dev.iommu_group)
            others = [str(m.address) for m in inv.members(dev.iommu_group) if m.address != addr]
            details.append(f"{addr} is in IOMMU group {dev.iommu_group}"
                           + (f" with {', '.join(others)}" if others else " alone")
                           + (f" (verdict: {verdict.kind})" if verdict else ""))
    if setting is not None:
        return CheckOutcome("relaxed_acs", "warn",
                            f"/etc/libvirt/qemu.conf sets relaxed_acs_check = {setting}: obsolete, it has no effect "
                            "with VFIO (only the legacy non-VFIO backend used it)", tuple(details))
    return CheckOutcome("relaxed_acs", "pass", "relaxed_acs_check is not set (correct: it has no effect with VFIO)",
                        tuple(details))


def _device_check(name: str, describe: Callable[[PciDevice, HostInventory], CheckOutcome | None]) -> CheckFn:
    def run(host: Host, values: dict[str, str], ctx: ExplainContext, cache: dict[str, object]) -> CheckOutcome:
        addr = _bdf(values, ctx)
        if addr is None:
            return CheckOutcome(name, "unknown", "the log names no PCI device")
        inv = _inventory(host, cache)
        dev = inv.device(addr)
        if dev is None:
            status: CheckStatus = "fail" if name == "bdf_exists" else "unknown"
            return CheckOutcome(name, status, f"{addr} does not exist on this host")
        outcome = describe(dev, inv)
        if outcome is None:
            return CheckOutcome(name, "pass", f"{addr} exists: {dev.name}, driver {_drv(dev)}")
        return outcome

    CHECKS[name] = run
    return run


def _param_check(name: str, module: str, param: str, *, bad_when_on: bool, meaning: str) -> None:
    def run(host: Host, values: dict[str, str], ctx: ExplainContext, cache: dict[str, object]) -> CheckOutcome:
        value = _param(host, module, param)
        if value is None:
            return CheckOutcome(name, "unknown", f"{module}.{param} is not readable (module not loaded?)")
        on = value in ("Y", "1")
        status: CheckStatus = "fail" if on == bad_when_on else "pass"
        return CheckOutcome(name, status, f"{module}.{param} = {value}: {meaning} is {'on' if on else 'off'}")

    CHECKS[name] = run


_param_check("noiommu", "vfio", "enable_unsafe_noiommu_mode", bad_when_on=True, meaning="no-IOMMU mode")
_param_check("idle_d3", "vfio_pci", "disable_idle_d3", bad_when_on=False, meaning="the D3 workaround")
_param_check("denylist", "vfio_pci", "disable_denylist", bad_when_on=True, meaning="the denylist override")


@check("session_uri")
def _session_uri(host: Host, values: dict[str, str], ctx: ExplainContext, cache: dict[str, object]) -> CheckOutcome:
    if ctx.uri and "session" in ctx.uri:
        return CheckOutcome("session_uri", "fail", f"the VM runs under {ctx.uri}: a rootless libvirt cannot raise "
                            "memlock or open root-owned /dev/vfio nodes; use qemu:///system")
    if ctx.uri:
        return CheckOutcome("session_uri", "pass", f"the connection is {ctx.uri}")
    return CheckOutcome("session_uri", "unknown", "the log does not say which libvirt URI was used "
                        "(virsh uri; qemu:///session cannot do passthrough)")


@check("bar_conflict")
def _bar_conflict(host: Host, values: dict[str, str], ctx: ExplainContext, cache: dict[str, object]) -> CheckOutcome:
    iomem = _read(host.paths.proc / "iomem")
    if iomem is None:
        return CheckOutcome("bar_conflict", "unknown", "/proc/iomem is not readable here (run as root: "
                            "grep -i -E 'BOOTFB|efifb|simplefb' /proc/iomem)")
    hits = [ln.strip() for ln in iomem.splitlines() if re.search(r"BOOTFB|efifb|simplefb|vesafb", ln, re.I)]
    if hits:
        return CheckOutcome("bar_conflict", "fail",
                            "a firmware framebuffer holds memory ranges: " + "; ".join(hits[:3]))
    return CheckOutcome("bar_conflict", "pass", "no firmware framebuffer claim in /proc/iomem")

# The device and SR-IOV checks register themselves here too (after every helper above exists).
from vfio_tui.core.explain import checks_device as _checks_device  # noqa: E402, F401
from vfio_tui.core.explain import checks_sriov as _checks_sriov  # noqa: E402, F401

"""Provides the libvirt checks: daemon reachable and versions, the qemu.conf settings that matter
for VFIO (kernel-semantics A5), with the blog's obsolete advice named as such, and SELinux/AppArmor.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from vfio_tui.core.checks.context import CheckContext
from vfio_tui.core.checks.plan import FixPlan, register_fix
from vfio_tui.core.checks.result import CheckResult, cannot_tell
from vfio_tui.core.checks.textfile import ConfigParseError
from vfio_tui.core.checks.virconf import VirConf, comment_out, parse_virconf, remove_list_items
from vfio_tui.core.configfiles import FileChange

QEMU_CONF = "/etc/libvirt/qemu.conf"
#: libvirt's built-in list (src/qemu/qemu_cgroup.c defaultDeviceACL[]); a qemu.conf list REPLACES it.
DEFAULT_ACL = ("/dev/null", "/dev/full", "/dev/zero", "/dev/random", "/dev/urandom", "/dev/ptmx", "/dev/kvm")
ACL_OBSOLETE = ("obsolete since libvirt 1.0.5 (2013, the release that added VFIO <hostdev>): libvirt allows each"
                " hostdev's /dev/vfio/N and /dev/vfio/vfio for the VM itself (qemuSetupHostdevCgroup, and the"
                " cgroup-v2 BPF program); only VFIO devices injected through <qemu:commandline> need them listed")
RELAXED_OBSOLETE = ("ignored for VFIO: libvirt runs its ACS check only for the legacy (non-VFIO) assignment,"
                    " since the 1.2.x releases (2014; virhostdev.c `if (!usesVfio && !virPCIDeviceIsAssignable())`);"
                    " with VFIO the kernel's IOMMU groups decide")


def _fmt_version(v: object) -> str:
    if isinstance(v, int) and v > 0:
        return f"{v // 1_000_000}.{v // 1000 % 1000}.{v % 1000}"
    return str(v)


def hypervisor_versions(hv: Any) -> dict[str, str]:
    """{"libvirt": "9.0.0", "qemu": "7.2.22", "uri": ...} from a core.libvirt hypervisor or a libvirt connection."""
    fn = getattr(hv, "versions", None)
    if callable(fn):
        value = fn()
        if isinstance(value, Mapping):
            return {str(k): _fmt_version(v) for k, v in value.items()}
    conn = getattr(hv, "conn", None) or getattr(hv, "connection", None) or hv
    out: dict[str, str] = {}
    driver = "hypervisor"
    get_type = getattr(conn, "getType", None)
    if callable(get_type):
        try:
            driver = str(get_type()).lower()
        except Exception:  # noqa: BLE001 - libvirt.libvirtError; libvirt is not imported here
            pass
    for key, meth in (("libvirt", "getLibVersion"), (driver, "getVersion"), ("uri", "getURI")):
        m = getattr(conn, meth, None)
        if callable(m):
            try:
                out[key] = _fmt_version(m())
            except Exception as exc:  # noqa: BLE001 - libvirt.libvirtError; libvirt is not imported here
                out[key] = f"unknown ({exc})"
    return out


_LOG_VERSIONS = re.compile(r"starting up libvirt version: ([^,\s]+).*?qemu version: ([^,\s]+)")


def _versions_from_logs(ctx: CheckContext) -> str | None:
    names = [n for n in ctx.listdir("/var/log/libvirt/qemu") or [] if n.endswith(".log")]
    best: tuple[float, str] | None = None
    for n in names:
        path = f"/var/log/libvirt/qemu/{n}"
        r = ctx.read(path, tail=256 * 1024)
        found = _LOG_VERSIONS.findall(r.text or "")
        if found:
            try:
                mtime = ctx.path(path).stat().st_mtime
            except OSError:
                mtime = 0.0
            text = f"{path}: libvirt {found[-1][0]}, QEMU {found[-1][1]}"
            if best is None or mtime > best[0]:
                best = (mtime, text)
    return best[1] if best else None


def check_libvirt(ctx: CheckContext) -> CheckResult:
    cid, title = "libvirt", "libvirt daemon reachable; libvirt and QEMU versions"
    hv, why = ctx.get_hypervisor()
    if hv is None:
        logged = _versions_from_logs(ctx)
        return cannot_tell(cid, title, f"no connection to libvirt: {why}", evidence=(logged,) if logged else (),
                           fix="systemctl start libvirtd (or virtqemud.socket); use --connect URI for another host")
    try:
        versions = hypervisor_versions(hv)
    except Exception as exc:  # noqa: BLE001 - a dead connection is a finding, not a crash
        return CheckResult(cid, title, "fail", f"libvirt did not answer: {exc}", (), "systemctl restart libvirtd")
    ev = tuple(f"hypervisor: {k} {v}" for k, v in versions.items())
    text = ", ".join(f"{k} {v}" for k, v in versions.items() if k != "uri")
    return CheckResult(cid, title, "pass", f"reachable ({text or 'versions unknown'})", ev)


def read_qemu_conf(ctx: CheckContext) -> tuple[VirConf | None, CheckResult | None]:
    """The parsed qemu.conf, or the result every qemu.conf check reports when there is none."""
    r = ctx.read(QEMU_CONF)
    if r.text is None:
        if r.error == "not present":
            return None, CheckResult("", "", "n/a", f"{QEMU_CONF} is not present (libvirt's QEMU driver is not"
                                     " installed, or runs with built-in defaults)", (f"{QEMU_CONF}: not present",))
        return None, cannot_tell("", "", f"{QEMU_CONF} is {r.error}", status="warn")
    try:
        return parse_virconf(r.text), None
    except ConfigParseError as exc:
        return None, cannot_tell("", "", f"{QEMU_CONF} {exc.detail} (libvirt's parser fails on it too)",
                                 status="warn", evidence=(f"{QEMU_CONF}: unparsable",),
                                 fix=f"repair {QEMU_CONF} by hand, then restart libvirtd")


def _retitle(res: CheckResult, cid: str, title: str) -> CheckResult:
    from dataclasses import replace

    return replace(res, id=cid, title=title)


def check_qemu_acl(ctx: CheckContext) -> CheckResult:
    cid, title = "qemu-conf-acl", "qemu.conf cgroup_device_acl"
    conf, early = read_qemu_conf(ctx)
    if conf is None:
        assert early is not None
        return _retitle(early, cid, title)
    entries = conf.all("cgroup_device_acl")
    if not entries:
        return CheckResult(cid, title, "pass", "not set: libvirt's default list applies and it adds VFIO nodes itself",
                           (f"{QEMU_CONF}: cgroup_device_acl not set",))
    entry = entries[0]
    values = [str(v) for v in entry.scalars()]
    ev = [f"{QEMU_CONF} line {entry.line}: cgroup_device_acl = [{', '.join(values)}]"]
    notes = ["a cgroup_device_acl in qemu.conf REPLACES libvirt's default list "
             f"({', '.join(DEFAULT_ACL)})"]
    if len(entries) > 1:
        notes.append(f"set {len(entries)} times (lines {', '.join(str(e.line) for e in entries)}); libvirt uses the"
                     f" first, line {entry.line}")
    vfio = [v for v in values if v.startswith("/dev/vfio/")]
    missing = [d for d in DEFAULT_ACL if d not in values]
    problems, fixes = [], []
    if vfio:
        problems.append(f"lists {', '.join(vfio)}: {ACL_OBSOLETE}")
        fixes.append(f"remove {', '.join(vfio)} from cgroup_device_acl in {QEMU_CONF}; systemctl restart libvirtd")
    if missing:
        problems.append(f"lacks {', '.join(missing)} from libvirt's defaults: QEMU may be denied them")
        fixes.append(f"add {', '.join(missing)} back (or comment the whole setting out to get the defaults)")
    if not problems:
        return CheckResult(cid, title, "pass", "set, and keeps libvirt's defaults", tuple(ev), notes=tuple(notes))
    return CheckResult(cid, title, "warn", "; ".join(problems), tuple(ev), "\n".join(fixes),
                       "qemu-conf-acl" if vfio else None, tuple(notes))


@register_fix("qemu-conf-acl")
def plan_qemu_acl(ctx: CheckContext) -> FixPlan:
    conf, _ = read_qemu_conf(ctx)
    if conf is None:
        raise ConfigParseError("cannot parse it", path=QEMU_CONF)
    entry = conf.get("cgroup_device_acl")
    vfio = {str(v) for v in entry.scalars() if str(v).startswith("/dev/vfio/")} if entry else set()
    new = remove_list_items(conf, "cgroup_device_acl", vfio)
    edits = (FileChange(QEMU_CONF, conf.text, new),) if new != conf.text else ()
    return FixPlan("qemu-conf-acl", "qemu-conf-acl", "drop obsolete /dev/vfio entries from cgroup_device_acl",
                   edits, (), ("systemctl restart libvirtd   # or virtqemud",))


def check_qemu_relaxed_acs(ctx: CheckContext) -> CheckResult:
    cid, title = "qemu-conf-relaxed-acs", "qemu.conf relaxed_acs_check"
    conf, early = read_qemu_conf(ctx)
    if conf is None:
        assert early is not None
        return _retitle(early, cid, title)
    entries = conf.all("relaxed_acs_check")
    if not entries:
        return CheckResult(cid, title, "pass", "not set (it would not matter for VFIO anyway)",
                           (f"{QEMU_CONF}: relaxed_acs_check not set",))
    ev = tuple(f"{QEMU_CONF} line {e.line}: relaxed_acs_check = {e.scalars()[0]}" for e in entries)
    return CheckResult(cid, title, "warn", f"set, but {RELAXED_OBSOLETE}", ev,
                       f"comment out relaxed_acs_check in {QEMU_CONF} (the seed's fix (b) for 'is not assignable' is"
                       " obsolete; a device that shares its group must be passed with its whole group)",
                       "qemu-conf-relaxed-acs")


@register_fix("qemu-conf-relaxed-acs")
def plan_relaxed(ctx: CheckContext) -> FixPlan:
    conf, _ = read_qemu_conf(ctx)
    if conf is None:
        raise ConfigParseError("cannot parse it", path=QEMU_CONF)
    new = comment_out(conf, "relaxed_acs_check", "vfio-tui: relaxed_acs_check is ignored for VFIO <hostdev> devices")
    edits = (FileChange(QEMU_CONF, conf.text, new),) if new != conf.text else ()
    return FixPlan("qemu-conf-relaxed-acs", "qemu-conf-relaxed-acs", "comment out relaxed_acs_check", edits, (),
                   ("systemctl restart libvirtd   # or virtqemud",))


def check_qemu_ownership(ctx: CheckContext) -> CheckResult:
    cid, title = "qemu-conf-ownership", "qemu.conf user, group and dynamic_ownership"
    conf, early = read_qemu_conf(ctx)
    if conf is None:
        assert early is not None
        return _retitle(early, cid, title)
    ev = []
    for key in ("user", "group", "dynamic_ownership"):
        e = conf.get(key)
        ev.append(f"{QEMU_CONF} line {e.line}: {key} = {e.scalars()[0]!r}" if e else
                  f"{QEMU_CONF}: {key} not set (default: " + {"user": "chosen when libvirt was built (Debian"
                  " libvirt-qemu, Fedora qemu)", "group": "as user", "dynamic_ownership": "1"}[key] + ")")
    dyn = conf.get("dynamic_ownership")
    user = conf.get("user")
    if dyn is not None and dyn.scalars()[0] == 0 and (user is None or user.scalars()[0] not in ("root", "+0")):
        return CheckResult(cid, title, "warn", "dynamic_ownership = 0: libvirt will not give QEMU's user the"
                           " /dev/vfio/N node, so a non-root QEMU gets EACCES on it", tuple(ev),
                           f"set dynamic_ownership = 1 in {QEMU_CONF} (or remove it), then restart libvirtd",
                           "qemu-conf-ownership")
    return CheckResult(cid, title, "pass", "libvirt hands each VM its VFIO group node", tuple(ev))


@register_fix("qemu-conf-ownership")
def plan_ownership(ctx: CheckContext) -> FixPlan:
    conf, _ = read_qemu_conf(ctx)
    if conf is None:
        raise ConfigParseError("cannot parse it", path=QEMU_CONF)
    new = comment_out(conf, "dynamic_ownership", "vfio-tui: back to the default (1) so QEMU can open /dev/vfio/N")
    edits = (FileChange(QEMU_CONF, conf.text, new),) if new != conf.text else ()
    return FixPlan("qemu-conf-ownership", "qemu-conf-ownership", "restore dynamic_ownership to its default", edits,
                   (), ("systemctl restart libvirtd   # or virtqemud",))


def check_mac(ctx: CheckContext) -> CheckResult:
    cid, title = "security-mac", "SELinux / AppArmor"
    ev: list[str] = []
    mode = None
    enforce = ctx.attr("/sys/fs/selinux/enforce")
    if enforce is not None:
        mode = "SELinux enforcing" if enforce == "1" else "SELinux permissive"
        ev.append(f"/sys/fs/selinux/enforce: {enforce}")
    else:
        cfg = ctx.read("/etc/selinux/config").text
        if cfg:
            m = re.search(r"^SELINUX=(\w+)", cfg, re.M)
            if m:
                ev.append(f"/etc/selinux/config: SELINUX={m.group(1)} (not active now)")
    aa = ctx.attr("/sys/module/apparmor/parameters/enabled")
    if aa is not None:
        ev.append(f"/sys/module/apparmor/parameters/enabled: {aa}")
        if aa == "Y":
            mode = (mode + " + " if mode else "") + "AppArmor"
    if not ev:
        if ctx.host.simulated:
            return cannot_tell(cid, title, "this recording has neither /sys/fs/selinux nor AppArmor's module state")
        return CheckResult(cid, title, "pass", "neither SELinux nor AppArmor is active", ())
    if mode is None:
        return CheckResult(cid, title, "pass", "no mandatory access control active", tuple(ev))
    return CheckResult(cid, title, "pass", f"{mode}: libvirt labels each VM's /dev/vfio/N itself (svirt)", tuple(ev),
                       notes=("EACCES on /dev/vfio/N with MAC active points to labelling: check `ausearch -m avc`"
                              " (SELinux) or `journalctl -k | grep apparmor=\"DENIED\"`",))

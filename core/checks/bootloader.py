"""Provides bootloader detection and the edit that puts a kernel parameter where *that* bootloader
reads it: GRUB (/etc/default/grub + update-grub or grub2-mkconfig), systemd-boot / Proxmox
(/etc/kernel/cmdline + proxmox-boot-tool refresh or kernel-install), grubby (RHEL/Fedora BLS)
and kernelstub (Pop!_OS), which owns its own config and is driven by its command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from vfio_tui.core.checks.context import CheckContext
from vfio_tui.core.checks.grubdefaults import GrubDefaults, add_kernel_param, conditional_reason, parse_grub_defaults
from vfio_tui.core.checks.linefiles import kernel_cmdline_add, kernel_cmdline_words
from vfio_tui.core.checks.textfile import ConfigParseError

BootKind: TypeAlias = Literal["grub", "grubby", "systemd-boot", "proxmox", "kernelstub", "unknown"]

GRUB_DEFAULTS = "/etc/default/grub"
KERNEL_CMDLINE = "/etc/kernel/cmdline"
GRUB_KEY = "GRUB_CMDLINE_LINUX"
"""The seed puts intel_iommu=on here: it applies to every entry, recovery ones included."""


@dataclass(frozen=True)
class Bootloader:
    """Where the kernel command line is configured on this host, and what makes a change take effect."""

    kind: BootKind
    config: str | None
    """The file vfio-tui edits (host-absolute), or None when the bootloader is driven by a command."""
    regenerate: tuple[str, ...] = ()
    """Commands that write the change into the boot entries (run by the user, never by vfio-tui)."""
    evidence: tuple[str, ...] = ()
    problem: str | None = None
    """Why the config cannot be read or edited ("line 7: a double quote ... never closed")."""
    configured: tuple[str, ...] = field(default=())
    """The parameters the config currently gives the kernel."""

    @property
    def label(self) -> str:
        return {"grub": "GRUB", "grubby": "GRUB with BLS entries (grubby)", "systemd-boot": "systemd-boot",
                "proxmox": "Proxmox (proxmox-boot-tool)", "kernelstub": "kernelstub (Pop!_OS systemd-boot)",
                "unknown": "unknown"}[self.kind]


def _os_family(ctx: CheckContext) -> set[str]:
    text = ctx.read("/etc/os-release").text or ""
    ids: set[str] = set()
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key in ("ID", "ID_LIKE"):
            ids.update(value.strip().strip('"').split())
    return ids


def _grub_regenerate(ctx: CheckContext) -> str:
    family = _os_family(ctx)
    if ctx.exists("/usr/sbin/update-grub") or family & {"debian", "ubuntu"}:
        return "update-grub"
    if ctx.exists("/boot/grub2") or family & {"fedora", "rhel", "centos", "suse", "opensuse"}:
        return "grub2-mkconfig -o /boot/grub2/grub.cfg"
    return "grub-mkconfig -o /boot/grub/grub.cfg"


def read_grub(ctx: CheckContext) -> tuple[list[tuple[str, GrubDefaults]], str | None]:
    """/etc/default/grub and /etc/default/grub.d/*.cfg (the order grub-mkconfig sources them), parsed."""
    names = [GRUB_DEFAULTS] + [f"{GRUB_DEFAULTS}.d/{n}" for n in ctx.listdir(f"{GRUB_DEFAULTS}.d") or []
                               if n.endswith(".cfg")]
    docs: list[tuple[str, GrubDefaults]] = []
    for path in names:
        r = ctx.read(path)
        if r.text is None:
            return docs, f"{path}: {r.error}"
        try:
            doc = parse_grub_defaults(r.text)
        except ConfigParseError as exc:
            return docs, f"{path} {exc.detail}"
        docs.append((path, doc))
        for key in (GRUB_KEY, "GRUB_CMDLINE_LINUX_DEFAULT"):
            last = doc.last(key)
            if last is not None and last.conditional:
                # Which value counts depends on a condition: what is configured cannot be told.
                return docs, f"{path} line {last.line}: {conditional_reason(last)}"
    return docs, None


def _grub_params(docs: list[tuple[str, GrubDefaults]]) -> tuple[str, ...]:
    env: dict[str, str] = {}
    for _, doc in docs:
        env = doc.evaluate(env)
    words: list[str] = []
    for key in (GRUB_KEY, "GRUB_CMDLINE_LINUX_DEFAULT"):
        words += env.get(key, "").split()
    return tuple(words)


def _grub_target(docs: list[tuple[str, GrubDefaults]]) -> str:
    """The file whose GRUB_CMDLINE_LINUX assignment is the effective one (the last sourced)."""
    target = GRUB_DEFAULTS
    for path, doc in docs:
        if doc.last(GRUB_KEY) is not None:
            target = path
    return target


def detect_bootloader(ctx: CheckContext) -> Bootloader:
    """Which bootloader configures the kernel command line on this host."""
    has_grub = ctx.exists(GRUB_DEFAULTS)
    has_kcmd = ctx.exists(KERNEL_CMDLINE)
    evidence: list[str] = []
    if ctx.exists("/etc/kernelstub/configuration"):
        return Bootloader("kernelstub", None, (), ("/etc/kernelstub/configuration: present",))
    proxmox = ctx.exists("/etc/kernel/proxmox-boot-uuids")
    if proxmox:
        evidence.append("/etc/kernel/proxmox-boot-uuids: present (ESPs managed by proxmox-boot-tool)")
    if proxmox and has_kcmd:
        return _kernel_cmdline_loader(ctx, "proxmox", ("proxmox-boot-tool refresh",), evidence)
    if has_grub:
        docs, problem = read_grub(ctx)
        evidence.append(f"{GRUB_DEFAULTS}: present")
        evidence += [f"{path}: sourced after it" for path, _ in docs[1:]]
        grubby = (ctx.exists("/usr/sbin/grubby") or ctx.exists("/sbin/grubby")) and ctx.exists("/boot/loader/entries")
        if proxmox:
            kind: BootKind = "proxmox"
            regen: tuple[str, ...] = ("proxmox-boot-tool refresh",)
        elif grubby:
            kind = "grubby"
            regen = ()
            evidence.append("/usr/sbin/grubby and /boot/loader/entries: present (BLS entries)")
        else:
            kind = "grub"
            regen = (_grub_regenerate(ctx),)
        return Bootloader(kind, _grub_target(docs), regen, tuple(evidence), problem,
                          _grub_params(docs) if problem is None else ())
    if has_kcmd or any(ctx.exists(p) for p in ("/boot/efi/loader/loader.conf", "/efi/loader/loader.conf",
                                                "/boot/loader/loader.conf")):
        return _kernel_cmdline_loader(
            ctx, "systemd-boot",
            ('kernel-install add "$(uname -r)" "/lib/modules/$(uname -r)/vmlinuz"',), evidence)
    return Bootloader("unknown", None, (), (), f"none of {GRUB_DEFAULTS}, {KERNEL_CMDLINE},"
                      " /etc/kernelstub/configuration or a systemd-boot loader.conf exists on this host")


def _kernel_cmdline_loader(ctx: CheckContext, kind: BootKind, regen: tuple[str, ...],
                           evidence: list[str]) -> Bootloader:
    r = ctx.read(KERNEL_CMDLINE)
    if r.text is None:
        return Bootloader(kind, KERNEL_CMDLINE, regen, (*evidence, f"{KERNEL_CMDLINE}: {r.error}"),
                          f"{KERNEL_CMDLINE} {r.error}" if r.error != "not present" else None)
    return Bootloader(kind, KERNEL_CMDLINE, regen, (*evidence, f"{KERNEL_CMDLINE}: {r.text.strip()}"),
                      None, tuple(kernel_cmdline_words(r.text)))


def add_param_edit(ctx: CheckContext, bl: Bootloader, param: str) -> tuple[str, str | None, str]:
    """(path, old text or None, new text) that adds `param` to the bootloader's config.

    Raises:
        ConfigParseError: the file cannot be parsed or safely edited; or the bootloader has no file.
    """
    if bl.config is None:
        raise ConfigParseError(f"{bl.label} keeps the command line in its own config; use its command")
    r = ctx.read(bl.config)
    if r.text is None and r.error != "not present":
        raise ConfigParseError(f"cannot read it: {r.error}", path=bl.config)
    old = r.text
    if bl.config.startswith(GRUB_DEFAULTS):
        try:
            doc = parse_grub_defaults(old or "")
            return bl.config, old, add_kernel_param(doc, GRUB_KEY, param)
        except ConfigParseError as exc:
            raise ConfigParseError(exc.reason, line=exc.line, path=bl.config) from None
    try:
        return bl.config, old, kernel_cmdline_add(old or "", param)
    except ConfigParseError as exc:
        raise ConfigParseError(exc.reason, line=exc.line, path=bl.config) from None


def param_fix_text(bl: Bootloader, param: str) -> str:
    """The exact steps that put `param` on the kernel command line with this bootloader."""
    if bl.kind == "kernelstub":
        return f'kernelstub -a "{param}"   # then reboot'
    if bl.kind == "grubby":
        return (f'grubby --update-kernel=ALL --args="{param}"   # updates every BLS entry\n'
                f'and add {param} to {GRUB_KEY}="..." in {GRUB_DEFAULTS} for future kernels; then reboot')
    if bl.kind == "unknown":
        return (f"add {param} to the kernel command line in your bootloader's configuration"
                f" ({GRUB_DEFAULTS} + update-grub, or {KERNEL_CMDLINE} + proxmox-boot-tool refresh /"
                " kernel-install), then reboot")
    where = (f'{bl.config}: add {param} inside {GRUB_KEY}="..."' if (bl.config or "").startswith(GRUB_DEFAULTS)
             else f"{KERNEL_CMDLINE}: append {param} to its single line")
    steps = [where, *bl.regenerate, "reboot"]
    return "\n".join(steps)

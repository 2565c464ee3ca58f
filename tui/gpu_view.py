"""Provides what the app shows about GPUs (pure, no widgets): the GPU badge of a tree row, the card's rows in
the detail panel (its functions together, console, clients, modules, reset), and the GPU part of a plan —
on the host's only GPU a warning that passing it blanks this screen, and the libvirt hook plan.

The device screen (tui/describe.py) and the wizard (tui/screens/wizard.py) call these in one line each,
so the layout of those screens stays theirs.
"""

from __future__ import annotations

from vfio_tui.core.model import GpuInfo, HostInventory, PciDevice
from vfio_tui.core.passthrough import PassthroughPlan
from vfio_tui.tui.safe_text import SafeText as Text

_FUNCTION_WORDS = {"03": "display", "0403": "audio", "0c03": "USB", "0c80": "serial bus (UCSI)"}


def _what(dev: PciDevice) -> str:
    return _FUNCTION_WORDS.get(dev.class_short) or _FUNCTION_WORDS.get(dev.class_short[:2]) or dev.kind_label


def gpu_badges(inv: HostInventory, dev: PciDevice) -> list[tuple[str, str]]:
    """[("GPU ×4", style), ("only GPU", style), ("no reset", style)] for a function of a GPU card."""
    info = inv.gpu.get(dev.address)
    if info is None:
        return []
    out: list[tuple[str, str]] = []
    if info.card == dev.address:
        n = len(info.functions)
        out.append((f"GPU ×{n}" if n > 1 else "GPU", "bold blue"))
        if info.single:
            out.append(("only GPU", "bold red"))
        if info.reset:
            out.append(("no reset", "red"))
    else:
        out.append((f"GPU {info.card.short} {_what(dev)}", "blue"))
    return out


def gpu_rows(inv: HostInventory, dev: PciDevice) -> list[tuple[str, str]]:
    """Detail rows for a GPU card's function: the card as one."""
    info = inv.gpu.get(dev.address)
    if info is None:
        return []
    functions = ", ".join(f"{a.short} {_what(inv.devices[a])}" for a in info.functions if a in inv.devices)
    rows = [("GPU card", functions)]
    if info.single:
        rows.append(("only GPU", "the host's only GPU: passing it blanks this screen (use SSH or the libvirt hook)"))
    if info.console:
        rows.append(("console", info.console))
    rows += [("fb", fb) for fb in info.framebuffers]
    rows += [("held by", c) for c in info.clients]
    if info.driver_stack:
        rows.append(("modules", ", ".join(info.driver_stack)))
    if info.reset:
        rows.append(("reset", info.reset))
    return rows


def gpu_plan_text(plan: PassthroughPlan) -> Text:
    """The GPU part of a plan for the wizard: the steps released first, the only-GPU warning, the hook."""
    text = Text()
    gpu = plan.gpu
    if gpu is None:
        return text
    if gpu.single_gpu:
        text.append("This is the host's only GPU\n", style="bold red underline")
        text.append("  Passing it blanks this screen until undo. Work over SSH, or let the libvirt hook do it\n"
                    "  whenever the VM starts and stops.\n", style="red")
    if gpu.release:
        text.append("Host GPU use released first (each put back on undo)\n", style="bold underline")
        for step in gpu.release:
            text.append(f"  {step.describe()}\n")
    if gpu.hook is not None and plan.refusals:
        text.append("The libvirt hook would do it at every start\n", style="bold underline")
        for line in gpu.hook.lines():
            text.append(f"  {line}\n", style="dim" if line.startswith("    ") else "")
        if plan.vm is not None:
            text.append("Press ", style="dim")
            text.append("h", style="bold")
            text.append(f" to install it for {plan.vm} here: its plan first, nothing changes before y.\n", style="dim")
    if not gpu.stop_display_manager and any("--stop-display-manager" in r.fix for r in plan.refusals):
        text.append("Press ", style="dim")
        text.append("s", style="bold")
        text.append(" to plan with the display manager stopped first (over SSH only).\n", style="dim")
    return text


def card_of(inv: HostInventory, dev: PciDevice) -> GpuInfo | None:
    return inv.gpu.get(dev.address)

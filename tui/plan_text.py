"""Provides the wizard's words for a plan: refusals first (what uses the device and how to free
it), and apart from them what the plan would do, so a refused plan can fold that part away."""

from __future__ import annotations

from vfio_tui.core.passthrough import PassthroughPlan
from vfio_tui.tui.gpu_view import gpu_plan_text
from vfio_tui.tui.safe_text import SafeText as Text


def refusal_text(plan: PassthroughPlan) -> Text:
    """What stops the plan, each with its fix: the first thing a refused plan shows."""
    text = Text()
    text.append("✗ Refused: nothing will change.\n", style="bold red")
    for r in plan.refusals:
        where = f"{r.address}: " if r.address and r.address not in r.reason else ""
        text.append(f"  ✗ {where}{r.reason}\n", style="red")
        if r.fix:
            text.append("    to free it: ", style="bold")
            text.append(f"{r.fix}\n")
    return text


def plan_body(plan: PassthroughPlan) -> Text:
    """Everything the plan would do: members, the exact writes, the XML diff, warnings, undo."""
    text = Text()
    sections = [("Group members (all go together)", plan.members),
                ("Driver changes (the exact sysfs writes)", plan.driver_changes)]
    for title, lines in sections:
        text.append(f"{title}\n", style="bold underline")
        for line in lines or ["(none)"]:
            text.append(f"  {line}\n")
    if not plan.refusals:  # a refused plan shows its GPU part (the hook plan) with the refusal
        text.append_text(gpu_plan_text(plan))
    if plan.vm:
        text.append("VM definition change (hostdev XML diff)\n", style="bold underline")
        for line in (plan.xml_diff or "(no change)").splitlines():
            style = "green" if line.startswith("+") else "red" if line.startswith("-") else ""
            text.append(f"  {line}\n", style=style)
    warnings = [*plan.warnings, *(f"check {c.status}: {c.id}: {c.summary}" for c in plan.checks)]
    if warnings:
        text.append("Worth knowing\n", style="bold yellow underline")
        for line in warnings:
            text.append(f"  ! {line}\n", style="yellow")
    text.append("Undo will\n", style="bold underline")
    for line in plan.undo:
        text.append(f"  {line}\n")
    return text


def plan_text(plan: PassthroughPlan) -> Text:
    """The plan as the wizard shows it first: the refusal of a refused plan, else the whole plan."""
    text = Text()
    text.append(f"Pass {plan.address} through", style="bold")
    text.append(f" to {plan.vm}\n" if plan.vm else " (bind to vfio-pci only)\n", style="bold")
    if plan.refusals:
        text.append_text(refusal_text(plan))
        text.append_text(gpu_plan_text(plan))
        text.append("What it would have done is folded below (Tab, Enter opens it).\n", style="dim")
        return text
    text.append_text(plan_body(plan))
    text.append("\nPress ", style="dim")
    text.append("y", style="bold")
    text.append(" to review and confirm; nothing changes before that.\n", style="dim")
    return text

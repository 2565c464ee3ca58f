"""Provides operator(): where the person running vfio-tui sits — over SSH, in the graphical session, or on a
text console — because taking a GPU (or stopping its display manager) away from the screen they are
using ends their session in the middle of the run.

The live host reads this process's environment and terminal; a simulated or recorded host says it in its
facts (`operator`: {"via": "ssh"|"desktop"|"console"}), and hosts that say nothing count as SSH (the
seed's server is only ever reached that way).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, TypeAlias

if TYPE_CHECKING:
    from vfio_tui.core.host import Host

Via: TypeAlias = Literal["ssh", "desktop", "console", "unknown"]


@dataclass(frozen=True, slots=True)
class Operator:
    via: Via
    detail: str = ""

    @property
    def on_screen(self) -> bool:
        """On the host's own screen (its graphical session or its text console)."""
        return self.via in ("desktop", "console")


def operator(host: Host) -> Operator:
    if host.simulated or not host.paths.is_live:
        facts = host.extras.get("operator")
        if isinstance(facts, dict) and facts.get("via") in ("ssh", "desktop", "console"):
            return Operator(facts["via"], str(facts.get("detail", "")))
        return Operator("ssh", "as recorded")
    env = os.environ
    if env.get("SSH_CONNECTION") or env.get("SSH_TTY"):
        return Operator("ssh", f"SSH from {env.get('SSH_CONNECTION', '?').split(' ')[0]}")
    if env.get("WAYLAND_DISPLAY") or env.get("DISPLAY"):
        return Operator("desktop", "a terminal of the graphical session")
    try:
        tty = os.ttyname(0)
    except OSError:
        tty = ""
    if tty.startswith("/dev/tty") and tty[8:].isdigit():
        return Operator("console", f"the text console {tty}")
    return Operator("unknown", tty or "no terminal")

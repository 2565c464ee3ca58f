"""Run `vfio-tui ARGS` inside this process (tens of times faster than a subprocess): exit code,
stdout and stderr as the user would see them."""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass

from vfio_tui.tui.cli import main
from vfio_tui.tui.cli.registry import COMMANDS


@dataclass(frozen=True)
class Outcome:
    code: int
    out: str
    err: str


def run_main(*argv: str) -> Outcome:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main(list(argv))
        except SystemExit as exc:  # argparse: --help, errors
            code = exc.code if isinstance(exc.code, int) else 2
    return Outcome(code, out.getvalue(), err.getvalue())


def hinted_commands(text: str) -> list[str]:
    """Every `vfio-tui COMMAND …` a text names as a hint, up to the end of its line or quote.

    `vfio-tui bind: error:` names the program and `vfio-tui bind --help` needs no host: neither counts.
    """
    names = "|".join(sorted((c for c in COMMANDS if c not in ("sim-host", "completion")), key=len, reverse=True))
    found = re.finditer(rf"vfio-tui (?:{names})(?![\w:-])[^`\n;]*", text)
    return [m.group(0) for m in found if "--help" not in m.group(0)]

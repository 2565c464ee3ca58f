"""`vfio-tui completion bash|zsh`: the shell completion script, generated from this CLI's parsers."""

from __future__ import annotations

import argparse
import sys

from vfio_tui.core.host import HostOptions

HELP = "print the shell completion script (bash or zsh)"
DESCRIPTION = """\
Print a completion script for bash or zsh, generated from vfio-tui's own commands and options:
commands, options, choices, files for FILE, directories for DIR and this machine's PCI addresses
for ADDR.
"""
EPILOG = """\
examples:
  eval "$(vfio-tui completion bash)"                          in ~/.bashrc
  vfio-tui completion bash > /etc/bash_completion.d/vfio-tui  for everyone
  vfio-tui completion zsh > "${fpath[1]}/_vfio-tui"           zsh (then restart it)
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("shell", choices=("bash", "zsh"), help="the shell to complete for")


def run(args: argparse.Namespace, options: HostOptions) -> int:
    from vfio_tui.tui.cli import completion

    sys.stdout.write(completion.bash() if args.shell == "bash" else completion.zsh())
    return 0

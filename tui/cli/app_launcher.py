"""Provides launch_app(): opens the Textual app (imported only here, so commands stay fast)."""

from __future__ import annotations

import argparse

from vfio_tui.core.host import HostOptions


def launch_app(args: argparse.Namespace, options: HostOptions) -> int:
    from vfio_tui.tui.app import run_app

    return run_app(options, args)

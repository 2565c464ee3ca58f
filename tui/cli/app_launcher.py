"""Provides launch_app(): opens the Textual app (imported only here, so commands stay fast)."""

from __future__ import annotations

import argparse

from core.host import HostOptions


def launch_app(args: argparse.Namespace, options: HostOptions) -> int:
    from tui.app import run_app

    return run_app(options, args)

"""Provides launch_app(): opens the Textual app (imported only here, so commands stay fast)."""

from __future__ import annotations

import argparse

from core.host import HostOptions


def launch_app(args: argparse.Namespace, options: HostOptions) -> int:
    import importlib

    try:
        app_module = importlib.import_module("tui.app")
    except ImportError:
        # The app lands with its own issue; until then show what the app would show first.
        from tui.cli import cmd_inventory

        ns = argparse.Namespace(json=False, group=None)
        return cmd_inventory.run(ns, options)
    return int(app_module.run_app(options, args))

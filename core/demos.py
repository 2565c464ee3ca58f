"""Provides DEMO_NAMES: the built-in demo hosts (a module of its own, so the command line can know them
without loading core.host)."""

from __future__ import annotations

from typing import Final

DEMO_NAMES: Final[tuple[str, ...]] = ("host192", "workstation", "single-gpu")
"""The seed blog's server (`--demo`), a GPU workstation, a single-GPU desktop (docs/gpu.md)."""

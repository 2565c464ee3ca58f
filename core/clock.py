"""Provides the wall-clock time core stamps its records with (run records, journals, failure records,
the simulated host's logs). SOURCE_DATE_EPOCH — the reproducible-builds convention — pins it, so that
screenshots and snapshot tests of the real app are the same on every run."""

from __future__ import annotations

import os
import time


def now() -> float:
    pinned = os.environ.get("SOURCE_DATE_EPOCH", "")
    return float(pinned) if pinned.isdigit() else time.time()


def utc(fmt: str = "%Y-%m-%dT%H:%M:%SZ") -> str:
    """The time now in UTC, formatted (ISO 8601 with a Z by default)."""
    return time.strftime(fmt, time.gmtime(now()))

"""Fixtures for the SR-IOV tests (make_host, in tests/conftest.py, opens the demo's 82599 PFs by default)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vfio_tui.core.host import Host


@pytest.fixture
def demo(make_host: Callable[..., Host]) -> Host:
    return make_host()

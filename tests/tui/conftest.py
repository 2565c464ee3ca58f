"""Fixtures for the app tests: the demo host with a scripted backend, and a pilot helper."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fake_backend import FakeBackend

from core.host import Host, HostOptions, open_host
from tui.app import VfioApp, make_app


@pytest.fixture
def host() -> Iterator[Host]:
    with open_host(HostOptions(demo=True)) as h:
        yield h


@pytest.fixture
def make_demo_app(host: Host) -> Callable[..., VfioApp]:
    """make_demo_app(fail_at=None) -> the app on the demo host with a FakeBackend."""

    def make(**kwargs: object) -> VfioApp:
        return make_app(host, backend=FakeBackend(host, **kwargs))  # type: ignore[arg-type]

    return make


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run `async def` tests in a fresh event loop (Textual's run_test needs one; no plugin needed)."""
    import asyncio
    import inspect

    if not inspect.iscoroutinefunction(pyfuncitem.obj):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    kwargs = {name: pyfuncitem.funcargs[name] for name in names}
    asyncio.run(pyfuncitem.obj(**kwargs))
    return True

"""Fixtures for the app tests: the app on the demo host with the real core, and a pilot helper."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from vfio_tui.core.host import Host, HostOptions
from vfio_tui.core.open_host import open_host
from vfio_tui.core.simulated.kernel import SimulatedKernel
from vfio_tui.tui.app import VfioApp, make_app


@pytest.fixture(autouse=True)
def _colour_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app picks its theme from the terminal (16 colours: the ANSI theme): tests and snapshots
    run as in a true-colour terminal, whatever terminal runs pytest (the tmux tests set their own)."""
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.setenv("COLORTERM", "truecolor")
    monkeypatch.delenv("NO_COLOR", raising=False)


@pytest.fixture
def host() -> Iterator[Host]:
    with open_host(HostOptions(demo=True)) as h:
        yield h


@pytest.fixture
def make_demo_app(host: Host) -> Iterator[Callable[..., VfioApp]]:
    """make_demo_app(pace=0.0) -> the app on the demo host, real core, the demo's libvirt test driver.

    pace: seconds every simulated sysfs write takes (a run slow enough to cancel or watch).
    """
    apps: list[VfioApp] = []

    def make(pace: float = 0.0) -> VfioApp:
        if pace:
            kernel = host.kernel
            assert isinstance(kernel, SimulatedKernel)
            kernel.update_metadata(pace=pace)
        app = make_app(host)
        apps.append(app)
        return app

    yield make
    for app in apps:
        app.backend.close()


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

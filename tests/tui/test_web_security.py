"""`vfio-tui web`'s doors, tried as a hostile local user or web page would: no token → refused,
a foreign Origin → refused, the token and the served origin → the app; the server stops within
2 s of SIGTERM (or SIGHUP) with a socket open, and leaves no temp tree behind."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import psutil
import pytest

from tests.conftest import cli_env
from tests.fixture_paths import REPO_ROOT
from tests.tui.test_web import free_port, wait_port


class Served:
    def __init__(self, proc: subprocess.Popen[str], port: int, url: str, scratch: Path) -> None:
        self.proc, self.port, self.url, self.scratch = proc, port, url, scratch

    @property
    def base(self) -> str:
        return f"http://localhost:{self.port}"

    @property
    def token(self) -> str:
        return self.url.rsplit("token=", 1)[1]


@pytest.fixture
def served(tmp_path: Path) -> object:
    port = free_port()
    env = {**cli_env(), "TMPDIR": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "vfio_tui", "web", "--demo", "--port", str(port)], cwd=REPO_ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    try:
        wait_port(port)
        line = proc.stdout.readline()
        match = re.search(r"http://\S+\?token=\S+", line)
        assert match, f"no URL with a token printed: {line!r}"
        yield Served(proc, port, match.group(0), tmp_path)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


async def _screen(ws: aiohttp.ClientWebSocketResponse, want: bytes = b"Group", timeout: float = 60) -> bytes:
    """What the app process sent until `want` shows up (or the socket closes, or time runs out)."""
    await ws.send_json(["resize", {"width": 100, "height": 30}])
    seen = b""
    deadline = time.monotonic() + timeout
    while want not in seen and time.monotonic() < deadline:
        try:
            msg = await ws.receive(timeout=max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            break
        if msg.type == aiohttp.WSMsgType.BINARY:
            seen += bytes(msg.data)
        elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR):
            break
    return seen


async def _status_of_ws(base: str, *, cookie: str | None, origin: str | None) -> int:
    headers = {"Origin": origin} if origin else {}
    cookies = {"vfio_tui_token": cookie} if cookie else {}
    async with aiohttp.ClientSession(cookies=cookies) as http:
        try:
            async with http.ws_connect(f"{base}/ws?width=80&height=24", headers=headers):
                return 101
        except aiohttp.WSServerHandshakeError as exc:
            return exc.status


@pytest.mark.slow
def test_no_token_and_foreign_origin_are_refused_the_token_gets_the_app(served: Served) -> None:
    async def go() -> None:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{served.base}/") as resp:
                assert resp.status == 403 and "token" in await resp.text()
            async with http.get(f"{served.base}/?token=wrong-{served.token}") as resp:
                assert resp.status == 403
        # No token, right Origin: refused. Token, foreign Origin (a page on evil.example): refused.
        assert await _status_of_ws(served.base, cookie=None, origin=served.base) == 403
        assert await _status_of_ws(served.base, cookie=served.token, origin="https://evil.example") == 403
        assert await _status_of_ws(served.base, cookie=served.token, origin=None) == 403
        # The printed URL sets the cookie and sends the browser on to a URL without the token.
        async with aiohttp.ClientSession() as http:
            async with http.get(served.url, allow_redirects=False) as resp:
                assert resp.status == 302 and "token" not in resp.headers["Location"]
                assert "HttpOnly" in resp.headers["Set-Cookie"]
            async with http.get(served.url) as resp:
                assert resp.status == 200 and "websocket" in (await resp.text()).lower()
            async with http.ws_connect(f"{served.base}/ws?width=100&height=30",
                                       headers={"Origin": served.base}) as ws:
                screen = await _screen(ws)
        assert b"Group" in screen, "the app did not start for the right token and origin"

    asyncio.run(go())
    assert served.proc.poll() is None


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_server_stops_within_2s_with_a_socket_open_and_leaves_no_temp_tree(served: Served, sig: int) -> None:
    async def go() -> float:
        async with aiohttp.ClientSession(cookies={"vfio_tui_token": served.token}) as http, \
                http.ws_connect(f"{served.base}/ws?width=100&height=30", headers={"Origin": served.base}) as ws:
            assert b"Group" in await _screen(ws), "the app did not start"
            apps = psutil.Process(served.proc.pid).children(recursive=True)
            assert apps, "the server started no app process"
            start = time.monotonic()
            served.proc.send_signal(sig)
            await asyncio.to_thread(served.proc.wait, 20)
            took = time.monotonic() - start
            assert psutil.wait_procs(apps, timeout=5)[1] == [], "an app process outlived the server"
            return took

    took = asyncio.run(go())
    assert took < 2.0, f"the server took {took:.1f} s to stop with a tab open"
    left = [p.name for p in served.scratch.iterdir() if p.name.startswith("vfio-tui-")]
    assert left == [], f"temp trees left behind: {left}"


@pytest.mark.slow
def test_requests_are_logged_only_with_verbose(served: Served) -> None:
    async def go() -> None:
        async with aiohttp.ClientSession() as http, http.get(served.url):
            pass

    asyncio.run(go())
    served.proc.send_signal(signal.SIGTERM)
    _out, err = served.proc.communicate(timeout=20)
    assert "GET /" not in err, f"a request was logged without --verbose:\n{err}"


def test_reach_notes_say_who_can_connect() -> None:
    from vfio_tui.tui.cli.cmd_web import reach_notes

    exposed = " ".join(reach_notes("0.0.0.0", 8000))
    assert "0.0.0.0:8000" in exposed and "token" in exposed
    if os.geteuid() == 0:
        assert "every local user" in " ".join(reach_notes("localhost", 8000))

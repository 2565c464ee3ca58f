"""`vfio-tui web` in headless Chromium: the device tree renders in the browser terminal, and
stopping the server stops the app processes it started.

Chromium is driven over the DevTools protocol with aiohttp (already a textual-serve
dependency). xterm.js draws to a canvas, so the text is read from xterm's own buffer: a
setter installed before the page loads catches textual-serve's `this.terminal = new Terminal()`.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.conftest import cli_env
from tests.fixture_paths import REPO_ROOT

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

CATCH_TERMINAL = """
Object.defineProperty(Object.prototype, "terminal", {
  configurable: true,
  set(value) {
    if (value && value.buffer && !window.__vfioTerm) { window.__vfioTerm = value; }
    Object.defineProperty(this, "terminal", {value, writable: true, configurable: true, enumerable: true});
  },
});
"""

READ_SCREEN = """
(() => {
  const t = window.__vfioTerm;
  if (!t) return "";
  const b = t.buffer.active, out = [];
  for (let i = 0; i < t.rows; i++) { const l = b.getLine(b.viewportY + i); out.push(l ? l.translateToString(true) : ""); }
  return out.join("\\n");
})()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on port {port}")


async def read_terminal(url: str, devtools_port: int, want: str, timeout: float = 60) -> str:
    import aiohttp

    async with aiohttp.ClientSession() as http:
        deadline = time.monotonic() + 20
        pages: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not pages:
            try:
                async with http.get(f"http://127.0.0.1:{devtools_port}/json/list") as resp:
                    pages = [p for p in await resp.json() if p.get("type") == "page"]
            except aiohttp.ClientError:
                await asyncio.sleep(0.3)
        assert pages, "Chromium opened no page"
        async with http.ws_connect(pages[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
            ids = iter(range(1, 1_000_000))

            async def call(method: str, **params: Any) -> dict[str, Any]:
                msg_id = next(ids)
                await ws.send_str(json.dumps({"id": msg_id, "method": method, "params": params}))
                while True:
                    reply = json.loads((await ws.receive()).data)
                    if reply.get("id") == msg_id:
                        return dict(reply.get("result") or {})

            await call("Page.enable")
            await call("Page.addScriptToEvaluateOnNewDocument", source=CATCH_TERMINAL)
            await call("Page.navigate", url=url)
            text = ""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                result = await call("Runtime.evaluate", expression=READ_SCREEN, returnByValue=True)
                text = str(result.get("result", {}).get("value") or "")
                if want in text:
                    return text
                await asyncio.sleep(0.5)
            return text


@pytest.mark.slow
@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package (dev.sh installs it)")
def test_web_app_renders_the_tree_and_stops_within_2s_of_sigterm(tmp_path: Path) -> None:
    port, devtools = free_port(), free_port()
    server = subprocess.Popen([sys.executable, "-m", "vfio_tui", "web", "--demo", "--port", str(port)],
                              cwd=REPO_ROOT, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert server.stdout is not None
    browser = None
    took = None
    try:
        wait_port(port)
        url = server.stdout.readline().split()[-1]
        assert "?token=" in url, f"no URL with a token printed: {url!r}"
        browser = subprocess.Popen(
            [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={tmp_path}",
             f"--remote-debugging-port={devtools}", "--window-size=1400,900", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        screen = asyncio.run(read_terminal(url, devtools, "Group 19"))
        assert "Group 19" in screen, f"the tree did not render; the browser terminal shows:\n{screen}"
        assert "bindable" in screen and "blocked" in screen
        apps = [p for p in psutil.Process(server.pid).children(recursive=True)]
        assert apps, "the server started no app process"
        start = time.monotonic()  # the page is still open
        server.send_signal(signal.SIGTERM)
        server.wait(20)
        took = time.monotonic() - start
    finally:
        if browser is not None:
            browser.terminate()
            browser.wait(10)
        if server.poll() is None:
            server.kill()
            server.wait(10)
    assert psutil.wait_procs(apps, timeout=10)[1] == [], "an app process outlived the server"
    assert took is not None and took < 2.0, f"the server took {took:.1f} s to stop with the page open"


def test_web_child_dies_with_a_killed_server() -> None:
    """Even SIGKILL on the parent stops the app: the child asked for PR_SET_PDEATHSIG."""
    code = ("import subprocess,sys,time; p=subprocess.Popen([sys.executable,'-c',"
            "'from vfio_tui.tui.cli.web_child import die_with_parent; die_with_parent(); import time; time.sleep(60)']);"
            "print(p.pid, flush=True); time.sleep(60)")
    parent = subprocess.Popen([sys.executable, "-c", code], cwd=REPO_ROOT, env=cli_env(), stdout=subprocess.PIPE,
                              text=True)
    assert parent.stdout is not None
    child = psutil.Process(int(parent.stdout.readline()))
    time.sleep(1.0)
    parent.kill()
    parent.wait(10)
    _gone, alive = psutil.wait_procs([child], timeout=10)
    for p in alive:
        p.kill()
    assert not alive, "the app process outlived its killed server"


def test_web_help_teaches() -> None:
    out = subprocess.run([sys.executable, "-m", "vfio_tui", "web", "--help"], cwd=REPO_ROOT, env=cli_env(),
                         capture_output=True, text=True, check=True).stdout
    assert "localhost" in out and "vfio-tui web --demo" in out

"""Provides WebServer: textual-serve's server with the doors `vfio-tui web` needs shut.

The app it serves runs as the user who started the server — usually root — and changes drivers.
textual-serve itself has no authentication and accepts a WebSocket from any page, so:
- every request needs the server's random token: once in the URL printed at start
  (`/?token=...`), after which an HttpOnly cookie carries it and the browser is sent on to a URL
  without it (so the token stays out of history and Referer headers);
- the WebSocket that starts an app process is refused unless its Origin is the served origin
  (a web page on another site cannot open one, even on a browser that has the cookie);
- on SIGTERM, SIGINT or SIGHUP the app processes are stopped and their sockets closed at once, so
  the server is gone within about a second with tabs open;
- requests are logged only with --verbose.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import signal
from collections.abc import Awaitable, Callable
from contextlib import suppress
from typing import Any, Final
from urllib.parse import urlsplit

from aiohttp import WSCloseCode, web
from textual_serve.app_service import AppService
from textual_serve.server import Server

COOKIE: Final = "vfio_tui_token"
SHUTDOWN_TIMEOUT: Final = 1.0
"""Seconds aiohttp waits for open handlers when the server stops (textual-serve's 60 s kept a
connected tab's server alive ~23 s after SIGTERM)."""
FORBIDDEN: Final = ("vfio-tui web: this page needs the token printed when the server started;"
                    " open the URL with ?token=... that it printed\n")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def origin_of(url: str) -> str:
    """scheme://host[:port] of a URL, as a browser sends it in an Origin header."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class WebServer(Server):
    """textual-serve's Server with a token, an Origin check, quiet logs and a quick stop."""

    def __init__(self, command: str, *, host: str, port: int, token: str, public_url: str | None = None,
                 verbose: bool = False) -> None:
        super().__init__(command, host=host, port=port, title="vfio-tui", public_url=public_url)
        self.token = token
        self.verbose = verbose
        self.origin = origin_of(self.public_url)
        self._sockets: set[web.WebSocketResponse] = set()
        self._services: set[AppService] = set()

    @property
    def url(self) -> str:
        """The URL to open (with the token)."""
        return f"{self.public_url.rstrip('/')}/?token={self.token}"

    def token_ok(self, value: str | None) -> bool:
        return value is not None and hmac.compare_digest(value.encode(), self.token.encode())

    # -- logging and start-up ---------------------------------------------------------------
    def initialize_logging(self) -> None:
        logging.basicConfig(level=logging.INFO if self.verbose else logging.WARNING, format="%(message)s")
        logging.getLogger("aiohttp.access").setLevel(logging.INFO if self.verbose else logging.WARNING)

    async def on_startup(self, app: web.Application) -> None:
        print(f"vfio-tui web: open {self.url}", flush=True)

    # -- the app ------------------------------------------------------------------------------
    async def _make_app(self) -> web.Application:
        app: web.Application = await super()._make_app()
        app.middlewares.append(self._guard)
        app.on_shutdown.append(self._close_all)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Every request carries the token: in the query once (then a cookie), else refused."""
        given = request.query.get("token")
        if given is not None:
            if not self.token_ok(given):
                return web.Response(status=403, text=FORBIDDEN)
            if origin_of(str(request.url)) != self.origin:
                # Another spelling of this server (127.0.0.1 for localhost): the cookie must be set
                # for the origin the page's WebSocket will use.
                return _redirect(f"{self.public_url.rstrip('/')}{request.path}?token={given}")
            query = {k: v for k, v in request.query.items() if k != "token"}
            response = _redirect(request.rel_url.with_query(query).human_repr())
            response.set_cookie(COOKIE, self.token, httponly=True, samesite="Lax", path="/",
                                secure=self.public_url.startswith("https:"))
            return response
        if not self.token_ok(request.cookies.get(COOKIE)):
            return web.Response(status=403, text=FORBIDDEN)
        return await handler(request)

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One app process per socket, for a page of this server only (the Origin check)."""
        origin = (request.headers.get("Origin") or "").lower()
        if origin != self.origin:
            logging.getLogger("vfio-tui.web").warning("refused a WebSocket from origin %r", origin[:100])
            raise web.HTTPForbidden(text=f"vfio-tui web: WebSocket from another origin ({origin[:100] or 'none'})"
                                    " refused\n")
        websocket = web.WebSocketResponse(heartbeat=15, timeout=SHUTDOWN_TIMEOUT / 2)
        width = _int(request.query.get("width"), 80)
        height = _int(request.query.get("height"), 24)
        await websocket.prepare(request)
        async def close() -> None:
            await websocket.close()

        service = AppService(self.command, write_bytes=websocket.send_bytes, write_str=websocket.send_str,
                             close=close, download_manager=self.download_manager, debug=self.debug)
        self._sockets.add(websocket)
        self._services.add(service)
        try:
            await service.start(width, height)
            try:
                await self._process_messages(websocket, service)
            finally:
                await asyncio.wait_for(service.stop(), timeout=SHUTDOWN_TIMEOUT)
        except (TimeoutError, asyncio.CancelledError, ConnectionError):
            _terminate(service)
        finally:
            self._sockets.discard(websocket)
            self._services.discard(service)
            if not websocket.closed:
                await websocket.close()
        return websocket

    async def _close_all(self, app: web.Application) -> None:
        """Server stopping: stop every app process now and close every socket (going away)."""
        procs = [p for p in (_process(s) for s in list(self._services)) if p is not None]
        for service in list(self._services):
            _terminate(service)
        await asyncio.gather(*(ws.close(code=WSCloseCode.GOING_AWAY, message=b"server stopped")
                               for ws in list(self._sockets)), return_exceptions=True)
        # Reaped here, inside the loop: a process reaped after the loop closed is a traceback at exit.
        waits = [asyncio.ensure_future(p.wait()) for p in procs]
        if waits:
            _done, pending = await asyncio.wait(waits, timeout=SHUTDOWN_TIMEOUT / 2)
            for p in procs:
                if p.returncode is None:
                    with suppress(ProcessLookupError):
                        p.kill()
            if pending:
                await asyncio.wait(pending, timeout=SHUTDOWN_TIMEOUT / 2)

    def serve(self, debug: bool = False) -> None:
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        # SIGHUP too: closing the terminal stops the server the same orderly way (and its temp dirs go).
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, self.request_exit)
        web.run_app(self._make_app(), host=self.host, port=self.port, handle_signals=False, loop=loop,
                    shutdown_timeout=SHUTDOWN_TIMEOUT, access_log=logging.getLogger("aiohttp.access"),
                    print=lambda *args: None)


def _redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})


def _process(service: AppService) -> Any:
    """The service's app process while it runs (textual-serve keeps it in a private attribute)."""
    process = getattr(service, "_process", None)
    return process if process is not None and process.returncode is None else None


def _terminate(service: AppService) -> None:
    process = _process(service)
    if process is not None:
        with suppress(ProcessLookupError):
            process.terminate()


def _int(value: str | None, default: int) -> int:
    try:
        return max(1, min(1000, int(value or default)))
    except ValueError:
        return default

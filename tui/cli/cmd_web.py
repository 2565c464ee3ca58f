"""`vfio-tui web`: the same app in a browser, served by textual-serve on localhost, behind a token."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from vfio_tui.core.errors import InputError
from vfio_tui.core.host import HostOptions
from vfio_tui.tui.cli.argtypes import PORT

HELP = "serve the interactive app in a web browser (localhost only by default)"
DESCRIPTION = """\
Serve the vfio-tui app over HTTP with textual-serve: each browser tab gets its own app
process, running as the user who started the server, on the host options given here.
The page and its JavaScript are bundled, so it works without internet access.

It listens on localhost only, and every request needs the random token in the URL it
prints at start (http://localhost:8000/?token=...; the browser keeps it in a cookie).
A WebSocket from a page of any other origin is refused. The app can change drivers on
this machine: the token is its password, so do not share the URL. To reach it from
elsewhere use an SSH tunnel:
  ssh -L 8000:localhost:8000 server   then open the printed URL locally.
When the server stops (Ctrl+C, SIGTERM, or its terminal closing), every app process it
started stops too, within about a second.
"""
EPILOG = """\
examples:
  vfio-tui web --demo                 the demo host at http://localhost:8000
  vfio-tui web --port 9000            this machine's devices on port 9000
  vfio-tui web --host-snapshot h.json --port 8080
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=PORT, default=8000, help="TCP port (default 8000)")
    parser.add_argument("--bind", default="localhost", metavar="ADDR",
                        help="address to listen on (default localhost; anything else is exposed)")
    parser.add_argument("--public-url", metavar="URL",
                        help="URL the browser uses, when behind a proxy or tunnel (default http://BIND:PORT);"
                             " WebSockets are accepted only from this origin")
    parser.add_argument("--verbose", action="store_true", help="log every HTTP request")


def child_command(options: HostOptions) -> str:
    """The shell command textual-serve runs per browser tab: the app on the same host options."""
    argv = [sys.executable, "-m", "vfio_tui.tui.cli.web_child"]
    if options.demo:
        argv += ["--demo", options.demo_name]
    if options.root is not None:
        argv += ["--root", str(options.root.resolve())]
    if options.snapshot is not None:
        argv += ["--host-snapshot", str(options.snapshot.resolve())]
    if options.pci_ids is not None:
        argv += ["--pci-ids", str(options.pci_ids.resolve())]
    if options.unprivileged:
        argv.append("--as-user")
    # exec: the shell textual-serve starts is replaced, so the app is the server's direct child.
    return "exec " + " ".join(shlex.quote(a) for a in argv)


def run(args: argparse.Namespace, options: HostOptions) -> int:
    if not 0 < args.port < 65536:
        raise InputError(f"--port {args.port}: not a TCP port", fix="use 1-65535")
    import secrets
    import shutil
    import tempfile

    from vfio_tui.tui.cli.web_server import WebServer

    if options.snapshot is not None or options.root is not None:
        # Checked here, once: a refused recording or tree is one line now, not a blank browser tab later.
        from vfio_tui.core.open_host import open_host

        with open_host(options):
            pass
    import vfio_tui

    root = str(Path(vfio_tui.__file__).resolve().parent.parent)  # the checkout, or site-packages of the wheel
    # The app processes must run this same code, whatever the working directory.
    os.environ["PYTHONPATH"] = root + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH")
                                       else "")
    # The app processes make their temp trees (--demo, --host-snapshot) in here; it goes when the
    # server stops, even if an app process was killed before it could clean up.
    scratch = tempfile.mkdtemp(prefix="vfio-tui-web-")
    os.environ["TMPDIR"] = scratch
    for line in reach_notes(args.bind, args.port):
        print(f"vfio-tui web: {line}", file=sys.stderr)
    server = WebServer(child_command(options), host=args.bind, port=args.port, token=secrets.token_urlsafe(24),
                       public_url=args.public_url or default_public_url(args.bind, args.port),
                       verbose=args.verbose)
    try:
        server.serve()
    finally:
        stop_children(timeout=1.0)
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


LOOPBACK = ("localhost", "127.0.0.1", "::1")


def default_public_url(bind: str, port: int) -> str:
    host = f"[{bind}]" if ":" in bind else bind
    return f"http://{host}:{port}"


def reach_notes(bind: str, port: int) -> list[str]:
    """Who can reach the server, said plainly (root on a multi-user host most of all)."""
    notes = []
    if bind not in LOOPBACK:
        notes.append(f"warning: listening on {bind}:{port}; anyone on the network who reaches it and has the"
                     " token can change drivers on this host (prefer an SSH tunnel to localhost)")
    if os.geteuid() == 0:
        import psutil

        others = sorted({u.name for u in psutil.users()} - {"root"})
        who = f"; users logged in now: {', '.join(others)}" if others else ""
        notes.append(f"running as root: every local user can connect to port {port}, but only with the token"
                     f" printed below (the app runs as root for whoever has it){who}")
    return notes


def stop_children(timeout: float = 3.0) -> int:
    """Terminate (then kill) every process this server started; returns how many there were."""
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        try:
            child.terminate()
        except psutil.NoSuchProcess:
            continue
    _, alive = psutil.wait_procs(children, timeout=timeout)
    for child in alive:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            continue
    return len(children)

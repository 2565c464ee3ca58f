"""`vfio-tui web`: the same app in a browser, served by textual-serve on localhost."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from pathlib import Path

from core.errors import InputError
from core.host import HostOptions
from tui.cli.argtypes import PORT

HELP = "serve the interactive app in a web browser (localhost only by default)"
DESCRIPTION = """\
Serve the vfio-tui app over HTTP with textual-serve: each browser tab gets its own app
process, running as the user who started the server, on the host options given here.
The page and its JavaScript are bundled, so it works without internet access.

It listens on localhost only. The app can change drivers on this machine, so do not
expose it on a network; to reach it from elsewhere use an SSH tunnel:
  ssh -L 8000:localhost:8000 server   then open http://localhost:8000 locally.
When the server stops (Ctrl+C or SIGTERM), every app process it started stops too.
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
                        help="URL the browser uses, when behind a proxy or tunnel (default http://BIND:PORT)")


def child_command(options: HostOptions) -> str:
    """The shell command textual-serve runs per browser tab: the app on the same host options."""
    argv = [sys.executable, "-m", "tui.cli.web_child"]
    if options.demo:
        argv.append("--demo")
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
    from textual_serve.server import Server

    root = str(Path(__file__).resolve().parents[2])
    # The app processes must run this same code, whatever the working directory.
    os.environ["PYTHONPATH"] = root + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH")
                                       else "")
    if args.bind not in ("localhost", "127.0.0.1", "::1"):
        print(f"vfio-tui web: warning: listening on {args.bind}; anyone who reaches it can change drivers"
              " on this host", file=sys.stderr)
    server = Server(child_command(options), host=args.bind, port=args.port, title="vfio-tui",
                    public_url=args.public_url)
    try:
        server.serve()
    finally:
        stop_children()
    return 0


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

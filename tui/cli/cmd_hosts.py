"""`vfio-tui hosts add|list|remove|check`: the hosts `--on NAME`, `fleet` and `export` work on."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from vfio_tui.core.host import HostOptions

if TYPE_CHECKING:
    from vfio_tui.core.errors import VfioError
    from vfio_tui.core.remote.hosts import HostEntry, HostsConfig
    from vfio_tui.core.remote.probe import HostProbe

HELP = "name the hypervisors vfio-tui reaches over ssh (add, list, remove, check)"
DESCRIPTION = """\
Name a host once, then use it everywhere: `--on NAME` on any command, `vfio-tui fleet` for all of them.
A host is an SSH destination as ssh takes it — [user@]host[:port] or any Host alias of ~/.ssh/config —
reached with the system ssh, your keys, agent and known_hosts (never a password prompt; an unknown host
key is an error: check it once with plain `ssh`). Hosts are kept in ~/.config/vfio-tui/hosts.toml.

On the host, reads use its own vfio-tui when installed (on its PATH, in ~/.local/bin, or --vfio-tui),
else a read-only collector sent on stdin to python3 (>= 3.11; nothing is installed or written there).
Changes (pass, undo, bind, restore --on NAME) are made by vfio-tui on the host itself.
"""
EPILOG = """\
examples:
  vfio-tui hosts add gpu1 root@gpu1.example.org
  vfio-tui hosts add lab admin@10.0.0.7:2222 --sudo         a non-root login, sudo -n on the host
  vfio-tui hosts add rack2 rack2                            a Host alias of ~/.ssh/config
  vfio-tui hosts add rehearse root@h3 --remote-root /srv/h  a sim-host tree on that machine
  vfio-tui hosts list
  vfio-tui hosts check
  vfio-tui hosts remove gpu1
"""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="add a host (checks that it answers)",
                         description="Add a host: NAME for vfio-tui, DEST for ssh.")
    add.add_argument("name", metavar="NAME", help="a short name (letters, digits, . _ -)")
    add.add_argument("destination", metavar="DEST", help="[user@]host[:port] or a Host alias of ~/.ssh/config")
    add.add_argument("--vfio-tui", metavar="CMD", help="vfio-tui's path on that host (default: found there)")
    add.add_argument("--sudo", action="store_true", help="run vfio-tui there through `sudo -n` (a non-root login)")
    add.add_argument("--collector", action="store_true",
                     help="always read with the stdlib collector, even where vfio-tui is installed")
    where = add.add_mutually_exclusive_group()
    where.add_argument("--remote-root", metavar="DIR",
                       help="a host tree on that machine (a `vfio-tui sim-host` tree to rehearse on)")
    where.add_argument("--remote-demo", action="store_true", help="that machine's built-in demo host")
    add.add_argument("--libvirt-uri", metavar="URI",
                     help="the host's libvirt for reads (default qemu+ssh://DEST/system?no_tty=1)")
    add.add_argument("--replace", action="store_true", help="replace a host of the same name")
    add.add_argument("--no-check", action="store_true", help="add it without connecting")
    lst = sub.add_parser("list", help="the hosts (no connection)")
    lst.add_argument("--json", action="store_true", help="print JSON")
    rm = sub.add_parser("remove", help="forget a host")
    rm.add_argument("name", metavar="NAME")
    chk = sub.add_parser("check", help="connect to each host and say what vfio-tui can do there")
    chk.add_argument("names", metavar="NAME", nargs="*", help="only these hosts")
    chk.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace, options: HostOptions) -> int:
    from vfio_tui.core.errors import InputError
    from vfio_tui.core.remote.hosts import load_hosts, make_entry

    if options.demo or options.root is not None or options.snapshot is not None:
        raise InputError("`vfio-tui hosts` manages the named hosts; it takes no host option")
    config = load_hosts()
    if args.action == "add":
        entry = make_entry(args.name, args.destination, vfio_tui=args.vfio_tui, sudo=args.sudo,
                           collector=args.collector, root=args.remote_root, demo=args.remote_demo,
                           libvirt_uri=args.libvirt_uri)
        config.add(entry, replace_existing=args.replace)
        line = "not checked (--no-check)"
        if not args.no_check:
            from vfio_tui.core.remote.probe import probe_host

            line = probe_host(entry).summary  # unreachable or unknown key: the error, and nothing added
        config.save()
        print(f"added {entry.name} ({entry.ssh_target}): {line}")
        return 0
    if args.action == "remove":
        entry = config.remove(args.name)
        config.save()
        print(f"removed {entry.name} ({entry.ssh_target})")
        return 0
    if args.action == "list":
        return _list(config, as_json=args.json)
    return _check(config, args.names, as_json=args.json)


def _list(config: HostsConfig, *, as_json: bool) -> int:
    from vfio_tui.tui.cli.common import print_json

    if as_json:
        print_json({"schema": "vfio-tui/hosts/1", "hosts": [e.to_json() for e in config.hosts.values()]})
        return 0
    if not config.hosts:
        print(f"no hosts yet ({config.path}); add one with `vfio-tui hosts add NAME [user@]host[:port]`")
        return 0
    width = max(len(n) for n in config.hosts)
    for entry in config.hosts.values():
        notes = [f"{k}={v}" for k, v in entry.to_toml().items() if k != "destination"]
        print(f"{entry.name:<{width}}  {entry.destination}  {' '.join(notes)}".rstrip())
    return 0


def _check(config: HostsConfig, names: list[str], *, as_json: bool) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from vfio_tui.core.errors import VfioError
    from vfio_tui.core.remote.probe import probe_host
    from vfio_tui.tui.cli.common import print_json

    entries = [config.get(n) for n in names] if names else list(config.hosts.values())

    def one(entry: HostEntry) -> HostProbe | VfioError:
        try:
            return probe_host(entry)
        except VfioError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(zip(entries, pool.map(one, entries), strict=True))
    rows = []
    for entry, res in results:
        if isinstance(res, VfioError):
            rows.append({"name": entry.name, "reachable": False, "error": str(res)})
            if not as_json:
                print(f"{entry.name}: DOWN: {res}")
        else:
            rows.append(res.to_json())
            if not as_json:
                print(f"{entry.name}: {res.summary}")
    if as_json:
        print_json({"schema": "vfio-tui/hosts-check/1", "hosts": rows})
    elif not entries:
        print("no hosts yet; add one with `vfio-tui hosts add NAME [user@]host[:port]`", file=sys.stderr)
    return 1 if any(isinstance(r, VfioError) for _, r in results) else 0

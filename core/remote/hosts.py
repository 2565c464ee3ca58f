"""Provides the hosts a user named for vfio-tui (`vfio-tui hosts add NAME [user@]host[:port]`), kept in
`$XDG_CONFIG_HOME/vfio-tui/hosts.toml` (default ~/.config/vfio-tui/hosts.toml).

A host is an SSH destination, exactly as `ssh` takes it: `user@host`, `host:port`, or any `Host`
alias of ~/.ssh/config (then the user's config says how to get there). Nothing secret is stored:
keys, agents and known_hosts stay OpenSSH's business.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

from vfio_tui.core.errors import HostDataError, InputError

HOSTS_FILE: Final = "hosts.toml"
_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
# What ssh takes as a destination: user, host name, IPv4/IPv6 literal, alias. No spaces, quotes,
# shell characters or a leading "-" (ssh would read it as an option).
_DEST: Final = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.@%:+-]{0,254}$")
_REMOTE_CMD: Final = re.compile(r"^[A-Za-z0-9_./~+-]{1,255}$")
_REMOTE_PATH: Final = re.compile(r"^/[^\x00-\x1f\x7f]{0,4095}$")


def config_dir() -> Path:
    """The user's vfio-tui config dir (XDG: $XDG_CONFIG_HOME/vfio-tui, else ~/.config/vfio-tui)."""
    base = os.environ.get("XDG_CONFIG_HOME") or ""
    return (Path(base) if os.path.isabs(base) else Path.home() / ".config") / "vfio-tui"


def hosts_file() -> Path:
    return config_dir() / HOSTS_FILE


@dataclass(frozen=True)
class HostEntry:
    """One named host: where ssh goes, and how vfio-tui runs there."""

    name: str
    destination: str
    """`user@host`, `host` or a ~/.ssh/config alias, as ssh takes it."""
    port: int | None = None
    vfio_tui: str | None = None
    """The vfio-tui command on that host; None: `vfio-tui` on its PATH or in ~/.local/bin (pipx)."""
    sudo: bool = False
    """Run vfio-tui there through `sudo -n` (for a login that is not root; never asks a password)."""
    collector: bool = False
    """Read with the stdlib collector even where vfio-tui is installed."""
    root: str | None = None
    """A host tree on that machine (`--root DIR` there: a sim-host tree to rehearse on)."""
    demo: bool = False
    """That machine's built-in demo host (`--demo` there): a fleet to try without hypervisors."""
    libvirt_uri: str | None = None
    """The host's libvirt for read commands; None: qemu+ssh://DEST/system."""

    @property
    def ssh_target(self) -> str:
        """For messages: the destination with its port."""
        return f"{self.destination}:{self.port}" if self.port else self.destination

    def host_args(self) -> list[str]:
        """The host options the remote vfio-tui (or the collector) gets."""
        if self.demo:
            return ["--demo"]
        return ["--root", self.root] if self.root else []

    def default_libvirt_uri(self) -> str:
        """libvirt's own remote transport to this host: ssh with the user's keys (libvirt runs `ssh`)."""
        if self.libvirt_uri:
            return self.libvirt_uri
        port = f":{self.port}" if self.port else ""
        host = self.destination
        if ":" in host.rpartition("@")[2]:  # an IPv6 literal goes in brackets in a URI
            user, at, addr = host.rpartition("@")
            host = f"{user}{at}[{addr}]"
        # no_tty=1: libvirt's ssh never asks for a password (as BatchMode for vfio-tui's own ssh).
        return f"qemu+ssh://{host}{port}/system?no_tty=1"

    def to_toml(self) -> dict[str, Any]:
        out: dict[str, Any] = {"destination": self.destination}
        for key in ("port", "vfio_tui", "root", "libvirt_uri"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        for key in ("sudo", "collector", "demo"):
            if getattr(self, key):
                out[key] = True
        return out

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, **self.to_toml()}


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise InputError(f"host name {name[:80]!r}: use letters, digits, '.', '_' and '-' (at most 63)")
    return name


def parse_destination(text: str) -> tuple[str, int | None]:
    """`[user@]host[:port]`, `[user@][v6addr]:port` or an ssh alias -> (destination, port).

    Raises:
        InputError: something ssh would not take as one destination.
    """
    port: int | None = None
    dest = text.strip()
    user, at, rest = dest.rpartition("@")
    if rest.startswith("["):
        addr, close, tail = rest[1:].partition("]")
        if not close or (tail and not tail.startswith(":")):
            raise InputError(f"{text[:80]!r}: write an IPv6 address as [addr] or [addr]:port")
        rest, port_text = addr, tail[1:]
        if port_text:
            port = _port(port_text, text)
    elif rest.count(":") == 1:
        rest, port_text = rest.split(":")
        port = _port(port_text, text)
    dest = f"{user}{at}{rest}"
    if not rest or not _DEST.match(dest) or (at and not user):
        raise InputError(f"{text[:80]!r} is not an SSH destination ([user@]host[:port] or a Host alias of"
                         " ~/.ssh/config)")
    return dest, port


def _port(text: str, whole: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise InputError(f"{whole[:80]!r}: the port must be a number from 1 to 65535")
    return int(text)


def make_entry(name: str, destination: str, *, vfio_tui: str | None = None, sudo: bool = False,
               collector: bool = False, root: str | None = None, demo: bool = False,
               libvirt_uri: str | None = None) -> HostEntry:
    """A checked HostEntry from what the user typed."""
    dest, port = parse_destination(destination)
    if vfio_tui is not None and not _REMOTE_CMD.match(vfio_tui):
        raise InputError(f"--vfio-tui {vfio_tui[:80]!r}: give the command's path on that host")
    if root is not None and not _REMOTE_PATH.match(root):
        raise InputError(f"--remote-root {root[:80]!r}: give an absolute path on that host")
    if root is not None and demo:
        raise InputError("give --remote-root or --remote-demo, not both")
    if libvirt_uri is not None and ("://" not in libvirt_uri or any(c.isspace() for c in libvirt_uri)):
        raise InputError(f"--libvirt-uri {libvirt_uri[:80]!r} is not a libvirt URI")
    return HostEntry(check_name(name), dest, port, vfio_tui, sudo, collector, root, demo, libvirt_uri)


@dataclass
class HostsConfig:
    """The hosts file: named hosts in the order they were added."""

    hosts: dict[str, HostEntry] = field(default_factory=dict)
    path: Path = field(default_factory=hosts_file)

    def get(self, name: str) -> HostEntry:
        entry = self.hosts.get(name)
        if entry is None:
            known = ", ".join(self.hosts) or "none yet"
            raise InputError(f"no host named {name!r} (hosts: {known})",
                             fix="add it with `vfio-tui hosts add NAME [user@]host[:port]`")
        return entry

    def add(self, entry: HostEntry, *, replace_existing: bool = False) -> None:
        if entry.name in self.hosts and not replace_existing:
            raise InputError(f"a host named {entry.name!r} exists ({self.hosts[entry.name].ssh_target})",
                             fix="remove it first, or add with --replace")
        self.hosts[entry.name] = entry

    def remove(self, name: str) -> HostEntry:
        entry = self.get(name)
        del self.hosts[name]
        return entry

    def save(self) -> None:
        from vfio_tui.core.remote.files import write_private

        write_private(self.path, render_toml(self).encode(), root=self.path.parent)


def load_hosts(path: Path | None = None) -> HostsConfig:
    """The hosts file (an empty config when there is none yet).

    Raises:
        HostDataError: the file is not TOML or holds a host vfio-tui cannot use.
    """
    path = path or hosts_file()
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        return HostsConfig(path=path)
    except OSError as exc:
        raise HostDataError(f"cannot read the hosts file: {exc.strerror}", path=str(path)) from None
    try:
        data = tomllib.loads(text.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise HostDataError(f"the hosts file is not TOML ({exc})"[:200], path=str(path)) from None
    hosts = data.get("hosts", {})
    if not isinstance(hosts, dict):
        raise HostDataError("[hosts] is not a table", path=str(path))
    out = HostsConfig(path=path)
    for name, raw in hosts.items():
        if not isinstance(raw, dict) or not isinstance(raw.get("destination"), str):
            raise HostDataError(f"host {name!r} has no destination", path=str(path))
        try:
            entry = make_entry(str(name), raw["destination"], vfio_tui=_opt_str(raw, "vfio_tui"),
                               sudo=raw.get("sudo") is True, collector=raw.get("collector") is True,
                               root=_opt_str(raw, "root"), demo=raw.get("demo") is True,
                               libvirt_uri=_opt_str(raw, "libvirt_uri"))
            port = raw.get("port")
            if port is not None:
                if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
                    raise InputError(f"port {port!r} is not a port number")
                entry = replace(entry, port=port)
        except InputError as exc:
            raise HostDataError(f"host {name!r}: {exc.detail}", path=str(path)) from None
        out.hosts[entry.name] = entry
    return out


def _opt_str(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    return value if isinstance(value, str) else None


def _toml_value(value: object) -> str:
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    # A JSON string is a TOML basic string for everything make_entry() lets through.
    return json.dumps(str(value), ensure_ascii=True)


def render_toml(config: HostsConfig) -> str:
    lines = ["# vfio-tui hosts: `vfio-tui hosts add/remove` edit this file; ssh settings belong in ~/.ssh/config", ""]
    for name, entry in config.hosts.items():
        lines.append(f"[hosts.{_toml_value(name)}]")
        lines.extend(f"{key} = {_toml_value(value)}" for key, value in entry.to_toml().items())
        lines.append("")
    return "\n".join(lines)

"""Named hosts without a network: destinations as ssh takes them, the hosts file, what each ssh failure
says, the remote command lines, and `--on` against the other host options."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from vfio_tui.core.errors import HostDataError, InputError
from vfio_tui.core.host import HostOptions
from vfio_tui.core.remote.fetch import parse_marks, probe_script
from vfio_tui.core.remote.hosts import HostEntry, load_hosts, make_entry, parse_destination
from vfio_tui.core.remote.run import command_script
from vfio_tui.core.remote.ssh import classify_ssh_failure, ssh_argv
from vfio_tui.tui.cli.remote import forwarded, remote_words


@pytest.mark.parametrize(("text", "dest", "port"), [
    ("gpu1", "gpu1", None),
    ("root@gpu1.example.org", "root@gpu1.example.org", None),
    ("admin@10.0.0.7:2222", "admin@10.0.0.7", 2222),
    ("[fd00::7]:2200", "fd00::7", 2200),
    ("root@[fd00::7]", "root@fd00::7", None),
    ("rack2-alias", "rack2-alias", None),
])
def test_destinations(text: str, dest: str, port: int | None) -> None:
    assert parse_destination(text) == (dest, port)


@pytest.mark.parametrize("text", ["", "-oProxyCommand=x", "a b", "root@", "host:0", "host:70000", "h;rm",
                                  "[fd00::1", "user@host:port", "$(id)"])
def test_bad_destinations_are_one_line_input_errors(text: str) -> None:
    with pytest.raises(InputError):
        parse_destination(text)


def test_entry_checks_names_and_options() -> None:
    with pytest.raises(InputError, match="host name"):
        make_entry("../x", "h")
    with pytest.raises(InputError, match="absolute path"):
        make_entry("h", "h", root="relative/dir")
    with pytest.raises(InputError, match="not both"):
        make_entry("h", "h", root="/srv/h", demo=True)
    with pytest.raises(InputError, match="--vfio-tui"):
        make_entry("h", "h", vfio_tui="vfio-tui; rm -rf /")
    assert make_entry("h", "root@h:2222").default_libvirt_uri() == "qemu+ssh://root@h:2222/system?no_tty=1"
    assert make_entry("h", "root@[fd00::1]:22").default_libvirt_uri() == "qemu+ssh://root@[fd00::1]:22/system?no_tty=1"


def test_hosts_file_round_trip_and_damage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    config = load_hosts()
    assert config.hosts == {} and config.path == tmp_path / "vfio-tui" / "hosts.toml"
    config.add(make_entry("a", "root@a:2222", sudo=True))
    config.add(make_entry("b", "b", root="/srv/h b", vfio_tui="/opt/vt/bin/vfio-tui"))
    with pytest.raises(InputError, match="exists"):
        config.add(make_entry("a", "a"))
    config.save()
    assert config.path.stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "vfio-tui").stat().st_mode & 0o777 == 0o700
    again = load_hosts()
    assert again.hosts == config.hosts
    with pytest.raises(InputError, match="no host named 'c'"):
        again.get("c")
    config.path.write_text("[hosts.x]\nport = 22\n")
    with pytest.raises(HostDataError, match="no destination"):
        load_hosts()
    config.path.write_text("not toml [")
    with pytest.raises(HostDataError, match="not TOML"):
        load_hosts()
    config.path.write_text('[hosts.x]\ndestination = "-oProxyCommand=evil"\n')
    with pytest.raises(HostDataError, match="not an SSH destination"):
        load_hosts()


def _entry(**kw: Any) -> HostEntry:
    return make_entry("gpu1", "root@gpu1:2222", **kw)


# The messages OpenSSH 9.2 prints (seen from the test sshd and a closed port).
@pytest.mark.parametrize(("stderr", "kind", "words"), [
    ("ssh: connect to host 127.0.0.1 port 42223: Connection refused", "unreachable", "connection refused"),
    ("ssh: Could not resolve hostname nonexistent.invalid: Name or service not known", "unreachable",
     "does not resolve"),
    ("No ED25519 host key is known for [127.0.0.1]:42222 and you have requested strict checking.\n"
     "Host key verification failed.", "host-key", "never accepts host keys"),
    ("@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\nHost key verification failed.",
     "host-key", "CHANGED"),
    ("root@127.0.0.1: Permission denied (publickey).", "auth", "never asks for passwords"),
    ("ssh: connect to host 10.9.9.9 port 22: Connection timed out", "unreachable", "timed out"),
    ("something new", "ssh", "ssh failed: something new"),
])
def test_ssh_failures_say_what_to_do(stderr: str, kind: str, words: str) -> None:
    err = classify_ssh_failure(_entry(), stderr)
    assert err.kind == kind and words in str(err)
    assert "\n" not in str(err) and str(err).startswith("gpu1 (root@gpu1:2222)")


def test_ssh_command_line_is_batch_multiplexed_and_never_forwards(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setenv("VFIO_TUI_SSH", "ssh -F /tmp/cfg")
    argv = ssh_argv(_entry(), "true")
    assert argv[:3] == ["ssh", "-F", "/tmp/cfg"]
    for opt in ("BatchMode=yes", "ControlMaster=auto", "ForwardAgent=no", "ClearAllForwardings=yes"):
        assert opt in argv
    assert f"ControlPath={tmp_path}/vfio-tui-ssh/%C" in argv
    assert argv[-4:] == ["2222", "--", "root@gpu1", "true"]
    assert (tmp_path / "vfio-tui-ssh").stat().st_mode & 0o777 == 0o700


def test_remote_scripts_quote_everything() -> None:
    entry = _entry(root="/srv/my host", sudo=True)
    script = command_script(entry, ["pass", "0b:00.0", "vm; rm -rf /", "--yes"])
    assert "'vm; rm -rf /'" in script and "'/srv/my host'" in script
    assert 'exec sudo -n "$VT" pass 0b:00.0' in script
    assert "python3" not in script  # changes never fall back to the collector
    read = probe_script(_entry(collector=True), ["snapshot", "-"], [])
    assert "via vfio-tui" not in read and "exec python3 -" in read
    marks, rest = parse_marks("vfio-tui-remote: node h1\nvfio-tui-remote: via collector\nwarning: x\n")
    assert marks == {"node": "h1", "via": "collector"} and rest == ["warning: x"]


def test_on_is_one_host_option_among_the_others() -> None:
    with pytest.raises(InputError, match="choose one of"):
        HostOptions(on="gpu1", demo=True).validate()
    with pytest.raises(InputError, match="choose one of"):
        HostOptions(on="gpu1", snapshot=Path("x.json")).validate()


def test_which_commands_run_on_the_host() -> None:
    ns = argparse.Namespace
    assert forwarded("pass", ns()) and forwarded("undo", ns()) and forwarded("vms", ns())
    assert not forwarded("inventory", ns()) and not forwarded("check", ns(fix=None, undo=None))
    assert forwarded("check", ns(fix="intel-iommu-on", undo=None))
    assert remote_words("pass", ["--on", "gpu1", "pass", "0b:00.0", "vm", "--on=gpu1", "--yes"]) == \
        ["pass", "0b:00.0", "vm", "--yes"]
    assert remote_words("pass", ["--on", "pass", "pass", "0b:00.0", "vm"]) == ["pass", "0b:00.0", "vm"]
    with pytest.raises(InputError, match="about this machine"):
        remote_words("pass", ["pass", "0b:00.0", "vm", "--on", "gpu1", "--pci-ids", "/x"])

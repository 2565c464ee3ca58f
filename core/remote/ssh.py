"""Provides run_ssh() and stream_ssh(): one command on a named host through the system `ssh`, and
RemoteError, what a failed connection means in one line.

Every connection is the user's own OpenSSH: their ~/.ssh/config, keys, agent and known_hosts. On top
vfio-tui asks for
- BatchMode: never a password or passphrase prompt, never "accept this host key?" — an unknown or
  changed key is an error that says how to check it (vfio-tui never accepts keys itself);
- ControlMaster multiplexing (socket in a private runtime dir, kept 60 s): a fleet read and the
  commands after it share one connection per host instead of one handshake each;
- no agent or X11 forwarding and no port forwardings from the user's config (they would clash
  with the shared connection and nothing here needs them).
`VFIO_TUI_SSH` replaces the `ssh` command itself (split like a shell: `ssh -F ~/other_config`).
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, TypeAlias

from vfio_tui.core.errors import VfioError
from vfio_tui.core.remote.hosts import HostEntry

CONNECT_TIMEOUT: Final = 10
CONTROL_PERSIST: Final = 60
MAX_OUTPUT: Final = 256 * 1024 * 1024
"""The most a host may send for one read (the recorded-host size limit)."""
FailureKind: TypeAlias = Literal["unreachable", "host-key", "auth", "timeout", "remote", "ssh"]


class RemoteError(VfioError):
    """A host could not be reached or its command could not run; `kind` says which."""

    def __init__(self, detail: str, *, kind: FailureKind, fix: str = "") -> None:
        super().__init__(detail, fix=fix, title="Remote host")
        self.kind = kind


@dataclass(frozen=True)
class SshResult:
    returncode: int
    stdout: bytes
    stderr: str


def ssh_program() -> list[str]:
    """The ssh command: `VFIO_TUI_SSH` (shell words) or `ssh`."""
    words = shlex.split(os.environ.get("VFIO_TUI_SSH", "") or "ssh")
    return words or ["ssh"]


def control_dir() -> Path:
    """A private dir for ControlMaster sockets: $XDG_RUNTIME_DIR/vfio-tui-ssh, else a per-user dir in
    the temp dir. Refused when someone else owns it or it is a link (a planted socket dir)."""
    runtime = os.environ.get("XDG_RUNTIME_DIR") or ""
    base = Path(runtime) if os.path.isabs(runtime) and os.path.isdir(runtime) else Path(tempfile.gettempdir())
    path = base / (f"vfio-tui-ssh-{os.geteuid()}" if base == Path(tempfile.gettempdir()) else "vfio-tui-ssh")
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise RemoteError(f"cannot make {path} for ssh's shared connections: {exc.strerror}", kind="ssh") from None
    st = os.lstat(path)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() or st.st_mode & 0o077:
        raise RemoteError(f"{path} is not a private directory of this user; not using it for ssh sockets",
                          kind="ssh", fix=f"remove {path}")
    return path


def ssh_argv(entry: HostEntry, remote_command: str | None = None, *, extra: Sequence[str] = ()) -> list[str]:
    """The full ssh command line for `remote_command` on `entry` (None: no command, with `extra`)."""
    argv = [*ssh_program(),
            "-o", "BatchMode=yes",
            "-o", "ControlMaster=auto",
            "-o", f"ControlPath={control_dir()}/%C",
            "-o", f"ControlPersist={CONTROL_PERSIST}",
            "-o", f"ConnectTimeout={CONNECT_TIMEOUT}",
            "-o", "ServerAliveInterval=15",
            "-o", "ForwardAgent=no",
            "-o", "ForwardX11=no",
            "-o", "ClearAllForwardings=yes",
            "-T", *extra]
    if entry.port:
        argv += ["-p", str(entry.port)]
    argv += ["--", entry.destination]
    if remote_command is not None:
        argv.append(remote_command)
    return argv


def remote_words(words: Sequence[str]) -> str:
    """Words as one remote shell command line (ssh hands the remote shell a single string)."""
    return " ".join(shlex.quote(w) for w in words)


def run_ssh(entry: HostEntry, remote_command: str, *, stdin: bytes | None = None,
            timeout: float = 120.0, max_output: int = MAX_OUTPUT) -> SshResult:
    """Run `remote_command` on the host; its exit status and output, or RemoteError when ssh itself
    failed (unreachable, unknown key, no key accepted), the host did not answer in time, or it sent
    more than `max_output` bytes (a host's answer is untrusted input)."""
    import threading

    argv = ssh_argv(entry, remote_command)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
    except FileNotFoundError:
        raise RemoteError(f"no `{argv[0]}` command on this machine", kind="ssh",
                          fix="install OpenSSH's client (apt-get install openssh-client)") from None
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    pipe_in, pipe_err = proc.stdin, proc.stderr
    err_chunks: list[bytes] = []
    timed_out = threading.Event()

    def feed() -> None:
        try:
            if stdin:
                pipe_in.write(stdin)
            pipe_in.close()
        except OSError:  # the remote command did not read its stdin (vfio-tui found): fine
            pass

    def drain_stderr() -> None:
        kept = 0
        for chunk in iter(lambda: pipe_err.read(8192), b""):
            if kept < 65536:
                err_chunks.append(chunk)
                kept += len(chunk)

    def expire() -> None:
        timed_out.set()
        _kill(proc)

    workers = [threading.Thread(target=feed, daemon=True), threading.Thread(target=drain_stderr, daemon=True)]
    for w in workers:
        w.start()
    timer = threading.Timer(timeout, expire)
    timer.start()
    out = bytearray()
    try:
        for chunk in iter(lambda: proc.stdout.read(65536) if proc.stdout else b"", b""):
            out += chunk
            if len(out) > max_output:
                _kill(proc)
                raise RemoteError(f"{entry.name} ({entry.ssh_target}) sent more than {max_output} bytes; stopped",
                                  kind="remote")
        code = proc.wait()
    except BaseException:
        _kill(proc)
        proc.wait()
        raise
    finally:
        timer.cancel()
    for w in workers:
        w.join(timeout=5)
    if timed_out.is_set():
        raise RemoteError(f"{entry.name} ({entry.ssh_target}) did not answer within {timeout:g} s",
                          kind="timeout", fix="is the host overloaded or the network down?")
    err = b"".join(err_chunks).decode(errors="replace")
    if code == 255:
        raise classify_ssh_failure(entry, err)
    return SshResult(code, bytes(out), err)


def stream_ssh(entry: HostEntry, remote_command: str, on_line: Callable[[str], None],
               *, on_stderr: Callable[[str], None] | None = None) -> SshResult:
    """Run `remote_command`, calling `on_line` with each stdout line as it arrives (a changing
    command's JSON events). stderr is passed to `on_stderr` line by line, and kept for errors."""
    import threading

    argv = ssh_argv(entry, remote_command)
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
    except FileNotFoundError:
        raise RemoteError(f"no `{argv[0]}` command on this machine", kind="ssh",
                          fix="install OpenSSH's client (apt-get install openssh-client)") from None
    assert proc.stdout is not None and proc.stderr is not None
    err_lines: list[str] = []
    stderr = proc.stderr

    def pump_stderr() -> None:
        for raw in stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            err_lines.append(line)
            if on_stderr is not None:
                on_stderr(line)

    reader = threading.Thread(target=pump_stderr, daemon=True)
    reader.start()
    try:
        for raw in proc.stdout:
            on_line(raw.decode(errors="replace").rstrip("\n"))
        code = proc.wait()
    except BaseException:
        _kill(proc)
        proc.wait()
        raise
    reader.join(timeout=5)
    err = "\n".join(err_lines)
    if code == 255:
        raise classify_ssh_failure(entry, err)
    return SshResult(code, b"", err)


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """Kill ssh and whatever it started (a ProxyCommand holds our pipes open otherwise): its own
    session, started for it, so nothing else of the user's is touched."""
    import signal

    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        proc.kill()


_UNREACHABLE: Final = (
    ("Could not resolve hostname", "its name does not resolve"),
    ("Name or service not known", "its name does not resolve"),
    ("Connection refused", "connection refused (is sshd running on that port?)"),
    ("Connection timed out", "the connection timed out"),
    ("Operation timed out", "the connection timed out"),
    ("No route to host", "no route to host"),
    ("Network is unreachable", "the network is unreachable"),
    ("Connection closed", "the connection was closed by the host"),
    ("Connection reset", "the connection was reset"),
    ("kex_exchange_identification", "the connection was closed before SSH started"),
)


def classify_ssh_failure(entry: HostEntry, stderr: str) -> RemoteError:
    """ssh's exit status 255 and its message -> one line that says what to do."""
    who = f"{entry.name} ({entry.ssh_target})"
    port = f" -p {entry.port}" if entry.port else ""
    if "REMOTE HOST IDENTIFICATION HAS CHANGED" in stderr or "has changed and you have requested strict" in stderr:
        return RemoteError(f"{who}: its host key has CHANGED since you last connected; not connecting",
                           kind="host-key",
                           fix="if the host was reinstalled, check the new key with its admin and fix known_hosts"
                               f" (ssh-keygen -R {entry.destination.rpartition('@')[2]})")
    if "Host key verification failed" in stderr:
        return RemoteError(f"{who}: its host key is not known (vfio-tui never accepts host keys itself)",
                           kind="host-key",
                           fix=f"connect once with `ssh{port} {entry.destination}` and check the fingerprint")
    if "Permission denied" in stderr or "Too many authentication failures" in stderr:
        return RemoteError(f"{who}: no SSH key was accepted (vfio-tui never asks for passwords)",
                           kind="auth",
                           fix="load your key into ssh-agent (ssh-add) or give it an IdentityFile in ~/.ssh/config")
    for needle, what in _UNREACHABLE:
        if needle in stderr:
            return RemoteError(f"{who} is unreachable: {what}", kind="unreachable")
    last = next((line.strip() for line in reversed(stderr.splitlines()) if line.strip()), "no message")
    return RemoteError(f"{who}: ssh failed: {last[:200]}", kind="ssh")


def close_connection(entry: HostEntry) -> None:
    """Stop the shared connection to `entry`, if one is open (`ssh -O exit`)."""
    argv = ssh_argv(entry, extra=("-O", "exit"))
    try:
        subprocess.run(argv, capture_output=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        pass

"""A real OpenSSH server for the remote-host tests: Debian's sshd on 127.0.0.1 and a private port, a
temp config, a generated host key and user keys, a temp ssh_config and known_hosts. Nothing of this
machine's ssh setup (/etc/ssh, ~/.ssh) is read or written.

Two client keys reach the same sshd as two "hosts" (Host aliases in the temp ssh_config):
- `vt-installed`: its authorized_keys line sets PATH to a dir holding a `vfio-tui` wrapper that runs
  this checkout (vfio-tui installed on the host);
- `vt-bare`: no vfio-tui on the PATH (the collector reads the host; changes are refused).
As root, sshd runs in a private mount namespace with a tmpfs on /run (its privilege-separation dir
/run/sshd must exist; this machine's /run is left alone). As another user it needs none.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

from tests.fixture_paths import REPO_ROOT

SSHD = Path("/usr/sbin/sshd")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sshd_missing() -> str | None:
    """Why this machine cannot run the test sshd (None: it can)."""
    if not SSHD.exists() or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        return "needs openssh-server and openssh-client (dev.sh TEST_PACKAGES)"
    if os.geteuid() == 0 and shutil.which("unshare") is None:
        return "needs unshare (util-linux) to give sshd a private /run"
    return None


class TestSshd:
    """Start with `with TestSshd() as sshd:`; `sshd.env` is what a vfio-tui client needs."""

    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        # Short paths: ssh's ControlPath socket name must fit in 108 bytes.
        self.dir = Path(tempfile.mkdtemp(prefix="vt-sshd-"))
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.user = "root" if os.geteuid() == 0 else os.environ.get("USER", "") or _whoami()
        self.bin = self.dir / "bin"

    # -- setup -----------------------------------------------------------------------------------

    def _keygen(self, name: str) -> Path:
        key = self.dir / name
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)], check=True)
        return key

    def _write_wrapper(self) -> None:
        self.bin.mkdir()
        wrapper = self.bin / "vfio-tui"
        # The checkout's vfio-tui, as an installed one would be. VFIO_TUI_TESTING: it refuses to
        # edit this machine's files even if asked; no .pyc files written into the checkout.
        wrapper.write_text(
            "#!/bin/sh\n"
            f"export PYTHONPATH={REPO_ROOT} PYTHONDONTWRITEBYTECODE=1 VFIO_TUI_TESTING=1\n"
            f"exec {sys.executable} -m vfio_tui \"$@\"\n")
        wrapper.chmod(0o755)

    def start(self) -> TestSshd:
        hostkey = self._keygen("hostkey")
        installed = self._keygen("key-installed")
        bare = self._keygen("key-bare")
        self._write_wrapper()
        path = f"{self.bin}:/usr/local/bin:/usr/bin:/bin"
        (self.dir / "authorized_keys").write_text(
            f'environment="PATH={path}" {(installed.with_suffix(".pub")).read_text().strip()}\n'
            f"{bare.with_suffix('.pub').read_text().strip()}\n")
        (self.dir / "sshd_config").write_text("\n".join([
            f"Port {self.port}", "ListenAddress 127.0.0.1", "ListenAddress 127.0.0.2", "ListenAddress 127.0.0.3",
            f"HostKey {hostkey}",
            f"AuthorizedKeysFile {self.dir}/authorized_keys", "PidFile none", "StrictModes no",
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "UsePAM no",
            "PermitRootLogin prohibit-password", "PermitUserEnvironment yes", "MaxStartups 50",
            "MaxSessions 50", "LogLevel ERROR", ""]))
        pub = hostkey.with_suffix(".pub").read_text()
        (self.dir / "known_hosts").write_text("".join(f"[127.0.0.{i}]:{self.port} {pub}" for i in (1, 2)))
        common = [f"  Port {self.port}", f"  User {self.user}", "  IdentitiesOnly yes",
                  f"  UserKnownHostsFile {self.dir}/known_hosts", "  GlobalKnownHostsFile /dev/null",
                  "  StrictHostKeyChecking yes"]
        # One address per alias: ssh shares a ControlMaster connection by (host, port, user), so two
        # aliases of one address would ride on the first one's session (its key, its PATH).
        (self.dir / "ssh_config").write_text("\n".join([
            "Host vt-installed", "  HostName 127.0.0.1", *common, f"  IdentityFile {installed}",
            "Host vt-bare", "  HostName 127.0.0.2", *common, f"  IdentityFile {bare}",
            "Host vt-unknown-key", "  HostName 127.0.0.3", *common, f"  IdentityFile {installed}",
            "Host *", f"  IdentityFile {installed}", "  IdentitiesOnly yes",
            f"  UserKnownHostsFile {self.dir}/known_hosts", "  GlobalKnownHostsFile /dev/null",
            "  StrictHostKeyChecking yes", ""]))
        sshd = f"exec {SSHD} -D -e -f {self.dir}/sshd_config"
        argv = (["unshare", "-m", "--propagation", "private", "sh", "-c",
                 f"mount -t tmpfs tmpfs /run && mkdir -m 755 /run/sshd && {sshd}"]
                if os.geteuid() == 0 else ["sh", "-c", sshd])
        log = open(self.dir / "sshd.log", "wb")  # noqa: SIM115 - closed in stop()
        self._log = log
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited: {(self.dir / 'sshd.log').read_text()[-500:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("sshd did not start listening within 15 s")

    @property
    def env(self) -> dict[str, str]:
        """A vfio-tui client's environment: the temp ssh_config, and config/cache/runtime dirs in the temp dir."""
        for d in ("config", "cache", "run", "home"):
            (self.dir / d).mkdir(mode=0o700, exist_ok=True)
        return {"VFIO_TUI_SSH": f"ssh -F {self.dir}/ssh_config", "XDG_CONFIG_HOME": str(self.dir / "config"),
                "XDG_CACHE_HOME": str(self.dir / "cache"), "XDG_RUNTIME_DIR": str(self.dir / "run"),
                "HOME": str(self.dir / "home")}

    # -- teardown --------------------------------------------------------------------------------

    def stop(self) -> None:
        # The shared connections first (ssh -O exit on every socket), then the server.
        ctl = self.dir / "run" / "vfio-tui-ssh"
        for sock in ctl.glob("*") if ctl.is_dir() else []:
            subprocess.run(["ssh", "-F", f"{self.dir}/ssh_config", "-o", f"ControlPath={sock}", "-O", "exit", "x"],
                           capture_output=True, timeout=10, check=False)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_log", None) is not None:
            self._log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> TestSshd:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _whoami() -> str:
    import pwd

    return pwd.getpwuid(os.geteuid()).pw_name

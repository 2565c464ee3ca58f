"""A stand-in `ssh` (VFIO_TUI_SSH) for tests that need remote hosts but no network: it skips ssh's
options, takes the destination and runs the command here with `sh -c` — with a `vfio-tui` (this
checkout) on its PATH. Destinations starting with "down" fail as a refused connection does; "slow"
ones hang."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.fixture_paths import REPO_ROOT

FAKE_SSH = """#!/bin/sh
# A stand-in for ssh: skips the options, takes the destination, runs the command here.
while [ $# -gt 0 ]; do case "$1" in --) shift; break;; -O) exit 0;; *) shift;; esac; done
dest="$1"; shift
case "$dest" in
  down*) echo "ssh: connect to host $dest port 22: Connection refused" >&2; exit 255;;
  slow*) sleep 30;;
esac
export PATH="$FAKE_BIN:$PATH"
exec sh -c "$1"
"""


def install_fake_ssh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """VFIO_TUI_SSH pointed at the stand-in; config, cache and runtime dirs in tmp_path."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ssh = tmp_path / "fake-ssh"
    ssh.write_text(FAKE_SSH)
    ssh.chmod(0o755)
    vt = bin_dir / "vfio-tui"
    vt.write_text(f"#!/bin/sh\nexport PYTHONPATH={REPO_ROOT} PYTHONDONTWRITEBYTECODE=1\n"
                  f"exec {sys.executable} -m vfio_tui \"$@\"\n")
    vt.chmod(0o755)
    monkeypatch.setenv("VFIO_TUI_SSH", str(ssh))
    monkeypatch.setenv("FAKE_BIN", str(bin_dir))
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path

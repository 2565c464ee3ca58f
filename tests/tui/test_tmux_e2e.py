"""End to end: the real app in a real terminal (tmux), driven by keys through the wizard."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import cli_env
from tests.fixture_paths import REPO_ROOT

TMUX = shutil.which("tmux")
DEMO_APP = Path(__file__).resolve().parent / "demo_app.py"


class Tmux:
    """One tmux server on a private socket with one 80x24 window (the SSH minimum the app supports)."""

    def __init__(self, socket_name: str) -> None:
        self.socket = socket_name

    def run(self, *args: str) -> str:
        return subprocess.run([str(TMUX), "-L", self.socket, *args], capture_output=True, text=True,
                              check=True, timeout=20).stdout

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.run("send-keys", "-t", "app", key)
            time.sleep(0.15)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "app")

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.25)
        raise AssertionError(f"{text!r} never appeared; the terminal shows:\n{screen}")


def start(tmp_path: Path, term: str, env_extra: str = "") -> Tmux:
    if TMUX is None:
        pytest.skip("needs tmux (dev.sh installs it)")
    # The pid too: engineers running the suite at once share /tmp/tmux-UID, and tmp_path names repeat.
    t = Tmux(f"vfio-tui-test-{os.getpid()}-{tmp_path.name}")
    env = cli_env()
    exports = " ".join(f"{k}='{env[k]}'" for k in ("PYTHONPATH",))
    t.run("new-session", "-d", "-s", "app", "-x", "80", "-y", "24",
          f"cd {REPO_ROOT} && env -u COLORTERM {exports} {env_extra} TERM={term} {sys.executable} {DEMO_APP}; "
          "echo APP-EXITED $?; sleep 30")
    return t


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    t = start(tmp_path, "xterm-256color")
    try:
        yield t
    finally:
        subprocess.run([str(TMUX), "-L", t.socket, "kill-server"], capture_output=True, check=False)


@pytest.mark.slow
def test_sixteen_colour_terminal(tmp_path: Path) -> None:
    """On a plain xterm (16 colours) the app uses only the 16 ANSI colours, and verdicts stay coloured."""
    import re

    t = start(tmp_path, "xterm")
    try:
        t.wait_for("Group 9 ")
        time.sleep(0.5)
        screen = t.run("capture-pane", "-p", "-e", "-t", "app")
    finally:
        subprocess.run([str(TMUX), "-L", t.socket, "kill-server"], capture_output=True, check=False)
    codes = [c for seq in re.findall(r"\x1b\[([0-9;]*)m", screen) for c in seq.split(";")]
    assert "38" not in codes and "48" not in codes, "a 256/true colour escape on a 16-colour terminal"

    def colour_before(word: str) -> str:
        """The foreground colour code in force where `word` is drawn (outside the cursor row)."""
        for line in screen.splitlines()[2:]:
            at = line.find(word)
            if at > 0 and "\x1b[47m" not in line[:at]:
                fg: list[str] = [c for seq in re.findall(r"\x1b\[([0-9;]*)m", line[:at]) for c in seq.split(";")
                      if c in {"30", "31", "32", "33", "34", "35", "36", "37", "39", "90", "91", "92", "93",
                               "94", "95", "96", "97"}]
                return fg[-1]
        raise AssertionError(f"{word} not on screen")

    # Textual's own theme mapped into 16 colours drew "bindable" bright red and "blocked" magenta.
    assert colour_before("bindable") in ("33", "93"), "bindable is not yellow"
    assert colour_before("blocked") in ("31", "91"), "blocked is not red"


@pytest.mark.slow
def test_no_color(tmp_path: Path) -> None:
    """NO_COLOR: no colour at all (Textual's grey-out drew red safety text dark grey on dark grey);
    the words carry the facts and the cursor row is in reverse video."""
    import re

    t = start(tmp_path, "xterm-256color", "NO_COLOR=1")
    try:
        t.wait_for("Group 9 ")
        time.sleep(0.5)
        screen = t.run("capture-pane", "-p", "-e", "-t", "app")
    finally:
        subprocess.run([str(TMUX), "-L", t.socket, "kill-server"], capture_output=True, check=False)
    codes = {c for seq in re.findall(r"\x1b\[([0-9;]*)m", screen) for c in seq.split(";")}
    colours = {c for c in codes if re.fullmatch(r"3[0-8]|4[0-8]|9[0-7]|10[0-7]", c)}
    assert not colours, f"colour codes under NO_COLOR: {sorted(colours)}"
    assert "7" in codes, "the cursor row is not in reverse video"
    assert "blocked" in screen and "bindable" in screen


@pytest.mark.slow
def test_wizard_in_a_real_terminal(tmux: Tmux) -> None:
    tmux.wait_for("Group 9 ")
    tmux.keys("/")
    tmux.wait_for("filter:")  # the input has the focus before a q is typed (else q quits the app)
    tmux.keys(*"qla2xxx", "Enter")
    tmux.wait_for("0b:00.0")
    tmux.keys("Down", "p")
    tmux.wait_for("Pick a VM")
    vm_list = tmux.wait_for("vfio_test")
    names = [n for n in ("hba_test", "nic_test", "router", "vfio_test", "win10") if n in vm_list]  # sorted, as listed
    tmux.keys(*["Down"] * (1 + names.index("vfio_test")), "Enter")
    plan = tmux.wait_for("Press y to review")
    assert "vfio_test" in plan and "qla2xxx -> vfio-pci" in plan
    tmux.keys("y")
    tmux.wait_for("Change this host?")
    tmux.keys("y")
    done = tmux.wait_for("Done.", timeout=60)
    assert "Start the VM" in done and "✓" in done
    tmux.keys("q")
    tmux.wait_for("Quit vfio-tui?")  # this session changed the host: q asks
    tmux.keys("y")
    tmux.wait_for("APP-EXITED 0")


@pytest.mark.slow
def test_failed_start_explained_then_undone_at_80x24(tmux: Tmux) -> None:
    """The product's third use, at the SSH size: nic_test's start fails as QEMU would (group 13 is not
    viable), the explanation is on screen at once, u undoes the run. Keys typed ahead are kept."""
    tmux.wait_for("Group 9 ")
    tmux.keys("/")
    tmux.keys(*"qla2xxx", "Enter")
    tmux.wait_for("0b:00.0")
    tmux.keys("Down", "p", "Down", "Down", "Enter")  # bind only, hba_test, nic_test: typed ahead
    plan = tmux.wait_for("Press y to review")
    assert "to nic_test" in plan, plan
    tmux.keys("y")
    tmux.wait_for("Change this host?")
    tmux.keys("y")
    failed = tmux.wait_for("The VM did not start", timeout=60)
    assert "group 13 is not viable" in failed and "press u to undo" in failed, failed
    tmux.keys("u")
    tmux.wait_for("Undo run-1?")
    tmux.keys("y")
    done = tmux.wait_for("Undone (run-1)", timeout=60)
    assert "0000:0b:00.0 on qla2xxx" in done, done
    tmux.keys("Escape")
    tmux.wait_for("Undone (run-1)")
    tmux.keys("Escape")
    tree = tmux.wait_for("Group 19")
    assert "0b:00.0 qla2xxx" in tree, tree

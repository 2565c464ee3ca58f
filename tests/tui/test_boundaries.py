"""tui/ calls core for everything: it never imports libvirt and never opens /sys (issue 8)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import cli_env
from tests.fixture_paths import REPO_ROOT

TUI = REPO_ROOT / "tui"
HOST_PREFIXES = ("/sys", "/proc", "/dev/")


def test_no_libvirt_import_and_no_host_path_literals_in_tui() -> None:
    problems = []
    for path in sorted(TUI.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            line = getattr(node, "lineno", 0)
            problems += [f"{path}:{line} imports {n}" for n in names if n.split(".")[0] == "libvirt"]
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and \
                    node.value.startswith(HOST_PREFIXES):
                problems.append(f"{path}:{node.lineno} has the host path literal {node.value!r}")
    assert not problems, "\n".join(problems)


RUN_APP = r"""
import asyncio, sys
opened = []
def audit(event, args):
    if event == "open" and isinstance(args[0], str) and args[0].startswith("/sys"):
        opened.append(args[0])
sys.addaudithook(audit)
from vfio_tui.core.host import HostOptions
from vfio_tui.core.open_host import open_host
from vfio_tui.tui.app import make_app

async def main():
    with open_host(HostOptions(demo=True)) as host:
        app = make_app(host)
        async with app.run_test(size=(100, 32)) as pilot:
            for keys in (["down", "space", "down"], ["p"], ["enter"], ["escape", "c"], ["escape", "x"],
                         ["escape", "u"], ["escape"]):
                await pilot.press(*keys)
                await app.workers.wait_for_complete()
                await pilot.pause()
asyncio.run(main())
print("OPENED", opened)
"""


def test_the_running_app_opens_no_sys_path() -> None:
    """Every screen of the app on the demo host, with an audit hook on open(). (libvirt may be
    loaded by core, e.g. the checks' test-driver connection; tui's own imports are checked above.)"""
    out = subprocess.run([sys.executable, "-c", RUN_APP], cwd=REPO_ROOT, env=cli_env(), capture_output=True,
                         text=True, timeout=120, check=True).stdout
    assert "OPENED []" in out, out


def test_core_does_not_import_textual() -> None:
    code = "import vfio_tui.core.host, vfio_tui.core.inventory_format, sys; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=cli_env(), capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "False"


def test_tui_files_stay_small() -> None:
    big = [f"{p}: {n} lines" for p in TUI.rglob("*.py") if (n := len(p.read_text().splitlines())) > 400]
    assert not big, big


def test_each_screen_has_its_stylesheet() -> None:
    for screen in (TUI / "screens").glob("*.py"):
        if screen.name != "__init__.py":
            assert screen.with_suffix(".tcss").is_file(), f"{screen.name} has no sibling .tcss"
    assert Path(TUI / "app.tcss").is_file()

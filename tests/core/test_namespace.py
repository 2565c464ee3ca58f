"""One top-level package, vfio_tui: the checkout's core/ and tui/ are imported only as vfio_tui.core and
vfio_tui.tui (a module loaded under two names would exist twice, and isinstance would fail between the
copies), and scripts/namespace_imports.py, which converts old references, finds nothing left to do."""

from __future__ import annotations

# namespace_imports: skip-file  (the samples below are the old names, on purpose)
import importlib.util
import subprocess
import sys
import textwrap
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import cli_env
from tests.fixture_paths import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "namespace_imports.py"


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("namespace_imports", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["namespace_imports"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_the_symlinks_lead_to_the_top_level_folders() -> None:
    for name in ("core", "tui"):
        link = REPO_ROOT / "vfio_tui" / name
        assert link.is_symlink() and link.readlink() == Path("..") / name
        assert (link / "__init__.py").samefile(REPO_ROOT / name / "__init__.py")
    assert not (REPO_ROOT / "tui" / "__main__.py").exists()  # `python -m tui` would load tui twice


@pytest.mark.slow
def test_nothing_in_the_checkout_still_uses_the_old_names() -> None:
    res = subprocess.run([sys.executable, str(SCRIPT), "--check"], cwd=REPO_ROOT, capture_output=True, text=True,
                         timeout=300, check=False)
    assert res.returncode == 0, res.stdout + res.stderr


IMPORT_EVERYTHING = """
import importlib, pkgutil, sys
import vfio_tui, vfio_tui.core, vfio_tui.tui
import vfio_tui.tui.cli, vfio_tui.tui.app
from vfio_tui.tui.cli.registry import COMMANDS, load_command
for name in COMMANDS:
    load_command(name)
for pkg in (vfio_tui.core, vfio_tui.tui):
    for info in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + "."):
        importlib.import_module(info.name)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("core", "tui"))
print("OLD", loaded, len([m for m in sys.modules if m.startswith("vfio_tui.")]))
"""


def test_importing_the_cli_the_app_and_every_module_loads_no_top_level_core_or_tui() -> None:
    out = subprocess.run([sys.executable, "-c", IMPORT_EVERYTHING], cwd="/", env=cli_env(), capture_output=True,
                         text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-2000:]
    line = next(x for x in out.stdout.splitlines() if x.startswith("OLD "))
    assert line.startswith("OLD [] "), line
    assert int(line.split()[-1]) > 200  # every module really was imported


def test_the_version_is_the_distributions() -> None:
    import vfio_tui
    from vfio_tui.core import __version__

    assert vfio_tui.__version__ == __version__


OLD_SOURCE = '''\
"""`python -m tui` runs it; from core the model."""
import importlib
import runpy

import core.usage
import core.host as h
from core.model import Device
from tui.cli import main


def f(monkeypatch, name):
    import core.binding.apply
    monkeypatch.setattr(core.binding.apply, "needs_root", None)
    monkeypatch.setattr("core.usage.gather_live_extras", None)
    importlib.import_module(f"tui.cli.cmd_{name}")
    importlib.import_module("tui")
    runpy.run_module("tui", run_name="__main__")
    code = "from core.host import HostOptions; import core.open_host as o"
    argv = [sys.executable, "-m", "tui", "check"]
    web = [sys.executable, "-m", "tui.cli.web_child"]
    shell = f"exec {sys.executable} -m tui \\"$@\\""  # python -m tui
    keep = ("core.json", "core", "tui.cli.common hint", "core.nosuchmodule")
    return core.usage.x, h, Device, main, code, argv, web, shell, keep
'''

NEW_SOURCE = '''\
"""`python -m vfio_tui` runs it; from core the model."""
import importlib
import runpy

import vfio_tui.core.usage
import vfio_tui.core.host as h
from vfio_tui.core.model import Device
from vfio_tui.tui.cli import main


def f(monkeypatch, name):
    import vfio_tui.core.binding.apply
    monkeypatch.setattr(vfio_tui.core.binding.apply, "needs_root", None)
    monkeypatch.setattr("vfio_tui.core.usage.gather_live_extras", None)
    importlib.import_module(f"vfio_tui.tui.cli.cmd_{name}")
    importlib.import_module("vfio_tui.tui")
    runpy.run_module("vfio_tui", run_name="__main__")
    code = "from vfio_tui.core.host import HostOptions; import vfio_tui.core.open_host as o"
    argv = [sys.executable, "-m", "vfio_tui", "check"]
    web = [sys.executable, "-m", "vfio_tui.tui.cli.web_child"]
    shell = f"exec {sys.executable} -m vfio_tui \\"$@\\""  # python -m vfio_tui
    keep = ("core.json", "core", "tui.cli.common hint", "core.nosuchmodule")
    return vfio_tui.core.usage.x, h, Device, main, code, argv, web, shell, keep
'''


def test_the_script_converts_python_and_is_idempotent() -> None:
    ns = _script()
    res = ns.convert_python(OLD_SOURCE, REPO_ROOT, "sample.py")
    assert res.manual == []
    assert res.text == NEW_SOURCE
    assert ns.convert_python(NEW_SOURCE, REPO_ROOT, "sample.py").text == NEW_SOURCE


def test_the_script_converts_docs_and_shell_and_says_what_it_cannot() -> None:
    ns = _script()
    doc = textwrap.dedent("""\
        Run `python -m tui inventory` or `python3 -m tui.cli.web_child`; not -m tuition.
        ```python
        from core.checks import run_checks
        import tui.app as app
        ```
        """)
    res = ns.convert_text(doc, "doc.md")
    assert res.text == textwrap.dedent("""\
        Run `python -m vfio_tui inventory` or `python3 -m vfio_tui.tui.cli.web_child`; not -m tuition.
        ```python
        from vfio_tui.core.checks import run_checks
        import vfio_tui.tui.app as app
        ```
        """)
    assert ns.convert_text(res.text, "doc.md").text == res.text
    assert ns.convert_text("import core.host\n", "x.sh").manual
    bad = ns.convert_python('code = "import core.host; core.host.x()"\n', REPO_ROOT, "x.py")
    assert bad.manual and "x.py:1" in bad.manual[0]
    rebound = ns.convert_python("import core.host\ncore = 1\n", REPO_ROOT, "y.py")
    assert rebound.manual
    path_math = ns.convert_python("import tui\nroot = Path(tui.__file__).parent.parent\n", REPO_ROOT, "z.py")
    assert path_math.manual and "vfio_tui.__file__" in path_math.manual[0]  # one level off in the wheel

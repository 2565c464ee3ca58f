"""What a read-only command loads (issue 15: `--version` <= 100 ms, a small `inventory --json` <= 200 ms):
the binding engine, the passthrough planner, libvirt, lxml and the GPU tables stay out of it, and the
package names that load lazily still are what they were."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import cli_env
from tests.fixture_paths import REPO_ROOT
from vfio_tui.core.hostpaths import HostPaths

HEAVY = ("vfio_tui.core.binding.apply", "vfio_tui.core.passthrough.plan", "vfio_tui.core.libvirt", "libvirt",
         "lxml", "vfio_tui.core.gpu.facts", "vfio_tui.core.configfiles", "secrets", "socket")


def _loaded_after(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)))"
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO_ROOT,
                         env=cli_env(), timeout=60, check=True)
    return set(res.stdout.split())


def test_inventory_of_a_host_without_gpu_or_vfs_loads_no_engine(sim_root: HostPaths) -> None:
    # The demo host has a GPU and VFs (whose VMs are asked of libvirt): a plain tree without them.
    import shutil

    for cls in (sim_root.pci_devices).iterdir():
        text = (cls / "class").read_text() if (cls / "class").exists() else ""
        if text.startswith(("0x03", "0x0403")) or (cls / "sriov_totalvfs").exists():
            shutil.rmtree(cls.resolve(), ignore_errors=True)
            cls.unlink()
    loaded = _loaded_after("import contextlib, io\nfrom vfio_tui.tui.cli import main\n"
                           "with contextlib.redirect_stdout(io.StringIO()):\n"
                           f"    assert main(['inventory', '--root', {str(sim_root.root)!r}, '--json']) == 0")
    assert sorted(m for m in loaded if m.startswith(HEAVY)) == []


def test_version_loads_only_the_parser() -> None:
    loaded = _loaded_after("import contextlib, io\nfrom vfio_tui.tui.cli import main\n"
                           "with contextlib.redirect_stdout(io.StringIO()):\n"
                           "    try:\n        main(['--version'])\n    except SystemExit:\n        pass")
    assert sorted(m for m in loaded if m.startswith(("vfio_tui.core.host", *HEAVY))) == []


def test_lazy_package_names_are_the_functions_whatever_was_imported_first() -> None:
    # core.binding.restore is a module and a function: importing the module first must not hide the function
    code = ("import vfio_tui.core.binding.restore\nimport vfio_tui.core.passthrough.run\n"
            "from vfio_tui.core.binding import restore, apply_plan, StepEvent\n"
            "from vfio_tui.core.passthrough import run_passthrough, RunRecord\n"
            "assert callable(restore) and callable(apply_plan) and callable(run_passthrough)\n"
            "assert restore.__module__ == 'vfio_tui.core.binding.restore'\n"
            "import vfio_tui.core.binding as b\nassert b.restore is restore and b.plan_bind.__name__ == 'plan_bind'\n"
            "try:\n    b.no_such_name\nexcept AttributeError:\n    pass\nelse:\n    raise SystemExit(1)")
    assert "vfio_tui.core.binding.apply" in _loaded_after(code)


def test_argparse_searches_the_locale_catalogues_once_per_message() -> None:
    # A bind then a restore in one process (the app, the lab's bench) built two parsers, and argparse's
    # gettext searched the locale directories for "usage: " and the rest again each time.
    probe = ("import gettext\ncalls = []\nreal = gettext.find\n"
             "def counting(*a, **k):\n    calls.append(a[0])\n    return real(*a, **k)\n"
             "gettext.find = counting\n"
             "from vfio_tui.tui.cli import build_parser\n"
             "build_parser(['bind', '01:00.0', '--yes'])\nfirst = len(calls)\n"
             "build_parser(['restore', '01:00.0'])\nbuild_parser(['bind', '02:00.0', '--yes'])\n"
             "print(first, len(calls) - first)")
    res = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO_ROOT,
                         env={**cli_env(), "LANGUAGE": "de:fr"}, timeout=60, check=True)
    first, again = map(int, res.stdout.split())
    assert first > 0 and again == 0

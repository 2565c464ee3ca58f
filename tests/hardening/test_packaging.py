"""Packaging: a wheel that installs into a fresh venv gives a working `vfio-tui`; shell completion (bash,
zsh) and the man page are generated from the CLI's own parsers and list every command and option."""

from __future__ import annotations

import json
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.fixture_paths import REPO_ROOT
from vfio_tui.tui.cli.completion import bash, commands, zsh
from vfio_tui.tui.cli.manpage import _HOST_FLAGS, manpage

STUB_ADDRESSES = "_vfio_tui_addresses() { echo 0000:0b:00.0 0000:02:00.0 0000:02:00.1; }"
"""The tests never let the script read this machine's /sys: the address lister is replaced."""


def _bash_complete(*words: str) -> list[str]:
    script = (bash() + STUB_ADDRESSES + "\nCOMP_WORDS=(" + " ".join(f"'{w}'" for w in words) + ")\n"
              "COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _vfio_tui; printf '%s\\n' \"${COMPREPLY[@]}\"\n")
    out = subprocess.run(["bash", "--norc", "--noprofile", "-c", script], capture_output=True, text=True, timeout=30,
                         check=True, cwd="/tmp")
    return [w for w in out.stdout.splitlines() if w]


@pytest.mark.parametrize(("words", "expect"), [
    (("vfio-tui", "bi"), ["bind"]),
    (("vfio-tui", "bind", "--ro"), ["--root"]),
    (("vfio-tui", "bind", "0000:02"), ["0000:02:00.0", "0000:02:00.1"]),
    (("vfio-tui", "attach", "0b:00.0", "vm", "--managed", ""), ["yes", "no"]),
    (("vfio-tui", "--demo", "inv"), ["inventory"]),
    (("vfio-tui", "completion", ""), ["bash", "zsh"]),
    (("vfio-tui", "check", "--for", "0000:0b"), ["0000:0b:00.0"]),
])
def test_bash_completion(words: tuple[str, ...], expect: list[str]) -> None:
    assert _bash_complete(*words) == expect


def test_bash_completion_knows_every_option_of_every_command() -> None:
    _, cmds = commands()
    for c in cmds:
        offered = set(_bash_complete("vfio-tui", c.name, "--"))
        wanted = {f for o in c.options for f in o.flags if f.startswith("--")}
        assert offered == wanted, c.name


def test_zsh_completion() -> None:
    if shutil.which("zsh") is None:
        pytest.skip("zsh is not installed (dev.sh TEST_PACKAGES installs it)")
    script = zsh()
    subprocess.run(["zsh", "-n", "-c", script], check=True, timeout=30)
    probe = ("compdef() { : }\n" + script + "\n_arguments() { print -rl -- \"$@\" }\n_describe() { print -rl -- \"$@\" }\n"
             "words=(vfio-tui bind ''); CURRENT=3; _vfio_tui\n")
    out = subprocess.run(["zsh", "-f", "-c", probe], capture_output=True, text=True, timeout=30, check=True).stdout
    specs = out.splitlines()
    assert ":ADDR:_vfio_tui_addresses" in specs
    assert any(s.startswith("--root[") and s.endswith(":DIR:_files -/") for s in specs), specs
    assert any(s.startswith("--timeout[") for s in specs) and any(s.startswith("--persist[") for s in specs)


def test_the_committed_man_page_is_what_the_parsers_say() -> None:
    page = REPO_ROOT / "docs" / "vfio-tui.1"
    assert page.read_text() == manpage(), "run python scripts/manpage.py"


def test_the_man_page_renders_cleanly_and_lists_every_command_and_option() -> None:
    text = manpage()
    _, cmds = commands()
    for c in cmds:
        assert ".SS " + c.name.replace("-", "\\-") in text
        for o in c.options:  # the host options and --help once, at the top
            if o.flags[-1] not in ("--help", *_HOST_FLAGS):
                assert o.flags[-1].replace("-", "\\-") in text, (c.name, o.flags)
    for flag in _HOST_FLAGS:
        assert flag.replace("-", "\\-") in text
    if shutil.which("groff") is None:
        pytest.skip("groff is not installed")
    check = subprocess.run(["groff", "-man", "-ww", "-z"], input=text, capture_output=True, text=True, timeout=30,
                           env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"}, check=False)
    assert check.returncode == 0 and check.stderr == "", check.stderr


SMALL_LOG = ("qemu-system-x86_64: -device vfio-pci,host=0000:02:00.0,id=hostdev0,bus=pci.0,addr=0x2: "
             "vfio 0000:02:00.0: group 12 is not viable\n")


@pytest.mark.slow
def test_a_built_wheel_installs_and_runs_in_a_fresh_venv(tmp_path: Path) -> None:
    """Build the wheel (the build backend comes from the package index; without one the test says so),
    install it into a new venv without touching the index (its dependencies are this venv's, through a
    .pth file: the libvirt binding builds from source and needs libvirt-dev, pkg-config and a compiler),
    and run the installed `vfio-tui` from outside the checkout. The wheel has one top-level package,
    vfio_tui (no generic `core` or `tui` in site-packages), and its data files."""
    dist = tmp_path / "dist"
    # From a copy of the sources: setuptools stages a build in the checkout's build/lib and packs what an
    # older build left there too (a stale top-level core/ and tui/ from before the vfio_tui namespace).
    src = tmp_path / "src"
    shutil.copytree(REPO_ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".mypy_cache", ".ruff_cache", "screenshots"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(src)],
                           capture_output=True, text=True, timeout=600, check=False)
    if built.returncode != 0:
        pytest.skip(f"cannot build the wheel here (is the package index reachable?): {built.stderr.strip()[-300:]}")
    wheel = next(dist.glob("vfio_tui-*.whl"))
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    assert {n.split("/")[0] for n in names} == {"vfio_tui", f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info"}
    for data in ("vfio_tui/core/data/demo-libvirt.xml", "vfio_tui/core/data/gpu.json", "vfio_tui/tui/app.tcss",
                 "vfio_tui/core/explain/catalog/kernel.toml", "vfio_tui/core/explain/inventory/mapping.toml",
                 "vfio_tui/tui/screens/devices.tcss", "vfio_tui/__main__.py", "vfio_tui/tui/cli/web_child.py"):
        assert data in names, data
    tracked = subprocess.run(["git", "ls-files", "core", "tui"], cwd=REPO_ROOT, capture_output=True, text=True,
                             check=False).stdout.split()
    if tracked:  # every tracked file of core/ and tui/ is in the wheel (a new package or data folder included)
        assert sorted(set(tracked) - {n.removeprefix("vfio_tui/") for n in names}) == []
    venv = tmp_path / "venv"
    subprocess.run(["/usr/bin/python3", "-m", "venv", str(venv)], check=True, timeout=120)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-deps", "--no-index", str(wheel)], check=True,
                   timeout=300)
    target = next((venv / "lib").glob("python3*/site-packages"))
    assert not (target / "core").exists() and not (target / "tui").exists()
    (target / "deps-from-the-dev-venv.pth").write_text(site.getsitepackages()[0] + "\n")
    exe = str(venv / "bin" / "vfio-tui")
    run = {"capture_output": True, "text": True, "timeout": 120, "check": False, "cwd": tmp_path,
           "env": {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "VFIO_TUI_TESTING": "1"}}
    version = subprocess.run([exe, "--version"], **run)  # type: ignore[call-overload]
    assert version.returncode == 0 and version.stdout.startswith("vfio-tui "), version.stderr
    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import vfio_tui.core as c, vfio_tui.tui.cli as t, sys; print(c.__file__, t.__file__);"
                            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('core', 'tui')))"], **run)  # type: ignore[call-overload]
    assert where.returncode == 0, where.stderr
    files, loaded = where.stdout.splitlines()
    assert all(f.startswith(str(target / "vfio_tui")) for f in files.split()), files  # the wheel's, not the checkout's
    assert loaded == "[]"
    demo = subprocess.run([exe, "inventory", "--demo", "--group", "19"], **run)  # type: ignore[call-overload]
    assert demo.returncode == 0 and "Group 19" in demo.stdout, demo.stderr  # data files are in the wheel
    log = tmp_path / "qemu.log"
    log.write_text(SMALL_LOG)
    explain = subprocess.run([exe, "explain", str(log), "--demo", "--json"], **run)  # type: ignore[call-overload]
    assert explain.returncode == 0, explain.stderr
    assert json.loads(explain.stdout)["findings"], explain.stdout  # the catalog (TOML) was found
    check = subprocess.run([exe, "check", "--demo"], **run)  # type: ignore[call-overload]
    assert check.returncode in (0, 1) and check.stdout.strip() and "Traceback" not in check.stderr, check.stderr
    as_module = subprocess.run([str(venv / "bin" / "python"), "-m", "vfio_tui", "--version"], **run)  # type: ignore[call-overload]
    assert as_module.returncode == 0 and as_module.stdout == version.stdout
    carried = subprocess.run([str(venv / "bin" / "python"), "-c",  # the fleet's collector finds its modules
                              "from vfio_tui.core.remote.bundle import carried_modules, collector_source as s;"
                              "m = carried_modules(); compile(s(), 'c', 'exec');"
                              "print('vfio_tui' in m, 'vfio_tui.core.remote.collect' in m)"], **run)  # type: ignore[call-overload]
    assert carried.stdout.split() == ["True", "True"], carried.stderr
    comp = subprocess.run([exe, "completion", "bash"], **run)  # type: ignore[call-overload]
    assert comp.returncode == 0 and "complete -o filenames -F _vfio_tui vfio-tui" in comp.stdout

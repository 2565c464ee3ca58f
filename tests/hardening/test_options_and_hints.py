"""Every option is validated at parse time (one line, exit 2), the core refuses timeouts that cannot
work, and every hint that names a command repeats the host options in use — so copying it acts on
the same host, never the live one."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.binding.bind_helpers import host_state
from tests.hardening.inproc import hinted_commands, run_main
from vfio_tui.core.binding import apply_plan, plan_bind, restore
from vfio_tui.core.errors import InputError
from vfio_tui.core.host import HostOptions
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.open_host import open_host
from vfio_tui.tui.cli import build_parser
from vfio_tui.tui.cli.common import with_host_args
from vfio_tui.tui.cli.registry import COMMANDS

BAD_SECONDS = ["-1", "0", "nan", "NaN", "inf", "-inf", "1e300", "abc", "", "0x10"]
TIMEOUT_OPTIONS = [("bind", "0b:00.0", "--timeout"), ("restore", "--all", "--timeout"), ("pass", "0b:00.0 vm", "--timeout"),
                   ("undo", "", "--timeout"), ("undo", "", "--shutdown-timeout"), ("undo", "", "--unplug-timeout"),
                   ("watch", "vm", "--timeout")]


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = build_parser([name, "--help"])  # every option of the command, the host ones included
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found: argparse.ArgumentParser = sub.choices[name]
    return found


@pytest.mark.parametrize("command", COMMANDS)
def test_no_option_takes_a_bare_int_or_float(command: str) -> None:
    """int/float accept -1, nan and inf: every numeric option goes through a type that checks its range."""
    for action in _subparser(command)._actions:
        assert action.type not in (int, float), f"{command} {action.option_strings}: use tui.cli.argtypes"


@pytest.mark.parametrize(("command", "args", "option"), TIMEOUT_OPTIONS)
def test_timeouts_must_be_positive_and_finite(command: str, args: str, option: str) -> None:
    for value in BAD_SECONDS:
        got = run_main(command, *args.split(), f"{option}={value}", "--demo")
        assert got.code == 2, (command, option, value, got)
        lines = got.err.strip().splitlines()
        assert len(lines) == 1 and option in lines[0] and "usage:" not in got.err, lines
        assert got.out == ""  # refused before anything ran


@pytest.mark.parametrize(("argv", "needle"), [
    (["inventory", "--group", "-1"], "IOMMU group number"),
    (["inventory", "--group", "4294967296"], "IOMMU group number"),
    (["web", "--port", "0"], "TCP port"),
    (["web", "--port", "65536"], "TCP port"),
    (["inventory", "--demo-pace", "nan"], "--demo-pace"),
    (["inventory", "--demo-pace", "11"], "--demo-pace"),
    (["hostdev-xml", "0b:00.0", "--guest-slot", "100:00"], "guest slot"),
])
def test_counts_and_ranges(argv: list[str], needle: str) -> None:
    got = run_main(*argv, "--demo")
    assert got.code == 2 and needle in got.err and len(got.err.strip().splitlines()) == 1, got


@pytest.mark.parametrize("argv", [[], ["bind"], ["attach", "0b:00.0"], ["nosuch"], ["inventory", "--bogus"],
                                  ["bind", "0b:00.0", "extra"], ["attach", "0b:00.0", "vm", "--config", "--live"]])
def test_argparse_errors_are_one_line_naming_the_help(argv: list[str]) -> None:
    got = run_main(*argv, "--demo") if argv else run_main("--demo", "--bogus")
    assert got.code == 2
    lines = got.err.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0] and "--help`" in lines[0] and "usage:" not in got.err, lines


@pytest.mark.parametrize("value", [-1.0, 0.0, float("nan"), float("inf")])
def test_core_refuses_a_timeout_that_cannot_work(sim_root: HostPaths, value: float) -> None:
    with open_host(HostOptions(root=sim_root.root)) as host:
        before = host_state(host.paths)
        with pytest.raises(InputError, match="timeout"):
            apply_plan(host, plan_bind(host, "0b:00.0"), timeout=value)
        with pytest.raises(InputError, match="timeout"):
            restore(host, all=True, timeout=value)
        assert host_state(host.paths) == before


def test_the_hint_of_an_interrupted_bind_names_the_tree_and_works_when_copied(sim_root: HostPaths) -> None:
    """The issue's case: "run `vfio-tui restore --all` first" copied from a --root session acted on the
    live host. Now the hint carries --root, and running exactly the hint repairs the tree."""
    from vfio_tui.core.simulated.kernel import SimulatedKernel

    root = str(sim_root.root)
    with open_host(HostOptions(root=sim_root.root)) as host:
        before = host_state(host.paths)
    SimulatedKernel(sim_root).update_metadata(faults=[{"match": "*", "nth": 2, "kill": "after"}])
    import subprocess
    import sys

    from tests.conftest import cli_env
    from tests.fixture_paths import REPO_ROOT
    killed = subprocess.run([sys.executable, "-m", "vfio_tui", "bind", "0b:00.0", "--yes", "--root", root],
                            capture_output=True, text=True, cwd=REPO_ROOT, env=cli_env(), timeout=60, check=False)
    assert killed.returncode == -9
    refused = run_main("bind", "02:00.0", "--yes", "--root", root)
    assert refused.code == 2
    hint = refused.err.split("`")[1]
    assert hint == f"vfio-tui restore --all --root {shlex.quote(root)}", refused.err
    repaired = run_main(*shlex.split(hint)[1:])
    assert repaired.code == 0, repaired
    with open_host(HostOptions(root=sim_root.root)) as host:
        assert host_state(host.paths) == before


@pytest.mark.parametrize("argv", [
    ["attach", "0b:00.0", "no_such_vm"],          # core's fix: `vfio-tui vms` lists them
    ["check"],                                     # apply: vfio-tui check --fix ID
    ["pass", "0b:00.0", "vfio_test", "--dry-run"],  # Undo (`vfio-tui undo` after the run)
    ["bind", "0b:00.0", "--dry-run"],             # Steps (`vfio-tui restore` undoes them)
    ["undo"],                                      # nothing to undo: `vfio-tui restore --all` ...
])
def test_every_command_a_hint_names_carries_the_host(sim_root: HostPaths, argv: list[str]) -> None:
    root = str(sim_root.root)
    got = run_main(*argv, "--root", root)
    text = got.out + got.err
    mentions = hinted_commands(text)
    assert mentions, text  # each of these prints at least one hint
    for command in mentions:
        assert f"--root {root}" in command, (command, text)


def test_json_output_is_never_rewritten(sim_root: HostPaths) -> None:
    """JSON values are a contract: the hints inside stay as core wrote them (a program adds its options)."""
    import json

    got = run_main("check", "--for", "0b:00.0", "--json", "--root", str(sim_root.root))
    doc = json.loads(got.out)
    fixes = [c["fix"] for c in doc["checks"] if "vfio-tui " in (c.get("fix") or "")]
    assert fixes and not any("--root" in f for f in fixes)


@given(st.text(alphabet=st.sampled_from(list("vfio-tui restore bind --all `;()\n#.,xyz")), max_size=80))
def test_with_host_args_only_ever_adds_the_host_options(text: str) -> None:
    options = HostOptions(root=Path("/tmp/some tree"))
    extra = " --root '/tmp/some tree'"
    out = with_host_args(text, options)
    assert out.replace(extra, "") == text.replace(extra, "")
    assert with_host_args(out, options) == out  # idempotent: a hint already naming the host is left alone
    assert with_host_args(text, HostOptions()) == text  # the live host: nothing to add

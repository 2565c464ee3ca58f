"""The lab suite's gate, fixtures and results file.

Everything here runs INSIDE the VT-d lab guest that tests/lab/run_lab.py boots (a real
Linux kernel under QEMU with an emulated Intel IOMMU). On any other machine every test is
skipped before it can read, let alone write, that machine's /sys: the gate needs all of
  - /sys/class/iommu/dmar0 (the guest's emulated VT-d),
  - `lab.mode=` on the kernel command line (set by ../shared/lab/03-boot-guest.sh),
  - VFIO_TUI_LAB=1 in the environment (set by tests/lab/guest_run.sh).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import kview  # noqa: E402
from kinds import ALL_KINDS, Case, find_cases  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[2]


def lab_gate() -> str | None:
    """None inside the lab guest, else why the suite must not run here."""
    if os.environ.get("VFIO_TUI_LAB") != "1":
        return "not in the lab guest (VFIO_TUI_LAB=1 unset); run tests/lab/run_lab.py"
    if not Path("/sys/class/iommu/dmar0").exists():
        return "not in the lab guest (no /sys/class/iommu/dmar0)"
    try:
        cmdline = Path("/proc/cmdline").read_text()
    except OSError:
        cmdline = ""
    if "lab.mode=" not in cmdline:
        return "not in the lab guest (no lab.mode= on the kernel command line)"
    if os.geteuid() != 0:
        return "the lab suite runs as root in the guest"
    return None


GATE = lab_gate()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if GATE is None:
        return
    skip = pytest.mark.skip(reason=f"lab stage only: {GATE}")
    for item in items:
        item.add_marker(skip)


# ---------------------------------------------------------------- results file

_RESULTS: dict[str, Any] = {"cases": [], "kinds": {}, "notes": []}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed") or (
            report.when == "teardown" and report.outcome == "failed"):
        reason = ""
        if report.skipped and isinstance(report.longrepr, tuple):
            reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        elif report.failed:
            reason = (report.longreprtext.strip().splitlines() or [""])[-1][:300]
        _RESULTS["cases"].append({
            "test": report.nodeid.split("::", 1)[-1], "file": report.nodeid.split("::", 1)[0].rsplit("/", 1)[-1],
            "when": report.when, "outcome": report.outcome, "seconds": round(report.duration, 2),
            "reason": reason,
        })


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    out = os.environ.get("LAB_RESULTS")
    if not out or GATE is not None:
        return
    _RESULTS["exitstatus"] = int(exitstatus)
    try:
        Path(out).write_text(json.dumps(_RESULTS, indent=1) + "\n")
    except OSError as exc:
        print(f"cannot write {out}: {exc}", file=sys.stderr)


def note(text: str) -> None:
    """A fact worth printing in the results (a measured number, a chosen case...)."""
    _RESULTS["notes"].append(text)


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def kernel_view() -> kview.KernelView:
    """The kernel's own view at session start (every test leaves the host as it found it)."""
    return kview.read_kernel_view()


@pytest.fixture(scope="session")
def cases(kernel_view: kview.KernelView) -> dict[str, Case | None]:
    found = find_cases(kernel_view)
    from kinds import GUEST_OWN, HOST_USED, guest_mount_devices, host_uses

    own = guest_mount_devices(kernel_view)
    for kind in ALL_KINDS:
        if kind == GUEST_OWN:
            _RESULTS["kinds"][kind] = ", ".join(f"{a} ({' '.join(t)})" for a, t in own.items()) or None
        elif kind == HOST_USED and found.get(kind) is not None:
            used = host_uses(kernel_view)
            c = found[kind]
            assert c is not None
            _RESULTS["kinds"][kind] = f"{c.describe()}: {'; '.join(used.get(c.target, []))}"
        else:
            c = found.get(kind)
            _RESULTS["kinds"][kind] = c.describe() if c else None
    return found


def need(cases: dict[str, Case | None], kind: str) -> Case:
    case = cases.get(kind)
    if case is None:
        pytest.skip(f"topology has no {kind}")
    return case


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("VFIO_TUI_TESTING", None)  # this IS the live host the tool is for (the guest's)
    env["PYTHONPATH"] = str(REPO_ROOT)
    env["VFIO_TUI_LAB"] = "1"
    env["NO_COLOR"] = "1"
    return env


class Cli:
    """`vfio-tui ARGS` of this checkout as a subprocess, on the guest's live /sys."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float, int]] = []

    def __call__(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return self.python("-m", "vfio_tui", *args, timeout=timeout)

    def python(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """This venv's python with ARGS (e.g. a wrapper script that then runs the CLI)."""
        t0 = time.monotonic()
        res = subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=timeout,
                             cwd=REPO_ROOT, env=cli_env(), check=False)
        self.calls.append((" ".join(args), time.monotonic() - t0, res.returncode))
        return res

    def json(self, *args: str, ok: tuple[int, ...] = (0,)) -> Any:
        res = self(*args)
        assert res.returncode in ok, f"vfio-tui {' '.join(args)} -> {res.returncode}\n{res.stderr}{res.stdout[-2000:]}"
        return first_json(res.stdout)


def first_json(text: str) -> Any:
    """The first JSON value in a command's output (a plan may be followed by progress lines)."""
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    assert start >= 0, f"no JSON in output:\n{text[-2000:]}"
    value, _ = json.JSONDecoder().raw_decode(text[start:])
    return value


@pytest.fixture(scope="session")
def vt() -> Iterator[Cli]:
    cli = Cli()
    yield cli
    if cli.calls:
        total = sum(c[1] for c in cli.calls)
        note(f"{len(cli.calls)} vfio-tui CLI runs, {total:.1f} s in all, "
             f"{total / len(cli.calls):.2f} s each on average (Python start-up under TCG included)")


def has_command(name: str) -> bool:
    from vfio_tui.tui.cli.registry import COMMANDS

    return name in COMMANDS


def need_command(*names: str) -> None:
    missing = [n for n in names if not has_command(n)]
    if missing:
        pytest.skip(f"`vfio-tui {missing[0]}` is not merged into this checkout yet")


@pytest.fixture(scope="session")
def vfio_loaded() -> None:
    """vfio-pci loaded (the guest has no udev; tests that set up states by hand need it)."""
    subprocess.run(["modprobe", "vfio-pci"], check=False)
    assert Path("/sys/bus/pci/drivers/vfio-pci").is_dir(), "modprobe vfio-pci failed"


@pytest.fixture
def host_as_before() -> Iterator[dict[str, tuple[str | None, bytes]]]:
    """The bindings before the test; after it they must be byte-for-byte the same.

    A test that breaks this fails, and the devices are put back by hand (raw sysfs) so the
    next test starts from the same host.
    """
    before = kview.bindings()
    yield before
    after = kview.bindings()
    changed = {a: (before.get(a), v) for a, v in after.items() if before.get(a) != v}
    if changed:
        for addr in changed:
            kview.raw_restore(addr)
        pytest.fail(f"host not as before after the test: {changed}")

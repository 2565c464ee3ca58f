"""The misuse table's environments (root, non-root, no libvirtd, no IOMMU, read-only /var), the files each
case names, and the worker runs that fill the table.

Everything lives in one fresh temp dir per environment: device nodes are made there with mknod (a
/dev/zero twin, 1:5), FIFOs with mkfifo; "non-root" runs the worker as nobody (setpriv) on a tree
root made; "read-only /var" gives nobody a tree whose /var it cannot write. This machine's /sys,
/dev and /etc are never named by any case.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import cli_env
from tests.fixture_paths import RECORDED, REPO_ROOT
from tests.hardening.misuse import DIR_KINDS, EXPENSIVE, FILE_KINDS, OUT_KINDS, Case, accepts_connect
from vfio_tui.core.open_host import create_sim_host
from vfio_tui.core.simulated.demo_host import demo_snapshot
from vfio_tui.core.snapshot import load_snapshot

NOBODY = ("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups")
DEAD_LIBVIRT = "qemu+unix:///system?socket=/nonexistent/vfio-tui-test/libvirt-sock"
HUGE = 300 << 20
"""Bytes of the "huge" file (sparse): more than the largest input any reader accepts (explain: 256 MiB)."""
VALID_CONTENT = {
    "snapshot": (RECORDED / "q35-viommu.json").read_bytes(),
    "pciids": b"8086  Intel Corporation\n\t10d3  82574L Gigabit Network Connection\n",
    "log": b"2026-11-25T10:00:00.000000Z qemu-system-x86_64: -device vfio-pci,host=0000:0b:00.0: vfio 0000:0b:00.0:"
           b" group 19 is not viable\n",
}


@dataclass(frozen=True)
class Env:
    name: str
    what: str
    as_nobody: bool
    source: str = "demo"
    """The host tree's recording: the demo, or a recorded host without an IOMMU."""
    read_only_var: bool = False
    dead_libvirt: bool = False


ENVS = (
    Env("root", "root on a simulated host", False),
    Env("non-root", "nobody on a root-owned simulated host", True),
    Env("no-libvirtd", "root, libvirt unreachable (--connect to a dead socket)", False, dead_libvirt=True),
    Env("no-iommu", "root on a host without an IOMMU (recorded firecracker VM)", False, source="noiommu"),
    Env("ro-var", "nobody on its own tree whose /var it cannot write", True, read_only_var=True),
)


class Workspace:
    """One environment's temp dir: the host tree, the case files, a scratch dir for outputs."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.base = Path(tempfile.mkdtemp(prefix=f"vfio-misuse-{env.name}-"))
        self.base.chmod(0o755)
        self.files = self.base / "F"
        self.files.mkdir(mode=0o755)
        self.scratch = self.base / "W"
        self.scratch.mkdir()
        self.scratch.chmod(0o1777)
        self.tree = self.base / "host"
        snap = demo_snapshot() if env.source == "demo" else load_snapshot(RECORDED / "host-firecracker-noiommu.json")
        create_sim_host(self.tree, snap)
        self.address = _first_endpoint(snap)
        if env.read_only_var:
            _chown_tree(self.tree, 65534)
            _chown_tree(self.tree / "var", 0)
            for p in [self.tree / "var", *(self.tree / "var").rglob("*")]:
                if not p.is_symlink():
                    p.chmod((p.stat().st_mode | 0o555) & ~0o222 if p.is_dir() else 0o444)
        self._counter = 0
        self._make_files()

    def close(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    def _make_files(self) -> None:
        f = self.files
        for role, content in VALID_CONTENT.items():
            (f / f"{role}-valid").write_bytes(content)
            (f / f"{role}-unreadable").write_bytes(content)
            (f / f"{role}-unreadable").chmod(0)
            (f / f"{role}-directory").mkdir()
            os.mknod(f / f"{role}-devzero", stat.S_IFCHR | 0o666, os.makedev(1, 5))
            os.mkfifo(f / f"{role}-fifo", 0o666)
            (f / f"{role}-binary").write_bytes(random.Random(role).randbytes(64 << 10))
            with open(f / f"{role}-huge", "wb") as h:
                h.truncate(HUGE)
            (f / f"{role}-empty").write_bytes(b"")
            (f / f"{role}-loop").symlink_to(f / f"{role}-loop")
            (f / f"{role}-valid").chmod(0o644)
        (f / "dir-file").write_bytes(b"not a directory\n")
        (f / "dir-unreadable").mkdir(mode=0)
        os.mknod(f / "dir-devzero", stat.S_IFCHR | 0o666, os.makedev(1, 5))
        os.mkfifo(f / "dir-fifo", 0o666)
        (f / "dir-loop").symlink_to(f / "dir-loop")
        (f / "dir-nonempty").mkdir()
        (f / "dir-nonempty" / "keep").write_text("x")
        (f / "out-directory").mkdir(mode=0o777)
        (f / "out-unwritable").mkdir(mode=0o755)
        os.mknod(f / "out-devnode", stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a /dev/null twin
        os.mkfifo(f / "out-fifo", 0o666)
        (f / "out-loop").symlink_to(f / "out-loop")

    def file(self, role: str, kind: str) -> str:
        f = self.files
        if kind == "missing":
            return str(f / f"{role}-missing")
        if kind == "longpath":
            return str(f / "/".join(["y" * 250] * 20))
        if role == "out":
            return {"directory": str(f / "out-directory"), "noparent": str(f / "no-such-dir" / "out.json"),
                    "unwritable": str(f / "out-unwritable" / "out.json"), "devnode": str(f / "out-devnode"),
                    "fifo": str(f / "out-fifo"), "loop": str(f / "out-loop")}[kind]
        return str(f / f"{role}-{kind}")

    def host(self, command: str) -> list[str]:
        opts = ["--root", str(self.tree)]
        if self.env.dead_libvirt and accepts_connect(command):
            opts += ["--connect", DEAD_LIBVIRT]
        return opts

    def expand(self, case: Case) -> list[str]:
        out: list[str] = []
        for word in case.argv:
            if word == "{HOST}":
                out += self.host(case.command)
            elif word == "{ADDR}":
                out.append(self.address)
            elif word in ("{OUT}", "{NEWDIR}"):
                self._counter += 1
                out.append(str(self.scratch / f"new-{self._counter}"))
            elif word == "{LOG}":
                out.append(str(self.files / "log-valid"))
            elif word.startswith("{F:"):
                role, kind = word[3:-1].split(":")
                # A pipe with junk in it, made and fed by the worker (one with no writer blocks, as `cat` does).
                out.append("{FIFO}" if kind == "fifo" and role in VALID_CONTENT else self.file(role, kind))
            else:
                out.append(word)
        return out

    def run(self, cases: list[Case], limit: float = 15.0) -> dict[str, dict[str, Any]]:
        """Run the cases in a worker (as nobody when the environment says so); {"N|ident": result} for
        the N-th case."""
        # An endless or huge input is refused at once or not at all: 5 s is plenty for either.
        spec: list[dict[str, Any]] = [{"id": f"{i}|{c.ident}", "argv": self.expand(c),
                 "limit": 5.0 if any(k in c.detail for k in EXPENSIVE) else limit} for i, c in enumerate(cases)]
        results: dict[str, dict[str, Any]] = {}
        start = 0
        while start < len(spec):
            cases_file = self.scratch / "cases.json"
            cases_file.write_text(json.dumps({"cases": spec[start:], "limit": limit, "scratch": str(self.scratch)}))
            out_file = self.scratch / "results.jsonl"
            out_file.unlink(missing_ok=True)
            env = {**cli_env(), "HOME": str(self.scratch), "VFIO_TUI_TESTING": "1"}
            cmd = [*(NOBODY if self.env.as_nobody else ()), sys.executable, "-m", "tests.hardening.misuse_worker",
                   str(cases_file), str(out_file)]
            proc = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                                  timeout=limit * (len(spec) - start) + 120, check=False)
            got = [json.loads(line) for line in out_file.read_text().splitlines()] if out_file.exists() else []
            for i, r in enumerate(got):
                results[r["id"]] = {**r, "argv": spec[start + i]["argv"]}
            start += len(got)
            if start < len(spec):  # the worker died in this case: record it, go on with the next
                results[spec[start]["id"]] = {"id": spec[start]["id"], "argv": spec[start]["argv"], "code": None,
                                              "out": "", "err": proc.stderr[-4000:], "escaped": "worker died",
                                              "hang": False, "seconds": 0.0}
                start += 1
        return results


def _first_endpoint(snap: dict[str, Any]) -> str:
    devices: list[dict[str, Any]] = list(snap["pci_devices"])
    if any(d["address"] == "0000:0b:00.0" for d in devices):
        return "0000:0b:00.0"  # the demo's seed HBA, a lone endpoint
    for d in devices:
        if not str(d.get("class", "0x06")).startswith("0x06"):
            return str(d["address"])
    raise AssertionError("no endpoint in the recording")


def _chown_tree(root: Path, uid: int) -> None:
    for p in [root, *root.rglob("*")]:
        os.lchown(p, uid, uid)


__all__ = ["DIR_KINDS", "ENVS", "FILE_KINDS", "OUT_KINDS", "Env", "Workspace"]

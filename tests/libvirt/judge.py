"""libvirt itself as the judge of an edited domain XML: its RelaxNG schema (what
virt-xml-validate checks) and its QEMU driver's defineXML, run embedded in a child process
(qemu:///embed?root=DIR: no daemon, never qemu:///system).

The QEMU driver is the one that knows the PCI address rules (qemuDomainAssignPCIAddresses):
the schema takes a pcie-root-port on an i440fx guest, defineXML refuses it. Each check is
differential: the original must be accepted here first (the test data holds deliberately
invalid domains, and machine types this QEMU no longer has), then the edit must be too.

The embedded driver keeps its files under DIR, except two that a privileged libvirt always puts
in /run/libvirt (virIdentityEnsureSystemToken, virHostdevManagerGetDefault): as root the child
runs in a mount namespace of its own with a tmpfs on /run, so nothing of this machine changes.
Nothing is ever started: defineXML, then undefine (keeping any NVRAM/TPM file it names).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from lxml import etree

SCHEMA = Path("/usr/share/libvirt/schemas/domain.rng")
EMULATORS = {"x86_64": "/usr/bin/qemu-system-x86_64", "i686": "/usr/bin/qemu-system-i386"}
REPO_ROOT = Path(__file__).resolve().parents[2]
NOT_X86 = "not an x86 domain (this machine has only QEMU's x86 emulators)"


class SchemaJudge:
    """libvirt's domain schema, through lxml's RelaxNG (the libxml2 code xmllint uses)."""

    def __init__(self) -> None:
        self.rng = etree.RelaxNG(etree.parse(str(SCHEMA)))

    @staticmethod
    def missing() -> str:
        return "" if SCHEMA.is_file() else f"{SCHEMA} is missing (apt install libvirt-clients)"

    def errors(self, xml: str) -> str:
        if self.rng.validate(etree.fromstring(xml.encode())):
            return ""
        return str(self.rng.error_log.last_error)


def virt_xml_validate_missing() -> str:
    if shutil.which("virt-xml-validate") is None:
        return "virt-xml-validate is missing (apt install libvirt-clients)"
    if shutil.which("xmllint") is None:
        return "xmllint is missing, which virt-xml-validate runs (apt install libxml2-utils)"
    return ""


def virt_xml_validate(xml: str, tmp: Path) -> str:
    """virt-xml-validate's verdict ("" when it validates)."""
    path = tmp / "domain.xml"
    path.write_text(xml)
    proc = subprocess.run(["virt-xml-validate", str(path), "domain"], capture_output=True, text=True,
                          timeout=60, check=False)
    return "" if proc.returncode == 0 else (proc.stderr or proc.stdout).strip()


def prepare(xml: str) -> str | None:
    """The domain made definable here: TCG instead of KVM, this machine's emulator; None for a
    domain that is not x86."""
    root = etree.fromstring(xml.encode())
    os_type = root.find("os/type")
    arch = os_type.get("arch", "x86_64") if os_type is not None else "x86_64"
    if arch not in EMULATORS or root.get("type") not in ("kvm", "qemu"):
        return None
    root.set("type", "qemu")
    emulator = root.find("devices/emulator")
    if emulator is not None:
        emulator.text = EMULATORS[arch]
    return etree.tostring(root, encoding="unicode")


def qemu_judge_missing() -> str:
    absent = [p for p in EMULATORS.values() if not Path(p).exists()]
    if absent:
        return f"{', '.join(absent)} missing (apt install qemu-system-x86)"
    if os.geteuid() == 0 and shutil.which("unshare") is None:
        return "unshare is missing (apt install util-linux)"
    try:
        import libvirt  # noqa: F401
    except ImportError:
        return "libvirt-python is not installed"
    return ""


class JudgeUnavailableError(Exception):
    """This machine cannot run the embedded driver safely (no mount namespace for its /run)."""


def qemu_verdicts(cases: dict[str, dict[str, str]], workdir: Path) -> dict[str, dict[str, str]]:
    """{case: {label: libvirt's refusal, "" for accepted}} for {case: {"original": xml, label: xml}}.

    Raises:
        JudgeUnavailableError: no mount namespace (a container without CAP_SYS_ADMIN).
        RuntimeError: the child failed (its stderr says why).
    """
    workdir.mkdir(parents=True, exist_ok=True)
    child = [sys.executable, "-m", "tests.libvirt.judge", str(workdir)]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "LIBVIRT_LOG_OUTPUTS": "1:file:" + str(workdir / "libvirt.log")}
    if os.geteuid() == 0:
        # no PID namespace: the child would be its init, and the QEMU capability probes libvirt
        # daemonizes and kills would stay zombies it never reaps (libvirt then waits 40 s each)
        command = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
                   'mount -t tmpfs vfio-tui-judge /run && exec "$@"', "sh", *child]
    else:
        command = child
        for var in ("HOME", "XDG_RUNTIME_DIR", "XDG_CACHE_HOME", "XDG_CONFIG_HOME"):
            (workdir / var.lower()).mkdir(exist_ok=True)
            env[var] = str(workdir / var.lower())
    proc = subprocess.run(command, input=json.dumps(cases), capture_output=True, text=True, timeout=1800,
                          cwd=REPO_ROOT, env=env, check=False)
    if proc.returncode != 0 and proc.stderr.startswith(("unshare:", "mount:")):
        raise JudgeUnavailableError(f"no private mount namespace here for the QEMU driver: {proc.stderr.strip()}")
    if proc.returncode != 0:
        raise RuntimeError(f"the libvirt judge failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    result: dict[str, dict[str, str]] = json.loads(proc.stdout)
    return result


class _Embedded:
    """The QEMU driver of libvirt, embedded in this (child) process."""

    def __init__(self, root: Path) -> None:
        from vfio_tui.core.libvirt.connection import import_libvirt
        from vfio_tui.core.libvirt.watch import enable_events

        enable_events()  # the embedded driver needs an event loop
        # QEMU's capabilities are probed as the user the driver runs QEMU as; when that is not
        # us, libvirt sees /dev/kvm differently at probe and at use, calls its cache stale and
        # probes again on every define (30 s each).
        (root / "etc").mkdir(parents=True, exist_ok=True)
        (root / "etc" / "qemu.conf").write_text(f'user = "+{os.getuid()}"\ngroup = "+{os.getgid()}"\n')
        self.lv = import_libvirt()
        self.conn: Any = self.lv.open(f"qemu:///embed?root={root}")

    def refusal(self, xml: str) -> str:
        try:
            dom = self.conn.defineXML(xml)
        except self.lv.libvirtError as exc:
            return re.sub(r"\s+", " ", str(exc))
        dom.undefineFlags(self.lv.VIR_DOMAIN_UNDEFINE_KEEP_NVRAM | getattr(self.lv, "VIR_DOMAIN_UNDEFINE_KEEP_TPM", 0))
        return ""


def _child(workdir: Path) -> None:
    cases: dict[str, dict[str, str]] = json.load(sys.stdin)
    judge = _Embedded(workdir / "embed")
    out: dict[str, dict[str, str]] = {}
    for name, xmls in cases.items():
        verdicts = out[name] = {}
        for label, xml in xmls.items():
            ready = prepare(xml)
            verdicts[label] = NOT_X86 if ready is None else judge.refusal(ready)
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    _child(Path(sys.argv[1]))

"""Real logs: lines as real systems printed them (tests/fixtures/explain/real_logs.toml, each with its
provenance) give their cause first; the clean logs of the same sources give no finding at all."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from vfio_tui.core.explain import explain_text, load_catalog

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "explain" / "real_logs.toml"
DATA = tomllib.loads(FIXTURES.read_text(encoding="utf-8"))
SAMPLES: list[dict[str, Any]] = DATA["sample"]
CLEAN: list[dict[str, Any]] = DATA["clean"]
CAUSES = {e.id: e for e in load_catalog()}

#: Causes without a real printed line yet, and why: what the lab cannot provoke (tests/lab/provoke.py runs
#: Linux 6.1 / QEMU 7.2 TCG / libvirt 9.0 of Debian 12 on an emulated Intel VT-d, no real firmware or
#: vendor hardware) and what the searches of public issue threads (2026-11-26) did not find. A cause must
#: be covered by a sample or listed here; listing a cause that has a sample fails too, so this only shrinks.
NOT_YET_SEEN: dict[str, str] = {
    "K03": "iommufd (Linux 6.2+) is not in the lab's 6.1 kernel; no thread prints it",
    "K11": "the Debian 6.1 kernel is built without CONFIG_VFIO_NOIOMMU; no thread with the taint line",
    "K14": "needs an IOMMU unit that fails to initialise (real firmware/hardware); QEMU's VT-d always comes up",
    "K21": "vendor VFIO variant drivers (mlx5/hisi_acc/pds) need that hardware; no thread found",
    "K24": "iommufd / VFIO cdev need Linux 6.2+ and QEMU 8.2+ (the lab is 6.1 / 7.2); no thread found",
    "K27": "a device firmware with an inconsistent capability list; QEMU's emulated devices are consistent",
    "K28": "platform/fsl-mc/ccw/sPAPR VFIO do not exist on the x86 lab; no thread found",
    "P02": "Proxmox's own bind step; Proxmox is not in the lab and no thread quotes the line",
    "L13": "libvirt 9.0 checks the domain first ('is in use by driver QEMU', L04), so 'Not detaching active "
           "device' is not reachable from virsh (tried: lab run1/03-in-use); no thread found",
    "L15": "SELinux is not in the Debian lab; no thread with libvirt's svirt labelling error and a hostdev",
    "L16": "apparmor_parser is not installed here; the one thread found (void-packages#31904) has no VFIO "
           "device, where explain rightly stays silent",
    "L18": "libvirt's private /dev namespace never failed to build in the lab; no thread found",
    "L21": "libvirt 9.0 rejects unknown <driver name> values at parse time; the stub lookups are 11.x; none found",
    "L23": "the cgroup v2 device filter never failed in the lab; no thread found",
    "L24": "needs a libvirt hostdev network of SR-IOV NIC VFs (QEMU 7.2 has no SR-IOV NIC; igb came in 8.0)",
    "L25": "AppArmor profiles are not loaded in the lab; no thread shows a DENIED on /dev/vfio or PCI sysfs",
    "L26": "SELinux is not in the lab; the vfio_device_t AVCs found are for non-QEMU domains (qatlib)",
    "L28": "libvirt-internal monitor faults (buffer, fd, path length); not provoked, no thread found",
    "E06": "QEMU checks viability before VFIO_GROUP_SET_CONTAINER, so only a race prints it; no thread found",
    "E16": "needs a bus reset that spans groups; QEMU's topology cannot build one (multifunction and "
           "conventional-bus devices share a group, VFs have FLR); no thread found",
    "E20": "MSI/MSI-X/INTx setup failures did not happen under TCG; no thread found",
    "E25": "the KVM VFIO pseudo device needs KVM; the lab runs TCG; no thread found",
    "XN3": "messages of the Xen hypervisor itself; no Xen in the lab, threads only show libxl's lines",
    "SR4": "QEMU 7.2's nvme offers 2 VFs and the tests asked within it; no thread quotes the ERANGE write",
    "SR5": "needs SR-IOV NIC VFs (QEMU 7.2 has no SR-IOV NIC; igb came in 8.0); no thread found",
    "SR6": "QEMU's root ports isolate (ACS) in the lab topology; no thread quotes this group layout",
    "G03": "the lab guest runs no libvirt hooks yet; the single-GPU threads quote their scripts' output, not "
           "libvirt's 'Hook script execution failed' line",
    "G04": "the lab guest has no display manager (no systemd units for one); threads describe the black "
           "screen without quoting systemd's job failure",
}


#: "lab: <what was provoked>, <software>, <date>": provoked on the real-kernel lab (tests/lab/provoke.py)
LAB_SOURCE = re.compile(r"lab: .{10,300}, Linux \d[\d.]* / QEMU \d[\d.]* / libvirt \d[\d.]* \([^)]{1,40}\), \d{4}-\d{2}-\d{2}")
REPO = FIXTURES.parents[3]


def _id(sample: dict[str, Any]) -> str:
    src = str(sample["source"])
    if src.startswith("lab: "):
        return f"{sample['cause']}-lab-{'-'.join(re.findall(r'[a-z0-9]+', src[5:].split(',')[0].lower()))[:48]}"
    return f"{sample['cause']}-{src.rsplit('/', 1)[-1] if src.startswith('http') else src.split(' ')[0].rsplit('/', 1)[-1]}"


def test_every_sample_names_a_cause_and_where_it_was_printed() -> None:
    for sample in SAMPLES:
        assert sample["cause"] in CAUSES, sample
        src = str(sample["source"])
        assert src.startswith(("https://", "shared/", "lab: ")), sample
        if src.startswith("lab: "):  # what was provoked, on which software, when; and the raw capture
            assert LAB_SOURCE.fullmatch(src), src
            assert (REPO / sample["raw"]).exists(), sample["raw"]
        assert sample["text"].strip()


def test_a_lab_line_is_in_its_raw_capture() -> None:
    """Every line of a lab sample is a line of the files the lab run wrote (never retyped)."""
    for sample in SAMPLES:
        if not str(sample["source"]).startswith("lab: "):
            continue
        raw = REPO / sample["raw"]
        files = [raw] if raw.is_file() else sorted(p for p in raw.iterdir() if p.is_file())
        captured = {line for f in files for line in f.read_text(encoding="utf-8").split("\n")}
        for line in sample["text"].strip("\n").split("\n"):
            assert line in captured, (line, sample["raw"])


def test_every_cause_has_a_real_line_or_says_why_not() -> None:
    covered = {s["cause"] for s in SAMPLES}
    assert set(CAUSES) - covered - set(NOT_YET_SEEN) == set(), "add a real line or list the cause"
    assert covered & set(NOT_YET_SEEN) == set(), "covered now: remove it from NOT_YET_SEEN"


@pytest.mark.parametrize("sample", SAMPLES, ids=[_id(s) for s in SAMPLES])
def test_a_real_line_gives_its_cause_first(sample: dict[str, Any]) -> None:
    report = explain_text(sample["text"])
    ids = [f.cause_id for f in report.findings]
    assert ids, f"no finding for a real {sample['cause']} line from {sample['source']}"
    assert ids[0] == sample.get("first", sample["cause"]), (ids, sample["source"])
    assert sample["cause"] in ids
    root = report.findings[0]
    flat = " ".join(sample["text"].split())
    assert root.matched and " ".join(root.matched[0].split()) in flat  # the evidence is the real text


@pytest.mark.parametrize("clean", CLEAN, ids=[f"clean-{i}" for i in range(len(CLEAN))])
def test_a_clean_real_log_gives_no_finding(clean: dict[str, Any]) -> None:
    report = explain_text(clean["text"])
    assert report.findings == [], ([f.cause_id for f in report.findings], clean["source"])

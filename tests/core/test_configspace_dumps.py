"""The config-space parser against lspci on real devices: the 172 dumps of pciutils' test suite
(tests/core/data/pciutils-dumps.json.gz, made by scripts/pciutils_fixture.py; the expected facts
are what `lspci -F FILE -vvvnn` printed, not what our parser says)."""

from __future__ import annotations

import gzip
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from vfio_tui.core.configspace import ConfigFacts, parse_config

FIXTURE = Path(__file__).parent / "data" / "pciutils-dumps.json.gz"


@cache
def _devices() -> list[dict[str, Any]]:
    with gzip.open(FIXTURE, "rt") as fh:
        devices: list[dict[str, Any]] = json.load(fh)["devices"]
    return devices


def _ids(dev: dict[str, Any]) -> str:
    return f"{dev['file']}/{dev['address']}"


DEVICES = _devices()


def _disagreements(cfg: bytes, want: dict[str, Any], got: ConfigFacts) -> list[str]:
    out = []

    def check(what: str, ours: object, theirs: object) -> None:
        if ours != theirs:
            out.append(f"{what}: ours {ours!r}, lspci {theirs!r}")

    check("ids", f"{got.vendor_id:04x}:{got.device_id:04x}", want["ids"])
    check("class", f"{got.class_code >> 8:04x}", want["class"])
    if want["prog_if"] is not None:
        check("prog-if", f"{got.class_code & 0xFF:02x}", want["prog_if"])
    check("revision", f"{got.revision:02x}" if got.revision else None, want["revision"])
    # lspci prints a subsystem unless its vendor is 0 or ffff (lspci.c show_verbose)
    sub = (f"{got.subsystem_vendor_id:04x}:{got.subsystem_device_id:04x}"
           if got.subsystem_vendor_id not in (None, 0, 0xFFFF) else None)
    check("subsystem", sub, want["subsystem"])
    check("capabilities", list(got.standard_caps), [cfg[off] for off in want["caps"]])
    check("extended capabilities", list(got.extended_caps),
          [int.from_bytes(cfg[off:off + 2], "little") for off in want["ext_caps"]])
    check("PCIe type", got.pcie_port_type, want["express"])
    if want["flreset"] is not None:
        check("FLR (DevCap)", got.pcie_flr, want["flreset"])
    if want["af_flr"] is not None:
        check("AF FLR (TP and FLR)", got.af_flr, want["af_tp"] and want["af_flr"])
    if want["no_soft_reset"] is not None:
        check("PM NoSoftRst", got.pm_no_soft_reset, want["no_soft_reset"])
    check("ACS capability", got.acs_cap and got.acs_cap & 0x7F, want["acs_cap"])
    check("ACS control", got.acs_ctrl and got.acs_ctrl & 0x7F, want["acs_ctl"])
    check("SR-IOV", got.sriov_cap, want["sriov"])
    return out


def test_the_fixture_is_what_the_report_says() -> None:
    assert len(DEVICES) == 172
    assert sum(len(d["config"]) == 8192 for d in DEVICES) >= 60  # with extended space


@pytest.mark.parametrize("dev", DEVICES, ids=_ids)
def test_every_field_agrees_with_lspci(dev: dict[str, Any]) -> None:
    cfg = bytes.fromhex(dev["config"])
    assert _disagreements(cfg, dev["lspci"], parse_config(cfg)) == []


@pytest.mark.parametrize("dev", [d for d in DEVICES if len(d["config"]) == 8192], ids=_ids)
def test_reading_only_the_headers_gives_the_same_facts(dev: dict[str, Any]) -> None:
    """The sysfs reader reads 264 bytes and then 8 per extended header (real config reads are
    slow); that must see exactly what a parse of the whole 4 KiB sees."""
    cfg = bytes.fromhex(dev["config"])
    reads: list[int] = []

    def read_ext(off: int) -> bytes:
        reads.append(off)
        return cfg[off:off + 8]

    assert parse_config(cfg[:0x108], read_ext=read_ext) == parse_config(cfg)
    assert len(reads) == max(0, len(parse_config(cfg).extended_caps) - 1)


def test_conventional_device_repeating_every_256_bytes_has_no_extended_caps() -> None:
    """pciutils' broken-ecaps: an RS690 host bridge whose space at 0x100 repeats 0x000."""
    dev = next(d for d in DEVICES if d["file"] == "broken-ecaps")
    cfg = bytes.fromhex(dev["config"])
    assert cfg[0x100:0x104] == cfg[:4]
    facts = parse_config(cfg)
    assert facts.extended_caps == () and facts.pcie_port_type is None


def test_aliased_pcie_space_is_not_walked() -> None:
    """A PCIe function whose 0x100 repeats the header (the kernel's pci_ext_cfg_is_aliased())."""
    dev = next(d for d in DEVICES if d["lspci"]["express"] and len(d["config"]) == 8192)
    cfg = bytearray.fromhex(dev["config"])
    cfg[0x100:0x1000] = (bytes(cfg[:0x100]) * 15)
    facts = parse_config(bytes(cfg))
    assert facts.ext_aliased and facts.extended_caps == () and facts.acs_cap is None


def test_bridge_subsystem_comes_from_its_ssvid_capability() -> None:
    bridges = [d for d in DEVICES if bytes.fromhex(d["config"])[0x0E] & 0x7F == 1 and d["lspci"]["subsystem"]]
    assert bridges
    for dev in bridges:
        facts = parse_config(bytes.fromhex(dev["config"]))
        assert f"{facts.subsystem_vendor_id:04x}:{facts.subsystem_device_id:04x}" == dev["lspci"]["subsystem"]


def test_af_flr_needs_the_tp_bit() -> None:
    dev = next(d for d in DEVICES if d["file"] == "cap-pci-af")
    cfg = bytearray.fromhex(dev["config"])
    assert parse_config(bytes(cfg)).af_flr  # AFCap: TP+ FLR+
    cfg[0x53] = 0x02  # FLR without Transactions Pending: the kernel's pci_af_flr() refuses it
    assert not parse_config(bytes(cfg)).af_flr


def test_standard_walk_stops_at_id_ff() -> None:
    dev = next(d for d in DEVICES if len(d["lspci"]["caps"]) >= 3)
    cfg = bytearray.fromhex(dev["config"])
    second = dev["lspci"]["caps"][1]
    cfg[second] = 0xFF  # lspci: "<chain broken>"
    facts = parse_config(bytes(cfg))
    assert list(facts.standard_caps) == [cfg[dev["lspci"]["caps"][0]]]

#!/usr/bin/env python3
"""Make tests/core/data/pciutils-dumps.json.gz: the real config-space dumps of pciutils' test
suite (tests/*, `lspci -xxxx` format) with what `lspci -F FILE -vvvnn` says about each device,
so that tests/core/test_configspace_dumps.py can hold core/configspace.py to lspci without
needing lspci or the pciutils tree.

    python scripts/pciutils_fixture.py PCIUTILS_TESTS_DIR [--commit SHA]

PCIUTILS_TESTS_DIR is the tests/ directory of a pciutils checkout (github.com/pciutils/pciutils).
lspci reads each dump with -F; the facts are taken from its text, never from our parser.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parent.parent / "tests/core/data/pciutils-dumps.json.gz"

_HEAD = re.compile(r"^((?:[0-9a-f]{4,8}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) ")
_HEX = re.compile(r"^([0-9a-f]{2,3}): ((?:[0-9a-f]{2} ?)+)$")
_IDS = re.compile(r"\[([0-9a-f]{4})\]: .*\[([0-9a-f]{4}):([0-9a-f]{4})\]")
_REV = re.compile(r"\(rev ([0-9a-f]{2})\)")
_PROGIF = re.compile(r"\(prog-if ([0-9a-f]{2})")
_SUBSYS = re.compile(r"^\tSubsystem: .*\[([0-9a-f]{4}):([0-9a-f]{4})\]$")
_CAP = re.compile(r"^\tCapabilities: \[([0-9a-f]{2,3})(?: v\d+)?\] (.*)$")
_ACS_NAMES = ("SrcValid", "TransBlk", "ReqRedir", "CmpltRedir", "UpstreamFwd", "EgressCtrl", "DirectTrans")
_EXPRESS = {
    "Endpoint": "endpoint", "Legacy Endpoint": "legacy_endpoint", "Root Port": "root_port",
    "Upstream Port": "upstream_port", "Downstream Port": "downstream_port",
    "PCI-Express to PCI/PCI-X Bridge": "pcie_to_pci_bridge", "PCI/PCI-X to PCI-Express Bridge": "pci_to_pcie_bridge",
    "Root Complex Integrated Endpoint": "rc_integrated_endpoint", "Root Complex Event Collector": "rc_event_collector",
}


def dumps(path: Path) -> dict[str, bytes]:
    """{address: config bytes} of one pciutils test file."""
    out: dict[str, bytearray] = {}
    current: bytearray | None = None
    for line in path.read_text(errors="replace").splitlines():
        head = _HEAD.match(line)
        if head:
            current = out.setdefault(head.group(1), bytearray())
            continue
        hexline = _HEX.match(line.strip())
        if hexline and current is not None:
            off = int(hexline.group(1), 16)
            if off == len(current):
                current += bytes(int(b, 16) for b in hexline.group(2).split())
    return {a: bytes(b) for a, b in out.items() if b}


def _acs_bits(text: str) -> int:
    return sum(1 << i for i, name in enumerate(_ACS_NAMES) if f"{name}+" in text)


def lspci_facts(block: list[str]) -> dict[str, Any]:
    """What lspci -vvvnn printed about one device."""
    head = block[0]
    ids = _IDS.search(head)
    facts: dict[str, Any] = {
        "class": ids.group(1) if ids else None,
        "ids": f"{ids.group(2)}:{ids.group(3)}" if ids else None,
        "revision": (m.group(1) if (m := _REV.search(head)) else None),
        "prog_if": (m.group(1) if (m := _PROGIF.search(head)) else None),
        "subsystem": None, "caps": [], "ext_caps": [], "express": None, "flreset": None, "af_tp": None,
        "af_flr": None, "no_soft_reset": None, "acs_cap": None, "acs_ctl": None, "sriov": False,
    }
    section = ""
    for line in block[1:]:
        if (m := _SUBSYS.match(line)) and facts["subsystem"] is None:
            facts["subsystem"] = f"{m.group(1)}:{m.group(2)}"
        cap = _CAP.match(line)
        if cap:
            off, section = int(cap.group(1), 16), cap.group(2)
            if section.startswith(("<chain broken>", "<access denied>", "<chain looped>")):
                continue
            facts["ext_caps" if len(cap.group(1)) == 3 else "caps"].append(off)
            if section.startswith("Express"):
                kind = re.sub(r"^Express \(v\d\) ", "", section).split(",")[0]
                facts["express"] = _EXPRESS.get(re.sub(r" \(Slot[+-]\)$", "", kind), kind)
            if section.startswith("Single Root I/O Virtualization"):
                facts["sriov"] = True
            continue
        if section.startswith("Express") and "FLReset" in line and facts["flreset"] is None:
            facts["flreset"] = "FLReset+" in line
        elif section.startswith("Power Management") and "NoSoftRst" in line and facts["no_soft_reset"] is None:
            facts["no_soft_reset"] = "NoSoftRst+" in line
        elif section.startswith("PCI Advanced Features") and "AFCap:" in line:
            facts["af_tp"], facts["af_flr"] = "TP+" in line, "FLR+" in line
        elif section.startswith("Access Control Services"):
            if "ACSCap:" in line:
                facts["acs_cap"] = _acs_bits(line)
            elif "ACSCtl:" in line:
                facts["acs_ctl"] = _acs_bits(line)
    return facts


def lspci_blocks(path: Path) -> dict[str, list[str]]:
    res = subprocess.run(["lspci", "-F", str(path), "-vvvnn"], capture_output=True, text=True, check=True)
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in res.stdout.splitlines():
        head = _HEAD.match(line)
        if head:
            current = blocks.setdefault(head.group(1).removeprefix("0000:"), [line])
        elif current is not None and line:
            current.append(line)
    return blocks


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("tests_dir", type=Path)
    ap.add_argument("--commit", default="unknown", help="the pciutils commit the files come from")
    args = ap.parse_args()
    version = subprocess.run(["lspci", "--version"], capture_output=True, text=True).stdout.strip()
    devices = []
    for path in sorted(p for p in args.tests_dir.iterdir() if p.is_file()):
        blocks = lspci_blocks(path)
        for addr, cfg in dumps(path).items():
            addr = addr.removeprefix("0000:")  # lspci leaves domain 0 out
            if addr not in blocks:
                print(f"{path.name} {addr}: lspci printed nothing", file=sys.stderr)
                continue
            devices.append({"file": path.name, "address": addr, "config": cfg.hex(),
                            "lspci": lspci_facts(blocks[addr])})
    doc = {
        "source": f"https://github.com/pciutils/pciutils tests/ at commit {args.commit}"
                  " (real devices' config space, `lspci -xxxx` format; pciutils is GPL-2.0-or-later)",
        "facts_from": f"{version}: lspci -F FILE -vvvnn",
        "devices": devices,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with gzip.open(OUT, "wt", compresslevel=9) as fh:
        json.dump(doc, fh, separators=(",", ":"))
    print(f"{len(devices)} devices -> {OUT} ({OUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Parsers never crash on junk: PCI addresses, config space (capability walks), pci.ids."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vfio_tui.core.address import PciAddress
from vfio_tui.core.configspace import ConfigSpaceError, parse_config
from vfio_tui.core.errors import InputError
from vfio_tui.core.pciids import PciIds
from vfio_tui.core.simulated.synthetic import make_config


@pytest.mark.parametrize("text,expected", [
    ("0000:0b:00.0", "0000:0b:00.0"),
    ("0b:00.0", "0000:0b:00.0"),
    ("0B:1F.7", "0000:0b:1f.7"),
    ("0001:00:02.0", "0001:00:02.0"),
    ("10000:e1:00.0", "10000:e1:00.0"),
    ("pci_0000_0b_00_0", "0000:0b:00.0"),
    (" 0000:02:00.1\n", "0000:02:00.1"),
])
def test_addresses_users_type_are_understood(text: str, expected: str) -> None:
    assert str(PciAddress.parse(text)) == expected


@pytest.mark.parametrize("text", ["", "0b:00", "0b:00.8", "0000:0b:20.0", "zz:00.0", "0000:0b:00.0.1",
                                  "../../etc", "0000:100:00.0", "1:2:3:4"])
def test_weird_addresses_are_refused_with_a_hint(text: str) -> None:
    with pytest.raises(InputError) as err:
        PciAddress.parse(text)
    assert "PCI address" in str(err.value)


@given(st.text(max_size=40))
def test_address_parser_never_crashes(text: str) -> None:
    addr = PciAddress.try_parse(text)
    if addr is not None:
        assert PciAddress.parse(str(addr)) == addr


@given(st.integers(0, 0xFFFF), st.integers(0, 255), st.integers(0, 31), st.integers(0, 7))
def test_address_round_trip(dom: int, bus: int, slot: int, fn: int) -> None:
    addr = PciAddress(dom, bus, slot, fn)
    assert PciAddress.parse(str(addr)) == addr
    assert PciAddress.parse(addr.nodedev_name) == addr


@settings(max_examples=300)
@given(st.binary(min_size=0, max_size=4096))
def test_config_parser_survives_garbage(data: bytes) -> None:
    try:
        facts = parse_config(data)
    except ConfigSpaceError:
        return
    assert 0 <= facts.header_type <= 0x7F
    assert len(facts.extended_caps) <= (0x1000 - 0x100) // 8


def test_capability_loops_are_cut() -> None:
    cfg = bytearray(make_config(0x8086, 0x1234, 0x020000, pcie="endpoint"))
    cfg[0x61] = 0x40  # the last capability (PCIe, at 0x60) points back at the first
    cfg[0x100:0x104] = (0x0001 | (1 << 16) | (0x100 << 20)).to_bytes(4, "little")  # ext cap loop
    facts = parse_config(bytes(cfg))
    assert facts.standard_caps == (0x01, 0x05, 0x10)
    assert facts.extended_caps == (0x0001,)
    cfg[0x41] = 0x40  # the first capability points at itself: the PCIe capability is never reached,
    facts = parse_config(bytes(cfg))  # so there is no extended space to walk
    assert facts.standard_caps == (0x01,) and facts.extended_caps == ()


@given(st.booleans(), st.sampled_from(["endpoint", "root_port", "downstream_port", None]),
       st.one_of(st.none(), st.tuples(st.integers(0, 0x7F), st.integers(0, 0x7F))),
       st.one_of(st.none(), st.tuples(st.integers(0, 64), st.integers(0, 64))))
def test_config_builder_and_parser_agree(flr: bool, pcie: str | None, acs: tuple[int, int] | None,
                                         sriov: tuple[int, int] | None) -> None:
    cfg = make_config(0x10DE, 0x1B80, 0x030000, pcie=pcie, flr=flr, acs=acs if pcie else None,
                      sriov=sriov if pcie else None)
    facts = parse_config(cfg)
    assert facts.pcie_port_type == pcie
    assert facts.pcie_flr == (flr and pcie is not None)
    if pcie and acs:
        assert (facts.acs_cap, facts.acs_ctrl) == acs
    assert not facts.complete or len(cfg) > 64
    short = parse_config(cfg[:64])
    assert not short.complete and short.acs_cap is None


SAMPLE_IDS = b"""# pci.ids sample
#\tcomment inside
1077  QLogic Corp.
\t2432  ISP2432-based 4Gb Fibre Channel to PCI Express HBA
\t\t1077 0137  QLE2460 4Gb FC HBA
8086  Intel Corporation
# a comment between devices
\t10c9  82576 Gigabit Network Connection
C 02  Network controller
\t00  Ethernet controller
C 0c  Serial bus controller
\t04  Fibre Channel
"""


def test_pci_ids_names() -> None:
    ids = PciIds(SAMPLE_IDS)
    assert ids.vendor("1077") == "QLogic Corp."
    assert ids.device("1077", "2432") == "ISP2432-based 4Gb Fibre Channel to PCI Express HBA"
    assert ids.device("8086", "10C9") == "82576 Gigabit Network Connection"
    assert ids.device("8086", "ffff") is None
    assert ids.class_name("0c0400") == "Fibre Channel"
    assert ids.class_name("0200") == "Ethernet controller"
    assert ids.vendor("abcd") is None and ids.vendor("") is None and ids.vendor("10") is None


def test_a_process_names_from_the_pci_ids_file_as_it_is_now(tmp_path: Path) -> None:
    # The app keeps what it loaded across its re-reads of the host, but an update of hwdata shows.
    path = tmp_path / "pci.ids"
    path.write_bytes(SAMPLE_IDS)
    assert PciIds.load(path).vendor("1077") == "QLogic Corp."
    path.write_bytes(SAMPLE_IDS.replace(b"QLogic Corp.", b"Marvell QLogic"))
    assert PciIds.load(path).vendor("1077") == "Marvell QLogic"
    os.utime(path, ns=(0, 10**18))
    path.write_bytes(SAMPLE_IDS.replace(b"QLogic Corp.", b"Marvell QLogiX"))  # the same size, in place
    os.utime(path, ns=(0, 2 * 10**18))
    assert PciIds.load(path).vendor("1077") == "Marvell QLogiX"


@given(st.binary(max_size=2000), st.text(max_size=6), st.text(max_size=6))
def test_pci_ids_parser_survives_garbage(data: bytes, vid: str, did: str) -> None:
    ids = PciIds(data)
    ids.vendor(vid)
    ids.device(vid, did)
    ids.class_name(did)

"""hypothesis: the config-space, pci.ids and PCI address parsers take any input without a
traceback or a hang. In CI (CI=true) each runs 10,000 examples (profile "parsers-ci"); locally a
few hundred, so a developer's run stays fast."""

from __future__ import annotations

import gzip
import json
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vfio_tui.core.address import PciAddress
from vfio_tui.core.configspace import ConfigSpaceError, parse_config
from vfio_tui.core.errors import InputError
from vfio_tui.core.pciids import PciIds
from vfio_tui.core.simulated.synthetic import make_config

CI = os.environ.get("CI", "").lower() == "true"
settings.register_profile("parsers-ci", max_examples=10_000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("parsers-dev", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = settings.get_profile("parsers-ci" if CI else "parsers-dev")
#: One example that takes this long is a hang (a parse is microseconds).
HANG_SECONDS = 5

_DUMPS = Path(__file__).parent / "data" / "pciutils-dumps.json.gz"
with gzip.open(_DUMPS, "rt") as _fh:
    REAL = [bytes.fromhex(d["config"]) for d in json.load(_fh)["devices"]]
SYNTHETIC = [make_config(0x8086, 0x10C9, 0x020000, pcie="endpoint", flr=True, sriov=(8, 2)),
             make_config(0x8086, 0x3408, 0x060400, header_type=1, pcie="root_port", acs=(0x5F, 0x1D)),
             make_config(0x1077, 0x2432, 0x0C0400)]


@contextmanager
def no_hang() -> Iterator[None]:
    def hung(signum: int, frame: object) -> None:
        raise AssertionError(f"one example took more than {HANG_SECONDS} s: a hang")

    old = signal.signal(signal.SIGALRM, hung)
    signal.alarm(HANG_SECONDS)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


#: Status, header type, capability pointers, the first extended header, the standard capabilities.
HOT_OFFSETS = [0x06, 0x0E, 0x34, 0x14, 0x100, 0x102, 0x103, *range(0x40, 0x100, 4)]


@st.composite
def config_spaces(draw: st.DrawFn) -> bytes:
    """Real and synthetic dumps with bytes overwritten (pointers, ids, headers), cut or padded
    to any length; and plain noise."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=4200))
    cfg = bytearray(draw(st.sampled_from(REAL + SYNTHETIC)))
    for _ in range(draw(st.integers(0, 12))):
        hot = draw(st.sampled_from(HOT_OFFSETS))
        off = draw(st.one_of(st.just(hot), st.integers(0, max(0, len(cfg) - 1))))
        if off < len(cfg):
            cfg[off] = draw(st.integers(0, 255))
    length = draw(st.one_of(st.just(len(cfg)), st.integers(0, 4200)))
    return bytes(cfg[:length]) + bytes(max(0, length - len(cfg)))


@PROFILE
@given(config_spaces(), st.booleans())
def test_config_parser_gives_facts_or_a_clean_error(data: bytes, headers_only: bool) -> None:
    with no_hang():
        try:
            if headers_only:
                facts = parse_config(data[:0x108], read_ext=lambda off: data[off:off + 8])
            else:
                facts = parse_config(data)
        except ConfigSpaceError:
            assert len(data) < 16 or data[:2] in (b"\xff\xff", b"\0\0")
            return
    assert 0 <= facts.header_type <= 0x7F
    assert len(facts.standard_caps) <= 48
    assert len(facts.extended_caps) <= (0x1000 - 0x100) // 8
    if facts.extended_caps:
        assert facts.pcie_port_type is not None or facts.has_pcix
    # The sysfs reader's way (264 bytes, then 8 per header) sees what the whole dump says.
    if not headers_only and len(data) >= 0x108:
        assert parse_config(data[:0x108], read_ext=lambda off: data[off:off + 8]) == facts


_ID_LINES = [b"8086  Intel Corporation\n", b"\t10c9  82576 Gigabit Network Connection\n",
             b"\t\t8086 a03c  Ethernet Server Adapter\n", b"C 02  Network controller\n", b"\t00  Ethernet controller\n",
             b"\t\t00  prog-if\n", b"# comment\n", b"\n", b"1077  QLogic\r\n", b"\t2432  ISP2432\r\n", b"C 0c  Serial\n"]


@PROFILE
@given(st.lists(st.one_of(st.sampled_from(_ID_LINES), st.binary(max_size=40)), max_size=60).map(b"".join),
       st.sampled_from(["8086", "1077", "10C9", "", "zzzz", "80861", "\u0660\u0661\u0662\u0663"]) | st.text(max_size=6),
       st.sampled_from(["10c9", "2432", "0200", "020000", "0c04", "", "ff"]) | st.text(max_size=6))
def test_pci_ids_parser_answers_names_or_none(data: bytes, vid: str, code: str) -> None:
    ids = PciIds(data)
    with no_hang():
        for value in (ids.vendor(vid), ids.device(vid, code), ids.class_name(code)):
            assert value is None or isinstance(value, str)


@PROFILE
@given(st.one_of(st.text(max_size=40),
                 st.from_regex(r"\A\s*(pci_)?[0-9a-fA-F]{0,9}[:_][0-9a-fA-F]{1,3}[:_][0-9a-fA-F]{1,3}[._][0-9]\s*\Z")))
def test_address_parser_parses_or_says_why(text: str) -> None:
    with no_hang():
        try:
            addr = PciAddress.parse(text)
        except InputError as err:
            assert "PCI address" in str(err)
            return
    assert PciAddress.parse(str(addr)) == addr
    assert PciAddress.parse(addr.nodedev_name) == addr

"""Fuzzing the domain XML reader: any text is read, edited and written back, or refused with a
clean VfioError (one line, exit 2) — never a traceback, never a hang.

Profiles: `xml-fuzz-ci` (CI=true) runs 10,000 examples per test, `xml-fuzz-dev` 300, so local runs
stay fast. Each test is time-boxed (FUZZ_SECONDS, default 240 s on CI): past it the remaining
examples return at once, and the test says how many really ran.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree

from vfio_tui.core.address import PciAddress
from vfio_tui.core.errors import VfioError
from vfio_tui.core.libvirt.guestpci import GuestPci
from vfio_tui.core.libvirt.policy import guest_layout
from vfio_tui.core.libvirt.xml import DomainXml, Hostdev, interface_hostdev

CI = os.environ.get("CI") == "true"
settings.register_profile("xml-fuzz-ci", max_examples=10_000, deadline=None, database=None,
                          suppress_health_check=list(HealthCheck))
settings.register_profile("xml-fuzz-dev", max_examples=300, deadline=None, database=None,
                          suppress_health_check=list(HealthCheck))
FUZZ = settings(settings.get_profile("xml-fuzz-ci" if CI else "xml-fuzz-dev"))
TIME_BOX = float(os.environ.get("FUZZ_SECONDS", "240" if CI else "60"))
#: One example must never take this long (a regex gone quadratic, a loop that does not end).
SLOW = 5.0
SAMPLES = [p.read_text() for p in sorted((Path(__file__).parent / "libvirt_test_data").rglob("*.xml"))]


class Box:
    """The time box of one fuzz test: how many examples ran, and whether time ran out."""

    def __init__(self) -> None:
        self.start: float | None = None
        self.ran = 0
        self.timed_out = False

    def open(self) -> bool:
        now = time.monotonic()
        if self.start is None:
            self.start = now
        if now - self.start > TIME_BOX:
            self.timed_out = True
            return False
        self.ran += 1
        return True


def exercise(text: str) -> None:
    """Read, inspect, edit and write back `text`; only VfioError may come out."""
    t0 = time.monotonic()
    try:
        dom = DomainXml(text)
    except VfioError as exc:
        assert "\n" not in str(exc).strip() or "does not parse" in str(exc)
        return
    out = dom.to_string()
    again = DomainXml(out)  # what is written is well-formed and reads back the same
    assert etree.tostring(again.root) == etree.tostring(dom.root)  # (c14n refuses relative namespace URIs)
    for step in (dom.hostdevs, lambda: GuestPci.of(dom), dom.pci_controllers, dom.used_guest_slots):
        try:
            step()
        except VfioError:
            pass
    try:
        layout = guest_layout([PciAddress(0, 0x0A, 0, 0), PciAddress(0, 0x0A, 0, 1)], dom)
        for c in layout.new_controllers:
            dom.add_controller(c)
    except VfioError:
        layout = None
    for h in (Hostdev(PciAddress(0, 0x0B, 0, 0)), interface_hostdev(PciAddress(0, 7, 0x10, 2), mac="52:54:00:00:00:01")):
        try:
            present = dom.find_hostdev(h.address) is not None
        except VfioError:
            present = True
        if not present:
            before = dom.to_string()
            dom.add_hostdev(h)
            DomainXml(dom.to_string())
            assert dom.remove_hostdev(h.address)
            assert dom.to_string() == before
    if layout is not None:
        for c in reversed(layout.new_controllers):
            dom.remove_controller(c.index)
        assert dom.to_string() == out
    assert time.monotonic() - t0 < SLOW, f"{time.monotonic() - t0:.1f} s for {len(text)} characters"


# --- strategies ---------------------------------------------------------------------------------

numbers = st.one_of(st.integers(0, 300).map(str), st.integers(0, 2**33).map(hex), st.integers(0, 64).map(oct),
                    st.sampled_from(["", " 0x1", "+3", "-1", "0x", "08", "1e3", "٣", "0x1f ", "\t7", "&#x31;"]),
                    st.text(max_size=4))
attr_value = numbers.map(lambda v: v.replace("'", "&apos;").replace("<", "&lt;").replace("&", "&amp;")
                         if "&#" not in v else v)


def attr(name: str) -> st.SearchStrategy[str]:
    return st.one_of(st.just(""), attr_value.map(lambda v: f" {name}='{v}'"))


pci_address = st.builds(lambda t, d, b, s, f, m: f"<address{t}{d}{b}{s}{f}{m}/>",
                        st.sampled_from(["", " type='pci'", " type='drive'", " type='usb'", " type='x'"]),
                        attr("domain"), attr("bus"), attr("slot"), attr("function"),
                        st.sampled_from(["", " multifunction='on'", " multifunction='off'", " multifunction='1'"]))
hostdev = st.builds(lambda mode, kind, managed, drv, src, rom, guest: (
    f"<hostdev{mode}{kind}{managed}>{drv}<source>{src}</source>{rom}{guest}</hostdev>"),
    st.sampled_from(["", " mode='subsystem'", " mode='capabilities'"]),
    st.sampled_from([" type='pci'", " type='usb'", " type='mdev'", ""]),
    st.sampled_from(["", " managed='yes'", " managed='no'", " managed='on'"]),
    st.sampled_from(["", "<driver name='vfio'/>", "<driver/>"]), pci_address,
    st.sampled_from(["", "<rom bar='off'/>", "<rom bar='maybe'/>", "<rom file=''/>", "<rom enabled='no'/>"]),
    st.one_of(st.just(""), pci_address))
interface = st.builds(lambda kind, inner, src, vlan: f"<interface type='{kind}'>{inner}<source>{src}</source>{vlan}"
                                                     "</interface>",
                      st.sampled_from(["hostdev", "network", "bridge"]),
                      st.sampled_from(["", "<mac address='52:54:00:aa:bb:cc'/>",
                                       "<actual type='hostdev'><source><address type='pci' bus='3'/></source></actual>"]),
                      pci_address, st.sampled_from(["", "<vlan><tag id='42'/></vlan>", "<vlan><tag id='x'/></vlan>",
                                                    "<vlan trunk='yes'><tag id='1'/><tag id='2'/></vlan>"]))
controller = st.builds(lambda index, model, address: f"<controller type='pci'{index}{model}>{address}</controller>",
                       attr("index"), st.sampled_from(["", " model='pci-root'", " model='pcie-root'",
                                                       " model='pci-bridge'", " model='pcie-root-port'",
                                                       " model='pci-expander-bus'", " model='dmi-to-pci-bridge'",
                                                       " model='pcie-switch-downstream-port'", " model='?'"]),
                       st.one_of(st.just(""), pci_address))
device = st.one_of(hostdev, interface, controller, st.just("<video/>"), st.just("<!-- c -->"),
                   st.just("<disk><address type='pci' bus='0' slot='3'/></disk>"), st.just("<memballoon model='none'/>"))
whitespace = st.sampled_from(["", "\n", "\n  ", "\n    ", "\t", " "])
domain = st.builds(
    lambda head, machine, devs, ws, tail, with_devices: (
        f"<domain type='kvm'{head}>{ws}<name>f</name><os><type arch='x86_64' machine='{machine}'>hvm</type></os>"
        + (f"{ws}<devices>{''.join(ws + d for d in devs)}{ws}</devices>" if with_devices else "") + f"{tail}</domain>"),
    st.sampled_from(["", " xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'", " id='3'"]),
    st.sampled_from(["pc", "pc-q35-7.2", "q35", "virt", "pseries", ""]), st.lists(device, max_size=8), whitespace,
    st.sampled_from(["", "<seclabel type='none'/>", "<metadata><a:b xmlns:a='urn:x' c='d'/></metadata>",
                     "<qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'/>"]),
    st.booleans())


def mutate(text: str, data: st.DataObject) -> str:
    """A few random cuts, copies and inserted characters: half-broken XML."""
    for _ in range(data.draw(st.integers(1, 4))):
        if not text:
            break
        i = data.draw(st.integers(0, len(text) - 1))
        j = data.draw(st.integers(i, min(len(text), i + 40)))
        op = data.draw(st.sampled_from(["cut", "copy", "insert", "truncate"]))
        if op == "cut":
            text = text[:i] + text[j:]
        elif op == "copy":
            text = text[:j] + text[i:j] + text[j:]
        elif op == "insert":
            piece = data.draw(st.sampled_from([*"<>/'\"=&;\x00\ud800 \n", "<!--", "]]>", "&#0;", "<a>", "xmlns:q='u' "]))
            text = text[:i] + piece + text[i:]
        else:
            text = text[:i]
    return text


def boxed(run: Callable[[], None], box: Box) -> None:
    if box.open():
        run()


# --- the tests ----------------------------------------------------------------------------------

BOXES = {name: Box() for name in ("generated", "samples", "text")}


@FUZZ
@given(domain, st.data())
def test_generated_domains(text: str, data: st.DataObject) -> None:
    boxed(lambda: exercise(text if data.draw(st.booleans()) else mutate(text, data)), BOXES["generated"])


@FUZZ
@given(st.sampled_from(SAMPLES), st.data())
def test_libvirts_own_domains_broken_at_random(text: str, data: st.DataObject) -> None:
    boxed(lambda: exercise(mutate(text, data)), BOXES["samples"])


@FUZZ
@given(st.one_of(st.text(), st.binary().map(lambda b: b.decode("utf-8", "replace")),
                 st.text(alphabet="<>/='\" domainevcsx&;!-[]?", max_size=200)))
def test_any_text(text: str) -> None:
    boxed(lambda: exercise(text), BOXES["text"])


def test_zz_fuzz_counts(capsys: pytest.CaptureFixture[str]) -> None:
    """How many examples each fuzz test ran (it runs after them: pytest keeps file order)."""
    ran = {name: box for name, box in BOXES.items() if box.start is not None}
    with capsys.disabled():
        print(f"\n[domain XML fuzz, profile {'xml-fuzz-ci' if CI else 'xml-fuzz-dev'}] examples: "
              + ", ".join(f"{k} {b.ran}" + (" (time box reached)" if b.timed_out else "") for k, b in ran.items()))
    if CI:
        assert all(b.ran >= 10_000 or b.timed_out for b in ran.values())

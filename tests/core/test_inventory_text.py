"""`inventory --json` to a pipe is written by core.inventory_text, not json.dumps: the bytes must be the
ones json.dumps(inventory_json(...)) writes, for every host and every value a device can hold."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import cli_env
from tests.fixture_paths import RECORDED, REPO_ROOT
from vfio_tui.core.address import PciAddress
from vfio_tui.core.demos import DEMO_NAMES
from vfio_tui.core.host import HostOptions
from vfio_tui.core.inventory_format import inventory_json
from vfio_tui.core.inventory_text import inventory_json_text
from vfio_tui.core.model import NEEDS_ROOT, AcsState, GroupVerdict, HostInventory, HostUse, IommuGroup, PciDevice
from vfio_tui.core.open_host import open_host


def _dumps(inv: HostInventory, label: str | None) -> str:
    return json.dumps(inventory_json(inv, label), separators=(",", ":"))


RECORDINGS = sorted(RECORDED.glob("*.json"))


@pytest.mark.parametrize("options", [HostOptions(demo=True, demo_name=n) for n in DEMO_NAMES]
                         + [HostOptions(snapshot=p) for p in RECORDINGS],
                         ids=[*DEMO_NAMES, *(p.stem for p in RECORDINGS)])
def test_the_text_is_json_dumps_byte_for_byte_on_every_demo_and_recording(options: HostOptions) -> None:
    with open_host(options) as host:
        inv = host.inventory()
        assert inventory_json_text(inv, host.label) == _dumps(inv, host.label)


def test_the_command_writes_it_to_a_pipe_and_indents_nothing() -> None:
    res = subprocess.run([sys.executable, "-m", "vfio_tui", "inventory", "--demo", "--json"], capture_output=True,
                         text=True, cwd=REPO_ROOT, env=cli_env(), timeout=120, check=True)
    # What json.dumps writes for the same object (json.loads keeps the order of the keys).
    assert res.stdout == json.dumps(json.loads(res.stdout), separators=(",", ":")) + "\n"
    assert json.loads(res.stdout)["schema"] == "vfio-tui/inventory/1"


_TEXT = st.text(max_size=12)  # every code point: quotes, backslashes, controls, surrogates' neighbours
_MAYBE = st.none() | _TEXT
_ADDR = st.builds(PciAddress, st.integers(0, 0xFFFF), st.integers(0, 255), st.integers(0, 31), st.integers(0, 7))


@st.composite
def _devices(draw: st.DrawFn) -> PciDevice:
    return PciDevice(
        address=draw(_ADDR), vendor_id=draw(_TEXT), device_id=draw(_TEXT), class_code=draw(_TEXT),
        revision=draw(_MAYBE), subsystem_vendor_id=draw(_MAYBE), subsystem_device_id=draw(_MAYBE),
        vendor_name=draw(_MAYBE), device_name=draw(_MAYBE), class_name=draw(_MAYBE), driver=draw(_MAYBE),
        driver_override=draw(_MAYBE), iommu_group=draw(st.none() | st.integers(0, 2**31)),
        header_type=draw(st.integers(0, 127)), multifunction=draw(st.booleans()),
        pcie_port_type=draw(st.none() | st.just(NEEDS_ROOT) | _TEXT),
        acs=draw(st.none() | st.just(NEEDS_ROOT) | st.builds(AcsState, st.integers(0, 0xFFFF), st.integers(0, 0xFFFF))),
        flr=draw(st.booleans() | st.just(NEEDS_ROOT)),
        reset_methods=draw(st.just(NEEDS_ROOT) | st.lists(_TEXT, max_size=3).map(tuple)),
        boot_vga=draw(st.booleans()), sriov_total_vfs=draw(st.none() | st.integers(0, 256)),
        sriov_num_vfs=draw(st.none() | st.integers(0, 256)), physfn=draw(st.none() | _ADDR),
        parent=draw(st.none() | _ADDR), has_vfio_dev=draw(st.booleans()),
        net_interfaces=tuple(draw(st.lists(_TEXT, max_size=2))),
    )


@settings(max_examples=300, deadline=None)
@given(devices=st.lists(_devices(), min_size=1, max_size=4, unique_by=lambda d: d.address),
       uses=st.lists(st.builds(HostUse, _TEXT, _TEXT, _TEXT, st.booleans()), max_size=2),
       verdict=st.none() | st.builds(GroupVerdict, st.sampled_from(["ready", "bindable", "blocked"]),
                                     st.lists(_TEXT, max_size=2).map(tuple), st.lists(_TEXT, max_size=2).map(tuple)),
       label=_MAYBE, kernel=_MAYBE)
def test_any_device_is_written_as_json_dumps_writes_it(devices: list[PciDevice], uses: list[HostUse],
                                                       verdict: GroupVerdict | None, label: str | None,
                                                       kernel: str | None) -> None:
    grouped = [d for d in devices if d.iommu_group is not None]
    groups = {g: IommuGroup(g, tuple(d.address for d in grouped if d.iommu_group == g))
              for g in {d.iommu_group for d in grouped if d.iommu_group is not None}}
    inv = HostInventory(devices={d.address: d for d in devices}, groups=groups, iommu_enabled=bool(groups),
                        kernel=kernel, host_use={devices[0].address: tuple(uses)},
                        verdicts={g: verdict for g in groups} if verdict is not None else {})
    assert inventory_json_text(inv, label) == _dumps(inv, label)

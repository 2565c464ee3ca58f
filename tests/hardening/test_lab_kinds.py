"""The lab suite picks its cases from whatever topology the guest shows — and now also around what the
guest uses: a group with a NIC that has an address or the default route, or a mounted disk's controller,
is never a bind case (the test would fail on vfio-tui's correct refusal); another group of the kind is
picked, or the kind is skipped, and HOST_USED asserts the refusal instead. Checked here on synthetic
kernel views (tests/lab runs only inside the lab guest)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lab"))
# Top-level modules of the lab guest's suite (tests/lab has its own mypy run): typed as Any here.
kinds: Any = importlib.import_module("kinds")
kview: Any = importlib.import_module("kview")


def dev(address: str, *, cls: str = "020000", driver: str | None = "e1000e", parent: str | None = "0000:00:02.0",
        nets: tuple[str, ...] = (), bridge: bool = False, group: int = 0) -> Any:
    return kview.KDevice(address=address, vendor_id="8086", device_id="10d3", class_code=cls, driver=driver,
                         driver_override=b"(null)\n", group=group, header_type=1 if bridge else 0,
                         port_type="root_port" if bridge else "endpoint", acs=None, reset_methods=(),
                         parent=None if bridge else parent, upstream=() if bridge else ((parent,) if parent else ()),
                         net_interfaces=nets)


def view(*groups: tuple[int, list[Any]]) -> Any:
    devices: dict[str, Any] = {}
    members: dict[int, tuple[str, ...]] = {}
    for gid, devs in groups:
        for d in devs:
            devices[d.address] = kview.KDevice(**{**d.__dict__, "group": gid})
        members[gid] = tuple(d.address for d in devs)
    return kview.KernelView(devices=devices, groups=members)


PORT = "0000:00:02.0"
MF_A = [dev("0000:01:00.0", nets=("eth0",)), dev("0000:01:00.1", cls="0c0330", driver="xhci_hcd")]
MF_B = [dev("0000:03:00.0", nets=("eth1",)), dev("0000:03:00.1", nets=("eth2",))]
LONE = [dev("0000:02:00.0", nets=("eth3",))]


def test_the_natural_candidate_used_by_the_guest_gives_way_to_another_group() -> None:
    kv = view((10, MF_A), (11, MF_B), (12, LONE))
    assert kinds.find_cases(kv, used={})[kinds.MULTIFUNCTION].group == 10
    picked = kinds.find_cases(kv, used={"0000:01:00.0": ["eth0 has 10.0.0.2"]})
    assert picked[kinds.MULTIFUNCTION] is not None and picked[kinds.MULTIFUNCTION].group == 11
    assert picked[kinds.HOST_USED] is not None and picked[kinds.HOST_USED].group == 10
    assert picked[kinds.HOST_USED].target == "0000:01:00.0"


def test_the_only_candidate_used_by_the_guest_skips_the_kind_and_asserts_the_refusal() -> None:
    kv = view((10, MF_A), (12, LONE))
    picked = kinds.find_cases(kv, used={"0000:01:00.1": ["mounted on /data"]})
    assert picked[kinds.MULTIFUNCTION] is None  # the bind test skips, naming the kind
    assert picked[kinds.HOST_USED] is not None and picked[kinds.HOST_USED].target == "0000:01:00.1"
    assert picked[kinds.LONE] is not None and picked[kinds.LONE].group == 12


def test_no_case_of_any_bind_kind_has_a_member_the_guest_uses() -> None:
    kv = view((10, MF_A), (11, MF_B), (12, LONE))
    for used_address in ("0000:01:00.0", "0000:03:00.1", "0000:02:00.0"):
        picked = kinds.find_cases(kv, used={used_address: ["x"]})
        for kind in kinds.BIND_KINDS:
            case = picked[kind]
            assert case is None or used_address not in case.members


def test_host_uses_reads_addresses_routes_and_mounts(monkeypatch: pytest.MonkeyPatch) -> None:
    kv = view((10, MF_A), (11, MF_B), (12, LONE))
    monkeypatch.setattr(kview, "interface_addresses", lambda: {"eth1": ["192.0.2.7"]})
    monkeypatch.setattr(kview, "default_route_interfaces", lambda: {"eth3"})
    monkeypatch.setattr(kview, "mounted_block_pci", lambda mounts: {"0000:01:00.1": ["/srv"]})
    uses: dict[str, Any] = kinds.host_uses(kv)
    assert uses == {"0000:03:00.0": ["eth1 has 192.0.2.7"], "0000:02:00.0": ["eth3 carries the default route"],
                    "0000:01:00.1": ["mounted on /srv"]}

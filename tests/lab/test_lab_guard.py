"""Case 5: the host-usage guard on a real kernel.

- The virtio-9p devices behind the guest's own mounts (found by matching each virtio
  device's mount_tag to the sources in /proc/self/mounts) are refused, naming the mount.
- A NIC that the test gives an address is refused, naming the address; without the
  address, or with --force-host-device for that one device, the plan goes through.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from typing import Any

import kview
import pytest
from conftest import Cli, need, need_command, note
from kinds import BIND_KINDS, HOST_USED, Case, guest_mount_devices, host_uses

TEST_ADDRESS = "192.0.2.77/24"  # TEST-NET-1 (RFC 5737): never routed anywhere


def _refusals(vt: Cli, address: str, *extra: str) -> tuple[int, list[dict[str, str]], str]:
    res = vt("bind", address, "--dry-run", "--json", *extra)
    text = res.stdout + res.stderr
    assert "Traceback" not in text, text
    if res.returncode == 3:
        from conftest import first_json

        plan = first_json(res.stdout)
        return res.returncode, list(plan.get("refused") or []), text
    return res.returncode, [], text


def test_guest_mount_devices_are_refused(vt: Cli, kernel_view: kview.KernelView,
                                         host_as_before: dict[str, Any]) -> None:
    own = guest_mount_devices(kernel_view)
    if not own:
        pytest.skip("topology has no virtio-9p device behind a mount")
    need_command("bind")
    inv = vt.json("inventory", "--json")
    uses = {d["address"]: d["host_use"] for g in inv["groups"] for d in g["devices"]}
    problems = []
    for address, targets in sorted(own.items()):
        if not uses.get(address):
            problems.append(f"inventory shows no host_use for {address} (mounted on {targets})")
        rc, refused, text = _refusals(vt, address)
        mine = [r for r in refused if r["address"] == address]
        if rc != 3 or not mine:
            problems.append(f"bind {address} (mounted on {targets}): exit {rc}, refused {refused}: {text[-300:]}")
        elif not any(t in mine[0]["reason"] for t in targets):
            problems.append(f"refusal of {address} does not name its mount {targets}: {mine[0]['reason']}")
    assert not problems, "\n".join(problems)
    note("guard: " + ", ".join(f"{a} ({' '.join(t)})" for a, t in sorted(own.items())) + " refused")


def test_a_group_the_guest_uses_is_refused_not_bound(vt: Cli, cases: dict[str, Case | None],
                                                      kernel_view: kview.KernelView,
                                                      host_as_before: dict[str, Any]) -> None:
    """On a topology where a natural bind candidate is used by the guest (a NIC with an address or the
    default route, a mounted disk's controller), the bind cases pick other groups and this one must be
    refused (exit 3), naming the member, with nothing written."""
    case = need(cases, HOST_USED)
    need_command("bind")
    uses = host_uses(kernel_view)
    rc, refused, text = _refusals(vt, case.target)
    assert rc == 3, f"bind {case.target} ({'; '.join(uses.get(case.target, []))}): exit {rc}: {text[-300:]}"
    assert any(r["address"] in uses for r in refused), refused
    assert kview.bindings() == host_as_before
    note(f"guard: {case.describe()} refused ({'; '.join(uses.get(case.target, []))})")


@pytest.fixture
def nic_with_address(cases: dict[str, Case | None], kernel_view: kview.KernelView) -> Iterator[tuple[Case, str]]:
    for kind in BIND_KINDS:
        case = cases.get(kind)
        if case is None:
            continue
        for addr in case.endpoints:
            nets = kernel_view.devices[addr].net_interfaces
            if nets:
                ifname = nets[0]
                subprocess.run(["ip", "addr", "add", TEST_ADDRESS, "dev", ifname], check=True)
                try:
                    yield case, addr
                finally:
                    subprocess.run(["ip", "addr", "del", TEST_ADDRESS, "dev", ifname], check=False)
                return
    need(cases, "NIC in a bindable group")


def test_nic_with_an_address_is_refused(vt: Cli, nic_with_address: tuple[Case, str],
                                        host_as_before: dict[str, Any]) -> None:
    case, addr = nic_with_address
    need_command("bind")
    ip = TEST_ADDRESS.split("/")[0]
    rc, refused, text = _refusals(vt, case.target)
    mine = [r for r in refused if r["address"] == addr]
    assert rc == 3 and mine, f"NIC {addr} with {ip}: exit {rc}, refused {refused}: {text[-300:]}"
    assert ip in mine[0]["reason"], f"the refusal does not name the address: {mine[0]['reason']}"

    rc, refused, text = _refusals(vt, case.target, "--force-host-device", addr)
    assert rc == 0, f"--force-host-device {addr} still refused: {refused} {text[-300:]}"
    note(f"guard: NIC {addr} with {ip} refused ('{mine[0]['reason']}'); allowed with --force-host-device")


@pytest.fixture
def nic_under_a_stack(cases: dict[str, Case | None], kernel_view: kview.KernelView) -> Iterator[tuple[Case, str, str]]:
    """A NIC of a bindable group made the port of a bridge, with a VLAN on the bridge holding the address:
    the address is two interfaces above the NIC, which the plan's guard finds up the kernel's upper_* links."""
    for kind in BIND_KINDS:
        case = cases.get(kind)
        for addr in case.endpoints if case is not None else ():
            nets = kernel_view.devices[addr].net_interfaces
            if not nets:
                continue
            assert case is not None
            made = []
            try:
                for name, cmd in (("vt-br0", ["ip", "link", "add", "vt-br0", "type", "bridge"]),
                                  ("vt-br0.77", ["ip", "link", "add", "link", "vt-br0", "name", "vt-br0.77",
                                                 "type", "vlan", "id", "77"])):
                    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
                    if res.returncode != 0:
                        pytest.skip(f"the guest kernel cannot make the stack ({' '.join(cmd)}: {res.stderr.strip()})")
                    made.append(name)
                subprocess.run(["ip", "link", "set", nets[0], "master", "vt-br0"], check=True)
                subprocess.run(["ip", "addr", "add", TEST_ADDRESS, "dev", "vt-br0.77"], check=True)
                yield case, addr, nets[0]
            finally:
                subprocess.run(["ip", "link", "set", nets[0], "nomaster"], capture_output=True, check=False)
                for name in reversed(made):
                    subprocess.run(["ip", "link", "del", name], capture_output=True, check=False)
            return
    need(cases, "NIC in a bindable group")


def test_an_address_on_a_vlan_over_a_bridge_over_the_nic_is_refused(
        vt: Cli, nic_under_a_stack: tuple[Case, str, str], host_as_before: dict[str, Any]) -> None:
    case, addr, ifname = nic_under_a_stack
    need_command("bind")
    ip = TEST_ADDRESS.split("/")[0]
    rc, refused, text = _refusals(vt, case.target)
    mine = [r for r in refused if r["address"] == addr]
    assert rc == 3 and mine, f"NIC {addr} ({ifname} under vt-br0 under vt-br0.77 with {ip}): exit {rc}: {text[-300:]}"
    assert f"vt-br0.77 has {ip}" in mine[0]["reason"] and ifname in mine[0]["reason"], mine[0]["reason"]
    inv = vt.json("inventory", "--json")
    whole = [u for g in inv["groups"] for d in g["devices"] if d["address"] == addr for u in d["host_use"]]
    assert any(f"vt-br0.77 has {ip}" in str(u) for u in whole), whole  # the whole host's read says the same
    assert kview.bindings() == host_as_before
    note(f"guard: NIC {addr} refused through vt-br0.77 -> vt-br0 -> {ifname} ('{mine[0]['reason'][:90]}')")

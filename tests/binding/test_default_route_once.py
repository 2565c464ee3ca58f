"""A NIC carrying both an IPv4 and an IPv6 default route is named once, with both gateways."""

from __future__ import annotations

from vfio_tui.core.address import PciAddress
from vfio_tui.core.host import Host
from vfio_tui.core.usage import uses_from_extras


def test_two_default_routes_one_use(demo_host: Host) -> None:
    extras = dict(demo_host.extras)
    extras["routes"] = [
        {"destination": "default", "gateway": "192.0.2.1", "dev": "eno1"},
        {"destination": "::/0", "gateway": "fe80::1", "dev": "eno1"},
        {"destination": "::/0", "gateway": None, "dev": "eno1"},
    ]
    uses = uses_from_extras(extras, demo_host.inventory())[PciAddress.parse("0000:03:00.0")]
    routes = [u for u in uses if u.kind == "default-route"]
    assert len(routes) == 1 and routes[0].detail == "eno1 carries the default route via 192.0.2.1, fe80::1"

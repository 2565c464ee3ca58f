"""Provides host usage (what on the host uses which PCI device) for the guard.

Placeholder until the binding issue lands: no usage is known.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from core.address import PciAddress
from core.model import HostInventory, HostUse

if TYPE_CHECKING:
    from core.host import Host


def usage_provider(host: Host) -> Any:
    """A function inventory -> {address: uses}, for this host."""

    def provide(inventory: HostInventory) -> Mapping[PciAddress, tuple[HostUse, ...]]:
        return {}

    return provide


def record_usage_extras(host: Host) -> dict[str, Any]:
    """Host usage facts to store in a recording (`vfio_tui` key)."""
    return dict(host.extras)

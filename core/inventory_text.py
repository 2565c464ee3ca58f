"""Provides inventory_json_text(): `inventory --json` for a pipe, written straight as text.

It is byte for byte `json.dumps(inventory_json(inv, label), separators=(",", ":"))`
(tests/core/test_inventory_text.py holds the two equal on every demo host, recording and generated
device), in a third less time: on a host of 4,096 functions building the dicts and encoding them
took ~47 ms of a ~280 ms command, more than all of vfio-tui's imports. The keys are written once per
device as constant text, and only values that can hold any character go through json's own (C)
string encoder; the rare nested values (ACS, SR-IOV, GPU, host use) go through json.dumps itself.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Final

from vfio_tui.core.inventory_format import acs_json, device_json, inventory_head, uses_json
from vfio_tui.core.model import NEEDS_ROOT, AcsState, HostInventory, PciDevice
from vfio_tui.core.sriovinfo.format import sriov_json

_string: Final = json.encoder.encode_basestring_ascii
"""What json.dumps (ensure_ascii) writes for a str: the C encoder's own function."""

_LITERAL: Final = {True: "true", False: "false", None: "null"}
_NEEDS_ROOT: Final = _string(NEEDS_ROOT)


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _value(value: str | bool | None) -> str:
    """A field that is a string, a bool or None (`flr`, `acs`, `pcie_port_type`, names, drivers)."""
    if value is None or value is True or value is False:
        return _LITERAL[value]
    return _string(value) if type(value) is str else _dumps(value)


def _strings(items: Iterable[str]) -> str:
    return "[" + ",".join(map(_string, items)) + "]"


def device_text(inv: HostInventory, dev: PciDevice) -> str:
    """device_json(inv, dev) as compact JSON."""
    if type(dev.iommu_group) not in (int, type(None)) or type(dev.header_type) is not int:
        return _dumps(device_json(inv, dev))  # (never from the reader; a hand-made model stays exact)
    s, lit = _string, _LITERAL  # Python calls per field would cost as much as json.dumps saved
    uses = inv.uses_of(dev.address)
    gpu = inv.gpu.get(dev.address)
    acs = dev.acs
    methods = dev.reset_methods
    flr = dev.flr
    port = dev.pcie_port_type
    subsystem = (s(f"{dev.subsystem_vendor_id}:{dev.subsystem_device_id}")
                 if dev.subsystem_vendor_id is not None else "null")
    # The address is hex digits, colons and a dot: nothing in it to escape.
    return (
        f'{{"address":"{dev.address}","vendor_id":{s(dev.vendor_id)},"device_id":{s(dev.device_id)},'
        f'"class":{s(dev.class_short)},"class_code":{s(dev.class_code)},'
        f'"class_name":{"null" if dev.class_name is None else s(dev.class_name)},"name":{s(dev.name)},'
        f'"vendor_name":{"null" if dev.vendor_name is None else s(dev.vendor_name)},'
        f'"device_name":{"null" if dev.device_name is None else s(dev.device_name)},'
        f'"revision":{"null" if dev.revision is None else s(dev.revision)},"subsystem":{subsystem},'
        f'"driver":{"null" if dev.driver is None else s(dev.driver)},'
        f'"driver_override":{"null" if dev.driver_override is None else s(dev.driver_override)},'
        f'"iommu_group":{"null" if dev.iommu_group is None else dev.iommu_group},'
        f'"is_bridge":{lit[dev.is_bridge]},"header_type":{dev.header_type},'
        f'"pcie_port_type":{"null" if port is None else s(port)},'
        f'"acs":{_dumps(acs_json(dev)) if isinstance(acs, AcsState) else _value(acs)},'
        f'"reset_methods":{_strings(methods) if isinstance(methods, tuple) else _NEEDS_ROOT},'
        f'"flr":{lit[flr] if type(flr) is bool else _value(flr)},"boot_vga":{lit[dev.boot_vga]},'
        f'"multifunction":{lit[dev.multifunction]},'
        f'"sriov":{"null" if dev.sriov_total_vfs is None else _dumps(sriov_json(inv, dev))},'
        f'"physfn":{s(str(dev.physfn)) if dev.physfn else "null"},'
        f'"parent":{s(str(dev.parent)) if dev.parent else "null"},'
        f'"on_vfio":{lit[dev.on_vfio]},"net_interfaces":{_strings(dev.net_interfaces) if dev.net_interfaces else "[]"},'
        f'"host_use":{_strings([u.describe() for u in uses]) if uses else "[]"},'
        f'"host_use_detail":{_dumps(uses_json(uses)) if uses else "[]"},'
        f'"gpu":{"null" if gpu is None else _dumps(gpu.to_json())}}}'
    )


def inventory_json_text(inv: HostInventory, label: str | None = None) -> str:
    """json.dumps(inventory_json(inv, label), separators=(",", ":")), built as text."""
    groups = []
    for gid in inv.groups:
        verdict = inv.verdicts.get(gid)
        devices = ",".join([device_text(inv, d) for d in inv.members(gid)])
        if verdict is None:
            tail = '"verdict":"blocked","reasons":[],"notes":[]'
        else:
            tail = (f'"verdict":{_value(verdict.kind)},"reasons":{_strings(verdict.reasons)},'
                    f'"notes":{_strings(verdict.notes)}')
        groups.append(f'{{"id":{gid if type(gid) is int else _dumps(gid)},"devices":[{devices}],{tail}}}')
    head = _dumps(inventory_head(inv, label))
    ungrouped = ",".join([device_text(inv, d) for d in inv.ungrouped()])
    return f'{head[:-1]},"groups":[{",".join(groups)}],"ungrouped_devices":[{ungrouped}]}}'

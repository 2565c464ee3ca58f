"""Provides HostBuilder: recorded hosts made from a description (the demo host, tests, benchmarks).

It writes real configuration-space bytes (PM, MSI, PCIe, AER, ACS and SR-IOV capabilities),
so everything downstream parses them exactly as it parses a real host's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vfio_tui.core.address import PciAddress
from vfio_tui.core.configspace import PCIE_PORT_TYPES
from vfio_tui.core.snapshot import SNAPSHOT_SCHEMA

_PORT_CODES = {name: code for code, name in PCIE_PORT_TYPES.items()}


def make_config(
    vendor: int,
    device: int,
    class_code: int,
    *,
    revision: int = 1,
    header_type: int = 0,
    multifunction: bool = False,
    subsystem: tuple[int, int] | None = None,
    pcie: str | None = None,
    flr: bool = False,
    pm: bool = True,
    pm_no_soft_reset: bool = False,
    acs: tuple[int, int] | None = None,
    sriov: tuple[int, int] | None = None,
    sriov_vf: tuple[int, int, int] | None = None,
    buses: tuple[int, int, int] | None = None,
) -> bytes:
    """A configuration space with the given identity and capabilities (4096 bytes for PCIe)."""
    cfg = bytearray(4096 if pcie else 256)

    def put16(off: int, val: int) -> None:
        cfg[off:off + 2] = val.to_bytes(2, "little")

    def put32(off: int, val: int) -> None:
        cfg[off:off + 4] = val.to_bytes(4, "little")

    put16(0x00, vendor)
    put16(0x02, device)
    put16(0x04, 0x0007)
    put16(0x06, 0x0010)
    cfg[0x08] = revision
    cfg[0x09] = class_code & 0xFF
    cfg[0x0A] = (class_code >> 8) & 0xFF
    cfg[0x0B] = (class_code >> 16) & 0xFF
    cfg[0x0E] = (header_type & 0x7F) | (0x80 if multifunction else 0)
    if header_type == 0 and subsystem:
        put16(0x2C, subsystem[0])
        put16(0x2E, subsystem[1])
    if header_type == 1 and buses:
        cfg[0x18], cfg[0x19], cfg[0x1A] = buses
    chain: list[tuple[int, bytes]] = []
    if pm:
        pmcsr = 0x0008 if pm_no_soft_reset else 0
        chain.append((0x01, bytes([0x03, 0xC8]) + pmcsr.to_bytes(2, "little") + b"\0\0"))
    chain.append((0x05, bytes([0x80, 0x00]) + b"\0" * 8))
    if pcie:
        flags = 0x0002 | (_PORT_CODES[pcie] << 4)
        devcap = (1 << 28) if flr else 0
        chain.append((0x10, flags.to_bytes(2, "little") + devcap.to_bytes(4, "little") + b"\0" * 30))
    cfg[0x34] = 0x40
    off = 0x40
    for i, (cid, body) in enumerate(chain):
        nxt = off + 0x10 if i + 1 < len(chain) else 0
        cfg[off] = cid
        cfg[off + 1] = nxt
        cfg[off + 2:off + 2 + len(body)] = body
        off = nxt if nxt else off
    if pcie:
        ext: list[tuple[int, bytes]] = [(0x0001, b"\0" * 0x38)]
        if acs is not None:
            ext.append((0x000D, acs[0].to_bytes(2, "little") + acs[1].to_bytes(2, "little") + b"\0" * 4))
        if sriov is not None:
            sriov_body = bytearray(0x3C)
            sriov_body[0x0C - 4:0x0E - 4] = sriov[0].to_bytes(2, "little")  # InitialVFs
            sriov_body[0x0E - 4:0x10 - 4] = sriov[0].to_bytes(2, "little")  # TotalVFs
            sriov_body[0x10 - 4:0x12 - 4] = sriov[1].to_bytes(2, "little")  # NumVFs
            if sriov[1]:
                sriov_body[0x08 - 4] = 0x09  # Control: VF Enable + VF MSE, as sriov_enable() sets them
            if sriov_vf is not None:
                offset, stride, vf_device = sriov_vf
                sriov_body[0x14 - 4:0x16 - 4] = offset.to_bytes(2, "little")  # First VF Offset
                sriov_body[0x16 - 4:0x18 - 4] = stride.to_bytes(2, "little")  # VF Stride
                sriov_body[0x1A - 4:0x1C - 4] = vf_device.to_bytes(2, "little")  # VF Device ID
            ext.append((0x0010, bytes(sriov_body)))
        off = 0x100
        for i, (cid, body) in enumerate(ext):
            nxt = off + 0x40 if i + 1 < len(ext) else 0
            put32(off, cid | (1 << 16) | (nxt << 20))
            cfg[off + 4:off + 4 + len(body)] = body
            off = nxt if nxt else off
    return bytes(cfg)


@dataclass
class _Dev:
    address: PciAddress
    entry: dict[str, Any]


@dataclass
class HostBuilder:
    """Collects devices, then renders a `vfio-lab-sysfs-snapshot/1` dict."""

    label: str
    kernel: str = "6.1.0-28-amd64"
    cmdline: str = "BOOT_IMAGE=/vmlinuz-6.1.0-28-amd64 root=/dev/mapper/vg0-root ro intel_iommu=on quiet"
    iommu: bool = True
    vfio_loaded: bool = True
    iommu_units: tuple[str, ...] = ("dmar0",)
    extra_drivers: tuple[str, ...] = ()
    _devices: list[_Dev] = field(default_factory=list)

    def add(
        self,
        address: str,
        vendor: int,
        device: int,
        class_code: int,
        *,
        driver: str | None = None,
        group: int | None = None,
        parent: str | None = None,
        header_type: int = 0,
        multifunction: bool = False,
        pcie: str | None = None,
        flr: bool = False,
        pm: bool = True,
        pm_no_soft_reset: bool = False,
        acs: tuple[int, int] | None = None,
        reset: str | None = None,
        boot_vga: bool | None = None,
        sriov: tuple[int, int] | None = None,
        sriov_vf: tuple[int, int, int] | None = None,
        physfn: str | None = None,
        nets: tuple[str, ...] = (),
        subsystem: tuple[int, int] | None = None,
        override: str | None = None,
        buses: tuple[int, int, int] | None = None,
        revision: int = 1,
        resources: list[str] | None = None,
    ) -> None:
        addr = PciAddress.parse(address)
        par = PciAddress.parse(parent) if parent else None
        if par is not None:
            base = next(d.entry["sysfs_path"] for d in self._devices if d.address == par)
        else:
            base = f"/devices/pci{addr.domain:04x}:{addr.bus:02x}"
        if physfn:
            pf = next(d for d in self._devices if d.address == PciAddress.parse(physfn))
            base = pf.entry["sysfs_path"].rsplit("/", 1)[0]
            par = PciAddress.try_parse(base.rsplit("/", 1)[1])
        cfg = make_config(vendor, device, class_code, revision=revision, header_type=header_type,
                          multifunction=multifunction, subsystem=subsystem or (vendor, 0),
                          pcie=pcie, flr=flr, pm=pm, pm_no_soft_reset=pm_no_soft_reset, acs=acs,
                          sriov=sriov, sriov_vf=sriov_vf, buses=buses)
        listing: dict[str, Any] = {"config": "file", "driver_override": "file"}
        entry: dict[str, Any] = {
            "address": str(addr),
            "sysfs_path": f"{base}/{addr}",
            "vendor": f"0x{vendor:04x}",
            "device": f"0x{device:04x}",
            "subsystem_vendor": f"0x{(subsystem or (vendor, 0))[0]:04x}",
            "subsystem_device": f"0x{(subsystem or (vendor, 0))[1]:04x}",
            "class": f"0x{class_code:06x}",
            "revision": f"0x{revision:02x}",
            "driver": driver,
            "driver_override": override or "(null)",
            "iommu_group": group if self.iommu else None,
            "iommu": self.iommu_units[0] if self.iommu and self.iommu_units else None,
            "config_hex": cfg.hex(),
            "config_len": len(cfg),
            "header_type": header_type,
            "multifunction": multifunction,
            "is_bridge": header_type in (1, 2),
            "parent": str(par) if par else None,
            "has_reset_file": bool(reset),
            "sysfs_listing": listing,
            "resource": (resources or []) + ["0x0000000000000000 0x0000000000000000 0x0000000000000000"]
            * (13 - len(resources or [])),
        }
        if pcie:
            entry["pcie_port_type"] = pcie
            entry["pcie_flr"] = flr
        if acs is not None:
            entry["acs_cap"], entry["acs_ctrl"] = hex(acs[0]), hex(acs[1])
        if reset is not None:
            entry["reset_method"] = reset
        if boot_vga is not None:
            entry["boot_vga"] = "1" if boot_vga else "0"
        if sriov is not None:
            entry["sriov_totalvfs"], entry["sriov_numvfs"] = str(sriov[0]), str(sriov[1])
            entry["sriov_drivers_autoprobe"] = "1"
            if sriov_vf is not None:
                # (First VF Offset, VF Stride, VF Device ID): where the kernel puts the VFs (pci_iov_virtfn_devfn)
                entry["sriov_offset"], entry["sriov_stride"] = str(sriov_vf[0]), str(sriov_vf[1])
                entry["sriov_vf_device"] = f"{sriov_vf[2]:x}"
        if physfn:
            listing["physfn"] = {"link": f"../{PciAddress.parse(physfn)}"}
            pf_entry = next(d.entry for d in self._devices if d.address == PciAddress.parse(physfn))
            n = sum(1 for k in pf_entry["sysfs_listing"] if k.startswith("virtfn"))
            pf_entry["sysfs_listing"][f"virtfn{n}"] = {"link": f"../{addr}"}
        if driver == "vfio-pci":
            listing["vfio-dev"] = "dir"
        if nets:
            listing["net"] = "dir"
            entry["net_interfaces"] = list(nets)
        if header_type == 1 and buses:
            entry["secondary_bus_number"] = str(buses[1])
            entry["subordinate_bus_number"] = str(buses[2])
        self._devices.append(_Dev(addr, entry))

    def snapshot(self, extras: dict[str, Any] | None = None) -> dict[str, Any]:
        devices = sorted(self._devices, key=lambda d: d.address)
        groups: dict[str, Any] = {}
        if self.iommu:
            for d in devices:
                gid = d.entry["iommu_group"]
                if gid is not None:
                    groups.setdefault(str(gid), {
                        "devices": [], "type": "DMA",
                        "reserved_regions": "0x00000000fee00000 0x00000000feefffff msi",
                    })["devices"].append(str(d.address))
        drivers: dict[str, Any] = {}
        names = {d.entry["driver"] for d in devices if d.entry["driver"]} | set(self.extra_drivers)
        if self.vfio_loaded:
            names.add("vfio-pci")
        for name in sorted(names):
            drivers[name] = {
                "bound": [str(d.address) for d in devices if d.entry["driver"] == name],
                "files": ["bind", "new_id", "remove_id", "uevent", "unbind"],
            }
        dev_vfio: dict[str, Any] | None = None
        if self.vfio_loaded:
            dev_vfio = {"vfio": {"major": 10, "minor": 196, "mode": "0o666", "uid": 0, "gid": 0}}
            bound_groups = sorted({d.entry["iommu_group"] for d in devices
                                   if d.entry["driver"] == "vfio-pci" and d.entry["iommu_group"] is not None})
            for i, gid in enumerate(bound_groups):
                dev_vfio[str(gid)] = {"major": 246, "minor": i, "mode": "0o600", "uid": 0, "gid": 0}
        modules: dict[str, Any] = {"kvm": {}}
        if self.vfio_loaded:
            modules.update({
                "vfio": {"enable_unsafe_noiommu_mode": "N"},
                "vfio_iommu_type1": {"allow_unsafe_interrupts": "N", "disable_hugepages": "N",
                                     "dma_entry_limit": "65535"},
                "vfio_pci": {"disable_denylist": "N", "disable_idle_d3": "N", "disable_vga": "N",
                             "enable_sriov": "N", "nointxmask": "N"},
                "vfio_pci_core": {},
            })
        snap: dict[str, Any] = {
            "schema": SNAPSHOT_SCHEMA,
            "label": self.label,
            "taken_at": "2026-11-25T00:00:00Z",
            "kernel": self.kernel,
            "cmdline": self.cmdline,
            "iommu_class": ({u: {"link": f"../../devices/virtual/iommu/{u}"} for u in self.iommu_units}
                            if self.iommu else {}),
            "modules": modules,
            "pci_devices": [d.entry for d in devices],
            "iommu_groups": groups,
            "iommu_groups_tree": [],
            "pci_drivers": drivers,
            "dev_vfio": dev_vfio,
        }
        if extras:
            snap["vfio_tui"] = extras
        return snap


def resource_lines(bars: dict[int, tuple[int, int]], rom: tuple[int, int] | None = None) -> list[str]:
    """The sysfs `resource` file's first 7 lines (BAR0-5, ROM) for {bar: (start, size)}: 64-bit prefetchable
    memory for BARs above 4 GiB, 32-bit memory below; a ROM at 0xC0000 is the boot GPU's shadow."""
    lines = []
    for i in range(6):
        start, size = bars.get(i, (0, 0))
        flags = 0 if not size else (0x14220C if start >= 1 << 32 or size > 1 << 28 else 0x40200)
        end = start + size - 1 if size else 0
        lines.append(f"0x{start:016x} 0x{end:016x} 0x{flags:016x}")
    if rom is not None:
        flags = 0x46200 if rom[0] != 0xC0000 else 0x6200  # IORESOURCE_ROM_SHADOW|PCI_FIXED for the shadow
        lines.append(f"0x{rom[0]:016x} 0x{rom[0] + rom[1] - 1:016x} 0x{flags:016x}")
    else:
        lines.append("0x0000000000000000 0x0000000000000000 0x0000000000000000")
    return lines


ACS_FULL = (0x005F, 0x001D)
"""A root port that advertises SV TB RR CR UF DT and has SV RR CR UF enabled."""


def synthetic_snapshot(functions: int, domains: int = 2, functions_per_device: int = 8) -> dict[str, Any]:
    """A big host for benchmarks: `domains` PCI domains, root ports with ACS, each with one
    multi-function endpoint whose functions share a group. About `functions` functions in all."""
    b = HostBuilder(label=f"synthetic host, {functions} functions in {domains} domains")
    per_domain = max(1, functions // domains)
    group = 0
    for dom in range(domains):
        b.add(f"{dom:04x}:00:00.0", 0x8086, 0x3406, 0x060000, group=group)
        group += 1
        made = 1
        bus = 1
        port = 0
        while made + 1 + functions_per_device <= per_domain and port < 32 * 8 and bus < 256:
            slot, fn = divmod(port, 8)
            if slot == 0:
                port += 8
                continue
            paddr = f"{dom:04x}:00:{slot:02x}.{fn}"
            b.add(paddr, 0x8086, 0x3408, 0x060400, header_type=1, driver="pcieport", group=group,
                  pcie="root_port", acs=ACS_FULL, multifunction=True, buses=(0, bus, bus))
            group += 1
            for f in range(functions_per_device):
                b.add(f"{dom:04x}:{bus:02x}:00.{f}", 0x8086, 0x10C9, 0x020000, driver="igb", group=group,
                      parent=paddr, pcie="endpoint", flr=True, multifunction=functions_per_device > 1,
                      reset="flr bus" if f == 0 else "flr")
            group += 1
            made += 1 + functions_per_device
            bus += 1
            port += 1
    return b.snapshot()

"""Provides the simulated kernel's SR-IOV: writes to a PF's sriov_numvfs and sriov_drivers_autoprobe,
answered as Linux 6.1 answers them, and VFs that appear and go as PCI devices with IOMMU groups.

The truth it follows:
- drivers/pci/iov.c sriov_numvfs_store(): `if (kstrtou16(...) < 0) return -EINVAL` (garbage and numbers
  above 65535 alike: EINVAL, Linux >= 5.13; before it returned kstrtou16()'s ERANGE); a count above
  sriov_totalvfs: ERANGE; the same count: success, nothing happens; no PF driver, or one without
  .sriov_configure: ENOENT; 0: the driver disables SR-IOV (every VF removed); N while M VFs exist:
  EBUSY ("M VFs already enabled. Disable before enabling N VFs") — a count changes only through 0.
- sriov_enable()/pci_iov_add_virtfn(): VF i is at the PF's routing id + First VF Offset + i * VF Stride,
  its ids are the PF's vendor and the SR-IOV capability's VF Device ID (its own config space reads
  ffff), a `physfn` link on the VF and `virtfnI` on the PF; it is probed at once only when the PF's
  sriov_drivers_autoprobe is 1 (pci_device_can_probe(); a driver_override still binds it).
- drivers/iommu/iommu.c pci_device_group(): a VF gets an IOMMU group of its own only when every port
  from its bus up to the root has ACS (SV RR CR UF) on; otherwise it joins the group of the first
  bridge above it that has one (its PF's port, so the PF's neighbours). New groups take the lowest
  free number (ida_alloc()); a group goes with its last device.
- drivers/vfio/pci/vfio_pci.c and vfio_pci_core.c: vfio-pci as the PF driver configures SR-IOV only with
  the module parameter enable_sriov=Y (ENOENT otherwise) and then captures every new VF for itself
  (its driver_override becomes vfio-pci: "Captured SR-IOV VF ... driver_override").
- Removing a VF that is bound to vfio-pci while its group is open (a VM uses it) waits in vfio-pci's
  remove() for the user to let go, as an unbind does: the write blocks.
"""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from vfio_tui.core.address import PciAddress
from vfio_tui.core.configspace import REQ_ACS_FLAGS
from vfio_tui.core.simulated.synthetic import make_config

if TYPE_CHECKING:
    from vfio_tui.core.simulated.kernel import SimulatedKernel

VFIO: Final = "vfio-pci"
SRIOV_CAP: Final = 0x0010
ACS_CAP: Final = 0x000D
#: PF drivers with a .sriov_configure callback (Linux 6.1): writing sriov_numvfs works with them.
#: A recorded host may name more in its metadata ("sriov_drivers").
SRIOV_DRIVERS: Final = frozenset({
    "ixgbe", "igb", "i40e", "ice", "iavf", "mlx5_core", "mlx4_core", "bnxt_en", "qede", "qlcnic", "cxgb4",
    "sfc", "liquidio", "nfp", "hinic", "octeon_ep", "enic", "be2net", "fm10k", "igc", "nvme", "qat_c62x",
    "qat_4xxx", "mpt3sas", "lpfc", "qla2xxx", "vfio-pci",
})


class SriovRefused(Exception):
    """The write fails with this errno (after the log lines were written)."""

    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


class SriovBlocked(Exception):
    """Removing a VF waits for the user of its VFIO group (the write blocks)."""


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def parse_u16(text: str) -> int:
    """kstrtou16(buf, 0, ...): one number (0x.. hex, 0.. octal), an optional trailing newline; anything
    else, or a number above 65535, is EINVAL (sriov_numvfs_store() turns every kstrtou16() error into it)."""
    t = text[:-1] if text.endswith("\n") else text
    t = t[1:] if t.startswith("+") else t
    if t[:2].lower() == "0x":
        base, digits = 16, t[2:]
    elif len(t) > 1 and t.startswith("0"):
        base, digits = 8, t[1:]
    else:
        base, digits = 10, t
    allowed = "0123456789abcdef"[:base]
    if not digits or any(c.lower() not in allowed for c in digits):
        raise SriovRefused(errno.EINVAL)
    value = int(digits, base)
    if value > 0xFFFF:
        raise SriovRefused(errno.EINVAL)
    return value


def _ext_cap(config: bytes, cap_id: int) -> int | None:
    """Offset of an extended capability in a config space (None when absent)."""
    off, seen = 0x100, set()
    while 0x100 <= off <= len(config) - 8 and off not in seen:
        seen.add(off)
        hdr = int.from_bytes(config[off:off + 4], "little")
        if hdr in (0, 0xFFFFFFFF):
            return None
        if hdr & 0xFFFF == cap_id:
            return off
        off = (hdr >> 20) & 0xFFC
    return None


def _u16(data: bytes, off: int) -> int:
    return int.from_bytes(data[off:off + 2], "little")


def _acs_isolates(config: bytes) -> bool:
    """pci_acs_flags_enabled(dev, REQ_ACS_FLAGS): SV RR CR UF on, as far as the port offers them."""
    off = _ext_cap(config, ACS_CAP)
    if off is None:
        return False
    cap, ctrl = _u16(config, off + 4), _u16(config, off + 6)
    required = REQ_ACS_FLAGS & cap
    return required != 0 and (ctrl & required) == required


def _is_port(config: bytes) -> bool:
    """A PCIe root port or switch downstream port (the ports whose ACS decides the groups below)."""
    off = config[0x34] if len(config) > 0x34 else 0
    seen: set[int] = set()
    while 0x40 <= off < min(len(config), 0x100) - 2 and off not in seen:
        seen.add(off)
        if config[off] == 0x10:
            return ((_u16(config, off + 2) >> 4) & 0xF) in (4, 6)
        off = config[off + 1]
    return False


class SimSriov:
    """The SR-IOV part of one SimulatedKernel (writes under its state lock)."""

    def __init__(self, kernel: SimulatedKernel) -> None:
        self.k = kernel
        self.paths = kernel.paths

    # -- sriov_drivers_autoprobe -------------------------------------------------------------
    def write_autoprobe(self, meta: dict[str, Any], pf: Path, text: str) -> None:
        """sriov_drivers_autoprobe_store(): kstrtobool() (1/0, y/n, on/off), else EINVAL."""
        t = text.strip().lower()
        if t in ("1", "y", "yes", "on", "true"):
            value = "1"
        elif t in ("0", "n", "no", "off", "false"):
            value = "0"
        else:
            raise SriovRefused(errno.EINVAL)
        (pf / "sriov_drivers_autoprobe").write_text(value + "\n")

    # -- sriov_numvfs ------------------------------------------------------------------------
    def write_numvfs(self, meta: dict[str, Any], addr: str, pf: Path, text: str) -> None:
        want = parse_u16(text)
        total = int(_read(pf / "sriov_totalvfs") or 0)
        if want > total:
            raise SriovRefused(errno.ERANGE)
        have = int(_read(pf / "sriov_numvfs") or 0)
        if want == have:
            return
        driver = self.k.driver_of(pf)
        if driver is None:
            self.k.log(meta, f"pci {addr}: no driver bound to device; cannot configure SR-IOV")
            raise SriovRefused(errno.ENOENT)
        known = SRIOV_DRIVERS | frozenset(str(d) for d in meta.get("sriov_drivers", []))
        if driver not in known:
            self.k.log(meta, f"{driver} {addr}: driver does not support SR-IOV configuration via sysfs")
            raise SriovRefused(errno.ENOENT)
        if driver == VFIO and (_read(self.paths.module("vfio_pci") / "parameters" / "enable_sriov") or "N") != "Y":
            raise SriovRefused(errno.ENOENT)  # vfio_pci_sriov_configure(): -ENOENT without a word
        if want == 0:
            self._disable(meta, addr, pf, have)
            return
        if have:
            self.k.log(meta, f"{driver} {addr}: {have} VFs already enabled. Disable before enabling {want} VFs")
            raise SriovRefused(errno.EBUSY)
        self._enable(meta, addr, pf, want, driver)

    def _vf_addresses(self, addr: str, pf: Path, count: int) -> list[str]:
        config = (pf / "config").read_bytes()
        cap = _ext_cap(config, SRIOV_CAP)
        offset = int(_read(pf / "sriov_offset") or (_u16(config, cap + 0x14) if cap else 0) or 1)
        stride = int(_read(pf / "sriov_stride") or (_u16(config, cap + 0x16) if cap else 0) or 1)
        a = PciAddress.parse(addr)
        rid = (a.bus << 8) | (a.slot << 3) | a.function
        out = []
        for i in range(count):
            r = rid + offset + stride * i
            out.append(str(PciAddress(a.domain, (r >> 8) & 0xFF, (r >> 3) & 0x1F, r & 7)))
        return out

    def _enable(self, meta: dict[str, Any], addr: str, pf: Path, count: int, driver: str) -> None:
        config = (pf / "config").read_bytes()
        cap = _ext_cap(config, SRIOV_CAP)
        vendor = _read(pf / "vendor") or f"0x{_u16(config, 0):04x}"
        vf_device = _read(pf / "sriov_vf_device") or (f"{_u16(config, cap + 0x1A):x}" if cap else "")
        device = f"0x{int(vf_device or '0', 16):04x}"
        class_code = int(_read(pf / "class") or "0", 16) or int.from_bytes(config[9:12], "little")
        autoprobe = (_read(pf / "sriov_drivers_autoprobe") or "1") == "1"
        parent = pf.resolve().parent
        group = self._group_for(pf)
        for i, vf_addr in enumerate(self._vf_addresses(addr, pf, count)):
            vf = parent / vf_addr
            vf.mkdir(parents=True, exist_ok=True)
            # A VF's own config space reads ffff for the ids; the kernel takes them from the PF.
            (vf / "config").write_bytes(make_config(0xFFFF, 0xFFFF, class_code, revision=config[8],
                                                    pcie="endpoint", flr=True, pm=False))
            for name, value in (("vendor", vendor), ("device", device), ("class", f"0x{class_code:06x}"),
                                ("subsystem_vendor", _read(pf / "subsystem_vendor") or vendor),
                                ("subsystem_device", _read(pf / "subsystem_device") or "0x0000"),
                                ("revision", f"0x{config[8]:02x}"), ("reset_method", "flr")):
                (vf / name).write_text(value + "\n")
            (vf / "reset").write_text("")
            override = VFIO if driver == VFIO else None
            (vf / "driver_override").write_text((override or "(null)") + "\n")
            os.symlink(f"../{addr}", vf / "physfn")
            os.symlink(f"../{vf_addr}", pf / f"virtfn{i}")
            link = self.paths.pci_device(vf_addr)
            link.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(os.path.relpath(vf, link.parent), link)
            gid = group if group is not None else self._new_group()
            gdir = self.paths.iommu_groups / str(gid)
            os.symlink(os.path.relpath(gdir, vf), vf / "iommu_group")
            os.symlink(os.path.relpath(vf, gdir / "devices"), gdir / "devices" / vf_addr)
            if driver == VFIO:
                self.k.log(meta, f"{VFIO} {addr}: Captured SR-IOV VF {vf_addr} driver_override")
            if autoprobe or override is not None:
                for cand in self.k.candidates(meta, vf_addr, vf):
                    self.k.probe(meta, vf_addr, vf, cand)
                    break
        (pf / "sriov_numvfs").write_text(f"{count}\n")
        self._set_config(pf, count)
        self.k.log(meta, f"pci {addr}: enabled {count} VFs")

    def _disable(self, meta: dict[str, Any], addr: str, pf: Path, have: int) -> None:
        vfs = sorted((int(n[6:]), n) for n in os.listdir(pf) if n.startswith("virtfn") and n[6:].isdigit())
        dirs = [(name, (pf / name).resolve()) for _, name in vfs]
        for _, vf in dirs:
            # vfio-pci's remove() waits while the VF's group is open: the whole write blocks.
            group = self.k.group_of(vf)
            if self.k.driver_of(vf) == VFIO and group is not None and int(group) in meta.get("open_groups", []):
                raise SriovBlocked()
        for name, vf in dirs:
            vf_addr = vf.name
            drv = self.k.driver_of(vf)
            if drv is not None:
                self.k.unbind(meta, vf_addr, vf, drv)
            group = self.k.group_of(vf)
            if group is not None:
                gdir = self.paths.iommu_groups / group
                (gdir / "devices" / vf_addr).unlink(missing_ok=True)
                if not os.listdir(gdir / "devices"):
                    shutil.rmtree(gdir)  # iommu_group_release(): the group goes with its last device
            (pf / name).unlink()
            self.paths.pci_device(vf_addr).unlink(missing_ok=True)
            shutil.rmtree(vf)
        (pf / "sriov_numvfs").write_text("0\n")
        self._set_config(pf, 0)
        self.k.log(meta, f"pci {addr}: disabled {have} VFs")

    def _set_config(self, pf: Path, count: int) -> None:
        """NumVFs and VF Enable/MSE in the PF's SR-IOV capability, as sriov_enable()/sriov_disable() write them."""
        config = bytearray((pf / "config").read_bytes())
        cap = _ext_cap(bytes(config), SRIOV_CAP)
        if cap is None:
            return
        config[cap + 0x10:cap + 0x12] = count.to_bytes(2, "little")
        config[cap + 0x08] = (config[cap + 0x08] & ~0x09) | (0x09 if count else 0)
        (pf / "config").write_bytes(bytes(config))

    # -- IOMMU groups ------------------------------------------------------------------------
    def _group_for(self, pf: Path) -> int | None:
        """The existing group new VFs join (None: each gets its own), pci_device_group()'s walk."""
        if not (pf / "iommu_group").is_symlink():
            return None
        bridge = pf.resolve().parent
        first_grouped: int | None = None
        isolated = True
        while PciAddress.try_parse(bridge.name) is not None:
            try:
                config = (bridge / "config").read_bytes()
            except OSError:
                break
            if _is_port(config) and not _acs_isolates(config):
                isolated = False
            group = self.k.group_of(bridge)
            if first_grouped is None and group is not None:
                first_grouped = int(group)
            bridge = bridge.parent
        if isolated:
            return None
        if first_grouped is not None:
            return first_grouped
        group = self.k.group_of(pf.resolve())
        return int(group) if group is not None else None

    def _new_group(self) -> int:
        """The lowest free group number (iommu_group_alloc(): ida_alloc())."""
        root = self.paths.iommu_groups
        used = {int(n) for n in os.listdir(root) if n.isdigit()} if root.is_dir() else set()
        gid = next(i for i in range(len(used) + 1) if i not in used)
        gdir = root / str(gid)
        (gdir / "devices").mkdir(parents=True)
        (gdir / "type").write_text("DMA\n")
        (gdir / "reserved_regions").write_text("0x00000000fee00000 0x00000000feefffff msi\n")
        return gid


def can_probe(paths_dev: Path) -> bool:
    """pci_device_can_probe(): a VF is probed only when its PF's sriov_drivers_autoprobe is 1, or it
    has a driver_override."""
    physfn = paths_dev / "physfn"
    if not physfn.is_symlink():
        return True
    override = _read(paths_dev / "driver_override")
    if override not in (None, "", "(null)"):
        return True
    return (_read(physfn / "sriov_drivers_autoprobe") or "1") == "1"

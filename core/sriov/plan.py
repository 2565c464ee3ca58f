"""Provides plan_sriov(): what setting a PF's number of VFs takes, and every reason not to.

The kernel's rules (drivers/pci/iov.c sriov_numvfs_store()) decide the steps: a count changes only
through 0 (N while M VFs exist is EBUSY), so a change removes every VF first and then creates the new
ones; sriov_drivers_autoprobe is written before the VFs appear, so that `--autoprobe off` keeps every
host driver off them. The refusals come first:
- the PF is no PF, the count is above sriov_totalvfs (the kernel: ERANGE), the PF has no driver
  (ENOENT), or is on vfio-pci without vfio_pci.enable_sriov=Y (vfio_pci_sriov_configure(): ENOENT);
- the host uses the PF (its address, route, SSH session, mounts): changing the count makes the PF
  driver reconfigure the PF (ixgbe resets it, ixgbe_pci_sriov_enable() → ixgbe_sriov_reinit()),
  or a VF that is removed (--force-host-device ADDR accepts losing it);
- a VF that is removed is held: in a VM's definition (running, or one that names a VF the new count
  will not re-create), its /dev/vfio group open, or bound by a vfio-tui run or bind not undone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from vfio_tui.core.address import PciAddress
from vfio_tui.core.binding.journal import load_journals
from vfio_tui.core.binding.plan import Refusal
from vfio_tui.core.configfiles import FileChange
from vfio_tui.core.errors import InputError
from vfio_tui.core.holders import holders_of
from vfio_tui.core.model import DomainFacts, DomainHolds, HostInventory, PfSriov
from vfio_tui.core.passthrough.records import FINISHED, load_runs

if TYPE_CHECKING:
    from vfio_tui.core.host import Host

StepKind = Literal["autoprobe", "numvfs"]


@dataclass(frozen=True, slots=True)
class SriovStep:
    """One sysfs write of the change."""

    kind: StepKind
    path: str
    """Host-absolute ("/sys/bus/pci/devices/0000:07:00.1/sriov_numvfs")."""
    value: str
    why: str

    def describe(self) -> str:
        return f"{self.path} <- {self.value}"


@dataclass(frozen=True)
class SriovPlan:
    """Setting a PF's number of VFs (and how new VFs are probed): the writes, what goes and comes, refusals."""

    pf: str
    pf_driver: str | None
    group: int | None
    total_vfs: int
    current_vfs: int
    target_vfs: int
    current_autoprobe: bool | None
    target_autoprobe: bool | None
    steps: tuple[SriovStep, ...]
    removed_vfs: tuple[str, ...] = ()
    """The VFs that exist now and go (all of them when the count changes)."""
    new_vfs: tuple[str, ...] = ()
    """The addresses the new VFs will have (PF routing id + First VF Offset + i * VF Stride)."""
    refused: tuple[Refusal, ...] = ()
    forced: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    persist: tuple[FileChange, ...] = field(default=())
    kernel: str | None = None

    @property
    def ok(self) -> bool:
        return not self.refused

    @property
    def nothing_to_do(self) -> bool:
        return not self.steps and not self.persist

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": "vfio-tui/sriov-plan/1", "pf": self.pf, "pf_driver": self.pf_driver, "group": self.group,
            "total_vfs": self.total_vfs, "from_vfs": self.current_vfs, "to_vfs": self.target_vfs,
            "from_autoprobe": self.current_autoprobe, "to_autoprobe": self.target_autoprobe,
            "writes": [{"path": s.path, "value": s.value, "why": s.why} for s in self.steps],
            "removed_vfs": list(self.removed_vfs), "new_vfs": list(self.new_vfs),
            "refused": [{"address": r.address, "reason": r.reason, "fix": r.fix} for r in self.refused],
            "forced": list(self.forced), "warnings": list(self.warnings),
            "persist": [c.to_json() for c in self.persist],
        }


def vf_addresses(pf: PciAddress, info: PfSriov, count: int) -> list[str]:
    """Where the kernel puts VF 0..count-1 (pci_iov_virtfn_bus()/pci_iov_virtfn_devfn())."""
    if info.offset is None or info.stride is None:
        return []
    rid = (pf.bus << 8) | (pf.slot << 3) | pf.function
    out = []
    for i in range(count):
        r = rid + info.offset + info.stride * i
        out.append(str(PciAddress(pf.domain, (r >> 8) & 0xFF, (r >> 3) & 0x1F, r & 7)))
    return out


def _sysfs(host: Host, addr: str, attr: str) -> str:
    return host.paths.display(host.paths.pci_device(addr) / attr)


def vfio_enable_sriov(host: Host) -> bool:
    """vfio_pci.enable_sriov: whether vfio-pci, as a PF driver, may create VFs."""
    try:
        value = (host.paths.module("vfio_pci") / "parameters" / "enable_sriov").read_text().strip()
    except OSError:
        return False
    return value in ("Y", "1")


def _pf(inv: HostInventory, addr: PciAddress) -> PfSriov:
    dev = inv.device(addr)
    if dev is None:
        raise InputError(f"no PCI device {addr} on this host", fix="see `vfio-tui inventory` for its addresses")
    if dev.physfn is not None:
        raise InputError(f"{addr} is a VF of {dev.physfn}: the number of VFs is set on the PF",
                         fix=f"vfio-tui sriov {dev.physfn} --vfs N")
    info = inv.sriov.get(addr)
    if info is None:
        raise InputError(f"{addr} has no SR-IOV capability (no sriov_totalvfs): it cannot create VFs")
    return info


def _vm_refusals(holds: DomainHolds, removed: list[str], recreated: set[str]) -> tuple[list[Refusal], list[str]]:
    refused, warnings = [], []
    for a in removed:
        for h in holds.get(PciAddress.parse(a), ()):
            if h.active:
                refused.append(Refusal(a, f"in use by VM {h.vm!r} ({h.state}): changing the count removes the VF"
                                          " from under it", f"vfio-tui detach {a} {h.vm} --live, or shut {h.vm} down"))
            elif a not in recreated:
                refused.append(Refusal(a, f"VM {h.vm!r} ({h.state}) has it in its definition, and the new count does"
                                          " not re-create it", f"vfio-tui detach {a} {h.vm}"))
            else:
                warnings.append(f"VM {h.vm!r} ({h.state}) names {a}: the VF is re-created at the same address,"
                                " but with the PF driver's defaults (MAC, VLAN)")
    return refused, warnings


def _record_refusals(host: Host, removed: list[str]) -> list[Refusal]:
    """VFs that a vfio-tui bind or passthrough run still holds: their records would outlive the VF."""
    out = []
    gone = set(removed)
    for j in load_journals(host.paths):
        for a in sorted(gone & set(j.originals)):
            run = j.data.get("run")
            fix = f"vfio-tui undo {run}" if run else f"vfio-tui restore {a}"
            out.append(Refusal(a, "bound to vfio-pci by vfio-tui and not given back yet", f"{fix} first"))
    for r in load_runs(host.paths):
        if r.status not in FINISHED and r.data.get("kind") != "sriov" and gone & set(r.attached):
            out.append(Refusal(r.address, f"{r.id} attached it to VM {r.vm!r}", f"vfio-tui undo {r.id} first"))
    return out


def plan_sriov(host: Host, address: str | PciAddress, num_vfs: int, *, autoprobe: bool | None = None,
               force_host_devices: Iterable[str | PciAddress] = (), domains: DomainFacts | None = None,
               assume_unused: bool = False, persist: bool = False) -> SriovPlan:
    """Plan setting the PF at `address` to `num_vfs` VFs (and sriov_drivers_autoprobe to `autoprobe`).

    Raises:
        InputError: a bad address, not a PF (a VF names its PF), a negative count.
    """
    from vfio_tui.core.sriov.persist import persist_changes

    addr = address if isinstance(address, PciAddress) else PciAddress.parse(address)
    if num_vfs < 0:
        raise InputError(f"--vfs {num_vfs}: give a number of VFs, 0 or more")
    forced_set = {a if isinstance(a, PciAddress) else PciAddress.parse(a) for a in force_host_devices}
    inv = host.inventory(names=False, focus=addr)
    info = _pf(inv, addr)
    dev = inv.devices[addr]
    a = str(addr)
    refused: list[Refusal] = []
    warnings: list[str] = []
    forced: list[str] = []
    changes_count = num_vfs != info.num_vfs
    removed = [str(v.address) for v in info.vfs] if changes_count else []
    new = vf_addresses(addr, info, num_vfs) if changes_count else []
    if num_vfs > info.total_vfs:
        refused.append(Refusal(a, f"{num_vfs} VFs asked, the PF offers {info.total_vfs} (sriov_totalvfs); the kernel"
                                  " refuses more (ERANGE)", f"--vfs {info.total_vfs} or fewer"))
    if changes_count and dev.driver is None:
        refused.append(Refusal(a, "no driver is bound to the PF: the kernel creates VFs through the PF driver"
                                  " (ENOENT)", f"give the PF its driver back first (vfio-tui restore {a})"))
    if changes_count and num_vfs and dev.driver == "vfio-pci" and not vfio_enable_sriov(host):
        refused.append(Refusal(a, "the PF is on vfio-pci, which creates VFs only with vfio_pci.enable_sriov=Y"
                                  " (vfio_pci_sriov_configure(): ENOENT); its VFs then belong to vfio-pci and need"
                                  " the PF user's VF token", "give the PF its own driver back (vfio-tui restore"
                                  f" {a}); or, if a userspace PF driver supports it: echo Y >"
                                  " /sys/module/vfio_pci/parameters/enable_sriov"))
    targets = [addr, *map(PciAddress.parse, removed)] if changes_count else []
    for t in targets:
        uses = inv.uses_of(t)
        if not uses:
            continue
        what = ("changing the count makes the PF driver reconfigure the PF (ixgbe resets it) and removes every VF"
                if t == addr else "changing the count removes this VF")
        if t in forced_set:
            forced.append(str(t))
            warnings.append(f"--force-host-device {t}: the host uses it ({'; '.join(u.describe() for u in uses)})"
                            f" and {what}")
        else:
            refused.append(Refusal(str(t), f"used by the host: {'; '.join(u.describe() for u in uses)}; {what}",
                                   "; ".join(dict.fromkeys(u.fix for u in uses if u.fix)), forceable=True))
    if removed:
        holds: DomainHolds = {}
        if domains is not None:
            try:
                holds = domains()
            except Exception:  # noqa: BLE001 - libvirt unreachable: /dev/vfio holders are still checked below
                warnings.append("libvirt did not answer: VMs that name these VFs in their definition are not known")
        more, notes = _vm_refusals(holds, removed, set(new))
        refused += more
        warnings += notes
        seen = {r.address for r in refused}
        for vf, hs in holders_of(host.paths, removed).items():
            if vf not in seen:
                refused += [Refusal(vf, f"in use: {h.detail}", h.fix) for h in hs]
        refused += _record_refusals(host, removed)
    if not inv.host_use_known and not assume_unused and changes_count:
        refused.append(Refusal(a, "host use not recorded: nothing says whether the host needs the PF or its VFs",
                               "run vfio-tui on that host, or add --assume-unused if you know it does not"))
    steps: list[SriovStep] = []
    if changes_count and info.num_vfs:
        steps.append(SriovStep("numvfs", _sysfs(host, a, "sriov_numvfs"), "0",
                               f"remove the {info.num_vfs} VFs (the kernel changes the count only through 0)"))
    # before the VFs appear: a VF is probed (or not) the moment it is created
    if autoprobe is not None and autoprobe != info.drivers_autoprobe:
        steps.append(SriovStep("autoprobe", _sysfs(host, a, "sriov_drivers_autoprobe"), "1" if autoprobe else "0",
                               "new VFs " + ("are probed by their host driver" if autoprobe else
                                             "get no host driver (bind them to vfio-pci by address)")))
    if changes_count and num_vfs:
        steps.append(SriovStep("numvfs", _sysfs(host, a, "sriov_numvfs"), str(num_vfs), f"create {num_vfs} VFs"))
    if changes_count and new and dev.driver == "vfio-pci":
        warnings.append("the PF is on vfio-pci: its new VFs are captured by vfio-pci (driver_override), and a VM can"
                        " open them only with the VF token the PF's user set (vf_token, Linux >= 5.7)")
    plan_persist = tuple(persist_changes(host, a, num_vfs, autoprobe if autoprobe is not None
                                         else info.drivers_autoprobe)) if persist else ()
    return SriovPlan(pf=a, pf_driver=dev.driver, group=dev.iommu_group, total_vfs=info.total_vfs,
                     current_vfs=info.num_vfs, target_vfs=num_vfs, current_autoprobe=info.drivers_autoprobe,
                     target_autoprobe=autoprobe if autoprobe is not None else info.drivers_autoprobe,
                     steps=tuple(steps), removed_vfs=tuple(removed), new_vfs=tuple(new), refused=tuple(refused),
                     forced=tuple(forced), warnings=tuple(warnings), persist=plan_persist, kernel=inv.kernel)

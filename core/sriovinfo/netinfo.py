"""Provides the NIC settings a PF driver reports for its VFs (MAC, VLAN, QoS, spoof check, trust, link
state): parsed from `ip -j link show dev PF` on a live host, recorded in a snapshot's host extras
(`sriov_nics`) so that recorded and demo hosts have them too.

The kernel answers RTM_GETLINK for the PF with IFLA_VFINFO_LIST when asked with RTEXT_FILTER_VF,
which `ip link show` always sets; iproute2's print_vfinfo() (ip/ipaddress.c) prints each VF as
{"vf", "address" (older iproute2: "mac"), "vlan_list": [{"vlan", "qos"}] (or "vlan"/"qos"),
"spoofchk", "link_state", "trust", ...}. Only what a PF driver fills in is there: a driver without
a .ndo_get_vf_config (an NVMe, most non-NIC PFs) has no list at all.

Recorded form (host extras): {"sriov_nics": {"0000:07:00.0": {"ifname": "enp7s0f0", "vfs": [
{"vf": 0, "mac": "52:54:00:6d:90:01", "vlan": 0, "qos": 0, "spoofchk": true, "trust": false,
"link_state": "auto"}]}}}.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import Any, Final

from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.model import VfNic

EXTRAS_KEY: Final = "sriov_nics"
_IP_TIMEOUT: Final = 3.0


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 32 else None


def _bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _text(value: object, limit: int = 64) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= limit and value.isprintable() else None


def normalize_vf(raw: object) -> dict[str, Any] | None:
    """One entry of iproute2's vfinfo_list (or of a recording) in the recorded form; None when it
    has no VF number."""
    if not isinstance(raw, Mapping):
        return None
    vf = _int(raw.get("vf"))
    if vf is None:
        return None
    vlan, qos = _int(raw.get("vlan")), _int(raw.get("qos"))
    vlans = raw.get("vlan_list")
    if isinstance(vlans, list) and vlans and isinstance(vlans[0], Mapping):
        vlan, qos = _int(vlans[0].get("vlan")), _int(vlans[0].get("qos"))
    return {"vf": vf, "mac": _text(raw.get("address")) or _text(raw.get("mac")),
            # print_vfinfo() leaves out a VLAN of 0 and a QoS of 0: absent means none
            "vlan": vlan or 0, "qos": qos or 0,
            "spoofchk": _bool(raw.get("spoofchk")), "trust": _bool(raw.get("trust")),
            "link_state": _text(raw.get("link_state"), 16)}


def parse_ip_link(text: str) -> tuple[str | None, list[dict[str, Any]]]:
    """`ip -j link show dev IF` output → (ifname, VFs in the recorded form). Anything else → (None, [])."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return None, []
    if isinstance(data, list):
        data = data[0] if data else None
    if not isinstance(data, Mapping):
        return None, []
    vfs = data.get("vfinfo_list")
    out = [v for v in (normalize_vf(r) for r in vfs) if v is not None] if isinstance(vfs, list) else []
    return _text(data.get("ifname")), sorted(out, key=lambda v: v["vf"])


def vf_nic(entry: Mapping[str, Any]) -> VfNic:
    return VfNic(mac=entry.get("mac"), vlan=entry.get("vlan"), qos=entry.get("qos"),
                 spoofchk=entry.get("spoofchk"), trust=entry.get("trust"), link_state=entry.get("link_state"))


def ip_link_vfs(ifname: str) -> list[dict[str, Any]]:
    """The VF list `ip` reports for a PF netdev on this machine ([] without iproute2 or on any error)."""
    import shutil
    import subprocess  # only a live PF's VFs need it: the inventory of a host without VFs starts faster

    ip = shutil.which("ip") or ("/usr/sbin/ip" if os.path.exists("/usr/sbin/ip") else None)
    if ip is None:
        return []
    try:
        proc = subprocess.run([ip, "-j", "link", "show", "dev", ifname], capture_output=True, text=True,
                              timeout=_IP_TIMEOUT, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return parse_ip_link(proc.stdout)[1] if proc.returncode == 0 else []


def live_sriov_nics(paths: HostPaths, pfs: Iterable[str] | None = None) -> dict[str, Any]:
    """The recorded form for this machine's PFs that have VFs and a netdev (read-only: `ip link show`).

    Args:
        pfs: the PF addresses to ask about; None: every PF with VFs enabled.
    """
    if not paths.is_live:
        return {}
    if pfs is None:
        try:
            names = os.listdir(paths.pci_devices)
        except OSError:
            return {}
        pfs = [n for n in names if _numvfs(paths, n) > 0]
    out: dict[str, Any] = {}
    for pf in pfs:
        try:
            ifnames = sorted(os.listdir(paths.pci_device(pf) / "net"))
        except OSError:
            continue
        for ifname in ifnames:
            vfs = ip_link_vfs(ifname)
            if vfs:
                out[pf] = {"ifname": ifname, "vfs": vfs}
                break
    return out


def _numvfs(paths: HostPaths, name: str) -> int:
    try:
        return int((paths.pci_device(name) / "sriov_numvfs").read_text().strip() or 0)
    except (OSError, ValueError):
        return 0


def recorded_sriov_nics(extras: Mapping[str, Any]) -> dict[str, tuple[str | None, dict[int, VfNic]]]:
    """{pf address: (ifname, {vf index: VfNic})} from a recording's host extras (bad entries skipped)."""
    raw = extras.get(EXTRAS_KEY)
    out: dict[str, tuple[str | None, dict[int, VfNic]]] = {}
    if not isinstance(raw, Mapping):
        return out
    for pf, info in raw.items():
        if not isinstance(pf, str) or not isinstance(info, Mapping) or not isinstance(info.get("vfs"), list):
            continue
        vfs = {v["vf"]: vf_nic(v) for v in (normalize_vf(r) for r in info["vfs"]) if v is not None}
        out[pf] = (_text(info.get("ifname")), vfs)
    return out

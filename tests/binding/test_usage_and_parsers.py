"""Host usage from a sysfs-shaped tree (the live walk, on a fake tree) and the new_id parser."""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vfio_tui.core.address import PciAddress
from vfio_tui.core.binding import BindFailedError, StepEvent, apply_plan, plan_bind
from vfio_tui.core.errors import SysfsWriteError
from vfio_tui.core.host import Host
from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.usage import uses_from_extras
from vfio_tui.core.usage_live import _live_blocks


def _block(root: Path, name: str, real: str, *, partition: bool = False, slaves: tuple[str, ...] = (),
           dm_name: str = "") -> None:
    target = root / "sys" / real.lstrip("/")
    target.mkdir(parents=True, exist_ok=True)
    if partition:
        (target / "partition").write_text("1\n")
    if slaves or dm_name:
        (target / "slaves").mkdir(exist_ok=True)
        for s in slaves:
            (target / "slaves" / s).mkdir(exist_ok=True)
    if dm_name:
        (target / "dm").mkdir(exist_ok=True)
        (target / "dm" / "name").write_text(dm_name + "\n")
    link = root / "sys" / "class" / "block" / name
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(os.path.relpath(target, link.parent), link)


def test_root_on_lvm_on_a_partition_leads_to_the_nvme_controller(tmp_path: Path) -> None:
    nvme = "/devices/pci0000:00/0000:00:1d.0/0000:3d:00.0/nvme/nvme0/nvme0n1"
    _block(tmp_path, "nvme0n1", nvme)
    _block(tmp_path, "nvme0n1p3", nvme + "/nvme0n1p3", partition=True)
    _block(tmp_path, "dm-0", "/devices/virtual/block/dm-0", slaves=("nvme0n1p3",), dm_name="vg-root")
    blocks = _live_blocks(HostPaths(tmp_path))
    assert blocks["nvme0n1"]["pci"] == "0000:3d:00.0"
    assert blocks["nvme0n1p3"]["parent"] == "nvme0n1"
    uses = uses_from_extras({"block_devices": blocks,
                             "mounts": [{"source": "/dev/mapper/vg-root", "target": "/", "fstype": "ext4"}],
                             "swaps": ["/dev/dm-0"]})
    kinds = [u.kind for u in uses[PciAddress.parse("0000:3d:00.0")]]
    assert kinds == ["mount", "swap"]
    assert PciAddress.parse("0000:00:1d.0") not in uses  # the root port above is not "used"


def test_link_local_only_nic_is_not_in_use() -> None:
    extras = {"net_interfaces": {"eth1": {"pci": "0000:02:00.0", "addresses": ["fe80::1/64"], "state": "up"}}}
    assert uses_from_extras(extras) == {}


# The host accumulates dynamic ids across examples on purpose: EEXIST is then a valid answer.
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet="0123456789abcdefxz \n-", max_size=40))
def test_new_id_takes_any_text_without_crashing(demo_host: Host, text: str) -> None:
    try:
        demo_host.kernel.write(demo_host.paths.pci_driver("pci-stub") / "new_id", text, 1.0)
    except SysfsWriteError as exc:
        assert exc.errno in (errno.EINVAL, errno.EEXIST)


def test_failed_step_is_reported_as_an_event(make_host: Callable[..., Host]) -> None:
    from tests.binding.bind_helpers import set_faults

    host = make_host()
    plan = plan_bind(host, "0b:00.0")
    set_faults(host, {"match": "unbind", "errno": errno.EBUSY})
    events: list[StepEvent] = []
    try:
        apply_plan(host, plan, on_step=events.append)
    except BindFailedError as exc:
        assert "Device or resource busy" in str(exc)
    failed = [e for e in events if e.state == "failed"]
    assert len(failed) == 1 and failed[0].step.endswith("/driver/unbind <- 0000:0b:00.0") and "busy" in failed[0].detail
    assert failed[0].phase == "bind" and failed[0].address == "0000:0b:00.0"

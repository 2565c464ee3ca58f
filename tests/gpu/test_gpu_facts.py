"""GPU facts read from a host tree: framebuffer owners from /proc/iomem (and the fallback when it shows
zeros to a non-root reader), module unload order, process roles, and a tree without any GPU facts."""

from __future__ import annotations

from pathlib import Path

from vfio_tui.core.address import PciAddress
from vfio_tui.core.gpu.facts import GpuFacts, ModuleState, NodeUser, _iomem_owners, module_closure, read_gpu_facts
from vfio_tui.core.hostpaths import HostPaths

IOMEM = """\
00000000-00000fff : Reserved
7800000000-7c01ffffff : PCI Bus 0000:0a
  7800000000-7bffffffff : 0000:0a:00.0
    7800000000-78007e8fff : BOOTFB
      7800000000-78007e8fff : simpledrm
fb000000-fbffffff : 0000:0a:00.0
"""


def test_iomem_nesting_names_the_card_under_the_firmware_framebuffer() -> None:
    owners, readable = _iomem_owners(IOMEM)
    assert readable
    assert owners["BOOTFB"] == PciAddress.parse("0a:00.0") and owners["simpledrm"] == owners["BOOTFB"]


def test_iomem_of_a_non_root_reader_is_not_trusted(tmp_path: Path) -> None:
    # Without root the kernel prints every range as zeros: the owner is then assumed, and said so.
    zeros = "00000000-00000000 : PCI Bus 0000:0a\n  00000000-00000000 : BOOTFB\n"
    assert _iomem_owners(zeros)[1] is False
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc" / "iomem").write_text(zeros)
    (tmp_path / "sys" / "bus" / "platform" / "devices" / "simple-framebuffer.0").mkdir(parents=True)
    facts = read_gpu_facts(HostPaths(tmp_path), PciAddress.parse("0a:00.0"), processes=False)
    assert not facts.iomem_readable
    fw = facts.firmware_fbs[0]
    assert fw.pci == PciAddress.parse("0a:00.0") and not fw.bound
    assert "assumed" in fw.located_by and "needs root" in fw.located_by


def test_module_closure_orders_users_first() -> None:
    mods = {
        "nvidia": ModuleState("nvidia", 2, ("nvidia_uvm", "nvidia_modeset")),
        "nvidia_modeset": ModuleState("nvidia_modeset", 1, ("nvidia_drm",)),
        "nvidia_uvm": ModuleState("nvidia_uvm", 0, ()),
        "nvidia_drm": ModuleState("nvidia_drm", 0, ()),
        "drm_kms_helper": ModuleState("drm_kms_helper", 1, ("nvidia_drm",)),
    }
    order = module_closure(GpuFacts(modules=mods), "nvidia")
    assert order == ["nvidia_drm", "nvidia_modeset", "nvidia_uvm", "nvidia"]
    assert module_closure(GpuFacts(modules=mods), "amdgpu") == []


def test_process_roles() -> None:
    assert NodeUser(1, "nvidia-persiste", "/dev/nvidia0").role == "persistenced"
    assert NodeUser(1, "Xwayland", "/dev/dri/card0").role == "display"
    assert NodeUser(1, "pipewire", "/dev/snd/controlC1").role == "audio"
    assert NodeUser(1, "python3", "/dev/nvidia-uvm").role == "client"


def test_a_tree_without_gpu_facts_reads_as_nothing(tmp_path: Path) -> None:
    facts = read_gpu_facts(HostPaths(tmp_path))
    assert facts.framebuffers == () and facts.console_gpu() is None and facts.display_manager is None


def test_precise_facts_replace_the_coarse_ones() -> None:
    """A usage recording's coarse facts (a display server -> the boot VGA; fbcon -> every framebuffer's
    device) give way where the tree shows who really holds which card."""
    from vfio_tui.core.gpu.facts import NodeUser, VtConsole
    from vfio_tui.core.gpu.inventory import annotate
    from vfio_tui.core.host import HostOptions
    from vfio_tui.core.model import HostUse
    from vfio_tui.core.open_host import open_host
    from vfio_tui.core.verdict import with_verdicts

    with open_host(HostOptions(demo=True, demo_name="workstation")) as host:
        inv = host.inventory()
        igpu, amd = PciAddress.parse("00:02.0"), PciAddress.parse("02:00.0")
        coarse = dict(inv.host_use)
        coarse[igpu] = (HostUse("display", "Xorg runs on it"),)
        coarse[amd] = (HostUse("console", "fbcon on fb1 (amdgpudrmfb)"),)
        facts = GpuFacts(vtconsoles=(VtConsole("vtcon1", "(M) frame buffer device", True),),
                         node_users={amd: (NodeUser(7, "Xorg", "/dev/dri/card2"),)}, processes_seen=40)
        out = annotate(host.paths, with_verdicts(inv, coarse), facts=facts)
        assert [u.kind for u in out.uses_of(igpu)] == []
        assert [u.describe() for u in out.uses_of(amd)] == ["display: Xorg (pid 7) has /dev/dri/card2 open"]

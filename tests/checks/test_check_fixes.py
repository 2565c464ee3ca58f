"""--fix: preview diff, backup, journal, byte-for-byte edits, undo; refusal of files it cannot parse."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from vfio_tui.core.checks import apply_fix, restore_config, run_checks, undo_fix
from vfio_tui.core.checks.textfile import ConfigParseError
from vfio_tui.core.errors import InputError, VfioError
from vfio_tui.core.host import Host

TRICKY_GRUB = (b"# \xe9t\xe9 2015: blog step 1\r\nGRUB_DEFAULT=0\n"
               b'GRUB_CMDLINE_LINUX=""   # was: "intel_iommu=on"\n'
               b"GRUB_DISTRIBUTOR=`lsb_release -i -s 2> /dev/null || echo Debian`\n"
               b'GRUB_CMDLINE_LINUX="${GRUB_CMDLINE_LINUX} quiet"\n'
               b"# trailing comment, no newline at end")


def _no_iommu(host: Host) -> None:
    import shutil

    (host.paths.proc / "cmdline").write_text("BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro quiet\n")
    shutil.rmtree(host.paths.iommu_groups)
    host.paths.iommu_groups.mkdir()
    (host.paths.boot).mkdir(exist_ok=True)
    (host.paths.boot / "config-6.1.0-28-amd64").write_text("# CONFIG_INTEL_IOMMU_DEFAULT_ON is not set\n")


def test_grub_fix_preview_apply_undo_byte_for_byte(etc_host: Callable[..., Host]) -> None:
    host = etc_host({"/etc/default/grub": TRICKY_GRUB})
    _no_iommu(host)
    grub = host.paths.under("/etc/default/grub")
    preview = apply_fix(host, "iommu-cmdline")
    assert not preview.applied and grub.read_bytes() == TRICKY_GRUB
    assert '-GRUB_CMDLINE_LINUX="${GRUB_CMDLINE_LINUX} quiet"' in preview.diff
    assert '+GRUB_CMDLINE_LINUX="${GRUB_CMDLINE_LINUX} quiet intel_iommu=on"' in preview.diff
    assert preview.followup == ("update-grub", "reboot")

    res = apply_fix(host, "intel-iommu-on", yes=True)
    assert res.applied and res.journal_id == "cfg-1"
    assert grub.read_bytes() == TRICKY_GRUB.replace(b'quiet"\n', b'quiet intel_iommu=on"\n')
    backup = host.paths.under(res.changes[0].backup or "")
    assert backup.read_bytes() == TRICKY_GRUB and oct(backup.stat().st_mode & 0o777) == "0o600"
    journal = json.loads((host.paths.state_dir / "config" / "journal.json").read_text())
    assert journal["entries"][0]["fix_id"] == "intel-iommu-on" and journal["entries"][0]["state"] == "applied"
    # The check now sees the flag configured but not booted: it says update-grub + reboot.
    assert "already has intel_iommu=on" in {r.id: r for r in run_checks(host)}["iommu-cmdline"].summary

    undone = undo_fix(host, "cfg-1")
    assert undone.applied and grub.read_bytes() == TRICKY_GRUB
    with pytest.raises(InputError):
        undo_fix(host, "cfg-1")  # already undone


def test_fix_refuses_a_half_edited_grub(etc_host: Callable[..., Host]) -> None:
    bad = b'GRUB_CMDLINE_LINUX="quiet\nGRUB_TIMEOUT=5\n'
    host = etc_host({"/etc/default/grub": bad})
    _no_iommu(host)
    assert {r.id: r for r in run_checks(host)}["iommu-cmdline"].fix_id is None
    with pytest.raises((ConfigParseError, InputError)):
        apply_fix(host, "intel-iommu-on", yes=True)
    assert host.paths.under("/etc/default/grub").read_bytes() == bad


def test_proxmox_fix_edits_kernel_cmdline(etc_host: Callable[..., Host]) -> None:
    host = etc_host({"/etc/kernel/cmdline": "root=ZFS=rpool/ROOT/pve-1 boot=zfs\n",
                     "/etc/kernel/proxmox-boot-uuids": "1234-ABCD\n"})
    _no_iommu(host)
    res = apply_fix(host, "intel-iommu-on", yes=True)
    assert host.paths.under("/etc/kernel/cmdline").read_text() == "root=ZFS=rpool/ROOT/pve-1 boot=zfs intel_iommu=on\n"
    assert res.followup == ("proxmox-boot-tool refresh", "reboot")


def test_qemu_conf_fixes_keep_everything_else(demo_host: Host) -> None:
    conf = demo_host.paths.under("/etc/libvirt/qemu.conf")
    before = conf.read_text()
    apply_fix(demo_host, "qemu-conf-relaxed-acs", yes=True)
    apply_fix(demo_host, "qemu-conf-acl", yes=True)
    after = conf.read_text()
    assert "#relaxed_acs_check = 1" in after and '"/dev/vfio/vfio"' not in after
    removed = [line for line in before.splitlines() if line not in after.splitlines()]
    assert removed == ['    "/dev/ptmx", "/dev/kvm",', '    "/dev/vfio/vfio"', "relaxed_acs_check = 1"]
    r = {x.id: x for x in run_checks(demo_host)}
    assert r["qemu-conf-acl"].status == "pass" and r["qemu-conf-relaxed-acs"].status == "pass"
    restore_config(demo_host, "cfg-2")
    restore_config(demo_host, "cfg-1")
    assert conf.read_text() == before


def test_undo_refuses_a_file_changed_since(demo_host: Host) -> None:
    res = apply_fix(demo_host, "unsafe-interrupts-off", yes=True)
    f = demo_host.paths.under("/etc/modprobe.d/vfio.conf")
    assert "#options vfio_iommu_type1 allow_unsafe_interrupts=1" in f.read_text()
    f.write_text(f.read_text() + "options kvm ignore_msrs=1\n")
    with pytest.raises(VfioError, match="changed after vfio-tui edited it"):
        undo_fix(demo_host, res.journal_id or "")


def test_modules_fix_persists_and_tries_to_load(etc_host: Callable[..., Host]) -> None:
    import shutil

    host = etc_host({"/lib/modules/6.1.0-28-amd64/modules.builtin": ""})
    for m in ("vfio", "vfio_pci", "vfio_iommu_type1"):
        shutil.rmtree(host.paths.module(m), ignore_errors=True)
    res = apply_fix(host, "vfio-modules", yes=True)
    text = host.paths.under("/etc/modules-load.d/vfio.conf").read_text()
    assert text.splitlines()[-3:] == ["vfio", "vfio_pci", "vfio_iommu_type1"]
    assert res.changes[0].created
    assert len(res.actions) + len(res.messages) == 3  # each module loaded, or said why not
    undo_fix(host, "vfio-modules")
    assert not host.paths.under("/etc/modules-load.d/vfio.conf").exists()


def test_nothing_to_fix_is_bad_input(demo_host: Host) -> None:
    with pytest.raises(InputError, match="passes"):
        apply_fix(demo_host, "iommu-cmdline")
    with pytest.raises(InputError, match="no check or fix"):
        apply_fix(demo_host, "format-disk")


def test_grub_d_override_is_the_file_edited(etc_host: Callable[..., Host]) -> None:
    """Ubuntu's /etc/default/grub.d/*.cfg are sourced after /etc/default/grub: the last assignment wins."""
    host = etc_host({"/etc/default/grub": 'GRUB_CMDLINE_LINUX=""\n',
                     "/etc/default/grub.d/50-cloudimg.cfg": 'GRUB_CMDLINE_LINUX="console=ttyS0"\n'})
    _no_iommu(host)
    res = apply_fix(host, "intel-iommu-on", yes=True)
    assert [c.path for c in res.changes] == ["/etc/default/grub.d/50-cloudimg.cfg"]
    assert host.paths.under("/etc/default/grub.d/50-cloudimg.cfg").read_text() == \
        'GRUB_CMDLINE_LINUX="console=ttyS0 intel_iommu=on"\n'
    assert host.paths.under("/etc/default/grub").read_text() == 'GRUB_CMDLINE_LINUX=""\n'

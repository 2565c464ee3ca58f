"""The checks screen applies a check's fix the way `vfio-tui check --fix ID` does — the diff first,
then an explicit yes, a backup and a journal entry — and U undoes it; on the demo host's files."""

from __future__ import annotations

from collections.abc import Callable

from tests.tui.tui_helpers import SSH, options_text, screen_text, settle, static_text
from vfio_tui.tui.app import VfioApp
from vfio_tui.tui.modals.fix import FixModal
from vfio_tui.tui.screens.checks import ChecksScreen
from vfio_tui.tui.widgets.nav_list import NavList

CHECK = "qemu-conf-relaxed-acs"


async def test_f_applies_a_fix_with_its_diff_and_u_undoes_it(make_demo_app: Callable[..., VfioApp]) -> None:
    app = make_demo_app()
    qemu_conf = app.backend.host.paths.under("/etc/libvirt/qemu.conf")
    before = qemu_conf.read_text()
    async with app.run_test(size=SSH) as pilot:
        await settle(pilot, app)
        await pilot.press("c")
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, ChecksScreen)
        text = options_text(app, "#checks")
        assert f"apply: f here (vfio-tui check --fix {CHECK})" in text
        assert "note: a cgroup_device_acl in qemu.conf REPLACES libvirt's default list" in text
        checks = screen.query_one("#checks", NavList)
        checks.highlighted = checks.get_option_index(CHECK)
        await pilot.press("f")
        await settle(pilot, app)
        modal = app.screen
        assert isinstance(modal, FixModal)
        shown = screen_text(app)
        assert "-relaxed_acs_check = 1" in shown and "/etc/libvirt/qemu.conf" in shown
        assert qemu_conf.read_text() == before, "nothing changes before the yes"
        await pilot.press("y")
        await settle(pilot, app)
        assert modal.result is not None and modal.result.journal_id == "cfg-1"
        done = static_text(app, "#text")
        assert "Applied: qemu-conf-relaxed-acs (cfg-1)" in done and "backup:" in done
        assert "\n#relaxed_acs_check = 1" in qemu_conf.read_text(), "commented out"
        await pilot.press("escape")
        await settle(pilot, app)
        row = next(line for line in options_text(app, "#checks").splitlines() if f"[{CHECK}]" in line)
        assert row.startswith("✓ PASS"), row
        await pilot.press("U")
        await settle(pilot, app)
        assert isinstance(app.screen, FixModal) and "+relaxed_acs_check = 1" in screen_text(app)
        await pilot.press("y")
        await settle(pilot, app)
        assert "Undone: qemu-conf-relaxed-acs (cfg-1)" in static_text(app, "#text")
        await pilot.press("escape")
        await settle(pilot, app)
        assert qemu_conf.read_text() == before
        row = next(line for line in options_text(app, "#checks").splitlines() if f"[{CHECK}]" in line)
        assert row.startswith("! WARN"), row


async def test_f_on_a_check_without_a_file_fix_says_why(make_demo_app: Callable[..., VfioApp]) -> None:
    app = make_demo_app()
    async with app.run_test(size=SSH) as pilot:
        await settle(pilot, app)
        await pilot.press("c")
        await settle(pilot, app)
        screen = app.screen
        assert isinstance(screen, ChecksScreen) and screen.rows is not None
        passing = next(r for r in screen.rows if r.status == "pass")
        checks = screen.query_one("#checks", NavList)
        checks.highlighted = checks.get_option_index(passing.id)
        await pilot.press("f")
        await settle(pilot, app)
        assert isinstance(app.screen, ChecksScreen)
        assert any(f"Nothing for f to apply on {passing.id}: it passes" in str(n.message) for n in app._notifications)

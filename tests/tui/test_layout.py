"""The layout at the sizes admins use (80×24 over SSH, 120×40, 200×60), keyboard only, on the demo
host with the real core: what carries a safety fact is on screen, and the keys do what tree and
list TUIs (htop, k9s, lazygit) do."""

from __future__ import annotations

from collections.abc import Callable

from tests.tui.tui_helpers import SSH, screen_lines, screen_text, select, settle, static_text
from vfio_tui.tui.app import VfioApp
from vfio_tui.tui.screens.devices import DevicesScreen
from vfio_tui.tui.widgets.iommu_tree import IommuTree


class TestLayout:
    async def test_80x24_shows_every_safety_badge_of_group_8(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """Group 8 open at 80×24: the SSH NIC's [host-used], every port's [ACS ✗], the console's
        [host-used], each row inside the tree's width; the detail below the tree, full width."""
        app = make_demo_app()
        async with app.run_test(size=SSH) as pilot:
            await settle(pilot, app)
            await select(pilot, app, "0000:03:00.0")
            tree = app.screen.query_one(IommuTree)
            rows = tree.rows_text()
            nic = next(r for r in rows if r.startswith("03:00.0"))
            assert "bnx2" in nic and "[host-used]" in nic
            ports = [r for r in rows if "pcieport" in r]
            assert len(ports) == 3 and all("[ACS ✗]" in r for r in ports)
            assert "[host-used]" in next(r for r in rows if r.startswith("05:00.1"))
            lines = screen_lines(app)
            assert any("03:00.0 bnx2" in line and "[host-used]" in line for line in lines), "\n".join(lines)
            assert sum("[ACS ✗]" in line for line in lines) >= 1
            detail = app.screen.query_one("#detail-pane")
            assert detail.region.y > tree.region.y and detail.region.width >= 70, (detail.region, tree.region)
            assert "host uses  netdev-address: eno1" in screen_text(app)

    async def test_80x24_footer_shows_every_global_key(self, make_demo_app: Callable[..., VfioApp]) -> None:
        app = make_demo_app()
        async with app.run_test(size=SSH) as pilot:
            await settle(pilot, app)
            footer = screen_lines(app)[-1]
            for key in ("p Pass through", "/ Filter", "? Help", "c Checks", "x Explain", "u Undo", "q Quit"):
                assert key in footer, footer

    async def test_names_use_the_space_at_200_columns(self, make_demo_app: Callable[..., VfioApp]) -> None:
        app = make_demo_app()
        async with app.run_test(size=(200, 60)) as pilot:
            await settle(pilot, app)
            await select(pilot, app, "0000:03:00.0")
            rows = app.screen.query_one(IommuTree).rows_text()
            assert any("NetXtreme II BCM5709 Gigabit Ethernet" in r for r in rows if r.startswith("03:00.0"))
            assert any("Integrated Lights-Out Standard Slave Instrumentation & System Support" in r for r in rows)
            detail = app.screen.query_one("#detail-pane")
            assert detail.region.x > app.screen.query_one(IommuTree).region.x, "beside the tree"

    async def test_rows_line_up_in_columns(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """Drivers start in one column whatever the depth of the row (group → port → device)."""
        app = make_demo_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot, app)
            await select(pilot, app, "0000:03:00.0")
            lines = screen_lines(app)
            port = next(line for line in lines if "00:1c.0" in line and "pcieport" in line)
            nic = next(line for line in lines if "03:00.0" in line and "bnx2" in line)
            assert port.index("pcieport") == nic.index("bnx2"), (port, nic)


class TestKeys:
    async def test_vim_keys_and_arrows_open_and_close_groups(self, make_demo_app: Callable[..., VfioApp]) -> None:
        app = make_demo_app()
        async with app.run_test(size=SSH) as pilot:
            await settle(pilot, app)
            tree = app.screen.query_one(IommuTree)
            await pilot.press("G")
            assert tree.cursor_node is not None and tree.cursor_node.data is not None
            assert tree.cursor_node.data.group == 19
            await pilot.press("g", "j", "j")
            assert tree.cursor_line == 2
            await pilot.press("k")
            assert tree.cursor_line == 1
            await pilot.press(*["j"] * 7, "right")  # group 8 opens
            await settle(pilot, app)
            group8 = tree.cursor_node
            assert group8 is not None and group8.is_expanded
            await pilot.press("l")  # on an open group: its first row
            assert tree.cursor_node is not None and tree.cursor_node.data is not None
            assert str(tree.cursor_node.data.address) == "0000:00:1c.0"
            await pilot.press("l", "h")  # into the port, then back up to it
            assert tree.cursor_node is not None and tree.cursor_node.data is not None
            assert str(tree.cursor_node.data.address) == "0000:00:1c.0"
            await pilot.press("left")  # from the port to its group
            assert tree.cursor_node is group8
            await pilot.press("h")  # closes it
            assert not group8.is_expanded
            assert tree.scroll_x == 0, "→/← never scroll sideways"

    async def test_keys_typed_ahead_in_the_wizard_are_kept(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """`p ↓ ↓ Enter` at once, before the VM list has loaded: the second VM (hba_test is first,
        then nic_test), not "bind only"."""
        from vfio_tui.tui.screens.wizard import WizardScreen

        app = make_demo_app()
        async with app.run_test(size=SSH) as pilot:
            await settle(pilot, app)
            await select(pilot, app, "0000:0b:00.0")
            await pilot.press("p", "down", "down", "enter")
            await settle(pilot, app)
            wizard = app.screen
            assert isinstance(wizard, WizardScreen) and wizard.plan is not None
            assert wizard.plan.vm == "nic_test"

    async def test_short_lists_do_not_wrap_around(self, make_demo_app: Callable[..., VfioApp]) -> None:
        from vfio_tui.tui.widgets.nav_list import NavList

        app = make_demo_app()
        async with app.run_test(size=SSH) as pilot:
            await settle(pilot, app)
            await select(pilot, app, "0000:0b:00.0")
            await pilot.press("p")
            await settle(pilot, app)
            vms = app.screen.query_one("#vms", NavList)
            await pilot.press("up", "k")
            assert vms.highlighted == 0
            await pilot.press(*["down"] * 10)
            assert vms.highlighted == vms.option_count - 1
            await pilot.press("j")
            assert vms.highlighted == vms.option_count - 1

    async def test_q_asks_while_a_run_changes_the_host(self, make_demo_app: Callable[..., VfioApp]) -> None:
        from vfio_tui.tui.modals.confirm import ConfirmModal

        app = make_demo_app(pace=0.3)
        async with app.run_test(size=SSH) as pilot:
            await settle(pilot, app)
            await select(pilot, app, "0000:0b:00.0")
            await pilot.press("p")
            await settle(pilot, app)
            await pilot.press("enter")
            await settle(pilot, app)
            await pilot.press("y", "y", "q")
            await pilot.pause()
            assert isinstance(app.screen, ConfirmModal)
            assert "Quit while the host is being changed?" in screen_text(app)
            await pilot.press("n")
            await settle(pilot, app)
            assert app.is_running
            await pilot.press("q")  # the run is over, but this session changed the host
            await pilot.pause()
            assert isinstance(app.screen, ConfirmModal) and "run-1" in screen_text(app)
            await pilot.press("y")
            await pilot.pause()
        assert app.return_value == 0

    async def test_q_quits_at_once_when_nothing_changed(self, make_demo_app: Callable[..., VfioApp]) -> None:
        app = make_demo_app()
        async with app.run_test(size=SSH) as pilot:
            await settle(pilot, app)
            await pilot.press("q")
            await pilot.pause()
        assert app.return_value == 0

    async def test_explain_text_box_leaves_the_global_keys_alone(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """The explain screen opens with the focus on its VM list, so c x u q work; Esc leaves the
        text box before it leaves the screen; a paste lands in the text box."""
        from textual import events
        from textual.widgets import TextArea

        from vfio_tui.tui.screens.checks import ChecksScreen
        from vfio_tui.tui.screens.explain import ExplainScreen

        app = make_demo_app()
        async with app.run_test(size=SSH) as pilot:
            await settle(pilot, app)
            await pilot.press("x")
            await settle(pilot, app)
            explain = app.screen
            assert isinstance(explain, ExplainScreen)
            explain.post_message(events.Paste("vfio 0000:02:00.0: group 13 is not viable"))
            await settle(pilot, app)
            area = explain.query_one("#paste", TextArea)
            assert "group 13 is not viable" in area.text and area.has_focus
            await pilot.press("escape")
            assert isinstance(app.screen, ExplainScreen) and not area.has_focus
            await pilot.press("c")
            await settle(pilot, app)
            assert isinstance(app.screen, ChecksScreen)

    async def test_palette_pass_through_from_another_screen_plans_nothing(
            self, make_demo_app: Callable[..., VfioApp]) -> None:
        """From the checks screen the tree's cursor (the host bridge) is not a choice: back to the tree."""
        app = make_demo_app()
        async with app.run_test(size=SSH) as pilot:
            await settle(pilot, app)
            await pilot.press("c")
            await settle(pilot, app)
            app.action_passthrough()
            await settle(pilot, app)
            assert isinstance(app.screen, DevicesScreen)
            assert any("Highlight the device" in str(n.message) for n in app._notifications)


class TestFilter:
    async def test_finds_devices_by_what_the_host_uses_them_for(self, make_demo_app: Callable[..., VfioApp]) -> None:
        expect = {"eno1": "03:00.0", "sda": "01:00.0", "/boot": "01:00.0", "router": "07:10.2",
                  "host-used": "00:1d.0", "vfio": "07:10.2", "blocked": "05:00.1"}
        app = make_demo_app()
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot, app)
            for needle, address in expect.items():
                await pilot.press("slash", *needle)
                await settle(pilot, app)
                rows = app.screen.query_one(IommuTree).rows_text()
                assert any(r.startswith(address) for r in rows), (needle, rows)
                assert "match" in static_text(app, "#status")
                await pilot.press("escape")
                await settle(pilot, app)

    async def test_no_match_says_0_matches_and_clears_the_detail(self, make_demo_app: Callable[..., VfioApp]) -> None:
        app = make_demo_app()
        async with app.run_test(size=SSH) as pilot:
            await settle(pilot, app)
            await select(pilot, app, "0000:03:00.0")
            await pilot.press("slash", *"nosuchthing")
            await settle(pilot, app)
            assert "filter 'nosuchthing': 0 matches" in static_text(app, "#status")
            assert "No device matches 'nosuchthing'" in static_text(app, "#detail")
            assert "NetXtreme" not in static_text(app, "#detail")

    async def test_arrows_move_the_tree_while_typing_a_filter(self, make_demo_app: Callable[..., VfioApp]) -> None:
        app = make_demo_app()
        async with app.run_test(size=SSH) as pilot:
            await settle(pilot, app)
            await pilot.press("slash", *"bnx2")
            await settle(pilot, app)
            tree = app.screen.query_one(IommuTree)
            before = tree.cursor_line
            await pilot.press("down", "down")
            assert tree.cursor_line == before + 2
            assert app.screen.query_one("#filter").has_focus


class TestColours:
    async def test_sixteen_colours_use_the_ansi_theme(self, make_demo_app: Callable[..., VfioApp]) -> None:
        """On a 16-colour terminal the app uses the terminal's own palette (the tmux test checks
        the escape codes: bindable yellow, blocked red)."""
        from vfio_tui.tui.app import make_app

        app = make_demo_app()
        ansi = make_app(app.backend.host, ansi=True)
        async with ansi.run_test(size=SSH) as pilot:
            await settle(pilot, ansi)
            assert ansi.current_theme.name == "ansi-dark"
        ansi.backend.close()

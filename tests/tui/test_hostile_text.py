"""The app on a recording whose label, reset_method and command line hold terminal escape
sequences and Textual markup: what is painted is text — no control character reaches the screen,
no markup is parsed (a `[@click=...]` in a label is not an action)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.security.attacks import _dev, base
from tests.tui.tui_helpers import SIZE, settle
from vfio_tui.core.address import PciAddress
from vfio_tui.core.host import HostOptions
from vfio_tui.core.open_host import open_host
from vfio_tui.tui.app import make_app
from vfio_tui.tui.screens.devices import DevicesScreen
from vfio_tui.tui.widgets.iommu_tree import IommuTree, NodeRef

EVIL = "\x1b]0;pwned\x07\x1b[2J\x9b2J[@click=app.quit]x[/] [b]bold[/b]"
CONTROLS = ("\x1b", "\x07", "\x9b")


async def test_hostile_text_is_shown_as_text(tmp_path: Path) -> None:
    snap = base()
    snap["label"] = "evil " + EVIL
    snap["cmdline"] = "root=/dev/sda1 " + EVIL
    _dev(snap)["reset_method"] = "flr " + EVIL
    path = tmp_path / "evil.json"
    path.write_text(json.dumps(snap))
    with open_host(HostOptions(snapshot=path)) as host:
        app = make_app(host)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot, app)
            assert not any(c in app.sub_title for c in CONTROLS) and "␛]0;pwned" in app.sub_title
            screen = app.screen
            assert isinstance(screen, DevicesScreen)
            assert screen.select(NodeRef("device", 2, PciAddress.parse("0000:01:00.0")))
            await settle(pilot, app)
            detail = str(screen.query_one("#detail").render())
            assert "[@click=app.quit]" in detail, "markup in host text was parsed"
            assert not any(c in detail for c in CONTROLS)
            tree = screen.query_one(IommuTree)
            labels = [str(n.label) for n in tree.root.children]
            assert labels and not any(c in label for label in labels for c in CONTROLS)
            assert app.is_running, "a [@click=app.quit] in host text did something"
            app.exit()
        app.backend.close()

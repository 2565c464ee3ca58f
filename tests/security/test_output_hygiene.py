"""Text from a host, a recording or a log reaches the terminal with every control neutralised:
a recording whose label, reset_method, kernel command line, driver_override and module parameters
hold clear-screen, OSC title/clipboard, bell and C1 CSI sequences prints them as visible
stand-ins ("␛") in `inventory`, `check` and errors; JSON escapes them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.security.attacks import _dev, base
from vfio_tui.core.textsafe import is_printable, printable, printable_keep_colors
from vfio_tui.tui.cli import main

HOSTILE = {
    "clear": "\x1b[2J\x1b[H",
    "osc-title": "\x1b]0;pwned\x07",
    "osc52-clipboard": "\x1b]52;c;cm0gLXJmIH4K\x07",
    "bell": "\x07",
    "c1-csi": "\x9b2J",
    "c1-osc": "\x9d0;x\x9c",
    "carriage-return": "ok\rFAKE",
    "bidi": "\u202etxt.exe",
}
CONTROLS = ["\x1b", "\x07", "\x9b", "\x9d", "\x9c", "\r", "\u202e"]


def hostile_snapshot(tmp_path: Path) -> Path:
    snap = base()
    text = "".join(HOSTILE.values())
    snap["label"] = "evil " + text
    snap["cmdline"] = "root=/dev/sda1 " + text
    dev = _dev(snap)
    dev["reset_method"] = "flr " + text
    dev["driver_override"] = "(null)" + text
    snap["modules"]["vfio_iommu_type1"]["allow_unsafe_interrupts"] = "N" + text
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(snap))
    return path


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


@pytest.mark.parametrize("argv", [["inventory"], ["inventory", "--group", "2"], ["check"], ["vms"]],
                         ids=lambda a: "-".join(a))
def test_no_control_reaches_the_terminal(tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    snap = hostile_snapshot(tmp_path)
    _code, output = run([*argv, "--host-snapshot", str(snap)], capsys)
    leaked = [repr(c) for c in CONTROLS if c in output]
    assert leaked == [], f"{argv}: {leaked} reached the terminal:\n{output[:2000]}"
    if argv[0] == "inventory":
        assert "␛[2J" in output and "evil" in output, "the hostile text is shown, as text"


def test_json_output_escapes_controls(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    snap = hostile_snapshot(tmp_path)
    _code, output = run(["inventory", "--json", "--host-snapshot", str(snap)], capsys)
    assert not any(c in output for c in CONTROLS)
    assert "\\u001b[2J" in output  # the data is kept, escaped


def test_an_error_naming_hostile_text_is_one_clean_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.json"
    snap = base()
    snap["vfio_tui"] = {"files": {"/etc/\x1b]0;pwned\x07\x9b2J": "x"}}
    bad.write_text(json.dumps(snap))
    code, output = run(["inventory", "--host-snapshot", str(bad)], capsys)
    assert code == 2 and len(output.strip().splitlines()) == 1
    assert not any(c in output for c in CONTROLS)


def test_printable_keeps_length_newlines_and_tabs() -> None:
    for name, text in HOSTILE.items():
        clean = printable(text)
        assert len(clean) == len(text), name
        assert is_printable(clean), name
    assert printable("a\tb\nc") == "a\tb\nc"
    assert printable("a\nb", newlines=False) == "a␊b"
    assert printable("\x1b[2J") == "␛[2J"


def test_the_output_stream_keeps_only_plain_colours() -> None:
    assert printable_keep_colors("\x1b[32mready\x1b[0m") == "\x1b[32mready\x1b[0m"
    assert printable_keep_colors("\x1b[2J\x1b]0;x\x07\x9b2J") == "␛[2J␛]0;x␇\ufffd2J"
    assert printable_keep_colors("\x1b[8mhidden\x1b[0m") == "␛[8mhidden\x1b[0m"

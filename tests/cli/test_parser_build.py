"""The command line's parser is built for the command given (issue 15: building it was a third of a
quick command's own time on the lab's kernel): host options work before or after the command, and
help is wrapped to the terminal it is shown on, measured when it is formatted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from vfio_tui.tui.cli import build_parser, command_parser, main
from vfio_tui.tui.cli.registry import COMMANDS


def _options_block(text: str) -> list[str]:
    lines = text.splitlines()
    start = lines.index("options:") + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return lines[start:end]


@pytest.mark.parametrize("argv", [["--help"], ["bind", "--help"], ["restore", "--help"]])
def test_help_is_wrapped_to_the_terminal(argv: list[str], capsys: pytest.CaptureFixture[str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    shown = {}
    for columns in (60, 160):
        monkeypatch.setenv("COLUMNS", str(columns))
        with pytest.raises(SystemExit) as done:
            main(argv)
        assert done.value.code == 0
        shown[columns] = _options_block(capsys.readouterr().out)
    assert max(map(len, shown[60])) <= 60
    assert max(map(len, shown[160])) > 60  # (a terminal this wide gets long lines)


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def test_host_options_before_or_after_the_command(capsys: pytest.CaptureFixture[str]) -> None:
    before = _run(["--demo", "workstation", "--as-user", "inventory", "--json"], capsys)
    after = _run(["inventory", "--demo", "workstation", "--as-user", "--json"], capsys)
    abbreviated = _run(["--demo", "workstation", "--as-u", "inventory", "--json"], capsys)
    assert before[0] == 0 and before == after == abbreviated
    other = _run(["inventory", "--demo", "--json"], capsys)
    root = _run(["inventory", "--demo", "workstation", "--json"], capsys)
    # (the values reached the host: another demo, and the root's view, read differently)
    assert other[0] == root[0] == 0 and other[1] != before[1] and root[1] != before[1]


def test_an_unknown_option_before_the_command_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        main(["--bogus", "inventory"])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--bogus" in err


def test_options_are_still_checked_and_help_is_formatted_afresh() -> None:
    """One formatter checks every option's metavar (building a parser made one per option); help and
    usage still get a fresh one each time, so the same help comes out twice."""
    from vfio_tui.tui.cli.argtypes import OneLineParser

    parser = OneLineParser(prog="vfio-tui")
    with pytest.raises(ValueError, match="metavar tuple does not match nargs"):
        parser.add_argument("--pair", nargs=2, metavar=("A", "B", "C"))
    parser.add_argument("--timeout", metavar="S", help="seconds")
    first = parser.format_help()
    assert first == parser.format_help() and first.count("--timeout S") == 2  # usage and options
    assert parser.format_usage() == parser.format_usage()


def test_a_commands_host_options_work_after_it_spelled_out_or_abbreviated(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The host options are built for a command only when a word could be one (`bind ADDR --yes` does
    not need them); given after the command, whole or abbreviated, they still reach the host."""
    assert main(["sim-host", str(tmp_path / "h")]) == 0
    capsys.readouterr()
    whole = _run(["bind", "0b:00.0", "--dry-run", "--root", str(tmp_path / "h")], capsys)
    short = _run(["bind", "0b:00.0", "--dry-run", "--ro", str(tmp_path / "h")], capsys)
    first = _run(["--root", str(tmp_path / "h"), "bind", "0b:00.0", "--dry-run"], capsys)
    assert whole[0] == 0 and whole == short == first and "group 19" in whole[1]
    with pytest.raises(SystemExit) as done:
        main(["bind", "0b:00.0", "--dry-run", "--rooot", "x"])
    assert done.value.code == 2 and "--rooot" in capsys.readouterr().err


def test_a_commands_help_lists_the_host_options_first(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["bind", "--help"])
    text = capsys.readouterr().out
    usage = text[:text.index("\n\n")]
    assert usage.index("[--demo [NAME]]") < usage.index("[--dry-run]")  # the usage line as it always was
    assert text.index("options:") < text.index("host selection:") and "--root DIR" in text


def _help_of(parse: Any, argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as done:
        parse(argv)
    assert done.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_command_named_first_is_parsed_by_its_own_parser_alone(command: str, capsys: pytest.CaptureFixture[str],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """`vfio-tui CMD ...` is parsed by CMD's parser alone (the top-level one only handed the rest to it):
    the same help, word for word, as through the top-level parser."""
    monkeypatch.setenv("COLUMNS", "100")
    alone = command_parser([command, "--help"])
    assert alone is not None
    through_top = _help_of(lambda a: build_parser(a).parse_known_args(a), [command, "--help"], capsys)
    assert _help_of(lambda a: alone.parse_known_args(a[1:]), [command, "--help"], capsys) == through_top
    assert command_parser(["--demo", command]) is None and command_parser(["no-such-command"]) is None


def test_both_parsers_give_the_same_namespace(tmp_path: Path) -> None:
    for argv in (["bind", "0b:00.0", "--yes"], ["bind", "0b:00.0", "--dry-run", "--root", str(tmp_path), "--json"],
                 ["restore", "--all", "--timeout", "3"], ["inventory", "--demo", "workstation", "--as-u"]):
        alone = command_parser(argv)
        assert alone is not None
        fast = vars(alone.parse_known_args(argv[1:])[0])
        full = vars(build_parser(argv).parse_known_args(argv)[0])
        for ns in (fast, full):
            ns.pop("_parser")
        assert fast == full, argv

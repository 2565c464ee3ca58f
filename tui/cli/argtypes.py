"""Provides the argparse value types that validate options at parse time, and the parser class whose
errors are one line.

A value that cannot be right is refused before anything runs, with the option's name: a timeout of
-1 once skipped a rollback and `nan` disabled the timeout altogether (both compare false with
everything), so "a number" is not enough — it has to be finite and in range.
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn

MAX_SECONDS = 86_400.0
"""The longest timeout any option takes (a day): beyond it a write is not "timed", it is forgotten."""


def seconds(low: float = 0.0, high: float = MAX_SECONDS, *, allow_zero: bool = False) -> Callable[[str], float]:
    """A finite number of seconds in (low, high] (or [low, high] with allow_zero)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
        bad = not math.isfinite(value) or value > high or value < low or (value == low and not allow_zero)
        if bad:
            shown = (f"a number of seconds from {low:g} to {high:g}" if allow_zero or low
                     else f"a positive number of seconds (at most {high:g})")
            raise argparse.ArgumentTypeError(f"{text!r}: give {shown}")
        return value

    parse.__name__ = "seconds"  # argparse names the type in its messages
    return parse


def integer(low: int, high: int, what: str = "a number") -> Callable[[str], int]:
    """A base-10 integer in [low, high]."""

    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {what}: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r}: give {what} from {low} to {high}")
        return value

    parse.__name__ = "integer"
    return parse


PORT = integer(1, 65535, "a TCP port")
GROUP = integer(0, 2**31 - 1, "an IOMMU group number")
WRITE_TIMEOUT = seconds()
"""--timeout of the commands that write sysfs: one write may take this long before it is abandoned."""


class OneLineParser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line (no usage block), exit 2, as every other bad input.

    The usage block is 3-6 lines of options the user did not ask about; the one line names the
    problem and where the help is.
    """

    _checking = False
    _check_formatter: argparse.HelpFormatter | None = None

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        # argparse makes a formatter for every option added, only to check the option's metavar against
        # its nargs (a fifth of building a command's parser); that check keeps no state, so one serves.
        self._checking = True
        try:
            return super().add_argument(*args, **kwargs)
        finally:
            self._checking = False

    def _get_formatter(self) -> argparse.HelpFormatter:
        if not self._checking:
            return super()._get_formatter()  # help and usage are formatted on a fresh one
        if self._check_formatter is None:
            self._check_formatter = super()._get_formatter()
        return self._check_formatter

    def error(self, message: str) -> NoReturn:
        message = " ".join(message.split())  # argparse may wrap or embed newlines
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        if message:
            sys.stderr.write(message)
        raise SystemExit(status)


def _terminal_columns() -> int:
    """What shutil.get_terminal_size() says about the width ($COLUMNS, else the terminal, else 80)."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ else 0
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def memoize_argparse_gettext() -> None:
    """Make argparse look each of its messages up in the locale catalogues once per process.

    argparse translates every text it builds a parser with ("usage: ", "options", the help
    action's text) through gettext.gettext, which searches the locale directories again on every
    call: half of building a command's parser (0.4 of 0.7 ms here, 16 ms of a bind + restore on
    the TCG lab's kernel). The answer cannot change while the process runs.
    """
    names = vars(argparse)  # `_` is argparse's own global (typeshed does not declare it)
    if not hasattr(names["_"], "cache_info"):
        names["_"] = functools.cache(names["_"])


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's raw-description formatter, measuring the terminal without shutil: argparse makes a
    formatter for every option it adds, and importing shutil (with bz2 and lzma) is 2 ms of a quick
    command's start."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24,
                 width: int | None = None) -> None:
        # argparse makes one of these for every option it adds (to check its metavar) and formats
        # nothing with it: the terminal is measured when help is formatted, not 13 times a parser.
        super().__init__(prog, indent_increment, max_help_position, 78 if width is None else width)
        self._measure = width is None
        self._asked_help_position = max_help_position

    def format_help(self) -> str:
        if self._measure:
            self._measure = False
            self._width = _terminal_columns() - 2
            self._max_help_position = min(self._asked_help_position,
                                          max(self._width - 20, self._indent_increment * 2))
        return super().format_help()

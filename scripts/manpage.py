"""Write docs/vfio-tui.1, the man page, from the CLI's parsers (`python scripts/manpage.py`; `--check`
exits 1 when the committed page is out of date). Read it with `man ./docs/vfio-tui.1`."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vfio_tui.tui.cli.manpage import manpage  # noqa: E402

PAGE = ROOT / "docs" / "vfio-tui.1"


def main() -> int:
    text = manpage()
    if "--check" in sys.argv[1:]:
        current = PAGE.read_text() if PAGE.exists() else ""
        if current != text:
            print(f"{PAGE} is out of date: run python scripts/manpage.py", file=sys.stderr)
            return 1
        return 0
    PAGE.write_text(text)
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

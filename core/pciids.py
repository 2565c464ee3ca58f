"""Provides PciIds: vendor, device and class names from the system's pci.ids database.

The file is 1.3 MB and Intel's block alone has thousands of device lines; parsing them costs
more than the inventory of a small host. So nothing is parsed up front: a vendor is found by
one byte search, a device by one search inside its vendor's block, and both are cached.

A process keeps what it loaded (PciIds.load): the app re-reads the host after every step and
`fleet` reads many hosts, and a few Intel device lookups alone cost ~0.6 ms on each read. The
copy is used again only while the file's identity (device, inode, size, mtime) is unchanged.
"""

from __future__ import annotations

import os
import re
import stat
import threading
from pathlib import Path
from typing import Final

from vfio_tui.core.errors import HostDataError
from vfio_tui.core.hostpaths import HostPaths

#: Where distributions put pci.ids (hwdata on Debian/Fedora, pciutils' own copy elsewhere).
PCI_IDS_LOCATIONS: Final = (
    "/usr/share/hwdata/pci.ids",
    "/usr/share/misc/pci.ids",
    "/usr/share/pci.ids",
    "/usr/local/share/pci.ids",
)

#: Today's pci.ids is 1.3 MB; anything past this is not one (/dev/zero, a disk image, ...).
MAX_PCI_IDS_BYTES: Final = 32 * 1024 * 1024

_HEX4 = re.compile(rb"[0-9a-fA-F]{4}\Z")
#: Loaded databases kept per process (a few: a host tree may carry its own pci.ids), by file identity.
_LOADED_KEEP: Final = 4
_loaded: dict[tuple[str, int, int, int, int], PciIds] = {}
_loaded_lock = threading.Lock()

#: The line after a vendor's block: the next vendor, a class, or any other top-level line.
_BLOCK_END = re.compile(rb"\n[^\t#\n]")


def _is_hex(text: bytes, width: int) -> bool:
    return len(text) == width and all(c in b"0123456789abcdefABCDEF" for c in text)


def read_bounded(path: Path) -> bytes:
    """The bytes of a pci.ids file, refusing what cannot be one (a directory, an endless device).

    A pipe is fine (`--pci-ids <(zcat pci.ids.gz)`), so the read is bounded rather than the file
    required to be regular.

    Raises:
        HostDataError: it cannot be read, or it is larger than MAX_PCI_IDS_BYTES or binary.
    """
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise HostDataError(f"cannot read pci.ids: {exc.strerror}", path=str(path)) from None
    try:
        # One read of a regular file's size (+1 to see it grow); a pipe or device in chunks.
        size = os.fstat(fd).st_size
        chunks: list[bytes] = []
        total = 0
        while total <= MAX_PCI_IDS_BYTES:
            chunk = os.read(fd, min(size + 1, MAX_PCI_IDS_BYTES + 1) if size and not chunks else 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise HostDataError(f"cannot read pci.ids: {exc.strerror}", path=str(path)) from None
    finally:
        os.close(fd)
    if total > MAX_PCI_IDS_BYTES:
        raise HostDataError(f"not a pci.ids file: more than {MAX_PCI_IDS_BYTES // (1 << 20)} MiB",
                            path=str(path), fix="give the names database (e.g. /usr/share/hwdata/pci.ids)")
    data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if b"\0" in data:
        raise HostDataError("not a pci.ids file: binary data", path=str(path),
                            fix="give the names database (e.g. /usr/share/hwdata/pci.ids)")
    return data


class PciIds:
    """Names for PCI ids. An empty database answers None to everything."""

    def __init__(self, data: bytes = b"", source: str | None = None) -> None:
        self._data = data
        self.source = source
        """The file the names came from, or None when no database was found."""
        self._vendors: dict[str, tuple[str, int] | None] = {}
        self._devices: dict[tuple[str, str], str | None] = {}
        self._ends: dict[int, tuple[int, int]] = {}
        """Per vendor block: (where it ends, or -1 if not yet known; how far it is known to reach)."""
        self._classes: dict[str, str | None] = {}

    @classmethod
    def load(cls, path: Path) -> PciIds:
        """Load a pci.ids file.

        Raises:
            HostDataError: the file cannot be read or is no pci.ids file.
        """
        try:
            st = os.stat(path)
        except OSError:
            st = None
        if st is None or not stat.S_ISREG(st.st_mode):
            return cls(read_bounded(path), str(path))  # a pipe, or what read_bounded refuses
        key = (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        with _loaded_lock:
            ids = _loaded.get(key)
        if ids is None:
            ids = cls(read_bounded(path), str(path))
            with _loaded_lock:
                _loaded[key] = ids
                while len(_loaded) > _LOADED_KEEP:
                    del _loaded[next(iter(_loaded))]
        return ids

    @classmethod
    def find(cls, paths: HostPaths, explicit: Path | None = None) -> PciIds:
        """The host's pci.ids, else this machine's (names are not host state), else none."""
        if explicit is not None:
            return cls.load(explicit)
        candidates = [paths.under(p) for p in PCI_IDS_LOCATIONS]
        if not paths.is_live:
            # A recorded host carries no names database; this machine's copy names the same ids.
            candidates += [Path(p) for p in PCI_IDS_LOCATIONS]
        for candidate in candidates:
            if candidate.is_file():
                try:
                    return cls.load(candidate)
                except HostDataError:
                    continue
        return cls()

    def _line(self, key: bytes, start: int = 0) -> int:
        """The offset of the first line at or after `start` that begins with `key` + two spaces
        (pci.ids separates ids from names by two spaces), or -1."""
        data = self._data
        if start == 0 and data[:len(key) + 2] == key + b"  ":
            return 0
        # "\n" + id alone is a far faster needle than with the spaces (whose last byte is common).
        needle = b"\n" + key
        pos = data.find(needle, start)
        while pos >= 0 and data[pos + len(needle):pos + len(needle) + 2] != b"  ":
            pos = data.find(needle, pos + 1)
        return pos + 1 if pos >= 0 else -1

    def _last_line(self, key: bytes) -> int:
        """Like _line(), searching from the end of the file."""
        data = self._data
        needle = b"\n" + key
        pos = data.rfind(needle)
        while pos >= 0 and data[pos + len(needle):pos + len(needle) + 2] != b"  ":
            pos = data.rfind(needle, 0, pos)
        if pos < 0 and data[:len(key) + 2] == key + b"  ":
            return 0
        return pos + 1 if pos >= 0 else -1

    def _text(self, start: int) -> str:
        end = self._data.find(b"\n", start)
        return self._data[start:end if end >= 0 else len(self._data)].decode("utf-8", "replace").strip()

    def _vendor_block(self, vendor_id: str) -> tuple[str, int] | None:
        """The vendor's name and where its line ends (its device lines follow)."""
        vid = vendor_id.lower()
        if vid in self._vendors:
            return self._vendors[vid]
        result = None
        key = vid.encode("ascii", "replace")
        if _HEX4.match(key):
            # Vendors are sorted and ids from 1500 up sit in the second half of the file (8086 at
            # 70 %): search those from the end, which scans a third as much.
            start = self._last_line(key) if key >= b"1500" else self._line(key)
            if start >= 0:
                end = self._data.find(b"\n", start)
                result = (self._text(start + 6), end if end >= 0 else len(self._data))
        self._vendors[vid] = result
        return result

    def _in_block(self, line_end: int, at: int) -> bool:
        """Whether offset `at` lies inside the vendor block whose vendor line ends at `line_end`,
        i.e. no top-level line (the next vendor, or the classes) starts in between. Each vendor's
        block is scanned at most once in all, and only as far as the devices asked about."""
        end, checked = self._ends.get(line_end, (-1, line_end))
        if end >= 0:
            return at < end
        if at <= checked:
            return True
        nxt = _BLOCK_END.search(self._data, checked, at)
        if nxt is not None:
            self._ends[line_end] = (nxt.start(), nxt.start())
            return False
        self._ends[line_end] = (-1, at)
        return True

    def vendor(self, vendor_id: str) -> str | None:
        block = self._vendor_block(vendor_id)
        return block[0] if block else None

    def device(self, vendor_id: str, device_id: str) -> str | None:
        key = (vendor_id.lower(), device_id.lower())
        if key in self._devices:
            return self._devices[key]
        name = None
        block = self._vendor_block(vendor_id)
        did = key[1].encode("ascii", "replace")
        if block is not None and _HEX4.match(did):
            # Device lines are "\t<id>  <name>"; subsystem lines ("\t\t...") and comments never match.
            at = self._line(b"\t" + did, block[1])
            if at > 0 and self._in_block(block[1], at - 1):
                name = self._text(at + 7)
        self._devices[key] = name
        return name

    def class_name(self, class_code: str) -> str | None:
        """Name of a class code ("0c04" or "0c0400"): the subclass name, else the base class name."""
        code = class_code.lower()[:4]
        if code in self._classes:
            return self._classes[code]
        name = None
        base, sub = code[:2].encode("ascii", "replace"), code[2:4].encode("ascii", "replace")
        data = self._data
        if _is_hex(base, 2):
            # The class section ends the file, so a search from the end finds a class at once.
            key = b"C " + base + b"  "
            pos = 0 if data.startswith(key) else data.rfind(b"\n" + key) + 1
            if pos > 0 or data.startswith(key):
                line_end = data.find(b"\n", pos)
                line_end = len(data) if line_end < 0 else line_end
                name = data[pos + len(key):line_end].decode("utf-8", "replace").strip() or None
                nxt = data.find(b"\nC ", line_end)
                if _is_hex(sub, 2):
                    # Subclass lines are "\t<id>  <name>" (prog-if lines have two tabs and never match).
                    at = data.find(b"\n\t" + sub + b"  ", line_end, nxt if nxt >= 0 else len(data))
                    if at >= 0:
                        end = data.find(b"\n", at + 1)
                        sub_name = data[at + 6:end if end >= 0 else len(data)].decode("utf-8", "replace").strip()
                        name = sub_name or name
        self._classes[code] = name
        return name

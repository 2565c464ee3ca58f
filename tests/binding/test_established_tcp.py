"""SSH sessions are found from /proc/net/tcp{,6} under the host root (no process walk)."""

from __future__ import annotations

from pathlib import Path

from vfio_tui.core.hostpaths import HostPaths
from vfio_tui.core.usage_net import established_tcp

HEADER = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"


def test_established_connections_are_decoded(tmp_path: Path) -> None:
    net = tmp_path / "proc" / "net"
    net.mkdir(parents=True)
    (net / "tcp").write_text(
        HEADER
        + "   0: 0A0200C0:0016 057100CB:C552 01 00000000:00000000 00:00000000 00000000     0        0 1 1\n"
        + "   1: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1\n"
        + "   2: garbage\n")
    (net / "tcp6").write_text(
        HEADER
        + "   0: B80D0120000000000000000001000000:0016 B80D0120000000000000000002000000:D431 01 0 0 0 0 0 3 1\n"
        + "   1: 0000000000000000FFFF00000A0200C0:0016 0000000000000000FFFF0000057100CB:C553 01 0 0 0 0 0 4 1\n")
    conns = established_tcp(HostPaths(tmp_path))
    assert ("192.0.2.10", 22, "203.0.113.5", 50514) in conns
    assert ("2001:db8::1", 22, "2001:db8::2", 54321) in conns
    assert ("192.0.2.10", 22, "203.0.113.5", 50515) in conns
    assert len(conns) == 3  # the listening socket and the garbage line are not sessions

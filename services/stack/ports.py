"""Which process listens on a port, so a health answer is known to come from our server
and not from a foreign one that already held the port."""

import os
from pathlib import Path

from services.stack.process import session_members


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            # fields[1] is local "ADDR:PORT" in hex, [3] the state (0A = LISTEN), [9] the inode.
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    return inodes


def owns_port(sid: int, port: int) -> bool:
    """Whether a process of our session (or a descendant) listens on `port`."""
    inodes = _listening_inodes(port)
    if not inodes:
        return False
    for pid in session_members(sid):
        try:
            fds = list(Path(f"/proc/{pid}/fd").iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(fd) in inodes:
                    return True
            except OSError:
                continue
    return False

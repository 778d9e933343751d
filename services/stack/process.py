"""Start a server in its own session, remember it by PID file, stop exactly that session.

Each server runs as the leader of a new session (start_new_session=True), so its PID is
also its process group and session id: stopping signals that group and then sweeps
anything left in the session, which catches grandchildren that changed their group.
"""

import json
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Record:
    """What we know about a server we started; persisted next to the PID file."""

    pid: int
    proc_start: str  # /proc start time, so a recycled PID is never mistaken for ours
    started_at: float
    start_seconds: float | None = None
    prepare_seconds: float | None = None
    note: str = ""


def proc_start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # Field 22; the command name in field 2 may contain spaces, so split after its ')'.
    return stat.rsplit(")", 1)[1].split()[19]


# Popen objects of servers this process started: dropping one while the server runs
# would make subprocess warn (ResourceWarning) from its finalizer.
_children: dict[int, subprocess.Popen[bytes]] = {}


def spawn(argv: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path | None = None) -> int:
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            list(argv),
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _children[proc.pid] = proc
    return proc.pid


def reap(pid: int) -> None:
    """Collect our own exited child so it does not linger as a zombie."""
    child = _children.get(pid)
    if child is not None and child.poll() is not None:
        _children.pop(pid, None)


def alive(pid: int) -> bool:
    reap(pid)
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def session_members(sid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is state, [2] process group, [3] session.
        if fields[0] not in ("Z", "X") and (int(fields[2]) == sid or int(fields[3]) == sid):
            members.append(int(entry.name))
    return members


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
    """Whether a process of our session listens on `port`, so a health answer is really ours
    and not from a foreign server that already held the port."""
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


def _signal_all(sid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(sid, sig)
    except ProcessLookupError:
        pass
    for pid in session_members(sid):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def stop(pid: int, timeout: float) -> None:
    """SIGTERM the session we created, SIGKILL whatever is still there after `timeout`."""
    _signal_all(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        reap(pid)
        if not session_members(pid):
            return
        time.sleep(0.1)
    _signal_all(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while session_members(pid) and time.monotonic() < deadline:
        reap(pid)
        time.sleep(0.05)


def tail(log: Path, lines: int = 30) -> str:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return f"(no log at {log})"
    return "\n".join(text.splitlines()[-lines:])


class RecordStore:
    """PID files in <state>/run/<name>.pid plus a JSON record with timings."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir

    def save(self, name: str, record: Record) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / f"{name}.pid").write_text(f"{record.pid}\n")
        (self.run_dir / f"{name}.json").write_text(json.dumps(asdict(record)))

    def load(self, name: str) -> Record | None:
        """The record, only if its process is still the one we started."""
        try:
            record = Record(**json.loads((self.run_dir / f"{name}.json").read_text()))
            pid = int((self.run_dir / f"{name}.pid").read_text())
        except (OSError, ValueError, TypeError):
            return None
        if pid != record.pid or proc_start_time(pid) != record.proc_start or not alive(pid):
            return None
        return record

    def stale_session(self, name: str) -> int | None:
        """A recorded session whose leader died but may have left members behind.

        The kernel does not hand out a PID still in use as a session id, so sweeping
        members of that session cannot hit someone else's processes.
        """
        try:
            record = Record(**json.loads((self.run_dir / f"{name}.json").read_text()))
        except (OSError, ValueError, TypeError):
            return None
        if alive(record.pid) and proc_start_time(record.pid) != record.proc_start:
            return None  # PID recycled by an unrelated process
        return record.pid

    def forget(self, name: str) -> None:
        for suffix in (".pid", ".json"):
            (self.run_dir / f"{name}{suffix}").unlink(missing_ok=True)

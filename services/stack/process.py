"""Start a server in its own session, remember it by PID file, stop exactly that session.

Each server runs as the leader of a new session (start_new_session=True), so its PID is
also its process group and session id. Stopping signals every process of that session
plus their descendants, which catches children that moved to a group or session of
their own (Ray runs each job driver in a new session).
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
    # What the server was started for (Server.config_key); another value means restart it.
    config: str = ""


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


# A restarted server appends to its log, so the traceback of the crash that made it restart
# survives; past this size the log moves to <log>.1 (and .1 to .2, ...), keeping LOG_KEEP.
LOG_MAX_BYTES = 20 * 1024 * 1024
LOG_KEEP = 3


def rotate(log: Path, max_bytes: int = LOG_MAX_BYTES, keep: int = LOG_KEEP) -> None:
    try:
        if log.stat().st_size < max_bytes:
            return
    except FileNotFoundError:
        return
    for i in range(keep - 1, 0, -1):
        older = log.with_name(f"{log.name}.{i}")
        if older.exists():
            older.replace(log.with_name(f"{log.name}.{i + 1}"))
    log.replace(log.with_name(f"{log.name}.1"))


def spawn(argv: Sequence[str], env: Mapping[str, str], log: Path, cwd: Path | None = None) -> int:
    """Start `argv` in a session of its own, appending its output to `log` after a start marker."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
        out.write(f"\n===== {stamp} UTC: starting {Path(argv[0]).name} =====\n".encode())
        out.flush()
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


def _processes() -> dict[int, tuple[int, int, int]]:
    """pid -> (parent, process group, session) of every live (non-zombie) process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[0] not in ("Z", "X"):  # fields: state, ppid, pgrp, session, ...
            table[int(entry.name)] = (int(fields[1]), int(fields[2]), int(fields[3]))
    return table


def session_members(sid: int) -> list[int]:
    """Our session and every descendant of it: Ray starts job drivers in sessions of their own."""
    table = _processes()
    members = {pid for pid, (_, pgrp, session) in table.items() if sid in (pgrp, session)}
    grew = True
    while grew:
        children = {pid for pid, (ppid, _, _) in table.items() if ppid in members} - members
        members |= children
        grew = bool(children)
    return sorted(members)


def _signal(targets: dict[int, str | None], sig: signal.Signals) -> None:
    for pid, started in targets.items():
        if proc_start_time(pid) == started:  # skip a PID recycled since we looked
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass


def _remaining(sid: int, targets: dict[int, str | None]) -> dict[int, str | None]:
    """What is still alive of what we signalled, plus anything new in the session."""
    for pid in session_members(sid):
        targets.setdefault(pid, proc_start_time(pid))
    return {pid: t for pid, t in targets.items() if t is not None and proc_start_time(pid) == t and alive(pid)}


def stop(pid: int, timeout: float) -> None:
    """SIGTERM the session we created (and its descendants), SIGKILL what is left after `timeout`.

    Members are collected before signalling: once a parent dies its children are reparented
    and could no longer be found through it.
    """
    targets = {member: proc_start_time(member) for member in session_members(pid)}
    _signal(targets, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while (targets := _remaining(pid, targets)) and time.monotonic() < deadline:
        time.sleep(0.1)
    _signal(targets, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while _remaining(pid, targets) and time.monotonic() < deadline:
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

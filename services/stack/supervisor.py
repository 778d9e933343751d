"""Bring one server to healthy (reusing a healthy one), report it, or stop it."""

import time
from dataclasses import dataclass
from pathlib import Path

from services.stack import ports, process
from services.stack.config import StackConfig
from services.stack.process import Record, RecordStore
from services.stack.servers.base import Health, Server, StackError


@dataclass
class ServerStatus:
    name: str
    port: int
    pid: int | None
    healthy: bool
    version: str = ""
    detail: str = ""
    note: str = ""
    started_at: float | None = None
    start_seconds: float | None = None
    prepare_seconds: float | None = None
    reused: bool = False


def store(cfg: StackConfig) -> RecordStore:
    return RecordStore(cfg.path("run"))


def log_path(cfg: StackConfig, server: Server) -> Path:
    return cfg.path("logs", f"{server.name}.log")


def _status(server: Server, cfg: StackConfig, record: Record, reused: bool) -> ServerStatus:
    health = server.probe(cfg)
    return ServerStatus(
        name=server.name,
        port=server.port(cfg),
        pid=record.pid,
        healthy=health.ok,
        version=health.version,
        detail=health.detail,
        note=record.note,
        started_at=record.started_at,
        start_seconds=record.start_seconds,
        prepare_seconds=record.prepare_seconds,
        reused=reused,
    )


def _logged(log: Path | None, line: str, offset: int = 0) -> bool:
    """Whether `line` was logged after `offset`: earlier runs' lines in the same log do not count."""
    if log is None or not line:
        return True
    try:
        with open(log, "rb") as f:
            f.seek(offset)
            return line in f.read().decode(errors="replace")
    except OSError:
        return False


def _wait_healthy(
    server: Server, cfg: StackConfig, pid: int, timeout: float, log: Path | None = None, offset: int = 0
) -> str | None:
    """None once healthy (and, for a fresh start, its ready line logged after `offset`), else why not."""
    deadline = time.monotonic() + timeout
    while True:
        if not process.alive(pid):
            return "process exited"
        # Probed only once its ready line is out: Neo4j, probed while it still sets its initial
        # password, locks the user out after repeated authentication failures.
        if _logged(log, server.ready_line, offset):
            health = server.probe(cfg)
        else:
            health = Health(False, detail="starting: ready line not logged yet")
        if health.ok and ports.owns_port(pid, server.port(cfg)):
            return None
        if health.ok:
            health.detail = f"port {server.port(cfg)} answers but is held by a process outside this stack"
        if time.monotonic() > deadline:
            return f"not healthy after {timeout:.0f}s ({health.detail})"
        time.sleep(0.25)


def ensure(server: Server, cfg: StackConfig) -> ServerStatus:
    records = store(cfg)
    record = records.load(server.name)
    if record is not None and record.config != server.config_key(cfg):
        process.stop(record.pid, cfg.stop_timeout)
        record = None
    if record is not None:
        # A server still starting from a concurrent `up` gets the benefit of the doubt.
        if _wait_healthy(server, cfg, record.pid, server.start_timeout(cfg)) is None:
            return _status(server, cfg, record, reused=True)
        process.stop(record.pid, cfg.stop_timeout)
    stop(server, cfg)
    log = log_path(cfg, server)
    began = time.monotonic()
    launch = server.launch(cfg, log)
    prepared = time.monotonic()
    process.rotate(log)
    offset = log.stat().st_size if log.exists() else 0
    pid = process.spawn(launch.argv, launch.env, log, launch.cwd)
    record = Record(
        pid, process.proc_start_time(pid) or "", time.time(), note=launch.note, config=server.config_key(cfg)
    )
    record.prepare_seconds = round(prepared - began, 2)
    records.save(server.name, record)
    failure = _wait_healthy(server, cfg, pid, server.start_timeout(cfg), log, offset)
    if failure is not None:
        process.stop(pid, cfg.stop_timeout)
        records.forget(server.name)
        raise StackError(f"{server.name} failed to start: {failure}; last 30 lines of {log}:\n{process.tail(log)}")
    record.start_seconds = round(time.monotonic() - prepared, 2)
    records.save(server.name, record)
    return _status(server, cfg, record, reused=False)


def report(server: Server, cfg: StackConfig) -> ServerStatus:
    record = store(cfg).load(server.name)
    if record is None:
        return ServerStatus(server.name, server.port(cfg), None, False, detail="not running")
    return _status(server, cfg, record, reused=True)


def stop(server: Server, cfg: StackConfig) -> bool:
    """Stop what we recorded for this server (also a session whose leader died); True if anything ran."""
    records = store(cfg)
    pid = records.stale_session(server.name)
    ran = pid is not None and bool(process.session_members(pid))
    if pid is not None:
        process.stop(pid, cfg.stop_timeout)
        server.after_stop(cfg)
    records.forget(server.name)
    return ran

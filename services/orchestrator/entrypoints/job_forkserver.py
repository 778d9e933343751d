"""The job forkserver: one long-lived process per Ray node that has imported the job driver once,
and forks a child for each job handed to it by entrypoints/job_launch.py.

`python -m services.orchestrator.entrypoints.job_forkserver --socket PATH [--metrics-port N]`
(not through the `conclave` CLI, which would load every house into the Ray image). A child takes the launcher's
standard streams, environment and working directory, so it runs as a cold driver would and
writes to the job's own log. It stops as a cold driver does on SIGTERM when the launcher asks
(Ray stopped the job) or disappears (killed), ends at once if still running STOP_GRACE_S later,
and sends its exit code back last. Stopping the
forkserver leaves the jobs its children run alone.

Ray itself is not imported here, though each job imports it (adapters/llm_metrics_ray.py): Ray
reads its authentication settings once, on import, and a child must use its job's, not these.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import socket
import socketserver
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import typer
from prometheus_client import Counter, Gauge, start_http_server

from services.orchestrator.entrypoints import ray_job
from services.orchestrator.entrypoints.job_launch import LENGTH, SOCKET_ENV
from services.shared.logs import configure

log = logging.getLogger(__name__)
# A stopped job that has not ended this long after its SIGTERM ends at once, as Ray kills a cold
# driver that outlives its stop. A stop can be lost: a SIGTERM that lands before the job's own
# handler, while the event loop runs one of its callbacks, is caught there as a callback's error.
STOP_GRACE_S = 10.0
# Whoever ends the child first, the job or its stop's deadline, reports the code; the other waits.
_ENDING = threading.Lock()
FORKED = Counter("conclave_forkserver_jobs_total", "Job drivers forked by this node's forkserver")


class Forkserver(socketserver.ForkingMixIn, socketserver.UnixStreamServer):
    block_on_close = False  # its children are jobs, not requests: they outlive a stopping server
    max_children = 4096  # admission bounds the jobs; this only bounds the reaping bookkeeping
    # Inherited by every child; a child holding it open would keep a restarted server off the port.
    metrics_listener: socket.socket | None = None

    def process_request(self, request: Any, client_address: Any) -> None:
        # Whatever this process buffered must not end up in a job's log.
        sys.stdout.flush()
        sys.stderr.flush()
        FORKED.inc()
        super().process_request(request, client_address)


class HandOff(socketserver.BaseRequestHandler):
    """Runs in the forked child, which ends here: it never returns to the server's loop."""

    def handle(self) -> None:
        forked_at = time.time()
        assert isinstance(self.server, Forkserver)
        self.server.socket.close()
        if self.server.metrics_listener is not None:
            self.server.metrics_listener.close()
        argv, started_at = adopt(self.request)
        # Until the job's event loop takes SIGTERM over, a stop ends the job here, still reported.
        signal.signal(signal.SIGTERM, stopped_early)
        threading.Thread(target=watch, args=(self.request,), daemon=True).start()
        try:
            code = ray_job.main(argv, ray_job.Start("warm", started_at, forked_at - started_at))
        except StoppedEarly:
            code = ray_job.STOPPED
        end(self.request, code)


def end(conn: socket.socket, code: int) -> NoReturn:
    """Send the launcher the exit code, last, and end the child with it."""
    _ENDING.acquire()  # never released: the process ends while holding it
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        conn.sendall(bytes([code & 0xFF]))
    except OSError:
        pass  # the launcher is gone; Ray has its own view of the job
    os._exit(code)


def adopt(conn: socket.socket) -> tuple[list[str], float]:
    """Become the launcher's process: its streams, environment and working directory."""
    message, fds, _, _ = socket.recv_fds(conn, LENGTH.size, 3)
    if len(message) != LENGTH.size or len(fds) != 3:
        raise ValueError(f"a malformed hand-off: {len(message)} bytes, {len(fds)} descriptors")
    (size,) = LENGTH.unpack(message)
    body = bytearray()
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        if not chunk:
            raise ValueError("the launcher left during its hand-off")
        body += chunk
    header = json.loads(body)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    os.environ.clear()
    os.environ.update(header["env"])
    os.chdir(header["cwd"])
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    return [str(arg) for arg in header["argv"]], float(header["started_at"])


class StoppedEarly(Exception):
    """SIGTERM before the job's own handler was in place."""


def stopped_early(number: int, frame: FrameType | None) -> None:
    raise StoppedEarly


def watch(conn: socket.socket) -> None:
    """A stop byte, or the launcher gone: end the job as Ray ends a cold driver, with SIGTERM,
    and at once if it is still running STOP_GRACE_S later."""
    try:
        conn.recv(1)
    except OSError:
        pass
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(STOP_GRACE_S)
    log.warning("the job outlived its stop by %.0f s; ending it", STOP_GRACE_S)
    end(conn, ray_job.STOPPED)


def serve(path: str, metrics_port: int = 0) -> None:
    """Serve hand-offs on the Unix socket `path` until SIGTERM."""
    # Everything else first: a launcher takes the socket's existence for a ready server, and a stop
    # that comes while starting must still remove the socket.
    signal.signal(signal.SIGTERM, lambda number, frame: sys.exit(0))
    metrics_listener = start_http_server(metrics_port)[0].socket if metrics_port else None
    socket_path = Path(path)
    socket_path.parent.mkdir(parents=True, exist_ok=True)
    socket_path.unlink(missing_ok=True)  # a previous run's, which nobody answers any more
    # A hand-off runs code as this user, so only this user may connect: the socket is created 0600.
    umask = os.umask(0o177)
    try:
        server = Forkserver(str(socket_path), HandOff)
    finally:
        os.umask(umask)
    try:
        server.metrics_listener = metrics_listener
        Gauge("conclave_forkserver_children", "Forked job drivers still running").set_function(
            lambda: len(server.active_children or ())
        )
        # Children share the imported modules' memory pages; a collection would touch (and so copy) them.
        gc.collect()
        gc.freeze()
        log.info("job forkserver ready", extra={"socket": str(socket_path), "metrics_port": metrics_port})
        server.serve_forever()
    finally:
        server.server_close()
        socket_path.unlink(missing_ok=True)


def main(
    socket_path: str = typer.Option(..., "--socket", envvar=SOCKET_ENV, help="the Unix socket to serve"),
    metrics_port: int = typer.Option(0, envvar="FORKSERVER_METRICS_PORT", help="Prometheus metrics (0: none)"),
) -> None:
    """Run this Ray node's job forkserver: warm starts for deliberation job drivers, until SIGTERM."""
    configure("job-forkserver")
    serve(socket_path, metrics_port)


if __name__ == "__main__":
    typer.run(main)

"""The Ray job entrypoint of one deliberation: `python -m services.orchestrator.entrypoints.job_launch <id>`.

A driver started cold spends seconds importing the engine, and with several jobs starting on
one node those imports were most of a job's start (bench/dispatch.py). When
JOB_FORKSERVER_SOCKET names a forkserver on this node (entrypoints/job_forkserver.py), this
process hands it the job's arguments, environment, working directory and standard streams; a
child forked from the already-imported server runs the job, writing to this job's log. This
process stays the driver Ray sees: Ray's stop is passed on to the child, and the child's exit
code is this process's. Without a reachable forkserver it becomes the cold driver (exec), so a
node without one still runs jobs.

Only the standard library here: this module's own start-up is the warm path's whole cost.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import sys
import time
from types import FrameType

SOCKET_ENV = "JOB_FORKSERVER_SOCKET"
COLD_MODULE = "services.orchestrator.entrypoints.ray_job"
STOP = b"T"  # launcher -> child: Ray is stopping the job
LENGTH = struct.Struct("!I")
NO_CODE = 1  # the child died without reporting one (killed, or the forkserver went away)


def connect(path: str) -> socket.socket | None:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as exc:
        sock.close()
        print(f"job forkserver at {path} unreachable ({exc}); starting cold", file=sys.stderr, flush=True)
        return None
    return sock


def hand_off(sock: socket.socket, argv: list[str], started_at: float) -> None:
    header = json.dumps({"argv": argv, "env": dict(os.environ), "cwd": os.getcwd(), "started_at": started_at})
    body = header.encode()
    socket.send_fds(sock, [LENGTH.pack(len(body))], [0, 1, 2])
    sock.sendall(body)


def exit_code(sock: socket.socket) -> int:
    """The child's exit code, sent as its last byte; EOF without one means it died."""
    data = sock.recv(1)
    if data:
        return data[0]
    print("the forked job driver ended without an exit code (killed?)", file=sys.stderr, flush=True)
    return NO_CODE


def main() -> None:
    started_at = time.time()
    path = os.environ.get(SOCKET_ENV, "")
    sock = connect(path) if path else None
    if sock is None:
        os.execv(sys.executable, [sys.executable, "-m", COLD_MODULE, *sys.argv[1:]])
    assert sock is not None

    def stop(signum: int, frame: FrameType | None) -> None:
        try:
            sock.send(STOP)
        except OSError:
            pass  # the child is gone already; its exit code (or EOF) is on the way

    hand_off(sock, sys.argv[1:], started_at)
    # Only now: a stop byte must not land inside the hand-off. Killed before this, the launcher
    # closes the socket, which the child also reads as a stop.
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    sys.exit(exit_code(sock))


if __name__ == "__main__":
    main()

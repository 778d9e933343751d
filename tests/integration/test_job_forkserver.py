"""The job forkserver and its launcher, as Ray runs them: the launcher is the job's driver
process, a child forked from the forkserver does the work with the launcher's streams and
environment, a stop reaches the child, and without a forkserver the launcher starts cold."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.stack.api import StackInfo
from services.stack.config import free_port
from tests.waiting import until_sync

LAUNCH = [sys.executable, "-m", "services.orchestrator.entrypoints.job_launch"]


class Forkserver:
    def __init__(self, tmp: Path, metrics_port: int = 0) -> None:
        self.socket = tmp / "fs.sock"
        self.metrics_port = metrics_port or free_port()
        self.log = (tmp / "forkserver.log").open("a+")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "services.orchestrator.entrypoints.job_forkserver", "--socket", str(self.socket),
             "--metrics-port", str(self.metrics_port)], stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        until_sync(lambda: self.socket.exists() or self.process.poll() is not None, 60, "the forkserver's socket")
        assert self.process.poll() is None, self.output()

    def metric(self, name: str) -> float:
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5).read().decode()
        return next(float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " "))

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(20)
        self.log.close()


@pytest.fixture
def forkserver(tmp_path: Path) -> Iterator[Forkserver]:
    server = Forkserver(tmp_path)
    try:
        yield server
    finally:
        server.stop()
    assert not server.socket.exists(), "a stopped forkserver removes its socket"


def launch(env: dict[str, str], socket_path: Path, deliberation_id: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*LAUNCH, deliberation_id], env={**os.environ, **env, "JOB_FORKSERVER_SOCKET": str(socket_path)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_a_forked_job_runs_with_the_launchers_streams_environment_and_exit_code(
    stack: StackInfo, forkserver: Forkserver
) -> None:
    job = launch(stack.env() | {"LOG_LEVEL": "DEBUG"}, forkserver.socket, "no-such-deliberation")
    _, err = job.communicate(timeout=60)
    assert job.returncode == 2, err  # the driver's own code for an unknown deliberation
    assert "no such deliberation" in err and '"service": "ray-job"' in err
    assert "starting cold" not in err
    assert forkserver.metric("conclave_forkserver_jobs_total") == 1
    assert "no such deliberation" not in forkserver.output(), "the job's log is the launcher's, not the server's"


@pytest.fixture
def silent_nats() -> Iterator[str]:
    """A NATS address that accepts connections and never answers: a job stuck starting."""
    listener = socket.create_server(("127.0.0.1", 0))
    try:
        yield f"nats://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGKILL])
def test_stopping_the_launcher_stops_the_forked_job(
    stack: StackInfo, forkserver: Forkserver, silent_nats: str, stop: signal.Signals
) -> None:
    job = launch(stack.env() | {"NATS_URL": silent_nats}, forkserver.socket, "stuck-deliberation")
    until_sync(lambda: forkserver.metric("conclave_forkserver_children") == 1, 30, "the job's forked child")
    job.send_signal(stop)
    job.wait(30)
    if stop == signal.SIGTERM:
        assert job.returncode == 143, job.stderr.read() if job.stderr else ""  # cancelled as a cold driver is
    # Ray's SIGKILL leaves no launcher to relay anything: the child sees it gone and ends itself.
    until_sync(lambda: forkserver.metric("conclave_forkserver_children") == 0, 30, "the forked child to end")


def test_a_forkserver_restarted_while_its_jobs_run_serves_again_and_leaves_them_alone(
    stack: StackInfo, forkserver: Forkserver, silent_nats: str, tmp_path: Path
) -> None:
    job = launch(stack.env() | {"NATS_URL": silent_nats}, forkserver.socket, "stuck-deliberation")
    until_sync(lambda: forkserver.metric("conclave_forkserver_children") == 1, 30, "the job's forked child")
    forkserver.stop()
    # The running child must not hold the old server's ports: the new one takes them again.
    second = Forkserver(tmp_path, forkserver.metrics_port)
    try:
        assert second.metric("conclave_forkserver_jobs_total") == 0
        assert job.poll() is None, "stopping the forkserver stopped a running job"
        job.send_signal(signal.SIGTERM)
        assert job.wait(30) == 143
    finally:
        second.stop()


def test_without_a_forkserver_the_launcher_starts_the_job_cold(stack: StackInfo, tmp_path: Path) -> None:
    job = launch(stack.env(), tmp_path / "nobody.sock", "no-such-deliberation")
    _, err = job.communicate(timeout=120)
    assert job.returncode == 2, err
    assert "unreachable" in err and "starting cold" in err and "no such deliberation" in err


# A forked child whose SIGTERM is lost (here: ignored), waiting for a stop as HandOff's does.
DEAF_CHILD = """
import signal, socket, sys, threading
from services.orchestrator.entrypoints import job_forkserver
job_forkserver.STOP_GRACE_S = 0.5
signal.signal(signal.SIGTERM, signal.SIG_IGN)
threading.Thread(target=job_forkserver.watch, args=(socket.socket(fileno=int(sys.argv[1])),), daemon=True).start()
print("watching", flush=True)
threading.Event().wait()
"""


@pytest.mark.parametrize("how", ["stop byte", "launcher gone"])
def test_a_job_that_outlives_its_stop_is_ended_with_the_stopped_code(how: str) -> None:
    launcher, child_end = socket.socketpair()
    child = subprocess.Popen([sys.executable, "-c", DEAF_CHILD, str(child_end.fileno())],
                             pass_fds=[child_end.fileno()], stdout=subprocess.PIPE, text=True)
    child_end.close()
    try:
        assert child.stdout is not None and child.stdout.readline() == "watching\n"
        if how == "stop byte":
            launcher.sendall(b"T")
            launcher.settimeout(30)
            assert launcher.recv(1) == bytes([143]), "the launcher hears the stopped code"
        else:
            launcher.close()
        assert child.wait(30) == 143
    finally:
        launcher.close()
        if child.poll() is None:
            child.kill()
            child.wait()

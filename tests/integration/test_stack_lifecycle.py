"""The local stack's lifecycle: healthy after up, up twice harmless, failures carry the log, down cleans."""

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.stack import api, process
from services.stack.api import StackConfig, StackError, StackInfo
from services.stack.config import free_port
from services.stack.servers.nats import Nats
from tests.waiting import until_sync


@pytest.fixture(scope="module")
def private_stack(stack: StackInfo, stack_config: StackConfig) -> tuple[StackInfo, StackConfig]:
    """The session's whole stack, which this tooling started (or found running healthy) for the suite."""
    return stack, stack_config


@pytest.fixture
def held_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_status_reports_every_server_healthy(private_stack: tuple[StackInfo, StackConfig]) -> None:
    stack, stack_config = private_stack
    report = api.status(stack_config)
    kinds = api.SERVERS + api.SERVICES if stack_config.services else api.SERVERS
    expected = {s.name for s in kinds if s.wanted(stack_config)}  # llama only with a real model
    running = {s.name: s for s in report.servers if s.name in expected}
    assert set(running) == expected
    unhealthy = {name: s.detail for name, s in running.items() if not s.healthy}
    assert not unhealthy
    assert all(s.pid and s.version for s in running.values())
    assert set(api.ENV_NAMES) <= set(stack.env())


def test_up_twice_reuses_the_running_servers(private_stack: tuple[StackInfo, StackConfig]) -> None:
    stack, stack_config = private_stack
    # The session may also run a server this configuration does not start (llama, for the real-model tests).
    wanted = {s.name for s in api.SERVERS + api.SERVICES if s.wanted(stack_config)}
    before = {s.name: s.pid for s in api.status(stack_config).servers if s.pid and s.name in wanted}
    again = api.up(stack_config)
    assert again.started == []
    assert {s.name: s.pid for s in again.servers} == before
    assert again.env() == stack.env()


def test_a_server_that_cannot_start_fails_up_with_its_log(tmp_path: Path, held_port: int) -> None:
    cfg = StackConfig.private(tmp_path / "stack", services=False)
    cfg.nats_port = held_port
    try:
        with pytest.raises(StackError) as failure:
            api.up(cfg, only=["nats"])
        assert "nats failed to start" in str(failure.value)
        assert "address already in use" in str(failure.value)
        assert failure.value.started == []
        assert api.status(cfg).servers[0].pid is None  # up cleaned up after itself
    finally:
        api.down(cfg)


def test_a_foreign_server_on_the_port_is_not_mistaken_for_ours(tmp_path: Path) -> None:
    cfg = StackConfig.private(tmp_path / "stack", services=False)
    data = tmp_path / "foreign"
    ports = ["-p", str(cfg.nats_port), "-m", str(cfg.nats_monitor_port)]
    foreign = subprocess.Popen(
        [str(cfg.bin_dir / "nats-server"), "-js", "-sd", str(data), "-a", "127.0.0.1", *ports],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        def foreign_holds_the_port() -> bool:
            assert foreign.poll() is None, "the foreign nats-server exited"
            return Nats().probe(cfg).ok

        until_sync(foreign_holds_the_port, 30, "the foreign server to hold the port first")
        with pytest.raises(StackError, match="address already in use"):
            api.up(cfg, only=["nats"])
        assert foreign.poll() is None  # never ours to stop
    finally:
        api.down(cfg)
        foreign.terminate()
        foreign.wait(timeout=10)


def test_cli_up_exits_non_zero_and_prints_the_log_tail(tmp_path: Path, held_port: int) -> None:
    env = dict(os.environ, CONCLAVE_STACK_DIR=str(tmp_path / "stack"))
    env["CONCLAVE_STACK_NATS_PORT"] = str(held_port)
    env["CONCLAVE_STACK_NATS_MONITOR_PORT"] = str(free_port())
    done = subprocess.run(
        [sys.executable, "-m", "services.stack.cli", "up", "--only", "nats"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert "address already in use" in done.stdout


def test_down_leaves_no_process_behind(tmp_path: Path) -> None:
    """Including a running Ray job, whose driver Ray starts in a session of its own."""
    from ray.job_submission import JobStatus, JobSubmissionClient

    cfg = StackConfig.private(tmp_path / "stack", services=False)
    names = ["nats", "valkey", "ray"]
    before: dict[int, str | None] = {}
    try:
        info = api.up(cfg, only=names)
        assert sorted(info.started) == sorted(names)
        env = info.env()
        jobs = JobSubmissionClient(env["RAY_ADDRESS"], headers={"Authorization": f"Bearer {env['RAY_AUTH_TOKEN']}"})
        job = jobs.submit_job(entrypoint="sleep 600", entrypoint_num_cpus=0.1)
        until_sync(lambda: jobs.get_job_status(job) == JobStatus.RUNNING, 60, "the Ray job to run", 0.2)
        for server in info.servers:
            assert server.pid and process.session_members(server.pid)
            before.update({pid: process.proc_start_time(pid) for pid in process.session_members(server.pid)})
        assert any(b"sleep" in Path(f"/proc/{pid}/cmdline").read_bytes() for pid in before)
    finally:
        stopped = api.down(cfg)
    assert sorted(stopped) == sorted(names)
    left = [pid for pid, started in before.items() if process.proc_start_time(pid) == started and process.alive(pid)]
    assert not left, [Path(f"/proc/{pid}/cmdline").read_bytes()[:80] for pid in left]
    assert not [p for p in (tmp_path / "stack" / "run").iterdir() if p.suffix in (".pid", ".json")]

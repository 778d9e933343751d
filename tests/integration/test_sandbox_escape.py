"""Untrusted code tries to get out of the sandbox; each test fails if it leaks.

Needs bubblewrap, which the fixture installs with the stack's own tooling (apt, as root);
where that is impossible the tests fail with the reason, never skip.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.orchestrator.adapters.sandbox import BwrapSandbox
from services.orchestrator.domain.sandbox import SandboxLimits, SandboxOutcome, SandboxUnavailable
from tests.waiting import until_sync

PROJECT = Path(__file__).resolve().parents[2]




def run(box: BwrapSandbox, source: str, marker: str = "main", **limits: float) -> SandboxOutcome:
    return box.run_python({f"{marker}.py": source}, f"{marker}.py", SandboxLimits(**limits))  # type: ignore[arg-type]


def processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def assert_nothing_left(marker: str) -> None:
    # The kernel tears the PID namespace down asynchronously: a bounded wait, not a timing claim.
    until_sync(lambda: not processes_with(marker), 5, f"no process left behind with {marker!r}", 0.1)


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.setblocking(False)
    yield server
    server.close()


def test_cannot_reach_a_listener_on_the_hosts_loopback(sandbox: BwrapSandbox, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    source = f"""
import json, socket
s = socket.socket(); s.settimeout(2)
try:
    s.connect(("127.0.0.1", {port})); print(json.dumps("connected"))
except OSError as exc:
    print(json.dumps(type(exc).__name__))
"""
    outcome = run(sandbox, source)
    assert outcome.ok, outcome
    assert json.loads(outcome.stdout) == "ConnectionRefusedError"
    with pytest.raises(BlockingIOError):
        listener.accept()


def test_sees_only_its_own_loopback(sandbox: BwrapSandbox) -> None:
    outcome = run(sandbox, "import json, socket; print(json.dumps([n for _, n in socket.if_nameindex()]))")
    assert outcome.ok, outcome
    assert json.loads(outcome.stdout) in ([], ["lo"])


def test_cannot_read_shadow_project_or_stack(sandbox: BwrapSandbox) -> None:
    targets = ["/etc/shadow", "/etc/passwd", str(PROJECT / ".stack"), str(PROJECT / "pyproject.toml"), "/root"]
    source = f"""
import json, os
seen = {{}}
for path in {targets!r}:
    try:
        seen[path] = os.listdir(path) if os.path.isdir(path) else open(path).read()[:100]
    except OSError as exc:
        seen[path] = type(exc).__name__
print(json.dumps(seen))
"""
    outcome = run(sandbox, source)
    assert outcome.ok, outcome
    seen = json.loads(outcome.stdout)
    assert seen == {path: "FileNotFoundError" for path in targets}


def test_sees_no_environment_secrets(sandbox: BwrapSandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = uuid.uuid4().hex
    monkeypatch.setenv("RAY_AUTH_TOKEN", secret)
    monkeypatch.setenv("NEO4J_PASSWORD", secret)
    source = """
import os
print(sorted(os.environ.items()))
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            print(open(f"/proc/{pid}/environ", "rb").read())
        except OSError as exc:
            print(pid, type(exc).__name__)
"""
    outcome = run(sandbox, source)
    assert outcome.ok, outcome
    assert secret not in outcome.stdout
    assert "RAY_AUTH_TOKEN" not in outcome.stdout and "NEO4J_PASSWORD" not in outcome.stdout


def test_writes_only_to_its_scratch_directory(sandbox: BwrapSandbox, tmp_path: Path) -> None:
    targets = ["/escape", "/usr/escape", "/task/escape", "/dev/shm/escape", "/proc/escape", f"{tmp_path}/escape"]
    source = f"""
import json
done = {{}}
for path in {[*targets, "/scratch/ok"]!r}:
    try:
        with open(path, "w") as f:
            f.write("x")
        done[path] = "written"
    except OSError as exc:
        done[path] = type(exc).__name__
print(json.dumps(done))
"""
    outcome = run(sandbox, source)
    assert outcome.ok, outcome
    done = json.loads(outcome.stdout)
    assert done.pop("/scratch/ok") == "written"
    assert all(result != "written" for result in done.values()), done
    assert not (tmp_path / "escape").exists()


def test_fork_bomb_is_contained(sandbox: BwrapSandbox) -> None:
    marker = f"bomb_{uuid.uuid4().hex}"
    source = """
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
"""
    outcome = run(sandbox, source, marker, wall_s=3, processes=16)
    assert not outcome.ok
    assert outcome.killed == "wall time" or outcome.exit_code != 0
    assert_nothing_left(marker)


def test_four_gigabytes_are_refused(sandbox: BwrapSandbox) -> None:
    outcome = run(sandbox, "buffer = bytearray(4 << 30)\nprint(len(buffer))", memory_mb=256)
    assert outcome.exit_code == 1 and "MemoryError" in outcome.stderr, outcome


def test_an_endless_loop_is_killed(sandbox: BwrapSandbox) -> None:
    marker = f"loop_{uuid.uuid4().hex}"
    outcome = run(sandbox, "while True:\n    pass\n", marker, cpu_s=1, wall_s=20)
    assert not outcome.ok
    assert outcome.exit_code == -9 or outcome.exit_code == 137 or outcome.killed == "wall time", outcome
    assert_nothing_left(marker)


def test_a_sleeping_loop_is_killed_at_the_wall_time(sandbox: BwrapSandbox) -> None:
    marker = f"sleep_{uuid.uuid4().hex}"
    outcome = run(sandbox, "import time\nwhile True:\n    time.sleep(1)\n", marker, wall_s=1)
    assert outcome.killed == "wall time" and outcome.exit_code is None
    assert_nothing_left(marker)


def test_a_flood_of_output_is_cut_off(sandbox: BwrapSandbox) -> None:
    marker = f"flood_{uuid.uuid4().hex}"
    source = "import sys\nfor _ in range(1600):\n    sys.stdout.write('x' * 65536)\n"  # 100 MiB
    outcome = run(sandbox, source, marker, output_bytes=1 << 20)
    assert outcome.killed == "output limit" and outcome.truncated
    assert len(outcome.stdout) + len(outcome.stderr) <= 1 << 20
    assert_nothing_left(marker)


def test_no_daemon_outlives_the_run(sandbox: BwrapSandbox) -> None:
    marker = f"daemon_{uuid.uuid4().hex}"
    source = f"""
import os, subprocess, sys
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.closerange(0, 64)
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(600)", "{marker}"])
    os._exit(0)
os.wait()
print("parent done")
"""
    outcome = run(sandbox, source, marker)
    assert outcome.ok and outcome.stdout.strip() == "parent done", outcome
    assert_nothing_left(marker)


def test_no_sandbox_is_reported_not_passed() -> None:
    box = BwrapSandbox(bwrap="/nonexistent/bwrap")
    assert "bwrap" in box.unavailable()
    with pytest.raises(SandboxUnavailable):
        box.run_python({"main.py": "print(1)"}, "main.py")

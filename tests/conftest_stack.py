"""pytest plugin (-p tests.conftest_stack): the session-wide local stack of real servers.

`stack` starts the stack from StackConfig() (env CONCLAVE_STACK_*), reusing servers that
already run healthy. With CONCLAVE_STACK_EXTERNAL=1 it starts nothing and describes the
stack named by NATS_URL, NEO4J_URI, ... instead. A server that cannot start fails the
tests with its log; never a skip.

Several test sessions may share one state dir (e.g. two engineers' runs in one checkout).
Each holds a shared lock on <state>/run/users.lock while it runs; servers a fixture started
are listed in <state>/run/fixture-started, and whichever session ends last stops them. A
stack started by hand (`conclave stack up`) is never stopped by the tests.
"""

import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.stack import api
from services.stack.api import StackConfig, StackError, StackInfo


def external() -> bool:
    return os.environ.get("CONCLAVE_STACK_EXTERNAL") == "1"


def _remember(path: Path, names: list[str]) -> None:
    known = set(path.read_text().split()) if path.exists() else set()
    path.write_text("\n".join(sorted(known | set(names))) + "\n")


def _stop_if_last(cfg: StackConfig, users: Path) -> None:
    started = cfg.path("run", "fixture-started")
    with open(users, "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return  # another session still uses the stack; the last one stops it
        if started.exists():
            api.down(cfg, only=started.read_text().split())
            started.unlink()


@pytest.fixture(scope="session")
def stack_config() -> StackConfig:
    return StackConfig()


@pytest.fixture(scope="session")
def stack(stack_config: StackConfig) -> Iterator[StackInfo]:
    if external():
        try:
            info = StackInfo.from_env(os.environ)
        except StackError as exc:
            pytest.fail(str(exc), pytrace=False)
        yield info
        return
    users = stack_config.path("run", "users.lock")
    users.parent.mkdir(parents=True, exist_ok=True)
    with open(users, "w") as session_lock:
        fcntl.flock(session_lock, fcntl.LOCK_SH)
        try:
            info = api.up(stack_config)
        except StackError as exc:
            _remember(stack_config.path("run", "fixture-started"), exc.started)
            fcntl.flock(session_lock, fcntl.LOCK_UN)
            _stop_if_last(stack_config, users)
            pytest.fail(f"local stack did not start:\n{exc}", pytrace=False)
        _remember(stack_config.path("run", "fixture-started"), info.started)
        try:
            yield info
        finally:
            fcntl.flock(session_lock, fcntl.LOCK_UN)
    _stop_if_last(stack_config, users)

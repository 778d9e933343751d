"""pytest plugin (-p tests.conftest_stack): the session-wide local stack of real servers.

`stack` starts the stack from StackConfig() (env CONCLAVE_STACK_*), reusing servers that
already run healthy, and at the end stops only the ones it started. With
CONCLAVE_STACK_EXTERNAL=1 it starts nothing and describes the stack named by NATS_URL,
NEO4J_URI, ... instead. A server that cannot start fails the tests with its log; never a skip.
"""

import os
from collections.abc import Iterator

import pytest

from services.stack import api
from services.stack.api import StackConfig, StackError, StackInfo


def external() -> bool:
    return os.environ.get("CONCLAVE_STACK_EXTERNAL") == "1"


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
    try:
        info = api.up(stack_config)
    except StackError as exc:
        api.down(stack_config, only=exc.started)
        pytest.fail(f"local stack did not start:\n{exc}", pytrace=False)
    try:
        yield info
    finally:
        if info.started:
            api.down(stack_config, only=info.started)

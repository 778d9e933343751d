"""Fixtures shared by the integration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.orchestrator.adapters.sandbox import BwrapSandbox
from services.stack import api
from services.stack.api import StackConfig
from services.stack.servers import bubblewrap
from services.stack.servers.base import StackError


@pytest.fixture(scope="session")
def spare_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StackConfig]:
    """A second stack on free ports, for tests that stop or wipe its servers. Each test starts what
    it needs (`api.up` reuses a healthy server), so those tests pay for one Neo4j start, not one each."""
    cfg = StackConfig.private(tmp_path_factory.mktemp("spare") / "stack")
    try:
        yield cfg
    finally:
        api.down(cfg)


@pytest.fixture(scope="module")
def sandbox() -> BwrapSandbox:
    """The bubblewrap sandbox, installed if missing; a test that needs it fails without it."""
    try:
        bubblewrap.find_or_install()
    except StackError as exc:
        pytest.fail(f"bubblewrap is not available: {exc}", pytrace=False)
    box = BwrapSandbox()
    assert box.unavailable() == "", box.unavailable()
    return box

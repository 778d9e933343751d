"""Fixtures shared by the integration tests."""

from __future__ import annotations

import pytest

from services.orchestrator.adapters.sandbox import BwrapSandbox
from services.stack.servers import bubblewrap
from services.stack.servers.base import StackError


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

"""Durability is chosen, not inherited: the stack's NATS fsync policy and the duplicate window are settings."""

import pytest
from pydantic import ValidationError

from services.context.settings import ContextSettings
from services.shared.jetstream import stream_config
from services.shared.streams import STREAMS
from services.stack.config import StackConfig
from services.stack.servers.nats import config_text


def test_the_stack_nats_gets_an_explicit_sync_interval() -> None:
    assert StackConfig().nats_sync_interval == "always"
    assert 'sync_interval: "1s"' in config_text(StackConfig(nats_sync_interval="1s").nats_sync_interval)
    for bad in ("never", "1 s", "", "0s", "always; rm"):
        with pytest.raises(ValidationError):
            StackConfig(nats_sync_interval=bad)


def test_the_duplicate_window_is_a_setting_applied_to_every_stream() -> None:
    window = ContextSettings(nats_duplicate_window_s=600).nats_duplicate_window_s
    assert {stream_config(spec, window).duplicate_window for spec in STREAMS} == {600}
    assert {stream_config(spec).duplicate_window for spec in STREAMS} == {120}

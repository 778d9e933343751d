"""Replicas are a setting: every stream and bucket the services create takes NATS_REPLICAS, and
the local stack runs a three-node cluster whose services get every node and three replicas."""

from __future__ import annotations

from pathlib import Path

import nats.errors
import pytest
from nats.js.api import StreamConfig
from nats.js.errors import APIError, BadRequestError
from pydantic import ValidationError

from services.context.settings import ContextSettings
from services.orchestrator.bootstrap import job_env
from services.orchestrator.settings import OrchestratorSettings
from services.shared.jetstream import differs, nats_servers, stream_config
from services.shared.replicas import kv_config, not_ready, when_ready
from services.shared.streams import STREAMS
from services.stack import api
from services.stack.config import StackConfig
from services.stack.servers.nats import Nats, config_text


def test_replicas_default_to_one_and_reach_every_stream_and_bucket() -> None:
    assert ContextSettings().nats_replicas == 1
    three = ContextSettings(nats_replicas=3).nats_replicas
    assert {stream_config(spec, replicas=three).num_replicas for spec in STREAMS} == {3}
    assert kv_config("conclave_open", three).replicas == 3
    assert kv_config("conclave_admission_lease", three, ttl_s=10).ttl == 10
    with pytest.raises(ValidationError):
        ContextSettings(nats_replicas=0)


def test_a_stream_with_another_replica_count_is_updated() -> None:
    wanted = stream_config(STREAMS[0], replicas=3)
    assert differs(stream_config(STREAMS[0], replicas=1), wanted)
    assert not differs(wanted, stream_config(STREAMS[0], replicas=3))
    # A server leaves num_replicas out of a stream it reports with one copy.
    current = StreamConfig.from_response(stream_config(STREAMS[0]).as_dict() | {"num_replicas": None})
    assert not differs(current, stream_config(STREAMS[0], replicas=1))


def test_ray_jobs_open_the_buckets_with_the_same_replicas() -> None:
    assert job_env(OrchestratorSettings(nats_replicas=3))["NATS_REPLICAS"] == "3"


def test_nats_url_may_list_a_clusters_servers() -> None:
    assert nats_servers("nats://a:4222") == ["nats://a:4222"]
    assert nats_servers(" nats://a:4222, nats://b:4222,") == ["nats://a:4222", "nats://b:4222"]
    with pytest.raises(ValueError, match="names no server"):
        nats_servers(" , ")


def test_only_a_cluster_still_electing_is_retried() -> None:
    assert not_ready(nats.errors.TimeoutError())
    assert not_ready(nats.errors.NoRespondersError())
    assert not_ready(APIError(code=503, err_code=10008))
    # Three replicas on a single server never works: said at once, not after a wait.
    assert not not_ready(BadRequestError(code=400, err_code=10074))


async def test_when_ready_retries_then_returns() -> None:
    calls = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise nats.errors.NoRespondersError()
        return "ok"

    assert await when_ready(flaky, within_s=5) == "ok"
    assert len(calls) == 3


def test_the_stack_runs_three_nodes_on_derived_ports(tmp_path: Path) -> None:
    cfg = StackConfig(state_dir=tmp_path, nats_nodes=3)
    assert cfg.nats_node_ports() == [(4222, 8222, 6222), (4223, 8223, 6223), (4224, 8224, 6224)]
    env = api.stack_env(cfg)
    assert env["NATS_URL"] == "nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://127.0.0.1:4224"
    assert env["NATS_REPLICAS"] == "3"
    assert [s.name for s in api.SERVERS if s.family == "nats" and s.wanted(cfg)] == ["nats", "nats-2", "nats-3"]
    single = StackConfig(state_dir=tmp_path)
    assert api.stack_env(single)["NATS_URL"] == "nats://127.0.0.1:4222"
    assert [s.name for s in api.SERVERS if s.family == "nats" and s.wanted(single)] == ["nats"]
    for bad in (2, 5):
        with pytest.raises(ValidationError):
            StackConfig(state_dir=tmp_path, nats_nodes=bad)


def test_cluster_ports_must_not_clash_and_private_ones_are_free(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="clash"):
        StackConfig(state_dir=tmp_path, nats_nodes=3, nats_port=21001, nats_monitor_port=21002)
    cfg = StackConfig.private(tmp_path, nats_nodes=3)
    ports = [p for node in cfg.nats_node_ports() for p in node]
    assert len(set(ports)) == 9


def test_each_node_is_configured_to_route_to_the_others() -> None:
    text = config_text("1s", 2, [6222, 6223, 6224])
    assert 'server_name: "nats-2"' in text
    assert "listen: 127.0.0.1:6223" in text
    assert "nats-route://127.0.0.1:6222, nats-route://127.0.0.1:6223, nats-route://127.0.0.1:6224" in text
    assert "cluster" not in config_text("always")
    cfg = StackConfig(nats_nodes=3)
    # A node started alone is restarted to join the cluster.
    assert Nats(1).config_key(cfg) != Nats(1).config_key(StackConfig())

"""The metrics each service records as it consumes events, caches contexts and tracks deliberations,
read back from prometheus_client's registry without any server."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from types import SimpleNamespace
from typing import Any, cast

import pytest
from prometheus_client import REGISTRY
from redis.exceptions import ConnectionError as RedisConnectionError

from services.context.adapters.service_metrics import timed_write
from services.context.adapters.valkey_cache import ValkeyCache
from services.orchestrator.domain.admission import budget
from services.orchestrator.domain.council import Role
from services.orchestrator.domain.model import DeliberationRequest
from services.orchestrator.domain.tracking import DeliberationRecord, State
from services.orchestrator.entrypoints import metrics as orchestrator_metrics
from services.orchestrator.entrypoints.consumers import take_outcome
from services.orchestrator.queries import QueueView
from services.shared import events
from services.shared.deadletter import DeadLetters
from services.shared.events import utcnow
from services.shared.jetstream import ConsumerSpec, InvalidEvent, process_batch
from tests.fakes import orchestrator_deps


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# -- The shared consumer runner -------------------------------------------------------------------


@dataclass
class Msg:
    subject: str
    data: bytes
    delivered: int = 1
    headers: dict[str, str] | None = None
    acked: bool = False
    naked: bool = False
    termed: bool = False
    seq: int = field(default_factory=lambda: uuid.uuid4().int % 10**9)

    @property
    def metadata(self) -> Any:
        return SimpleNamespace(
            num_delivered=self.delivered, stream="PLANNING_EVENTS", consumer="test",
            sequence=SimpleNamespace(stream=self.seq),
        )

    async def ack(self) -> None:
        self.acked = True

    async def nak(self, delay: float | None = None) -> None:
        self.naked = True

    async def term(self) -> None:
        self.termed = True


class Stream:
    """A JetStream that stores every dead letter (or refuses to)."""

    def __init__(self, accept: bool = True) -> None:
        self.accept = accept
        self.letters: list[tuple[str, bytes]] = []

    async def publish(self, subject: str, data: bytes, headers: dict[str, str] | None = None) -> Any:
        if not self.accept:
            raise ConnectionError("nats away")
        self.letters.append((subject, data))
        return SimpleNamespace(duplicate=False)


def plan(story: str = "S-1") -> bytes:
    return events.PlanApproved(story_id=story, plan_id="P-1", approved_by="me", roles=["DEV"]).to_bytes()


def consumed(consumer: str, outcome: str, subject: str = events.PLAN_APPROVED) -> float:
    return sample("conclave_events_consumed_total", consumer=consumer, subject=subject, outcome=outcome)


def letters(js: Stream) -> DeadLetters:
    return DeadLetters(cast(Any, js), max_inline_bytes=64 * 1024, retry_delay_s=0)


async def test_a_batch_counts_each_message_by_outcome_and_its_size_and_time() -> None:
    spec = ConsumerSpec(durable=f"test-{uuid.uuid4().hex[:8]}", subject="planning.>", stream="PLANNING_EVENTS")
    seen: list[int] = []

    async def handle(batch: list[events.Event]) -> None:
        seen.append(len(batch))

    invalid_before = sample("conclave_dead_letters_total", subject="planning", where="inline", reason="invalid")
    msgs = [Msg(events.PLAN_APPROVED, plan()), Msg(events.PLAN_APPROVED, plan("S-2")),
            Msg(events.PLAN_APPROVED, b"{not json"), Msg("planning.made.up", plan())]
    await process_batch(letters(Stream()), spec, cast(Any, msgs), handle)
    assert seen == [2]
    assert consumed(spec.durable, "handled") == 2
    assert consumed(spec.durable, "dead_lettered") == 1
    # A subject no schema knows is not a label value of its own.
    assert consumed(spec.durable, "dead_lettered", "other") == 1
    assert sample("conclave_consumer_batch_messages_count", consumer=spec.durable) == 1
    assert sample("conclave_consumer_batch_messages_sum", consumer=spec.durable) == 4
    assert sample("conclave_consumer_batch_seconds_count", consumer=spec.durable) == 1
    after = sample("conclave_dead_letters_total", subject="planning", where="inline", reason="invalid")
    assert after == invalid_before + 2


async def test_failures_count_as_retried_until_deliveries_run_out() -> None:
    spec = ConsumerSpec(durable=f"test-{uuid.uuid4().hex[:8]}", subject="planning.>", stream="PLANNING_EVENTS",
                        max_deliver=3)

    async def handle(batch: list[events.Event]) -> None:
        raise RuntimeError("neo4j away")

    exhausted = sample("conclave_dead_letters_total", subject="planning", where="inline", reason="exhausted")
    await process_batch(letters(Stream()), spec, cast(Any, [Msg(events.PLAN_APPROVED, plan(), delivered=1)]), handle)
    assert consumed(spec.durable, "retried") == 1
    last = Msg(events.PLAN_APPROVED, plan(), delivered=3)
    await process_batch(letters(Stream()), spec, cast(Any, [last]), handle)
    assert last.termed and consumed(spec.durable, "dead_lettered") == 1
    assert sample("conclave_dead_letters_total", subject="planning", where="inline", reason="exhausted") == (
        exhausted + 1
    )
    # A letter that cannot be stored leaves the message for a retry, and says so.
    unstored = Msg(events.PLAN_APPROVED, plan(), delivered=3)
    await process_batch(letters(Stream(accept=False)), spec, cast(Any, [unstored]), handle)
    assert unstored.naked and consumed(spec.durable, "retried") == 2


async def test_an_event_the_handler_rejects_is_dead_lettered_as_invalid() -> None:
    spec = ConsumerSpec(durable=f"test-{uuid.uuid4().hex[:8]}", subject="planning.>", stream="PLANNING_EVENTS")

    async def handle(batch: list[events.Event]) -> None:
        raise InvalidEvent("no story")

    await process_batch(letters(Stream()), spec, cast(Any, [Msg(events.PLAN_APPROVED, plan())]), handle)
    assert consumed(spec.durable, "dead_lettered") == 1


# -- Context: the ValKey cache and the graph writes --------------------------------------------------


class Redis:
    """Just enough of redis.asyncio for ValkeyCache: a dict, or an outage."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise RedisConnectionError("valkey away")

    def register_script(self, _source: str) -> Any:
        async def read(keys: list[str], args: list[str]) -> list[Any]:
            self._check()
            token = self.data.setdefault(keys[0], args[2].encode())
            return [token, self.data.get(f"{args[0]}{token.decode()}{args[1]}")]

        return read

    async def set(self, key: str, value: bytes, ex: int = 0) -> None:
        self._check()
        self.data[key] = value

    async def mset(self, mapping: dict[str, str]) -> None:
        self._check()
        self.data.update({k: v.encode() for k, v in mapping.items()})


def cache_counts() -> tuple[float, float, float, float, float]:
    return (
        sample("conclave_context_cache_hits_total"),
        sample("conclave_context_cache_misses_total", reason="absent"),
        sample("conclave_context_cache_misses_total", reason="unavailable"),
        sample("conclave_context_cache_invalidations_total", outcome="written"),
        sample("conclave_context_cache_invalidations_total", outcome="deferred"),
    )


async def test_cache_counts_hits_misses_and_invalidations() -> None:
    client = Redis()
    cache = ValkeyCache(cast(Any, client), ttl_s=60, retry_after_s=60)
    before = cache_counts()
    first = await cache.get("S-1", "DEV")
    assert first is not None and first[1] is None
    await cache.put("S-1", "DEV", first[0], b"ctx")
    assert await cache.get("S-1", "DEV") == (first[0], b"ctx")
    assert await cache.invalidate({"S-1": 3, "S-2": 1})
    client.down = True
    assert await cache.get("S-1", "DEV") is None
    assert not await cache.invalidate(["S-3"])
    assert await cache.get("S-1", "DEV") is None, "a cache that is down is bypassed"
    deltas = tuple(a - b for a, b in zip(cache_counts(), before, strict=True))
    assert deltas == (1, 1, 2, 2, 1)


async def test_graph_writes_are_timed_by_operation_and_outcome() -> None:
    @timed_write
    async def record_things(fail: bool) -> int:
        if fail:
            raise RuntimeError("neo4j away")
        return 1

    assert await record_things(False) == 1
    with pytest.raises(RuntimeError):
        await record_things(True)
    for outcome in ("ok", "error"):
        labels = {"operation": "record_things", "outcome": outcome}
        assert sample("conclave_context_graph_write_seconds_count", **labels) == 1


# -- Orchestrator: deliberations by state and the time to a decision ---------------------------------


def record(role: Role = Role.QA) -> DeliberationRecord:
    did = f"dlb-test-{uuid.uuid4().hex[:12]}"
    return DeliberationRecord(deliberation_id=did, role=role, story_id="S-1", plan_id="P-1",
                              request=DeliberationRequest(task="t", role=role, deliberation_id=did))


def about(r: DeliberationRecord) -> dict[str, Any]:
    return {"deliberation_id": r.deliberation_id, "story_id": r.story_id, "plan_id": r.plan_id, "role": r.role}


async def test_outcome_events_count_transitions_and_time_the_decision() -> None:
    deps = orchestrator_deps(Role.QA)
    queued = record().model_copy(update={"state": State.QUEUED, "created_at": utcnow() - timedelta(minutes=10)})
    await deps.deliberations.create(queued)

    def transitions(state: str) -> float:
        return sample("conclave_deliberation_transitions_total", state=state, role="QA")

    def decisions() -> tuple[float, float]:
        labels = {"role": "QA"}
        return (sample("conclave_deliberation_time_to_decision_seconds_count", **labels),
                sample("conclave_deliberation_time_to_decision_seconds_sum", **labels))

    started, completed, (count, total) = transitions("RUNNING"), transitions("COMPLETED"), decisions()
    await take_outcome(deps, events.DeliberationStarted(**about(queued)))
    winner = events.CandidateSummary(agent_id="a", rank=1, score=1.0, proposal="p")
    await take_outcome(deps, events.DeliberationCompleted(**about(queued), winner=winner, candidates=[winner]))
    assert (transitions("RUNNING"), transitions("COMPLETED")) == (started + 1, completed + 1)
    stored = await deps.deliberations.get(queued.deliberation_id)
    assert stored is not None and stored.state == State.COMPLETED
    new_count, new_total = decisions()
    assert new_count == count + 1
    assert 600 <= new_total - total < 660


def test_open_deliberations_are_exported_by_state() -> None:
    at = utcnow()
    open_ = [record().model_copy(update={"state": s}) for s in (State.QUEUED, State.QUEUED, State.RUNNING)]
    orchestrator_metrics.observe(QueueView(open_, at), budget(16, 4))
    assert sample("conclave_deliberations_open", state="QUEUED") == 2
    assert sample("conclave_deliberations_open", state="PENDING") == 0
    assert sample("conclave_deliberations_open", state="RUNNING") == 1
    assert sample("conclave_deliberations_queued") == 2


async def test_the_model_server_probe_sets_ready_and_reachable() -> None:
    status = await orchestrator_deps().llm.probe()
    orchestrator_metrics.model_server(status)
    assert (sample("conclave_model_server_ready"), sample("conclave_model_server_reachable")) == (1, 1)
    orchestrator_metrics.model_server(status.model_copy(update={"ready": False, "models": []}))
    assert (sample("conclave_model_server_ready"), sample("conclave_model_server_reachable")) == (0, 1)

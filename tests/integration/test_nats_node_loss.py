"""Lose a NATS node, lose nothing: a three-node JetStream cluster keeps three copies of every
stream and bucket (NATS_REPLICAS=3), and the node leading what the services use is killed with
SIGKILL while they use it.

The cluster and a Context service run in a stack of their own on free ports; that Context
service writes to the session stack's Neo4j and ValKey (a second Neo4j would cost the suite
most of a minute to start), and the assertions read only this run's stories.
The Orchestrator's part runs in this process: its real composition root and handlers over the
cluster, with only Ray replaced by the recording fake (no Ray job runs here; Ray has its own tests).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from nats.aio.client import Client as NATS
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.client import JetStreamContext
from neo4j import AsyncGraphDatabase

from services.orchestrator import bootstrap as orchestrator
from services.orchestrator import handlers
from services.orchestrator.domain.council import Role
from services.orchestrator.domain.tracking import deliberation_id
from services.orchestrator.settings import OrchestratorSettings
from services.shared import events, jetstream, replicas
from services.shared.deadletter import DeadLetters
from services.shared.replicas import key_value, kv_config
from services.shared.streams import StreamSpec
from services.stack import api
from services.stack.api import StackConfig
from services.stack.servers.nats import placements
from tests.fakes import FakeJobs
from tests.integration.hostile_support import health
from tests.waiting import until

OWN = ["nats", "context"]
PLANS = 2000
DISPATCHED_PLANS = 40
ROLES = [Role.DEV, Role.QA, Role.DEVOPS]


@pytest.fixture(scope="module")
def cluster(
    tmp_path_factory: pytest.TempPathFactory, stack: api.StackInfo, stack_config: StackConfig
) -> Iterator[StackConfig]:
    shared = {name: getattr(stack_config, name)
              for name in ("neo4j_bolt_port", "neo4j_user", "neo4j_password", "valkey_port")}
    cfg = StackConfig.private(Path(tmp_path_factory.mktemp("nats-cluster")) / "stack", nats_nodes=3, **shared)
    try:
        api.up(cfg, only=OWN)
        yield cfg
    finally:
        api.down(cfg, only=OWN)


@pytest.fixture
async def js(cluster: StackConfig) -> AsyncIterator[JetStreamContext]:
    nc: NATS = await jetstream.connect(api.stack_env(cluster)["NATS_URL"], "node-loss-test")
    try:
        yield nc.jetstream()
    finally:
        await nc.close()


def pid_of(cfg: StackConfig, name: str) -> int:
    [server] = [s for s in api.status(cfg).servers if s.name == name]
    assert server.pid, f"{name} is not running"
    return server.pid


async def leader_of(cfg: StackConfig, stream: str) -> str:
    async def leader() -> str:
        found = {p.stream: p for p in await asyncio.to_thread(placements, cfg)}
        return found[stream].leader if stream in found else ""

    return await until(leader, 30, f"a leader for {stream}", 0.25)


async def kill_then_restart(cfg: StackConfig, node: str, stream: str) -> None:
    """SIGKILL; once the others have elected a new leader of the stream, the stack starts the
    killed node again on the same store."""
    os.kill(pid_of(cfg, node), signal.SIGKILL)

    async def new_leader() -> bool:
        return (await leader_of(cfg, stream)) not in ("", node)

    await until(new_leader, 60, f"a leader of {stream} other than {node}", 0.25)
    await asyncio.to_thread(api.up, cfg, [node])


async def caught_up(cfg: StackConfig, stream: str, node: str) -> None:
    async def current() -> bool:
        found = {p.stream: p for p in await asyncio.to_thread(placements, cfg)}
        return found[stream].replicas.get(node) in ("current", "leader")

    await until(current, 60, f"{node} to be a current replica of {stream} again", 0.5)


class Readiness:
    """Polls a service's readiness all along and keeps the longest stretch it was not SERVING."""

    def __init__(self, addr: str) -> None:
        self.addr = addr
        self.longest_down_s = 0.0
        self.polls = 0
        self._task: asyncio.Task[None] | None = None

    async def _watch(self) -> None:
        down_since: float | None = None
        while True:
            status = await health(self.addr)
            self.polls += 1
            now = time.monotonic()
            if status != "SERVING":
                down_since = down_since or now
                self.longest_down_s = max(self.longest_down_s, now - down_since)
            else:
                down_since = None
            await asyncio.sleep(0.1)

    def __enter__(self) -> Readiness:
        self._task = asyncio.create_task(self._watch())
        return self

    def __exit__(self, *_: object) -> None:
        assert self._task is not None
        self._task.cancel()


async def test_an_existing_single_copy_stream_and_buckets_get_three_in_place(js: JetStreamContext) -> None:
    tag = uuid.uuid4().hex[:8]
    spec = StreamSpec(name=f"R1_{tag}", subjects=(f"r1.{tag}.>",), max_age_s=3600)
    await jetstream.ensure_streams(js, [spec], replicas=1)
    await js.publish(f"r1.{tag}.kept", b"before")
    kv = await key_value(js, kv_config(f"r1_{tag}", 1))
    await kv.put("k", b"v")
    letters = DeadLetters(js, 1024, replicas=1)
    await letters._bucket()
    assert (await js.stream_info(spec.name)).config.num_replicas == 1

    await jetstream.ensure_streams(js, [spec], replicas=3)
    kv = await key_value(js, kv_config(f"r1_{tag}", 3))
    letters = DeadLetters(js, 1024, replicas=3)
    await letters._bucket()
    for stream in (spec.name, f"KV_r1_{tag}", "OBJ_DEAD_LETTER_PAYLOADS"):
        assert (await js.stream_info(stream)).config.num_replicas == 3, stream
        await until(lambda stream=stream: _two_current_followers(js, stream), 30, f"{stream} on three nodes", 0.2)
    assert (await js.stream_info(spec.name)).state.messages == 1, "the update kept the stream's messages"
    assert (await kv.get("k")).value == b"v"
    await jetstream.ensure_streams(js, [spec], replicas=3)  # idempotent
    await js.delete_stream(spec.name)
    await js.delete_key_value(f"r1_{tag}")


async def _two_current_followers(js: JetStreamContext, stream: str) -> bool:
    cluster = (await js.stream_info(stream)).cluster
    return cluster is not None and sum(bool(peer.current) for peer in cluster.replicas or []) == 2


async def graph_count(cfg: StackConfig, run: str) -> tuple[int, int]:
    env = api.stack_env(cfg)
    async with AsyncGraphDatabase.driver(env["NEO4J_URI"], auth=(env["NEO4J_USER"], env["NEO4J_PASSWORD"])) as driver:
        records, _, _ = await driver.execute_query(
            "MATCH (a:PlanApproval) WHERE a.story_id STARTS WITH $run "
            "RETURN count(a) AS n, count(DISTINCT a.event_id) AS distinct_ids",
            run=f"{run}-",
        )
    return int(records[0]["n"]), int(records[0]["distinct_ids"])


def plans(run: str, n: int, roles: list[Role] | None = None) -> list[events.PlanApproved]:
    return [
        events.PlanApproved(
            story_id=f"{run}-s{i}", plan_id=f"{run}-p{i}", approved_by="node-loss",
            roles=[r.value for r in roles or [Role.DEV]], title=f"Story {i}",
        )
        for i in range(n)
    ]  # fmt: skip


async def publish_all(js: JetStreamContext, batch: list[events.PlanApproved]) -> None:
    for start in range(0, len(batch), 200):
        await asyncio.gather(*(jetstream.publish(js, e) for e in batch[start : start + 200]))


async def test_losing_the_planning_leader_mid_ingest_loses_and_repeats_nothing(
    cluster: StackConfig, js: JetStreamContext
) -> None:
    began = time.monotonic()
    run = f"loss-{uuid.uuid4().hex[:8]}"
    stored_before = (await js.stream_info("PLANNING_EVENTS")).state.messages
    letters_before = (await js.stream_info("DEAD_LETTERS")).state.messages
    context = pid_of(cluster, "context")
    leader = await leader_of(cluster, "PLANNING_EVENTS")
    batch = plans(run, PLANS)
    with Readiness(f"127.0.0.1:{cluster.context_grpc_port}") as readiness:
        await publish_all(js, batch[: PLANS // 3])
        await until(lambda: _some(cluster, run), 60, "the Context service to be ingesting", 0.2)
        # The leader dies mid-ingest, and while the rest is being published.
        await asyncio.gather(
            kill_then_restart(cluster, leader, "PLANNING_EVENTS"), publish_all(js, batch[PLANS // 3 :])
        )
        counts = await until(lambda: _all(cluster, run), 120, f"{PLANS} approvals in the graph", 0.5)
        await caught_up(cluster, "PLANNING_EVENTS", leader)
    assert counts == (PLANS, PLANS), "each event recorded exactly once"
    assert (await js.stream_info("PLANNING_EVENTS")).state.messages - stored_before == PLANS, "no event stored twice"
    assert (await js.stream_info("DEAD_LETTERS")).state.messages == letters_before, "nothing dead-lettered"
    assert pid_of(cluster, "context") == context, "the Context service failed over without a restart"
    assert await health(f"127.0.0.1:{cluster.context_grpc_port}") == "SERVING"
    print(
        f"\nnode loss mid-ingest: killed {leader}, leader of PLANNING_EVENTS; {PLANS} events; "
        f"longest NOT_SERVING {readiness.longest_down_s:.2f}s over {readiness.polls} polls; "
        f"{time.monotonic() - began:.1f}s"
    )


async def _some(cfg: StackConfig, run: str) -> bool:
    return (await graph_count(cfg, run))[0] > 0


async def _all(cfg: StackConfig, run: str) -> tuple[int, int] | None:
    counts = await graph_count(cfg, run)
    return counts if counts[0] >= PLANS else None


async def consumer_led(js: JetStreamContext, durable: str) -> bool:
    """Whether the PLANNING_EVENTS consumer `durable` has a leader (False while one is elected)."""
    try:
        info = await js.consumer_info("PLANNING_EVENTS", durable)
    except Exception as exc:
        if replicas.not_ready(exc):
            return False
        raise
    return bool(info.cluster and info.cluster.leader)


async def test_losing_the_deliberations_leader_mid_dispatch_loses_and_repeats_nothing(
    cluster: StackConfig, js: JetStreamContext
) -> None:
    began = time.monotonic()
    run = f"dispatch-{uuid.uuid4().hex[:8]}"
    env = api.stack_env(cluster)
    settings = OrchestratorSettings(nats_url=env["NATS_URL"], nats_replicas=3, context_addr=env["CONTEXT_ADDR"])
    app = await orchestrator.bootstrap(settings)
    jobs = FakeJobs()
    deps = dataclasses.replace(app.deps, jobs=jobs)
    durable = f"node-loss-{run}"
    # The Orchestrator's plan consumer, on a durable of its own that sees only this run's plans.
    spec = jetstream.ConsumerSpec(
        durable=durable, subject=events.PLAN_APPROVED, stream="PLANNING_EVENTS", batch_size=16,
        max_deliver=20, backoff_s=(0.5, 1.0, 2.0),
    )  # fmt: skip
    await js.add_consumer("PLANNING_EVENTS", ConsumerConfig(
        durable_name=durable, ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.NEW,
        filter_subject=events.PLAN_APPROVED, max_deliver=spec.max_deliver, ack_wait=10,
    ))  # fmt: skip
    batch = plans(run, DISPATCHED_PLANS, ROLES)
    wanted = {deliberation_id(p.story_id, p.plan_id, p.plan_version, r) for p in batch for r in ROLES}
    await publish_all(js, batch)
    leader = await leader_of(cluster, "KV_conclave_deliberations")
    handled: set[str] = set()

    async def dispatch(got: list[events.Event]) -> None:
        for event in got:
            assert isinstance(event, events.PlanApproved)
            if event.story_id.startswith(f"{run}-"):
                await handlers.dispatch_plan(deps, event)
                handled.add(event.event_id)

    async def consume(stop: asyncio.Event) -> None:
        sub = await js.pull_subscribe_bind(durable, "PLANNING_EVENTS")
        letters = DeadLetters(js, 64 * 1024, replicas=3)
        while not stop.is_set():
            try:
                msgs = await sub.fetch(spec.batch_size, timeout=1)
            except TimeoutError:
                continue
            except Exception as exc:
                # A fetch fails while the cluster elects the consumer's leader; the service's
                # supervisor restarts its loop, and this stand-in waits for the new leader.
                if not replicas.not_ready(exc):
                    raise
                await until(lambda: consumer_led(js, durable), 30, f"a leader for consumer {durable}", 0.2)
                continue
            await jetstream.process_batch(letters, spec, msgs, dispatch)

    stop = asyncio.Event()
    loop = asyncio.create_task(consume(stop))
    try:
        await until(lambda: len(handled) >= DISPATCHED_PLANS // 3, 60, "dispatch to be under way", 0.05)
        await kill_then_restart(cluster, leader, "KV_conclave_deliberations")
        await until(lambda: len(handled) >= DISPATCHED_PLANS, 120, "every plan dispatched", 0.2)
    finally:
        stop.set()
        await asyncio.wait_for(loop, 30)
    records = {did: await deps.deliberations.get(did) for did in wanted}
    assert [did for did, record in records.items() if record is None] == [], "a deliberation was lost"
    open_ids = {r.deliberation_id for r in await deps.deliberations.records_in_open_index()}
    assert wanted <= open_ids, "a queued deliberation fell out of the open index"
    queued = await announced(js, events.DELIBERATION_QUEUED, wanted)
    assert sorted(queued) == sorted(wanted), "each deliberation announced queued exactly once"
    admitted = {did for did, record in records.items() if record and record.admitted}
    assert admitted == set(jobs.submitted), "every admitted deliberation has its job, and no other"
    await caught_up(cluster, "KV_conclave_deliberations", leader)
    await js.delete_consumer("PLANNING_EVENTS", durable)
    await app.close()
    print(
        f"\nnode loss mid-dispatch: killed {leader}, leader of KV_conclave_deliberations; "
        f"{len(wanted)} deliberations; {time.monotonic() - began:.1f}s"
    )


async def announced(js: JetStreamContext, subject: str, ids: set[str]) -> list[str]:
    """The deliberation ids of every `subject` event stored for these deliberations, repeats included."""
    sub = await js.pull_subscribe(subject, stream="ORCHESTRATION_EVENTS", config=ConsumerConfig(
        ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=30,
    ))  # fmt: skip
    found: list[str] = []
    try:
        while True:
            try:
                msgs = await sub.fetch(500, timeout=2)
            except TimeoutError:
                return found
            found += [d for m in msgs if (d := json.loads(m.data)["deliberation_id"]) in ids]
    finally:
        await sub.unsubscribe()

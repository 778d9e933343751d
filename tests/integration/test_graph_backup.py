"""`conclave graph export` then `import` gives back the same graph, on a real Neo4j.

The graph is written by the Context service's own handlers (plans, transitions, a decision, an
UpdateContext), plus nodes with the values and names a generic export must carry. It lives in the
spare stack's Neo4j (started by the stack's tooling), so wiping it disturbs no other test or service.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from neo4j import AsyncDriver

from services.context import commands, ingest
from services.context.adapters.graph_backup import BackupError, import_graph
from services.context.domain.model import DecisionInput
from services.shared.events import CandidateSummary, DeliberationCompleted, ReviewSummary, StoryTransitioned
from services.stack.api import StackConfig, StackInfo, up
from tests.integration.context_support import LiveContext, start_live
from tests.integration.test_context_ingest import plan_event

CONCLAVE = str(Path(sys.executable).parent / "conclave")


@pytest.fixture(scope="module")
def private_neo4j(spare_stack: StackConfig) -> StackConfig:
    up(spare_stack, ["neo4j"])
    return spare_stack


@pytest.fixture(scope="module")
async def live(stack: StackInfo, private_neo4j: StackConfig) -> AsyncIterator[LiveContext]:
    ctx = await start_live(stack.env(), consumers=False, neo4j_uri=f"bolt://127.0.0.1:{private_neo4j.neo4j_bolt_port}")
    yield ctx
    await ctx.close()


async def write_representative_graph(live: LiveContext) -> list[str]:
    deps = live.app.deps
    stories = ["backup-s1", "backup-s2"]
    await ingest.record_plan_approved_batch(deps, [plan_event(s) for s in stories])
    await ingest.record_transition_batch(
        deps, [StoryTransitioned(story_id="backup-s1", from_phase="DESIGN", to_phase="BUILD")]
    )
    winner = CandidateSummary(
        agent_id="agent-1", rank=1, score=0.91, proposal="Use an outbox table",
        reviews=[ReviewSummary(reviewer="agent-2", critique="solid")],
    )  # fmt: skip
    done = DeliberationCompleted(
        deliberation_id="backup-s1-delib", story_id="backup-s1", plan_id="backup-s1-plan", role="DEV",
        winner=winner, candidates=[winner, CandidateSummary(agent_id="agent-2", rank=2, score=0.5, proposal="Dual")],
    )  # fmt: skip
    await ingest.record_deliberation_outcome_batch(deps, [done])
    decision = DecisionInput(decision_id="backup-d1", title="Cache", rationale="Latency", decided_by="alice")
    await commands.update_context(deps, "backup-s2", [decision], ["API frozen"], "Two services, one cache")
    # What a generic export must carry beyond the service's own shapes: temporal and byte values,
    # nested lists, names that need quoting, a node with no properties, a self-loop.
    await live.app.graph.driver.execute_query(
        """
        CREATE (a:`Odd Label`:Extra {when: datetime('2025-01-02T03:04:05.123456789+01:00'),
                                     day: date('2025-01-02'), blob: $blob, floats: [1.5, -0.0, 1e300],
                                     flags: [true, false], n: 9007199254740993})
        CREATE (b:Bare)
        CREATE (a)-[:`WEIRD type`{weight: 0.25, tags: ['x', 'y']}]->(b)
        CREATE (b)-[:SELF]->(b)
        """,
        blob=b"\x00\xffbackup",
    )
    return stories


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=repr)


async def snapshot(driver: AsyncDriver) -> tuple[Counter[str], Counter[str]]:
    """The whole graph by content: nodes as (labels, properties), relationships as (start, type, properties, end)."""
    nodes, _, _ = await driver.execute_query(
        "MATCH (n) RETURN elementId(n) AS id, labels(n) AS labels, properties(n) AS props"
    )
    content = {r["id"]: canonical([sorted(r["labels"]), r["props"]]) for r in nodes}
    rels, _, _ = await driver.execute_query(
        "MATCH (a)-[r]->(b) RETURN elementId(a) AS a, type(r) AS type, properties(r) AS props, elementId(b) AS b"
    )
    return Counter(content.values()), Counter(
        canonical([content[r["a"]], r["type"], r["props"], content[r["b"]]]) for r in rels
    )


async def conclave(cfg: StackConfig, *args: str) -> tuple[int, str]:
    env = os.environ | {
        "NEO4J_URI": f"bolt://127.0.0.1:{cfg.neo4j_bolt_port}",
        "NEO4J_USER": cfg.neo4j_user,
        "NEO4J_PASSWORD": cfg.neo4j_password,
    }
    proc = await asyncio.create_subprocess_exec(
        CONCLAVE, *args, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 120)
    return proc.returncode or 0, out.decode()


def listed(folder: Path, pattern: str) -> list[Path]:
    return list(folder.glob(pattern))


def without_last_line(source: Path, target: Path) -> Path:
    target.write_text("".join(source.read_text().splitlines(keepends=True)[:-1]))
    return target


async def test_export_wipe_import_gives_back_the_same_graph(
    live: LiveContext, private_neo4j: StackConfig, tmp_path: Path
) -> None:
    driver = live.app.graph.driver
    stories = await write_representative_graph(live)
    before = await snapshot(driver)
    contexts = [await live.app.graph.load_context(s) for s in stories]
    assert sum(before[0].values()) >= 20 and sum(before[1].values()) >= 20, "a graph worth restoring"

    code, out = await conclave(private_neo4j, "graph", "export", str(tmp_path), "--keep", "3")
    assert code == 0, out
    (backup,) = listed(tmp_path, "graph-*.jsonl")
    assert listed(tmp_path, "*.partial") == []
    assert f"exported {sum(before[0].values())} nodes and {sum(before[1].values())} relationships" in out

    with pytest.raises(BackupError, match="import needs an empty one"):
        await import_graph(driver, backup)  # a restore never merges into a live graph

    await driver.execute_query("MATCH (n) DETACH DELETE n")
    assert await snapshot(driver) == (Counter(), Counter())
    with pytest.raises(BackupError, match="incomplete"):
        await import_graph(driver, without_last_line(backup, tmp_path / "truncated.jsonl"))
    assert await snapshot(driver) == (Counter(), Counter()), "a refused file writes nothing"

    code, out = await conclave(private_neo4j, "graph", "import", str(backup))
    assert code == 0, out
    assert await snapshot(driver) == before
    assert [await live.app.graph.load_context(s) for s in stories] == contexts
    labels, _, _ = await driver.execute_query("CALL db.labels() YIELD label RETURN collect(label) AS all")
    assert not [x for x in labels[0]["all"] if x.startswith("_Conclave")], "no restore marker is left behind"

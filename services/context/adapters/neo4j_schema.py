"""Uniqueness constraints, created at start; each also gives MERGE its index."""

from __future__ import annotations

from neo4j import AsyncDriver

CONSTRAINTS: tuple[str, ...] = (
    "CREATE CONSTRAINT story_id IF NOT EXISTS FOR (n:Story) REQUIRE n.story_id IS UNIQUE",
    "CREATE CONSTRAINT plan_version IF NOT EXISTS FOR (n:PlanVersion) REQUIRE (n.plan_id, n.version) IS UNIQUE",
    "CREATE CONSTRAINT task_id IF NOT EXISTS FOR (n:Task) REQUIRE n.task_id IS UNIQUE",
    "CREATE CONSTRAINT decision_id IF NOT EXISTS FOR (n:Decision) REQUIRE n.decision_id IS UNIQUE",
    "CREATE CONSTRAINT deliberation_id IF NOT EXISTS FOR (n:Deliberation) REQUIRE n.deliberation_id IS UNIQUE",
    "CREATE CONSTRAINT actor_name IF NOT EXISTS FOR (n:Actor) REQUIRE n.name IS UNIQUE",
    "CREATE CONSTRAINT plan_approval IF NOT EXISTS FOR (n:PlanApproval) REQUIRE n.event_id IS UNIQUE",
    "CREATE CONSTRAINT phase_transition IF NOT EXISTS FOR (n:PhaseTransition) REQUIRE n.event_id IS UNIQUE",
    "CREATE CONSTRAINT milestone_id IF NOT EXISTS FOR (n:Milestone) REQUIRE n.milestone_id IS UNIQUE",
)


async def ensure_schema(driver: AsyncDriver, database: str | None = None) -> None:
    for statement in CONSTRAINTS:
        await driver.execute_query(statement, database_=database)
    await driver.execute_query("CALL db.awaitIndexes(60)", database_=database)

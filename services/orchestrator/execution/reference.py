"""What a QA council's tests run against: the code of the story's DEV winner, when the DEV
council of the same plan version has finished first."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from services.orchestrator.domain.council import Role
from services.orchestrator.domain.execution import split
from services.orchestrator.domain.tracking import DeliberationRecord, State, deliberation_id

GetRecord = Callable[[str], Awaitable[DeliberationRecord | None]]


async def dev_winner_code(get: GetRecord, record: DeliberationRecord) -> str:
    """"" when this is not QA, or the DEV council has not completed (the check then says so)."""
    if record.role != Role.QA or not record.story_id:
        return ""
    dev = await get(deliberation_id(record.story_id, record.plan_id, record.plan_version, Role.DEV))
    if dev is None or dev.state != State.COMPLETED or not dev.result:
        return ""
    winner = dev.result.get("winner") or {}
    return split(str(winner.get("proposal", ""))).code

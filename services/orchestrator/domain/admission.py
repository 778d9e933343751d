"""Admission: which queued deliberations get a Ray job now. Pure rules.

The budget is derived from the model server's capacity: every admitted deliberation runs up
to `agents` model requests at once (its council's parallel stage), so `max_running x agents`
must fit the server's concurrent sequences. Each job's LLM client is then capped at its
share, so all jobs together never exceed the server's budget, whatever runs where.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from services.orchestrator.domain.council import DEFAULT_NUM_AGENTS
from services.orchestrator.domain.tracking import DeliberationRecord, State


@dataclass(frozen=True)
class Budget:
    model_max_in_flight: int
    max_running: int

    @property
    def per_job_in_flight(self) -> int:
        return max(1, self.model_max_in_flight // self.max_running)


def budget(model_max_in_flight: int, max_running: int | None = None, agents: int = DEFAULT_NUM_AGENTS) -> Budget:
    """`max_running` as configured, or as many councils of `agents` as the server serves at once."""
    derived = max(1, model_max_in_flight // agents)
    return Budget(model_max_in_flight, max_running or derived)


def story_of(record: DeliberationRecord) -> str:
    # A deliberation asked for directly (DeliberateAsync) is a story of its own.
    return record.story_id or record.deliberation_id


def to_admit(open_records: Sequence[DeliberationRecord], max_running: int) -> list[DeliberationRecord]:
    """The queued deliberations to admit into the free slots, in order.

    First approved, first served, with fairness across stories: a deliberation's turn is the
    number of its story's deliberations already admitted plus those queued ahead of it, so a
    story with fifty queued gets one slot per round while every other waiting story gets one
    too. Ties go to the one queued first."""
    running = Counter(story_of(r) for r in open_records if r.admitted)
    free = max_running - sum(running.values())
    if free <= 0:
        return []
    queued = sorted((r for r in open_records if r.state == State.QUEUED), key=lambda r: r.created_at)
    ahead: Counter[str] = Counter()
    turns = []
    for record in queued:
        story = story_of(record)
        turns.append((running[story] + ahead[story], record.created_at, record.deliberation_id, record))
        ahead[story] += 1
    return [t[-1] for t in sorted(turns, key=lambda t: t[:3])[:free]]

"""In-memory fakes of every port the handlers of both services use (services/*/ports.py).

They keep the adapters' contracts (first final state wins, create is create-only, the open
index, cache tokens) so that handler tests exercise the rules, not the fakes. The real
adapters are covered against real servers in tests/integration."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from services.context.domain.model import (
    DecisionInput,
    DecisionItem,
    Neighbourhood,
    PlanHeader,
    StoryContext,
    StoryHeader,
)
from services.orchestrator.domain.admission import budget
from services.orchestrator.domain.council import Council, Role, default_council
from services.orchestrator.domain.errors import Unavailable
from services.orchestrator.domain.llm import ChatRequest, ChatResult, LLMStatus, Usage
from services.orchestrator.domain.reconciliation import JobView, Nodes
from services.orchestrator.domain.tracking import DeliberationRecord, JobState
from services.orchestrator.ports import Deps
from services.shared import events


class Published(list[events.Event]):
    """A publish port that keeps what it was given, in order."""

    async def __call__(self, event: events.Event) -> bool:
        self.append(event)
        return True

    def of(self, kind: type[events.Event]) -> list[Any]:
        return [e for e in self if isinstance(e, kind)]


# -- Orchestrator ------------------------------------------------------------------------


class FakeCouncils:
    def __init__(self, *roles: Role) -> None:
        self.by_role: dict[Role, Council] = {r: default_council(r) for r in roles}

    async def get(self, role: Role) -> Council | None:
        return self.by_role.get(role)

    async def create(self, council: Council) -> bool:
        if council.role in self.by_role:
            return False
        self.by_role[council.role] = council
        return True

    async def put(self, council: Council) -> None:
        self.by_role[council.role] = council

    async def delete(self, role: Role) -> bool:
        return self.by_role.pop(role, None) is not None

    async def all(self) -> list[Council]:
        return list(self.by_role.values())


class FakeDeliberations:
    def __init__(self) -> None:
        self.records: dict[str, DeliberationRecord] = {}
        self.active_ids: dict[tuple[str, Role], str] = {}
        self.open_ids: set[str] = set()

    async def get(self, deliberation_id: str) -> DeliberationRecord | None:
        return self.records.get(deliberation_id)

    async def create(self, record: DeliberationRecord) -> bool:
        if record.deliberation_id in self.records:
            return False
        self.open_ids.add(record.deliberation_id)
        self.records[record.deliberation_id] = record
        self.active_ids[(record.story_id, record.role)] = record.deliberation_id
        return True

    async def save(self, record: DeliberationRecord) -> bool:
        if self.records[record.deliberation_id].terminal:
            return False
        self.records[record.deliberation_id] = record
        return True

    async def remove_from_open_index(self, deliberation_id: str) -> None:
        self.open_ids.discard(deliberation_id)

    async def active(self, story_id: str, role: Role) -> DeliberationRecord | None:
        did = self.active_ids.get((story_id, role))
        return self.records.get(did) if did else None

    async def all(self) -> list[DeliberationRecord]:
        return list(self.records.values())

    async def records_in_open_index(self) -> list[DeliberationRecord]:
        return [self.records[did] for did in sorted(self.open_ids)]


class FakeJobs:
    """Ray's job API as the Orchestrator sees it; `down` makes every call Unavailable."""

    def __init__(self) -> None:
        self.submitted: list[str] = []
        self.stopped: list[str] = []
        self.deleted: list[str] = []
        self.jobs: dict[str, JobView] = {}
        self.node_table = Nodes(frozenset())
        self.node_reads = 0
        self.down = False

    def _answer(self) -> None:
        if self.down:
            raise Unavailable("Ray job API: connection refused")

    async def submit(self, deliberation_id: str) -> bool:
        self._answer()
        if deliberation_id in self.jobs:
            return False
        self.submitted.append(deliberation_id)
        self.jobs[deliberation_id] = JobView(JobState.PENDING)
        return True

    async def stop(self, deliberation_id: str) -> None:
        self._answer()
        self.stopped.append(deliberation_id)
        if deliberation_id in self.jobs:
            self.jobs[deliberation_id] = JobView(JobState.STOPPED)

    async def delete(self, deliberation_id: str) -> None:
        self._answer()
        self.deleted.append(deliberation_id)
        self.jobs.pop(deliberation_id, None)

    async def status(self, deliberation_id: str) -> JobView | None:
        self._answer()
        return self.jobs.get(deliberation_id)

    async def ended_before(self, cutoff: datetime) -> list[str]:
        self._answer()
        cutoff_ms = cutoff.timestamp() * 1000
        return [did for did, job in self.jobs.items() if job.state.ended and job.ended_ms and job.ended_ms < cutoff_ms]

    async def nodes(self) -> Nodes:
        self._answer()
        self.node_reads += 1
        return self.node_table

    async def reachable(self) -> bool:
        return not self.down

    async def aclose(self) -> None:
        pass


class FakeContext:
    """The Context service as a job sees it: a context per story, or a timeout."""

    def __init__(self, contexts: dict[str, str] | None = None) -> None:
        self.contexts = contexts or {}
        self.asked: list[tuple[str, Role, str, int]] = []
        self.error: Exception | None = None

    async def plan_context(self, story_id: str, role: Role, plan_id: str, plan_version: int) -> str:
        self.asked.append((story_id, role, plan_id, plan_version))
        if self.error is not None:
            raise self.error
        if story_id not in self.contexts:
            raise TimeoutError(f"plan {plan_id} v{plan_version} of story {story_id} not recorded")
        return self.contexts[story_id]


class EchoModel:
    """A model server whose every answer is the same proposal; reviews are never asked of it
    by single-agent councils, which is what handler tests use."""

    def __init__(self, text: str = "```python\ndef f() -> int:\n    return 1\n```") -> None:
        self.text = text
        self.requests: list[ChatRequest] = []

    async def chat(self, request: ChatRequest) -> ChatResult:
        self.requests.append(request)
        return ChatResult(text=self.text, usage=Usage(calls=1, prompt_tokens=10, completion_tokens=5))

    async def probe(self) -> LLMStatus:
        return LLMStatus(url="fake://model", model="echo", ready=True, reachable=True, models=["echo"],
                         in_flight=0, queued=0, max_in_flight=1, last_probe_latency_ms=0.0)

    async def aclose(self) -> None:
        return None


class FakeLease:
    """The admission lease of one replica among several: `held` says whether it has it."""

    def __init__(self, held: bool = True) -> None:
        self.held = held

    async def hold(self) -> bool:
        return self.held


def orchestrator_deps(
    *roles: Role, contexts: dict[str, str] | None = None, max_running: int = 5
) -> Deps:
    return Deps(
        llm=EchoModel(), councils=FakeCouncils(*roles), deliberations=FakeDeliberations(), jobs=FakeJobs(),
        context=FakeContext(contexts), publish=Published(), lease=FakeLease(),
        budget=budget(16, max_running),
    )


# -- Context -----------------------------------------------------------------------------


class FakeGraph:
    """Stories, plans and decisions in dicts; every write bumps the story's revision."""

    def __init__(self) -> None:
        self.stories: dict[str, StoryHeader] = {}
        self.plans: dict[str, PlanHeader] = {}
        self.decisions: dict[str, list[DecisionItem]] = {}
        self.revisions: dict[str, int] = {}
        self.transitions: list[events.StoryTransitioned] = []
        self.deliberations: list[events.DeliberationEvent] = []

    def _bump(self, story_ids: Iterable[str]) -> dict[str, int]:
        ids = list(dict.fromkeys(story_ids))
        for story_id in ids:
            self.revisions[story_id] = self.revisions.get(story_id, 0) + 1
        return {s: self.revisions[s] for s in ids}

    async def record_plan_approvals(self, approvals: list[events.PlanApproved]) -> dict[str, int]:
        for e in approvals:
            self.stories.setdefault(e.story_id, StoryHeader(story_id=e.story_id, title=e.title))
            self.plans[e.story_id] = PlanHeader(
                plan_id=e.plan_id, version=e.plan_version, title=e.title, approved_by=e.approved_by,
                roles=tuple(r.value for r in e.roles),
            )
        return self._bump(e.story_id for e in approvals)

    async def record_transitions(
        self, transitions: list[events.StoryTransitioned], requested_by: str = ""
    ) -> tuple[dict[str, int], dict[str, tuple[str, str]]]:
        self.transitions += transitions
        return self._bump(e.story_id for e in transitions), {}

    async def record_deliberations(self, outcomes: list[events.DeliberationEvent]) -> dict[str, int]:
        self.deliberations += outcomes
        return self._bump(e.story_id for e in outcomes if e.story_id)

    async def create_story(self, params: dict[str, Any]) -> bool:
        if params["story_id"] in self.stories:
            return False
        self.stories[params["story_id"]] = StoryHeader(story_id=params["story_id"], title=params.get("title", ""))
        self._bump([params["story_id"]])
        return True

    async def create_task(self, params: dict[str, Any]) -> tuple[bool, str, int]:
        if params["story_id"] not in self.stories:
            return False, "", 0
        return True, params.get("task_id", "T-1"), self._bump([params["story_id"]])[params["story_id"]]

    async def update_context(
        self, story_id: str, decisions: list[DecisionInput], milestones: list[dict[str, str]], summary: str, at: str
    ) -> int:
        if story_id not in self.stories:
            return 0
        self.decisions.setdefault(story_id, []).extend(
            DecisionItem(decision_id=d.decision_id, title=d.title, rationale=d.rationale, made_at=at) for d in decisions
        )
        return self._bump([story_id])[story_id]

    async def load_context(self, story_id: str) -> StoryContext | None:
        if story_id not in self.stories:
            return None
        return StoryContext(
            story=self.stories[story_id], plan=self.plans.get(story_id),
            decisions=tuple(self.decisions.get(story_id, ())), revision=self.revisions.get(story_id, 0),
        )

    async def neighbourhood(self, label: str, node_id: str, depth: int) -> Neighbourhood | None:
        return None


class FakeCache:
    """Cache-aside with per-story tokens, like the ValKey adapter; `up=False` is an outage."""

    def __init__(self) -> None:
        self.entries: dict[tuple[str, str], tuple[str, bytes]] = {}
        self.tokens: dict[str, int] = {}
        self.invalidated: list[str] = []
        self.up = True

    async def get(self, story_id: str, suffix: str) -> tuple[str, bytes | None] | None:
        if not self.up:
            return None
        token = str(self.tokens.get(story_id, 0))
        entry = self.entries.get((story_id, suffix))
        return token, (entry[1] if entry and entry[0] == token else None)

    async def put(self, story_id: str, suffix: str, token: str, value: bytes) -> None:
        if self.up and token == str(self.tokens.get(story_id, 0)):
            self.entries[(story_id, suffix)] = (token, value)

    async def invalidate(self, story_ids: Iterable[str]) -> bool:
        if not self.up:
            return False
        for story_id in story_ids:
            self.tokens[story_id] = self.tokens.get(story_id, 0) + 1
            self.invalidated.append(story_id)
        return True

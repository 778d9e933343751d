"""The deliberation stages against a scripted LLM port: no servers, fully deterministic."""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from collections.abc import Iterable

import pytest

from services.orchestrator import chair, deliberation
from services.orchestrator.chair import orchestrate
from services.orchestrator.deliberation import deliberate, shuffled_for
from services.orchestrator.domain.council import Role, default_council
from services.orchestrator.domain.errors import CouncilFailed, ValidationError
from services.orchestrator.domain.llm import ChatRequest, ChatResult, LLMError, Usage
from services.orchestrator.domain.model import DeliberationRequest, ProgressEvent, Proposal
from services.orchestrator.domain.prompts import (
    common_prefix_length,
    shared_head,
    shared_prefix_share,
    system_prompt,
)

_PROPOSAL = re.compile(r'<(?:proposal|candidate) label="(\w+)">\n(.*?)\n</(?:proposal|candidate)>', re.DOTALL)
_MARK = re.compile(r"author=(\S+) quality=(\d+)")


class ScriptedLLM:
    """An LLMPort whose answers are a pure function of the request.

    A proposal reads "author=<id> quality=<q> version=<n>"; a reviewer scores every proposal it
    sees by its quality mark, so the expected ranking is known in advance.
    """

    def __init__(
        self,
        *,
        quality: dict[str, int] | None = None,
        fail: Iterable[tuple[str, str]] = (),
        invalid: dict[str, int] | None = None,
        bodies: dict[str, str] | None = None,
        chair_reply: str | None = None,
        barrier: int = 0,
        hang: bool = False,
    ) -> None:
        self.quality = quality or {}
        self.fail = set(fail)
        self.invalid = dict(invalid or {})
        self.bodies = bodies or {}
        self.chair_reply = chair_reply
        self.requests: list[ChatRequest] = []
        self.results: list[tuple[ChatRequest, ChatResult]] = []
        self.hang = hang
        self._barrier = asyncio.Barrier(barrier) if barrier else None
        self.versions: Counter[str] = Counter()

    async def chat(self, request: ChatRequest) -> ChatResult:
        self.requests.append(request)
        if self._barrier is not None and request.stage == "generate":
            await asyncio.wait_for(self._barrier.wait(), timeout=2)
        if self.hang:
            await asyncio.sleep(3600)
        if (request.stage, request.agent_id) in self.fail or (request.stage, "*") in self.fail:
            raise LLMError(f"scripted failure of {request.agent_id} in {request.stage}")
        if request.stage == "chair":
            text = self.chair_reply if self.chair_reply is not None else self._chair(request)
        elif request.json_schema is not None:
            text = self._review(request)
        else:
            text = self._proposal(request)
        prompt = sum(len(m.content) for m in request.messages)
        result = ChatResult(
            text=text, usage=Usage(calls=1, prompt_tokens=prompt // 4, completion_tokens=len(text) // 4)
        )
        self.results.append((request, result))
        return result

    def _proposal(self, request: ChatRequest) -> str:
        agent = request.agent_id
        version = self.versions[agent]
        self.versions[agent] += 1
        quality = self.quality.get(agent, 5)
        return f"author={agent} quality={quality} version={version}\n{self.bodies.get(agent, 'plan')}"

    def _review(self, request: ChatRequest) -> str:
        if self.invalid.get(request.agent_id, 0) > 0:
            self.invalid[request.agent_id] -= 1
            return '{"reviews": "not a review"'
        seen = {label: _MARK.search(body) for label, body in _PROPOSAL.findall(request.messages[1].content)}
        marks = {label: (m.group(1), int(m.group(2))) for label, m in seen.items() if m}
        order = sorted(marks, key=lambda label: (-marks[label][1], label))
        rubric = ("correctness", "completeness", "clarity", "risk")
        return json.dumps(
            {
                "reviews": {
                    label: {
                        "scores": {k: marks[label][1] for k in rubric},
                        "critique": f"critique of {marks[label][0]} by {request.agent_id}",
                    }
                    for label in marks
                },
                "ranking": order,
            }
        )

    def _chair(self, request: ChatRequest) -> str:
        return json.dumps(
            {"decision": "select", "choice": "2", "synthesis": "", "rationale": "second is safer"}
        )

    def of(self, stage: str) -> list[ChatRequest]:
        return [r for r in self.requests if r.stage == stage]


def make_request(k: int = 3, rounds: int = 1, role: Role = Role.DEV, **kw: object) -> DeliberationRequest:
    return DeliberationRequest(
        task="Write a function that merges two sorted lists.",
        role=role,
        constraints=["O(n) time", "type hints"],
        num_agents=k,
        rounds=rounds,
        deliberation_id=str(kw.pop("deliberation_id", "dlb-test")),
        **kw,  # type: ignore[arg-type]
    )


QUALITY = {"dev-1": 3, "dev-2": 9, "dev-3": 6}


@pytest.mark.asyncio
async def test_the_council_ranks_by_peer_review_and_names_the_winner() -> None:
    llm = ScriptedLLM(quality=QUALITY)
    result = await deliberate(llm, make_request())
    assert [c.agent_id for c in result.candidates] == ["dev-2", "dev-3", "dev-1"]
    assert [c.rank for c in result.candidates] == [1, 2, 3]
    assert result.winner.agent_id == "dev-2" and result.winner.rank == 1
    assert all(len(c.reviews) == 2 for c in result.candidates)
    assert result.winner.borda_score == 1.0
    assert result.winner.rubric_by_label["correctness"] == 9
    assert not result.failed_agents and not result.excluded_reviews


@pytest.mark.asyncio
async def test_generate_runs_every_agent_at_once_with_its_own_temperature_and_persona() -> None:
    # The barrier only opens when all three calls are in flight together.
    llm = ScriptedLLM(barrier=3)
    result = await deliberate(llm, make_request(rounds=0))
    council = default_council(Role.DEV, 3)
    calls = {r.agent_id: r for r in llm.of("generate")}
    for agent in council.agents:
        assert calls[agent.agent_id].temperature == agent.temperature
        assert agent.persona in calls[agent.agent_id].messages[1].content
    assert len({a.temperature for a in council.agents}) == 3
    assert len(result.candidates) == 3


@pytest.mark.asyncio
async def test_the_shared_prefix_is_byte_identical_across_agents_of_every_stage() -> None:
    llm = ScriptedLLM(quality=QUALITY)
    request = make_request(context="Story S-1: the merge feeds the billing report.")
    await deliberate(llm, request)
    head = shared_head(request)
    for stage in ("generate", "review", "revise"):
        calls = [r for r in llm.of(stage) if len(r.messages) == 2]
        systems = {r.messages[0].content for r in calls}
        assert systems == {system_prompt(Role.DEV)}
        assert "Role: DEV" in systems.pop().splitlines()
        users = [r.messages[1].content for r in calls]
        assert all(u.startswith(head) for u in users)
        # The stage instruction is shared too: agents diverge only inside their own persona block.
        assert common_prefix_length(users) >= users[0].index("## You\nYou are ") + len("## You\nYou are ")


@pytest.mark.asyncio
async def test_the_shared_prefix_share_is_measurable_per_stage() -> None:
    llm = ScriptedLLM(quality=QUALITY)
    await deliberate(llm, make_request(context="Story S-1. " * 400))
    shares = shared_prefix_share(llm.requests)
    assert set(shares) == {"generate", "review", "revise"}
    for shared, total in shares.values():
        assert 0 < shared <= total
    # Generate prompts differ only in the persona block: nearly all of them is shared.
    assert shares["generate"][0] / shares["generate"][1] > 0.9
    words = shared_prefix_share(llm.requests, count=lambda text: len(text.split()))
    assert words["generate"][1] < shares["generate"][1]


@pytest.mark.asyncio
async def test_a_reviewer_never_sees_its_own_proposal_and_sees_all_the_others() -> None:
    llm = ScriptedLLM(quality=QUALITY)
    await deliberate(llm, make_request(rounds=2))
    reviews = llm.of("review")
    assert len(reviews) == 9
    for call in reviews:
        prompt = call.messages[1].content
        authors = set(_MARK.findall(prompt))
        assert call.agent_id not in {a for a, _ in authors}
        assert {a for a, _ in authors} == set(QUALITY) - {call.agent_id}
        assert set(call.json_schema["properties"]["reviews"]["required"]) == {"A", "B"}  # type: ignore[index]


def test_labels_are_shuffled_per_reviewer_deterministically_per_deliberation() -> None:
    proposals = [Proposal(agent_id=f"dev-{i}", text=str(i)) for i in range(1, 6)]
    first = {(d, r): shuffled_for(d, 1, r, proposals) for d in ("x", "y", "z") for r in ("dev-1", "dev-2")}
    again = {(d, r): shuffled_for(d, 1, r, proposals) for d in ("x", "y", "z") for r in ("dev-1", "dev-2")}
    assert first == again
    orders = {tuple(p.agent_id for p in m.values()) for m in first.values()}
    assert len(orders) > 2  # not the same order for everyone
    for (_, reviewer), mapping in first.items():
        assert list(mapping) == ["A", "B", "C", "D"]
        assert reviewer not in {p.agent_id for p in mapping.values()}


@pytest.mark.asyncio
async def test_reviews_are_parsed_back_to_the_real_authors() -> None:
    llm = ScriptedLLM(quality=QUALITY)
    result = await deliberate(llm, make_request(rounds=0))
    for candidate in result.candidates:
        for review in candidate.reviews:
            assert review.target == candidate.agent_id
            assert review.critique == f"critique of {candidate.agent_id} by {review.reviewer}"
            assert review.ranked_of == 2


@pytest.mark.asyncio
async def test_an_invalid_review_gets_one_repair_with_the_error_and_then_counts() -> None:
    llm = ScriptedLLM(quality=QUALITY, invalid={"dev-1": 1})
    result = await deliberate(llm, make_request(rounds=0))
    mine = [r for r in llm.of("review") if r.agent_id == "dev-1"]
    assert len(mine) == 2
    repair = mine[1].messages
    assert repair[:2] == mine[0].messages  # the repair extends the same (cached) prefix
    assert repair[2].role == "assistant" and repair[2].content == '{"reviews": "not a review"'
    assert "not valid JSON" in repair[3].content
    assert not result.excluded_reviews
    assert sum(len(c.reviews) for c in result.candidates) == 6


@pytest.mark.asyncio
async def test_a_review_still_invalid_after_repair_is_left_out_with_its_reason() -> None:
    llm = ScriptedLLM(quality=QUALITY, invalid={"dev-1": 99})
    result = await deliberate(llm, make_request(rounds=1))
    assert [(e.reviewer, e.round) for e in result.excluded_reviews] == [("dev-1", 1), ("dev-1", 2)]
    assert all("invalid after one repair" in e.reason for e in result.excluded_reviews)
    assert all(r.reviewer != "dev-1" for c in result.candidates for r in c.reviews)
    assert result.winner.agent_id == "dev-2"
    review_usage = next(u for u in result.usage if u.stage == "review")
    # One repair per round for dev-1; and dev-2 and dev-3, whom only dev-1 would have compared,
    # were never seen side by side, so the four referees are asked.
    referee = sum("referee" in r.agent_id for r in llm.requests)
    assert referee == 4 and result.winner.agent_id == "dev-2"
    assert review_usage.calls == 3 * 2 + 2 + referee


@pytest.mark.asyncio
async def test_each_author_revises_with_the_critiques_it_received() -> None:
    llm = ScriptedLLM(quality=QUALITY)
    result = await deliberate(llm, make_request(rounds=1))
    for call in llm.of("revise"):
        prompt = call.messages[1].content
        author = call.agent_id
        assert f"author={author} quality={QUALITY[author]} version=0" in prompt
        others = set(QUALITY) - {author}
        assert {f"critique of {author} by {o}" for o in others} <= set(prompt.splitlines())
        assert "critique of" not in prompt.replace(f"critique of {author}", "")
    assert all(c.version == 1 and "version=1" in c.proposal for c in result.candidates)


@pytest.mark.asyncio
async def test_a_failed_agent_does_not_sink_the_council() -> None:
    llm = ScriptedLLM(quality=QUALITY, fail=[("generate", "dev-2")])
    result = await deliberate(llm, make_request())
    assert [(f.agent_id, f.stage) for f in result.failed_agents] == [("dev-2", "generate")]
    assert "scripted failure" in result.failed_agents[0].reason
    assert [c.agent_id for c in result.candidates] == ["dev-3", "dev-1"]
    assert all(r.agent_id != "dev-2" for r in llm.requests[3:])
    generate_usage = result.usage[0]
    assert (generate_usage.stage, generate_usage.calls, generate_usage.failed_calls) == ("generate", 3, 1)


@pytest.mark.asyncio
async def test_a_failed_revision_keeps_the_previous_draft() -> None:
    llm = ScriptedLLM(quality=QUALITY, fail=[("revise", "dev-2")])
    result = await deliberate(llm, make_request())
    assert [(d.agent_id, d.stage, d.round) for d in result.degraded_steps] == [("dev-2", "revise", 1)]
    winner = result.winner
    assert winner.agent_id == "dev-2" and winner.version == 0 and "version=0" in winner.proposal


@pytest.mark.asyncio
async def test_a_reviewer_whose_call_fails_is_left_out_not_fatal() -> None:
    llm = ScriptedLLM(quality=QUALITY, fail=[("review", "dev-3")])
    result = await deliberate(llm, make_request(rounds=0))
    assert [e.reviewer for e in result.excluded_reviews] == ["dev-3"]
    assert "LLMError" in result.excluded_reviews[0].reason
    assert len(result.candidates) == 3


@pytest.mark.asyncio
async def test_when_every_agent_fails_the_deliberation_fails_with_a_reason() -> None:
    llm = ScriptedLLM(fail=[("generate", "*")])
    with pytest.raises(CouncilFailed) as failed:
        await deliberate(llm, make_request())
    assert "all 3 agents failed to propose" in failed.value.reason
    assert {f.agent_id for f in failed.value.failures} == {"dev-1", "dev-2", "dev-3"}
    assert failed.value.usage[0].calls == 3


@pytest.mark.asyncio
async def test_empty_answers_count_as_failures() -> None:
    llm = ScriptedLLM()
    llm._proposal = lambda request: "   "  # type: ignore[method-assign]
    with pytest.raises(CouncilFailed, match="empty proposal"):
        await deliberate(llm, make_request())


@pytest.mark.asyncio
@pytest.mark.parametrize("k", [1, 2, 3, 5, 7])
@pytest.mark.parametrize("rounds", [0, 1, 2, 3])
async def test_call_count_formula(k: int, rounds: int) -> None:
    llm = ScriptedLLM()
    result = await deliberate(llm, make_request(k=k, rounds=rounds))
    # Identical proposals make every council a close call, so four referees are consulted.
    referee = sum("referee" in r.agent_id for r in llm.requests)
    assert referee == (0 if k == 1 else 4)
    expected = 1 if k == 1 else 2 * k * (rounds + 1) + referee
    assert len(llm.requests) == expected == result.total.calls
    per_stage = {u.stage: u.calls for u in result.usage}
    if k == 1:
        assert per_stage == {"generate": 1, "check": 0, "aggregate": 0}
    else:
        revise = {"revise": k * rounds} if rounds else {}
        reviews = k * (rounds + 1) + referee
        assert per_stage == {"generate": k, "review": reviews, **revise, "check": 0, "aggregate": 0}
        assert all(len(c.reviews) == k - 1 + referee for c in result.candidates)


@pytest.mark.asyncio
async def test_usage_is_accounted_per_stage_and_in_total() -> None:
    llm = ScriptedLLM(quality=QUALITY, invalid={"dev-3": 1})
    result = await deliberate(llm, make_request(rounds=2))
    for usage in result.usage:
        mine = [res for req, res in llm.results if req.stage == usage.stage]
        assert usage.prompt_tokens == sum(r.usage.prompt_tokens for r in mine)
        assert usage.completion_tokens == sum(r.usage.completion_tokens for r in mine)
        assert usage.duration_ms >= 0
    total = result.total
    assert total.stage == "total"
    assert total.calls == len(llm.requests) == 2 * 3 * 3 + 1
    assert total.prompt_tokens == sum(res.usage.prompt_tokens for _, res in llm.results)
    assert total.completion_tokens == sum(u.completion_tokens for u in result.usage)
    assert result.duration_ms >= max(u.duration_ms for u in result.usage)


@pytest.mark.asyncio
async def test_progress_events_follow_the_stages_in_order() -> None:
    events: list[ProgressEvent] = []

    async def collect(event: ProgressEvent) -> None:
        events.append(event)

    llm = ScriptedLLM(quality=QUALITY, fail=[("revise", "dev-1")])
    await deliberate(llm, make_request(rounds=1), on_event=collect)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    stages = [(e.kind, e.stage, e.round) for e in events if e.kind.startswith("stage")]
    assert stages == [
        ("stage_started", "generate", 0),
        ("stage_finished", "generate", 0),
        ("stage_started", "review", 1),
        ("stage_finished", "review", 1),
        ("stage_started", "revise", 1),
        ("stage_finished", "revise", 1),
        ("stage_started", "review", 2),
        ("stage_finished", "review", 2),
        ("stage_started", "check", 0),
        ("stage_finished", "check", 0),
        ("stage_started", "aggregate", 0),
        ("stage_finished", "aggregate", 0),
    ]
    done = Counter(e.stage for e in events if e.kind == "agent_done")
    assert done == {"generate": 3, "review": 6, "revise": 2}
    failed = [e for e in events if e.kind == "agent_failed"]
    assert [(e.agent_id, e.stage) for e in failed] == [("dev-1", "revise")] and failed[0].error
    first = next(e for e in events if e.kind == "agent_done")
    assert first.text.startswith("author=") and first.usage is not None and first.role == Role.DEV


@pytest.mark.asyncio
async def test_bad_input_is_rejected_before_any_call() -> None:
    llm = ScriptedLLM()
    with pytest.raises(ValidationError) as bad:
        await deliberate(llm, make_request(k=9))
    assert bad.value.field == "num_agents"
    assert llm.requests == []


@pytest.mark.asyncio
async def test_cancelling_a_deliberation_cancels_every_call_in_flight() -> None:
    llm = ScriptedLLM(hang=True)
    before = asyncio.all_tasks()
    task = asyncio.create_task(deliberate(llm, make_request()))
    for _ in range(100):
        if len(llm.requests) == 3:
            break
        await asyncio.sleep(0)
    assert len(llm.requests) == 3
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.sleep(0)
    assert asyncio.all_tasks() - before - {task} == set()


@pytest.mark.asyncio
async def test_a_failing_progress_callback_stops_the_deliberation_instead_of_failing_agents() -> None:
    async def broken(event: ProgressEvent) -> None:
        if event.kind == "agent_done":
            raise RuntimeError("publisher down")

    with pytest.raises(RuntimeError, match="publisher down"):
        await deliberate(ScriptedLLM(), make_request(), on_event=broken)


MANIFEST_OK = """```yaml
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          resources: {requests: {cpu: 100m}}
```"""
MANIFEST_BROKEN = MANIFEST_OK.replace("matchLabels: {app: web}", "matchLabels: {app: api}").replace(
    "          resources: {requests: {cpu: 100m}}\n", ""
)


@pytest.mark.asyncio
async def test_deterministic_checks_feed_the_score() -> None:
    # Peers cannot tell the proposals apart; the manifest checks decide.
    llm = ScriptedLLM(
        quality={"devops-1": 7, "devops-2": 7},
        bodies={"devops-1": MANIFEST_BROKEN, "devops-2": MANIFEST_OK},
    )
    result = await deliberate(llm, make_request(k=2, role=Role.DEVOPS, rounds=0))
    assert result.winner.agent_id == "devops-2"
    assert result.winner.check_score == 1.0
    loser = result.candidates[1]
    assert loser.check_score is not None and loser.check_score < 1.0
    assert any(not c.passed and "selector" in c.detail for c in loser.checks)


@pytest.mark.asyncio
async def test_a_council_of_one_skips_review_and_still_returns_a_winner() -> None:
    llm = ScriptedLLM()
    result = await deliberate(llm, make_request(k=1, rounds=2))
    assert len(llm.requests) == 1
    assert result.winner.agent_id == "dev-1" and result.winner.reviews == []
    assert result.winner.check_score is not None


# -- the chair ---------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_chair_selects_a_candidate() -> None:
    llm = ScriptedLLM(quality=QUALITY)
    outcome = await orchestrate(llm, make_request(rounds=0))
    decision = outcome.decision
    assert decision.mode == "select" and decision.chair_agent_id == "architect-chair"
    assert decision.selected_agent_id == outcome.deliberation.candidates[1].agent_id == "dev-3"
    assert decision.text == outcome.deliberation.candidates[1].proposal
    assert decision.usage.calls == 1
    chair_call = llm.of("chair")[0]
    assert "Role: ARCHITECT" in chair_call.messages[0].content
    assert chair_call.json_schema is not None
    assert chair_call.json_schema["properties"]["choice"]["enum"] == ["1", "2", "3"]
    assert all(u.stage != "chair" for u in outcome.deliberation.usage)


@pytest.mark.asyncio
async def test_the_chair_can_synthesize() -> None:
    reply = json.dumps(
        {"decision": "synthesize", "choice": "1", "synthesis": "merged plan", "rationale": "r"}
    )
    llm = ScriptedLLM(quality=QUALITY, chair_reply=reply)
    decision = (await orchestrate(llm, make_request(rounds=0))).decision
    assert (decision.mode, decision.text, decision.selected_agent_id) == (
        "synthesize",
        "merged plan",
        "dev-2",
    )


@pytest.mark.asyncio
async def test_a_synthesis_that_breaks_the_checks_is_set_aside_for_the_chosen_candidate() -> None:
    ok = "```python\ndef merge(a: list[int], b: list[int]) -> list[int]:\n    return sorted(a + b)\n```"
    reply = json.dumps(
        {"decision": "synthesize", "choice": "1", "synthesis": "```python\ndef (:\n```", "rationale": "r"}
    )
    llm = ScriptedLLM(quality=QUALITY, bodies=dict.fromkeys(QUALITY, ok), chair_reply=reply)
    outcome = await orchestrate(llm, make_request(rounds=0))
    decision = outcome.decision
    assert decision.mode == "select" and decision.selected_agent_id == "dev-2"
    assert decision.text == outcome.deliberation.winner.proposal
    assert "synthesis set aside" in decision.note
    assert all(c.passed for c in decision.checks)


@pytest.mark.parametrize(
    ("llm", "why"),
    [
        (ScriptedLLM(quality=QUALITY, fail=[("chair", "*")]), "LLMError"),
        (ScriptedLLM(quality=QUALITY, chair_reply='{"decision": "pick"}'), "InvalidAnswer"),
    ],
)
@pytest.mark.asyncio
async def test_when_the_chair_fails_the_top_ranked_proposal_stands(llm: ScriptedLLM, why: str) -> None:
    outcome = await orchestrate(llm, make_request(rounds=0))
    decision = outcome.decision
    assert decision.mode == "fallback"
    assert decision.selected_agent_id == outcome.deliberation.winner.agent_id == "dev-2"
    assert decision.text == outcome.deliberation.winner.proposal
    assert why in decision.fallback_reason and "top-ranked proposal kept" in decision.fallback_reason
    assert decision.usage.calls == (1 if why == "LLMError" else 2)


def test_the_module_reads_as_the_stage_functions() -> None:
    for name in ("generate", "review", "revise", "check", "deliberate", "run_council"):
        assert callable(getattr(deliberation, name))
    assert callable(chair.orchestrate)

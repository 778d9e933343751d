from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    ARCHITECT: _ClassVar[Role]
    DEV: _ClassVar[Role]
    QA: _ClassVar[Role]
    DEVOPS: _ClassVar[Role]
    DATA: _ClassVar[Role]

class DeliberationState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    STATE_UNSPECIFIED: _ClassVar[DeliberationState]
    PENDING: _ClassVar[DeliberationState]
    RUNNING: _ClassVar[DeliberationState]
    COMPLETED: _ClassVar[DeliberationState]
    FAILED: _ClassVar[DeliberationState]
    CANCELLED: _ClassVar[DeliberationState]
    QUEUED: _ClassVar[DeliberationState]
ROLE_UNSPECIFIED: Role
ARCHITECT: Role
DEV: Role
QA: Role
DEVOPS: Role
DATA: Role
STATE_UNSPECIFIED: DeliberationState
PENDING: DeliberationState
RUNNING: DeliberationState
COMPLETED: DeliberationState
FAILED: DeliberationState
CANCELLED: DeliberationState
QUEUED: DeliberationState

class TaskConstraints(_message.Message):
    __slots__ = ("acceptance_criteria", "requirements", "story_id", "plan_id", "context", "rubric_weights")
    class RubricWeightsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    ACCEPTANCE_CRITERIA_FIELD_NUMBER: _ClassVar[int]
    REQUIREMENTS_FIELD_NUMBER: _ClassVar[int]
    STORY_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    RUBRIC_WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    acceptance_criteria: _containers.RepeatedScalarFieldContainer[str]
    requirements: _containers.RepeatedScalarFieldContainer[str]
    story_id: str
    plan_id: str
    context: str
    rubric_weights: _containers.ScalarMap[str, float]
    def __init__(self, acceptance_criteria: _Optional[_Iterable[str]] = ..., requirements: _Optional[_Iterable[str]] = ..., story_id: _Optional[str] = ..., plan_id: _Optional[str] = ..., context: _Optional[str] = ..., rubric_weights: _Optional[_Mapping[str, float]] = ...) -> None: ...

class DeliberateRequest(_message.Message):
    __slots__ = ("task", "role", "constraints", "rounds", "num_agents", "deliberation_id")
    TASK_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONSTRAINTS_FIELD_NUMBER: _ClassVar[int]
    ROUNDS_FIELD_NUMBER: _ClassVar[int]
    NUM_AGENTS_FIELD_NUMBER: _ClassVar[int]
    DELIBERATION_ID_FIELD_NUMBER: _ClassVar[int]
    task: str
    role: Role
    constraints: TaskConstraints
    rounds: int
    num_agents: int
    deliberation_id: str
    def __init__(self, task: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., constraints: _Optional[_Union[TaskConstraints, _Mapping]] = ..., rounds: _Optional[int] = ..., num_agents: _Optional[int] = ..., deliberation_id: _Optional[str] = ...) -> None: ...

class Review(_message.Message):
    __slots__ = ("reviewer_id", "scores", "critique")
    class ScoresEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    REVIEWER_ID_FIELD_NUMBER: _ClassVar[int]
    SCORES_FIELD_NUMBER: _ClassVar[int]
    CRITIQUE_FIELD_NUMBER: _ClassVar[int]
    reviewer_id: str
    scores: _containers.ScalarMap[str, float]
    critique: str
    def __init__(self, reviewer_id: _Optional[str] = ..., scores: _Optional[_Mapping[str, float]] = ..., critique: _Optional[str] = ...) -> None: ...

class CheckResult(_message.Message):
    __slots__ = ("name", "passed", "detail")
    NAME_FIELD_NUMBER: _ClassVar[int]
    PASSED_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    name: str
    passed: bool
    detail: str
    def __init__(self, name: _Optional[str] = ..., passed: _Optional[bool] = ..., detail: _Optional[str] = ...) -> None: ...

class Candidate(_message.Message):
    __slots__ = ("agent_id", "rank", "score", "proposal", "reviews", "rubric", "checks", "rank_score", "persona")
    class RubricEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    PROPOSAL_FIELD_NUMBER: _ClassVar[int]
    REVIEWS_FIELD_NUMBER: _ClassVar[int]
    RUBRIC_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    RANK_SCORE_FIELD_NUMBER: _ClassVar[int]
    PERSONA_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    rank: int
    score: float
    proposal: str
    reviews: _containers.RepeatedCompositeFieldContainer[Review]
    rubric: _containers.ScalarMap[str, float]
    checks: _containers.RepeatedCompositeFieldContainer[CheckResult]
    rank_score: float
    persona: str
    def __init__(self, agent_id: _Optional[str] = ..., rank: _Optional[int] = ..., score: _Optional[float] = ..., proposal: _Optional[str] = ..., reviews: _Optional[_Iterable[_Union[Review, _Mapping]]] = ..., rubric: _Optional[_Mapping[str, float]] = ..., checks: _Optional[_Iterable[_Union[CheckResult, _Mapping]]] = ..., rank_score: _Optional[float] = ..., persona: _Optional[str] = ...) -> None: ...

class StageUsage(_message.Message):
    __slots__ = ("stage", "calls", "prompt_tokens", "completion_tokens", "duration_ms")
    STAGE_FIELD_NUMBER: _ClassVar[int]
    CALLS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    stage: str
    calls: int
    prompt_tokens: int
    completion_tokens: int
    duration_ms: float
    def __init__(self, stage: _Optional[str] = ..., calls: _Optional[int] = ..., prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ..., duration_ms: _Optional[float] = ...) -> None: ...

class Usage(_message.Message):
    __slots__ = ("llm_calls", "prompt_tokens", "completion_tokens", "stages", "repaired_answers", "excluded_answers")
    LLM_CALLS_FIELD_NUMBER: _ClassVar[int]
    PROMPT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_TOKENS_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    REPAIRED_ANSWERS_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_ANSWERS_FIELD_NUMBER: _ClassVar[int]
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    stages: _containers.RepeatedCompositeFieldContainer[StageUsage]
    repaired_answers: int
    excluded_answers: int
    def __init__(self, llm_calls: _Optional[int] = ..., prompt_tokens: _Optional[int] = ..., completion_tokens: _Optional[int] = ..., stages: _Optional[_Iterable[_Union[StageUsage, _Mapping]]] = ..., repaired_answers: _Optional[int] = ..., excluded_answers: _Optional[int] = ...) -> None: ...

class AgentFailure(_message.Message):
    __slots__ = ("agent_id", "stage", "reason")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    stage: str
    reason: str
    def __init__(self, agent_id: _Optional[str] = ..., stage: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DeliberateResponse(_message.Message):
    __slots__ = ("deliberation_id", "role", "ranked", "winner", "duration_ms", "usage", "failures", "notes", "margin", "margin_error", "tied")
    DELIBERATION_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    RANKED_FIELD_NUMBER: _ClassVar[int]
    WINNER_FIELD_NUMBER: _ClassVar[int]
    DURATION_MS_FIELD_NUMBER: _ClassVar[int]
    USAGE_FIELD_NUMBER: _ClassVar[int]
    FAILURES_FIELD_NUMBER: _ClassVar[int]
    NOTES_FIELD_NUMBER: _ClassVar[int]
    MARGIN_FIELD_NUMBER: _ClassVar[int]
    MARGIN_ERROR_FIELD_NUMBER: _ClassVar[int]
    TIED_FIELD_NUMBER: _ClassVar[int]
    deliberation_id: str
    role: Role
    ranked: _containers.RepeatedCompositeFieldContainer[Candidate]
    winner: Candidate
    duration_ms: float
    usage: Usage
    failures: _containers.RepeatedCompositeFieldContainer[AgentFailure]
    notes: _containers.RepeatedScalarFieldContainer[str]
    margin: float
    margin_error: float
    tied: bool
    def __init__(self, deliberation_id: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., ranked: _Optional[_Iterable[_Union[Candidate, _Mapping]]] = ..., winner: _Optional[_Union[Candidate, _Mapping]] = ..., duration_ms: _Optional[float] = ..., usage: _Optional[_Union[Usage, _Mapping]] = ..., failures: _Optional[_Iterable[_Union[AgentFailure, _Mapping]]] = ..., notes: _Optional[_Iterable[str]] = ..., margin: _Optional[float] = ..., margin_error: _Optional[float] = ..., tied: _Optional[bool] = ...) -> None: ...

class ProgressEvent(_message.Message):
    __slots__ = ("kind", "stage", "agent_id", "message", "elapsed_ms")
    class Kind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        KIND_UNSPECIFIED: _ClassVar[ProgressEvent.Kind]
        STAGE_STARTED: _ClassVar[ProgressEvent.Kind]
        STAGE_FINISHED: _ClassVar[ProgressEvent.Kind]
        AGENT_DONE: _ClassVar[ProgressEvent.Kind]
        AGENT_FAILED: _ClassVar[ProgressEvent.Kind]
        HEARTBEAT: _ClassVar[ProgressEvent.Kind]
    KIND_UNSPECIFIED: ProgressEvent.Kind
    STAGE_STARTED: ProgressEvent.Kind
    STAGE_FINISHED: ProgressEvent.Kind
    AGENT_DONE: ProgressEvent.Kind
    AGENT_FAILED: ProgressEvent.Kind
    HEARTBEAT: ProgressEvent.Kind
    KIND_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_MS_FIELD_NUMBER: _ClassVar[int]
    kind: ProgressEvent.Kind
    stage: str
    agent_id: str
    message: str
    elapsed_ms: float
    def __init__(self, kind: _Optional[_Union[ProgressEvent.Kind, str]] = ..., stage: _Optional[str] = ..., agent_id: _Optional[str] = ..., message: _Optional[str] = ..., elapsed_ms: _Optional[float] = ...) -> None: ...

class StreamError(_message.Message):
    __slots__ = ("code", "message")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    code: str
    message: str
    def __init__(self, code: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class DeliberationProgress(_message.Message):
    __slots__ = ("seq", "progress", "result", "error")
    SEQ_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    seq: int
    progress: ProgressEvent
    result: DeliberateResponse
    error: StreamError
    def __init__(self, seq: _Optional[int] = ..., progress: _Optional[_Union[ProgressEvent, _Mapping]] = ..., result: _Optional[_Union[DeliberateResponse, _Mapping]] = ..., error: _Optional[_Union[StreamError, _Mapping]] = ...) -> None: ...

class OrchestrateRequest(_message.Message):
    __slots__ = ("deliberation", "chair_role")
    DELIBERATION_FIELD_NUMBER: _ClassVar[int]
    CHAIR_ROLE_FIELD_NUMBER: _ClassVar[int]
    deliberation: DeliberateRequest
    chair_role: Role
    def __init__(self, deliberation: _Optional[_Union[DeliberateRequest, _Mapping]] = ..., chair_role: _Optional[_Union[Role, str]] = ...) -> None: ...

class OrchestrateResponse(_message.Message):
    __slots__ = ("deliberation", "outcome", "final_proposal", "chosen_agent_id", "rationale")
    class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        OUTCOME_UNSPECIFIED: _ClassVar[OrchestrateResponse.Outcome]
        SELECTED: _ClassVar[OrchestrateResponse.Outcome]
        SYNTHESIZED: _ClassVar[OrchestrateResponse.Outcome]
        FALLBACK: _ClassVar[OrchestrateResponse.Outcome]
    OUTCOME_UNSPECIFIED: OrchestrateResponse.Outcome
    SELECTED: OrchestrateResponse.Outcome
    SYNTHESIZED: OrchestrateResponse.Outcome
    FALLBACK: OrchestrateResponse.Outcome
    DELIBERATION_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    FINAL_PROPOSAL_FIELD_NUMBER: _ClassVar[int]
    CHOSEN_AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    RATIONALE_FIELD_NUMBER: _ClassVar[int]
    deliberation: DeliberateResponse
    outcome: OrchestrateResponse.Outcome
    final_proposal: str
    chosen_agent_id: str
    rationale: str
    def __init__(self, deliberation: _Optional[_Union[DeliberateResponse, _Mapping]] = ..., outcome: _Optional[_Union[OrchestrateResponse.Outcome, str]] = ..., final_proposal: _Optional[str] = ..., chosen_agent_id: _Optional[str] = ..., rationale: _Optional[str] = ...) -> None: ...

class DeliberateAsyncResponse(_message.Message):
    __slots__ = ("deliberation_id", "state")
    DELIBERATION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    deliberation_id: str
    state: DeliberationState
    def __init__(self, deliberation_id: _Optional[str] = ..., state: _Optional[_Union[DeliberationState, str]] = ...) -> None: ...

class GetDeliberationResultRequest(_message.Message):
    __slots__ = ("deliberation_id",)
    DELIBERATION_ID_FIELD_NUMBER: _ClassVar[int]
    deliberation_id: str
    def __init__(self, deliberation_id: _Optional[str] = ...) -> None: ...

class CancelDeliberationRequest(_message.Message):
    __slots__ = ("deliberation_id", "reason")
    DELIBERATION_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    deliberation_id: str
    reason: str
    def __init__(self, deliberation_id: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DeliberationRecord(_message.Message):
    __slots__ = ("deliberation_id", "state", "role", "story_id", "plan_id", "plan_version", "result", "reason", "created_at", "updated_at")
    DELIBERATION_ID_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    STORY_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_ID_FIELD_NUMBER: _ClassVar[int]
    PLAN_VERSION_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    deliberation_id: str
    state: DeliberationState
    role: Role
    story_id: str
    plan_id: str
    plan_version: int
    result: DeliberateResponse
    reason: str
    created_at: str
    updated_at: str
    def __init__(self, deliberation_id: _Optional[str] = ..., state: _Optional[_Union[DeliberationState, str]] = ..., role: _Optional[_Union[Role, str]] = ..., story_id: _Optional[str] = ..., plan_id: _Optional[str] = ..., plan_version: _Optional[int] = ..., result: _Optional[_Union[DeliberateResponse, _Mapping]] = ..., reason: _Optional[str] = ..., created_at: _Optional[str] = ..., updated_at: _Optional[str] = ...) -> None: ...

class Agent(_message.Message):
    __slots__ = ("agent_id", "persona", "temperature", "model", "endpoint")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    PERSONA_FIELD_NUMBER: _ClassVar[int]
    TEMPERATURE_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ENDPOINT_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    persona: str
    temperature: float
    model: str
    endpoint: str
    def __init__(self, agent_id: _Optional[str] = ..., persona: _Optional[str] = ..., temperature: _Optional[float] = ..., model: _Optional[str] = ..., endpoint: _Optional[str] = ...) -> None: ...

class Council(_message.Message):
    __slots__ = ("council_id", "role", "agents", "created_at")
    COUNCIL_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    council_id: str
    role: Role
    agents: _containers.RepeatedCompositeFieldContainer[Agent]
    created_at: str
    def __init__(self, council_id: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., agents: _Optional[_Iterable[_Union[Agent, _Mapping]]] = ..., created_at: _Optional[str] = ...) -> None: ...

class CreateCouncilRequest(_message.Message):
    __slots__ = ("role", "num_agents", "agents")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    NUM_AGENTS_FIELD_NUMBER: _ClassVar[int]
    AGENTS_FIELD_NUMBER: _ClassVar[int]
    role: Role
    num_agents: int
    agents: _containers.RepeatedCompositeFieldContainer[Agent]
    def __init__(self, role: _Optional[_Union[Role, str]] = ..., num_agents: _Optional[int] = ..., agents: _Optional[_Iterable[_Union[Agent, _Mapping]]] = ...) -> None: ...

class ListCouncilsRequest(_message.Message):
    __slots__ = ("role",)
    ROLE_FIELD_NUMBER: _ClassVar[int]
    role: Role
    def __init__(self, role: _Optional[_Union[Role, str]] = ...) -> None: ...

class ListCouncilsResponse(_message.Message):
    __slots__ = ("councils",)
    COUNCILS_FIELD_NUMBER: _ClassVar[int]
    councils: _containers.RepeatedCompositeFieldContainer[Council]
    def __init__(self, councils: _Optional[_Iterable[_Union[Council, _Mapping]]] = ...) -> None: ...

class DeleteCouncilRequest(_message.Message):
    __slots__ = ("council_id",)
    COUNCIL_ID_FIELD_NUMBER: _ClassVar[int]
    council_id: str
    def __init__(self, council_id: _Optional[str] = ...) -> None: ...

class DeleteCouncilResponse(_message.Message):
    __slots__ = ("deleted",)
    DELETED_FIELD_NUMBER: _ClassVar[int]
    deleted: bool
    def __init__(self, deleted: _Optional[bool] = ...) -> None: ...

class RegisterAgentRequest(_message.Message):
    __slots__ = ("council_id", "agent")
    COUNCIL_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_FIELD_NUMBER: _ClassVar[int]
    council_id: str
    agent: Agent
    def __init__(self, council_id: _Optional[str] = ..., agent: _Optional[_Union[Agent, _Mapping]] = ...) -> None: ...

class UnregisterAgentRequest(_message.Message):
    __slots__ = ("council_id", "agent_id")
    COUNCIL_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    council_id: str
    agent_id: str
    def __init__(self, council_id: _Optional[str] = ..., agent_id: _Optional[str] = ...) -> None: ...

class GetStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ModelServerStatus(_message.Message):
    __slots__ = ("url", "reachable", "models", "simulator", "in_flight", "queued", "last_probe_latency_ms")
    URL_FIELD_NUMBER: _ClassVar[int]
    REACHABLE_FIELD_NUMBER: _ClassVar[int]
    MODELS_FIELD_NUMBER: _ClassVar[int]
    SIMULATOR_FIELD_NUMBER: _ClassVar[int]
    IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    LAST_PROBE_LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    url: str
    reachable: bool
    models: _containers.RepeatedScalarFieldContainer[str]
    simulator: bool
    in_flight: int
    queued: int
    last_probe_latency_ms: float
    def __init__(self, url: _Optional[str] = ..., reachable: _Optional[bool] = ..., models: _Optional[_Iterable[str]] = ..., simulator: _Optional[bool] = ..., in_flight: _Optional[int] = ..., queued: _Optional[int] = ..., last_probe_latency_ms: _Optional[float] = ...) -> None: ...

class GetStatusResponse(_message.Message):
    __slots__ = ("uptime_s", "councils", "deliberations_by_state", "model_server", "admission_budget", "admitted", "queued", "oldest_queued_wait_s", "model_budget", "per_job_llm_in_flight", "open")
    class DeliberationsByStateEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    UPTIME_S_FIELD_NUMBER: _ClassVar[int]
    COUNCILS_FIELD_NUMBER: _ClassVar[int]
    DELIBERATIONS_BY_STATE_FIELD_NUMBER: _ClassVar[int]
    MODEL_SERVER_FIELD_NUMBER: _ClassVar[int]
    ADMISSION_BUDGET_FIELD_NUMBER: _ClassVar[int]
    ADMITTED_FIELD_NUMBER: _ClassVar[int]
    QUEUED_FIELD_NUMBER: _ClassVar[int]
    OLDEST_QUEUED_WAIT_S_FIELD_NUMBER: _ClassVar[int]
    MODEL_BUDGET_FIELD_NUMBER: _ClassVar[int]
    PER_JOB_LLM_IN_FLIGHT_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    uptime_s: float
    councils: int
    deliberations_by_state: _containers.ScalarMap[str, int]
    model_server: ModelServerStatus
    admission_budget: int
    admitted: int
    queued: int
    oldest_queued_wait_s: float
    model_budget: int
    per_job_llm_in_flight: int
    open: _containers.RepeatedCompositeFieldContainer[OpenDeliberation]
    def __init__(self, uptime_s: _Optional[float] = ..., councils: _Optional[int] = ..., deliberations_by_state: _Optional[_Mapping[str, int]] = ..., model_server: _Optional[_Union[ModelServerStatus, _Mapping]] = ..., admission_budget: _Optional[int] = ..., admitted: _Optional[int] = ..., queued: _Optional[int] = ..., oldest_queued_wait_s: _Optional[float] = ..., model_budget: _Optional[int] = ..., per_job_llm_in_flight: _Optional[int] = ..., open: _Optional[_Iterable[_Union[OpenDeliberation, _Mapping]]] = ...) -> None: ...

class OpenDeliberation(_message.Message):
    __slots__ = ("deliberation_id", "story_id", "role", "state", "waited_s", "running_s")
    DELIBERATION_ID_FIELD_NUMBER: _ClassVar[int]
    STORY_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    WAITED_S_FIELD_NUMBER: _ClassVar[int]
    RUNNING_S_FIELD_NUMBER: _ClassVar[int]
    deliberation_id: str
    story_id: str
    role: str
    state: DeliberationState
    waited_s: float
    running_s: float
    def __init__(self, deliberation_id: _Optional[str] = ..., story_id: _Optional[str] = ..., role: _Optional[str] = ..., state: _Optional[_Union[DeliberationState, str]] = ..., waited_s: _Optional[float] = ..., running_s: _Optional[float] = ...) -> None: ...

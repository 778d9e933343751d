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

class Phase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PHASE_UNSPECIFIED: _ClassVar[Phase]
    DESIGN: _ClassVar[Phase]
    BUILD: _ClassVar[Phase]
    TEST: _ClassVar[Phase]
    DOCS: _ClassVar[Phase]
ROLE_UNSPECIFIED: Role
ARCHITECT: Role
DEV: Role
QA: Role
DEVOPS: Role
DATA: Role
PHASE_UNSPECIFIED: Phase
DESIGN: Phase
BUILD: Phase
TEST: Phase
DOCS: Phase

class PromptBlock(_message.Message):
    __slots__ = ("kind", "content", "token_count")
    KIND_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    TOKEN_COUNT_FIELD_NUMBER: _ClassVar[int]
    kind: str
    content: str
    token_count: int
    def __init__(self, kind: _Optional[str] = ..., content: _Optional[str] = ..., token_count: _Optional[int] = ...) -> None: ...

class GetContextRequest(_message.Message):
    __slots__ = ("story_id", "role", "phase", "task_id", "token_budget")
    STORY_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    TOKEN_BUDGET_FIELD_NUMBER: _ClassVar[int]
    story_id: str
    role: Role
    phase: Phase
    task_id: str
    token_budget: int
    def __init__(self, story_id: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., phase: _Optional[_Union[Phase, str]] = ..., task_id: _Optional[str] = ..., token_budget: _Optional[int] = ...) -> None: ...

class GetContextResponse(_message.Message):
    __slots__ = ("blocks", "token_count", "version", "truncated", "omitted", "from_cache", "tokenizer")
    BLOCKS_FIELD_NUMBER: _ClassVar[int]
    TOKEN_COUNT_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    OMITTED_FIELD_NUMBER: _ClassVar[int]
    FROM_CACHE_FIELD_NUMBER: _ClassVar[int]
    TOKENIZER_FIELD_NUMBER: _ClassVar[int]
    blocks: _containers.RepeatedCompositeFieldContainer[PromptBlock]
    token_count: int
    version: str
    truncated: bool
    omitted: _containers.RepeatedScalarFieldContainer[str]
    from_cache: bool
    tokenizer: str
    def __init__(self, blocks: _Optional[_Iterable[_Union[PromptBlock, _Mapping]]] = ..., token_count: _Optional[int] = ..., version: _Optional[str] = ..., truncated: _Optional[bool] = ..., omitted: _Optional[_Iterable[str]] = ..., from_cache: _Optional[bool] = ..., tokenizer: _Optional[str] = ...) -> None: ...

class DecisionInput(_message.Message):
    __slots__ = ("decision_id", "title", "rationale", "role", "affects_task_ids", "decided_by")
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    RATIONALE_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    AFFECTS_TASK_IDS_FIELD_NUMBER: _ClassVar[int]
    DECIDED_BY_FIELD_NUMBER: _ClassVar[int]
    decision_id: str
    title: str
    rationale: str
    role: Role
    affects_task_ids: _containers.RepeatedScalarFieldContainer[str]
    decided_by: str
    def __init__(self, decision_id: _Optional[str] = ..., title: _Optional[str] = ..., rationale: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., affects_task_ids: _Optional[_Iterable[str]] = ..., decided_by: _Optional[str] = ...) -> None: ...

class UpdateContextRequest(_message.Message):
    __slots__ = ("story_id", "decisions", "milestones", "summary", "updated_by")
    STORY_ID_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    MILESTONES_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    UPDATED_BY_FIELD_NUMBER: _ClassVar[int]
    story_id: str
    decisions: _containers.RepeatedCompositeFieldContainer[DecisionInput]
    milestones: _containers.RepeatedScalarFieldContainer[str]
    summary: str
    updated_by: str
    def __init__(self, story_id: _Optional[str] = ..., decisions: _Optional[_Iterable[_Union[DecisionInput, _Mapping]]] = ..., milestones: _Optional[_Iterable[str]] = ..., summary: _Optional[str] = ..., updated_by: _Optional[str] = ...) -> None: ...

class UpdateContextResponse(_message.Message):
    __slots__ = ("version", "changes")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    version: str
    changes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, version: _Optional[str] = ..., changes: _Optional[_Iterable[str]] = ...) -> None: ...

class RehydrateSessionRequest(_message.Message):
    __slots__ = ("story_id", "role", "token_budget")
    STORY_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_BUDGET_FIELD_NUMBER: _ClassVar[int]
    story_id: str
    role: Role
    token_budget: int
    def __init__(self, story_id: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., token_budget: _Optional[int] = ...) -> None: ...

class RehydrateSessionResponse(_message.Message):
    __slots__ = ("story_id", "phase", "blocks", "tasks", "decisions", "version")
    STORY_ID_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    BLOCKS_FIELD_NUMBER: _ClassVar[int]
    TASKS_FIELD_NUMBER: _ClassVar[int]
    DECISIONS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    story_id: str
    phase: Phase
    blocks: _containers.RepeatedCompositeFieldContainer[PromptBlock]
    tasks: _containers.RepeatedCompositeFieldContainer[TaskInfo]
    decisions: _containers.RepeatedCompositeFieldContainer[DecisionInfo]
    version: str
    def __init__(self, story_id: _Optional[str] = ..., phase: _Optional[_Union[Phase, str]] = ..., blocks: _Optional[_Iterable[_Union[PromptBlock, _Mapping]]] = ..., tasks: _Optional[_Iterable[_Union[TaskInfo, _Mapping]]] = ..., decisions: _Optional[_Iterable[_Union[DecisionInfo, _Mapping]]] = ..., version: _Optional[str] = ...) -> None: ...

class ValidateScopeRequest(_message.Message):
    __slots__ = ("role", "phase", "scopes")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    role: Role
    phase: Phase
    scopes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, role: _Optional[_Union[Role, str]] = ..., phase: _Optional[_Union[Phase, str]] = ..., scopes: _Optional[_Iterable[str]] = ...) -> None: ...

class ValidateScopeResponse(_message.Message):
    __slots__ = ("allowed", "missing", "extra", "reason")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    MISSING_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    missing: _containers.RepeatedScalarFieldContainer[str]
    extra: _containers.RepeatedScalarFieldContainer[str]
    reason: str
    def __init__(self, allowed: _Optional[bool] = ..., missing: _Optional[_Iterable[str]] = ..., extra: _Optional[_Iterable[str]] = ..., reason: _Optional[str] = ...) -> None: ...

class CreateStoryRequest(_message.Message):
    __slots__ = ("story_id", "title", "description", "phase", "acceptance_criteria", "created_by")
    STORY_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    ACCEPTANCE_CRITERIA_FIELD_NUMBER: _ClassVar[int]
    CREATED_BY_FIELD_NUMBER: _ClassVar[int]
    story_id: str
    title: str
    description: str
    phase: Phase
    acceptance_criteria: _containers.RepeatedScalarFieldContainer[str]
    created_by: str
    def __init__(self, story_id: _Optional[str] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., phase: _Optional[_Union[Phase, str]] = ..., acceptance_criteria: _Optional[_Iterable[str]] = ..., created_by: _Optional[str] = ...) -> None: ...

class CreateStoryResponse(_message.Message):
    __slots__ = ("story_id", "created")
    STORY_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    story_id: str
    created: bool
    def __init__(self, story_id: _Optional[str] = ..., created: _Optional[bool] = ...) -> None: ...

class TaskInfo(_message.Message):
    __slots__ = ("task_id", "story_id", "role", "title", "description", "depends_on", "status")
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    STORY_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DEPENDS_ON_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    task_id: str
    story_id: str
    role: Role
    title: str
    description: str
    depends_on: _containers.RepeatedScalarFieldContainer[str]
    status: str
    def __init__(self, task_id: _Optional[str] = ..., story_id: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., depends_on: _Optional[_Iterable[str]] = ..., status: _Optional[str] = ...) -> None: ...

class DecisionInfo(_message.Message):
    __slots__ = ("decision_id", "title", "rationale", "role", "affects_task_ids", "score", "source")
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    RATIONALE_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    AFFECTS_TASK_IDS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    decision_id: str
    title: str
    rationale: str
    role: Role
    affects_task_ids: _containers.RepeatedScalarFieldContainer[str]
    score: float
    source: str
    def __init__(self, decision_id: _Optional[str] = ..., title: _Optional[str] = ..., rationale: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., affects_task_ids: _Optional[_Iterable[str]] = ..., score: _Optional[float] = ..., source: _Optional[str] = ...) -> None: ...

class CreateTaskRequest(_message.Message):
    __slots__ = ("story_id", "task_id", "role", "title", "description", "depends_on")
    STORY_ID_FIELD_NUMBER: _ClassVar[int]
    TASK_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    DEPENDS_ON_FIELD_NUMBER: _ClassVar[int]
    story_id: str
    task_id: str
    role: Role
    title: str
    description: str
    depends_on: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, story_id: _Optional[str] = ..., task_id: _Optional[str] = ..., role: _Optional[_Union[Role, str]] = ..., title: _Optional[str] = ..., description: _Optional[str] = ..., depends_on: _Optional[_Iterable[str]] = ...) -> None: ...

class CreateTaskResponse(_message.Message):
    __slots__ = ("task", "created")
    TASK_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    task: TaskInfo
    created: bool
    def __init__(self, task: _Optional[_Union[TaskInfo, _Mapping]] = ..., created: _Optional[bool] = ...) -> None: ...

class AddProjectDecisionRequest(_message.Message):
    __slots__ = ("story_id", "decision")
    STORY_ID_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    story_id: str
    decision: DecisionInput
    def __init__(self, story_id: _Optional[str] = ..., decision: _Optional[_Union[DecisionInput, _Mapping]] = ...) -> None: ...

class AddProjectDecisionResponse(_message.Message):
    __slots__ = ("decision_id", "version")
    DECISION_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    decision_id: str
    version: str
    def __init__(self, decision_id: _Optional[str] = ..., version: _Optional[str] = ...) -> None: ...

class TransitionPhaseRequest(_message.Message):
    __slots__ = ("story_id", "from_phase", "to_phase", "requested_by", "event_id")
    STORY_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_PHASE_FIELD_NUMBER: _ClassVar[int]
    TO_PHASE_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    EVENT_ID_FIELD_NUMBER: _ClassVar[int]
    story_id: str
    from_phase: Phase
    to_phase: Phase
    requested_by: str
    event_id: str
    def __init__(self, story_id: _Optional[str] = ..., from_phase: _Optional[_Union[Phase, str]] = ..., to_phase: _Optional[_Union[Phase, str]] = ..., requested_by: _Optional[str] = ..., event_id: _Optional[str] = ...) -> None: ...

class TransitionPhaseResponse(_message.Message):
    __slots__ = ("phase", "applied", "version")
    PHASE_FIELD_NUMBER: _ClassVar[int]
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    phase: Phase
    applied: bool
    version: str
    def __init__(self, phase: _Optional[_Union[Phase, str]] = ..., applied: _Optional[bool] = ..., version: _Optional[str] = ...) -> None: ...

class GetGraphRelationshipsRequest(_message.Message):
    __slots__ = ("node_id", "node_label", "depth")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_LABEL_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    node_label: str
    depth: int
    def __init__(self, node_id: _Optional[str] = ..., node_label: _Optional[str] = ..., depth: _Optional[int] = ...) -> None: ...

class GraphNode(_message.Message):
    __slots__ = ("id", "labels", "properties")
    class PropertiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    LABELS_FIELD_NUMBER: _ClassVar[int]
    PROPERTIES_FIELD_NUMBER: _ClassVar[int]
    id: str
    labels: _containers.RepeatedScalarFieldContainer[str]
    properties: _containers.ScalarMap[str, str]
    def __init__(self, id: _Optional[str] = ..., labels: _Optional[_Iterable[str]] = ..., properties: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GraphRelationship(_message.Message):
    __slots__ = ("from_id", "to_id", "type")
    FROM_ID_FIELD_NUMBER: _ClassVar[int]
    TO_ID_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    from_id: str
    to_id: str
    type: str
    def __init__(self, from_id: _Optional[str] = ..., to_id: _Optional[str] = ..., type: _Optional[str] = ...) -> None: ...

class GetGraphRelationshipsResponse(_message.Message):
    __slots__ = ("nodes", "relationships")
    NODES_FIELD_NUMBER: _ClassVar[int]
    RELATIONSHIPS_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[GraphNode]
    relationships: _containers.RepeatedCompositeFieldContainer[GraphRelationship]
    def __init__(self, nodes: _Optional[_Iterable[_Union[GraphNode, _Mapping]]] = ..., relationships: _Optional[_Iterable[_Union[GraphRelationship, _Mapping]]] = ...) -> None: ...

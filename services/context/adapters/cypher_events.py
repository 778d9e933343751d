"""Batched, parameterized, idempotent writes for the three event streams.

Each statement is an UNWIND over rows. Audit nodes are MERGEd by event_id and
stamped with the batch's marker on creation, so a story's revision only moves
when something new was written: a redelivered event leaves the graph unchanged.
"""

from __future__ import annotations

_NEW_STORY = (
    "ON CREATE SET s.phase = 'DESIGN', s.revision = 0, s.title = '', s.description = '', "
    "s.acceptance_criteria = [], s.summary = ''"
)

BUMP = (
    "FOREACH (_ IN CASE WHEN {node}.tx = $marker THEN [1] ELSE [] END | SET s.revision = coalesce(s.revision, 0) + 1)"
)

PLAN_APPROVED = f"""
UNWIND $rows AS r
MERGE (s:Story {{story_id: r.story_id}}) {_NEW_STORY}
SET s.title = CASE WHEN s.title = '' THEN r.title ELSE s.title END,
    s.description = CASE WHEN s.description = '' THEN r.description ELSE s.description END
MERGE (p:PlanVersion {{plan_id: r.plan_id, version: r.plan_version}})
SET p.story_id = r.story_id, p.title = r.title, p.description = r.description,
    p.acceptance_criteria = r.acceptance_criteria, p.roles = r.roles,
    p.approved_by = r.approved_by, p.approved_at = r.at
MERGE (s)-[:HAS_PLAN]->(p)
MERGE (actor:Actor {{name: r.approved_by}})
MERGE (a:PlanApproval {{event_id: r.event_id}})
  ON CREATE SET a.tx = $marker, a.story_id = r.story_id, a.plan_id = r.plan_id,
                a.plan_version = r.plan_version, a.approved_by = r.approved_by, a.at = r.at
// An audit node and its links are born in the same transaction, so links need
// creating only when the node is new: CREATE is cheaper than MERGE here.
FOREACH (_ IN CASE WHEN a.tx = $marker THEN [1] ELSE [] END |
  CREATE (actor)-[:APPROVED]->(a)
  CREATE (a)-[:APPROVES]->(p)
  CREATE (a)-[:FOR_STORY]->(s)
  SET s.revision = coalesce(s.revision, 0) + 1)
WITH s, p, r
CALL (s, p, r) {{
  UNWIND r.tasks AS k
  MERGE (t:Task {{task_id: k.task_id}})
  SET t.story_id = r.story_id, t.role = k.role, t.title = k.title, t.description = k.description,
      t.depends_on = k.depends_on,
      t.status = CASE WHEN coalesce(t.status, 'UNKNOWN') = 'UNKNOWN' THEN 'TODO' ELSE t.status END
  MERGE (s)-[:HAS_TASK]->(t)
  MERGE (p)-[:INCLUDES]->(t)
  WITH t, k
  UNWIND k.depends_on AS dep
  MERGE (d:Task {{task_id: dep}})
    ON CREATE SET d.story_id = r.story_id, d.role = '', d.title = '', d.description = '',
                  d.depends_on = [], d.status = 'UNKNOWN'
  MERGE (t)-[:DEPENDS_ON]->(d)
}}
"""

TRANSITIONS = f"""
UNWIND $rows AS r
MERGE (s:Story {{story_id: r.story_id}}) {_NEW_STORY}
MERGE (t:PhaseTransition {{event_id: r.event_id}})
  ON CREATE SET t.tx = $marker, t.story_id = r.story_id, t.from_phase = r.from_phase,
                t.to_phase = r.to_phase, t.at = r.at, t.seq = r.seq, t.requested_by = r.requested_by
FOREACH (_ IN CASE WHEN t.tx = $marker THEN [1] ELSE [] END |
  CREATE (s)-[:TRANSITIONED]->(t)
  SET s.revision = coalesce(s.revision, 0) + 1)
"""

# Rows arrive sorted oldest first, one per story (the newest of the batch), so the
# phase only ever moves to an event newer than the one that set it.
ADVANCE_PHASE = """
UNWIND $rows AS r
MATCH (s:Story {story_id: r.story_id})
// Writing first takes the story's lock, so concurrent transitions (consumer and
// RPC) serialize here and each compares against the committed latest phase.
SET s.phase_guard = true
WITH s, r, (s.phase_seq IS NULL OR r.seq > s.phase_seq
            OR (r.seq = s.phase_seq AND r.event_id >= s.phase_event_id)) AS newer
FOREACH (_ IN CASE WHEN newer THEN [1] ELSE [] END |
  SET s.phase = r.to_phase, s.phase_seq = r.seq, s.phase_event_id = r.event_id)
RETURN s.story_id AS story_id, s.phase AS phase, s.phase_event_id AS phase_event_id
"""

DELIBERATION_STATUS = """
UNWIND $rows AS r
MERGE (d:Deliberation {deliberation_id: r.deliberation_id})
SET d.role = r.role, d.story_id = r.story_id, d.plan_id = r.plan_id, d.plan_version = r.plan_version,
    d.status = CASE WHEN d.status IN ['COMPLETED', 'FAILED', 'CANCELLED'] AND r.status IN ['QUEUED', 'RUNNING']
                    THEN d.status WHEN d.status = 'RUNNING' AND r.status = 'QUEUED' THEN d.status
                    ELSE r.status END,
    d.reason = CASE WHEN r.reason = '' THEN d.reason ELSE r.reason END,
    d.updated_at = r.at
WITH r, d WHERE r.story_id <> ''
MERGE (s:Story {story_id: r.story_id}) ON CREATE SET s.phase = 'DESIGN', s.revision = 0, s.title = '',
    s.description = '', s.acceptance_criteria = [], s.summary = ''
MERGE (d)-[:FOR_STORY]->(s)
"""

DELIBERATION_COMPLETED = f"""
UNWIND $rows AS r
MATCH (d:Deliberation {{deliberation_id: r.deliberation_id}})
MATCH (s:Story {{story_id: r.story_id}})
SET d.completed_at = r.at, d.duration_ms = r.duration_ms, d.usage_json = r.usage_json,
    d.winner_agent_id = r.agent_id
WITH r, d, s
OPTIONAL MATCH (p:PlanVersion {{plan_id: r.plan_id, version: r.plan_version}})
FOREACH (_ IN CASE WHEN p IS NULL THEN [] ELSE [1] END | MERGE (d)-[:FOR_PLAN]->(p))
MERGE (w:Decision {{decision_id: r.decision_id}})
  ON CREATE SET w.tx = $marker
SET w.story_id = r.story_id, w.title = r.title, w.rationale = r.rationale, w.role = r.role,
    w.score = r.score, w.rank = 1, w.agent_id = r.agent_id, w.proposal = r.proposal,
    w.reviews_json = r.reviews_json, w.checks_json = r.checks_json, w.status = 'CHOSEN', w.source = 'deliberation',
    w.made_at = r.at
MERGE (s)-[:HAS_DECISION]->(w)
MERGE (d)-[:DECIDED]->(w)
FOREACH (t IN [(s)-[:HAS_TASK]->(t:Task) WHERE t.role = r.role | t] | MERGE (w)-[:AFFECTS]->(t))
{BUMP.format(node="w")}
"""

ALTERNATIVES = """
UNWIND $rows AS r
MATCH (w:Decision {decision_id: r.winner_id})
MATCH (d:Deliberation {deliberation_id: r.deliberation_id})
MERGE (x:Decision {decision_id: r.decision_id})
SET x.story_id = r.story_id, x.title = r.title, x.role = r.role, x.score = r.score, x.rank = r.rank,
    x.agent_id = r.agent_id, x.proposal = r.proposal, x.reviews_json = r.reviews_json,
    x.checks_json = r.checks_json, x.status = 'ALTERNATIVE', x.source = 'deliberation', x.made_at = r.at
MERGE (x)-[:ALTERNATIVE_TO]->(w)
MERGE (d)-[:CONSIDERED]->(x)
"""

STORY_REVISIONS = """
UNWIND $story_ids AS id
MATCH (s:Story {story_id: id})
RETURN s.story_id AS story_id, s.revision AS revision
"""

"""Writes behind the gRPC commands. Each runs inside one transaction together with
the checks that guard it, so a rejected command leaves nothing behind."""

from __future__ import annotations

STORY_REVISION = "MATCH (s:Story {story_id: $story_id}) RETURN s.revision AS revision"

CREATE_STORY = """
MERGE (s:Story {story_id: $story_id})
  ON CREATE SET s.tx = $marker, s.title = $title, s.description = $description, s.phase = $phase,
                s.acceptance_criteria = $acceptance_criteria, s.summary = '', s.revision = 1,
                s.created_by = $created_by, s.created_at = $at
  ON MATCH SET s.title = CASE WHEN coalesce(s.title, '') = '' THEN $title ELSE s.title END,
               s.description = CASE WHEN coalesce(s.description, '') = '' THEN $description
                                    ELSE s.description END
WITH s
FOREACH (_ IN CASE WHEN $created_by <> '' AND s.tx = $marker THEN [1] ELSE [] END |
  MERGE (a:Actor {name: $created_by}) MERGE (a)-[:CREATED]->(s))
RETURN s.tx = $marker AS created
"""

TASK_OWNER = "MATCH (t:Task {task_id: $task_id}) RETURN t.story_id AS story_id, t.status AS status"

CREATE_TASK = """
MATCH (s:Story {story_id: $story_id})
MERGE (t:Task {task_id: $task_id})
  ON CREATE SET t.tx = $marker
SET t.story_id = $story_id, t.role = $role, t.title = $title, t.description = $description,
    t.depends_on = $depends_on,
    t.status = CASE WHEN coalesce(t.status, 'UNKNOWN') = 'UNKNOWN' THEN 'TODO' ELSE t.status END
MERGE (s)-[:HAS_TASK]->(t)
FOREACH (dep IN $depends_on |
  MERGE (d:Task {task_id: dep})
    ON CREATE SET d.story_id = $story_id, d.role = '', d.title = '', d.description = '',
                  d.depends_on = [], d.status = 'UNKNOWN'
  MERGE (t)-[:DEPENDS_ON]->(d))
RETURN t.tx = $marker AS created, t.status AS status
"""

STORY_TASK_IDS = """
MATCH (s:Story {story_id: $story_id})-[:HAS_TASK]->(t:Task) WHERE t.task_id IN $task_ids
RETURN collect(t.task_id) AS found
"""

ADD_DECISIONS = """
MATCH (s:Story {story_id: $story_id})
UNWIND $decisions AS d
MERGE (x:Decision {decision_id: d.decision_id})
SET x.story_id = $story_id, x.title = d.title, x.rationale = d.rationale, x.role = d.role,
    x.status = 'CHOSEN', x.source = 'manual', x.made_at = d.at, x.decided_by = d.decided_by
MERGE (s)-[:HAS_DECISION]->(x)
FOREACH (t IN [(s)-[:HAS_TASK]->(t:Task) WHERE t.task_id IN d.affects | t] | MERGE (x)-[:AFFECTS]->(t))
FOREACH (_ IN CASE WHEN d.decided_by <> '' THEN [1] ELSE [] END |
  MERGE (a:Actor {name: d.decided_by}) MERGE (a)-[:DECIDED]->(x))
"""

ADD_MILESTONES = """
MATCH (s:Story {story_id: $story_id})
UNWIND $milestones AS m
MERGE (x:Milestone {milestone_id: m.milestone_id})
  ON CREATE SET x.story_id = $story_id, x.text = m.text, x.at = m.at
MERGE (s)-[:HAS_MILESTONE]->(x)
"""

SET_SUMMARY = """
MATCH (s:Story {story_id: $story_id})
SET s.summary = $summary, s.summary_at = $at
"""

BUMP_REVISION = """
MATCH (s:Story {story_id: $story_id})
SET s.revision = coalesce(s.revision, 0) + 1
RETURN s.revision AS revision
"""

"""Read queries: a story's whole context in one round trip, and bounded neighbourhoods."""

from __future__ import annotations

from services.context.domain.model import NODE_KEYS

LOAD_CONTEXT = """
MATCH (s:Story {story_id: $story_id})
RETURN s {.story_id, .title, .description, .phase, .acceptance_criteria, .summary, .revision} AS story,
  [(s)-[:HAS_PLAN]->(p:PlanVersion) | p {.plan_id, .version, .title, .description, .approved_by,
                                        .roles, .acceptance_criteria}] AS plans,
  [(s)-[:HAS_TASK]->(t:Task) | t {.task_id, .role, .title, .description, .status,
                                  deps: [(t)-[:DEPENDS_ON]->(o:Task) | o.task_id]}] AS tasks,
  [(s)-[:HAS_DECISION]->(d:Decision) WHERE coalesce(d.status, 'CHOSEN') <> 'ALTERNATIVE' |
     d {.decision_id, .title, .rationale, .role, .score, .made_at, .source,
        affects: [(d)-[:AFFECTS]->(t:Task) | t.task_id],
        alternatives: [(x:Decision)-[:ALTERNATIVE_TO]->(d) | x {.agent_id, .score, .rank}]}] AS decisions,
  [(s)-[:TRANSITIONED]->(t:PhaseTransition) | t {.from_phase, .to_phase, .at, .seq}] AS transitions,
  [(a:PlanApproval)-[:FOR_STORY]->(s) | a {.plan_id, .plan_version, .approved_by, .at}] AS approvals,
  [(s)-[:HAS_MILESTONE]->(m:Milestone) | m {.text, .at}] AS milestones
"""

def neighbourhood(label: str, depth: int) -> str:
    """Label and depth are checked against fixed sets before they reach the query text;
    Cypher cannot take either as a parameter."""
    if label not in NODE_KEYS or not 1 <= depth <= 3:
        raise ValueError("label or depth out of range")
    return f"""
MATCH (n:{label} {{{NODE_KEYS[label]}: $node_id}})
OPTIONAL MATCH path = (n)-[*1..{depth}]-()
WITH n, path LIMIT $limit
UNWIND coalesce(relationships(path), [null]) AS r
WITH collect(DISTINCT n) AS starts, collect(DISTINCT r) AS rels
UNWIND starts + [r IN rels | startNode(r)] + [r IN rels | endNode(r)] AS x
WITH rels, collect(DISTINCT x) AS nodes
RETURN [x IN nodes | {{labels: labels(x), props: properties(x), eid: elementId(x)}}] AS nodes,
       [r IN rels | {{type: type(r), start: elementId(startNode(r)), end: elementId(endNode(r))}}] AS rels
"""

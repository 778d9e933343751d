"""Simulated peer review: find the labelled proposals in a prompt and score them.

Recognised proposal markers (one per proposal, content runs to the next one):
`<proposal label="A">...</proposal>`, or a line such as `Proposal A:`,
`### Proposal B`, `Candidate 2 -`, `Label: C`, `[D]`.
"""

from __future__ import annotations

import random
import re
from typing import Any

from services.simulator.models import ModelProfile
from services.simulator.quality import Quality, assess
from services.simulator.schema_gen import MISSING, Hints, SchemaInstanceGenerator, fit_length

_TAGGED = re.compile(
    r"<(?:proposal|candidate)\s+(?:label|id)\s*=\s*[\"']?([\w-]{1,12})[\"']?\s*>(.*?)</(?:proposal|candidate)>",
    re.DOTALL | re.IGNORECASE,
)
_HEADER = re.compile(
    r"^[ \t>#*_-]*(?:proposal|candidate|option|submission|label)[ \t]*(?:label)?[ \t]*[:#-]?[ \t]*"
    r"[\"'\[(]?([A-Z]{1,2}|\d{1,2})[\"'\])]?(?=[ \t*_]*$|[ \t*_]*[:.\-\u2014]|[ \t]*\()[^\n]*$"
    r"|^[ \t]*\[([A-Z]{1,2}|\d{1,2})\][ \t]*:?[ \t]*$",
    re.MULTILINE | re.IGNORECASE,
)
_LABEL_KEYS = re.compile(r"label|proposal|candidate|option|target|^id$", re.IGNORECASE)
_RANK_KEYS = re.compile(r"rank|order", re.IGNORECASE)
_PICK_KEYS = re.compile(r"winner|best|select|choice|preferred", re.IGNORECASE)
_PROSE_KEYS = re.compile(r"critique|comment|feedback|reason|rationale|summary|explanation", re.IGNORECASE)


def find_proposals(text: str) -> dict[str, str]:
    """Label -> proposal text, in the order the prompt shows them."""
    tagged = {m.group(1): m.group(2).strip() for m in _TAGGED.finditer(text)}
    if tagged:
        return tagged
    found: dict[str, str] = {}
    matches = list(_HEADER.finditer(text))
    for i, m in enumerate(matches):
        label = (m.group(1) or m.group(2)).upper()
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        body = text[m.end() : end].strip()
        header_rest = m.group(0).split(":", 1)[1].strip() if ":" in m.group(0) else ""
        found[label] = (found.get(label, "") + "\n" + header_rest + "\n" + body).strip()
    return found


class ReviewHints(Hints):
    """Scores follow each proposal's assessed quality, with the serving model's reviewer noise
    and its blind spot on each proposal (services/simulator/models.py)."""

    def __init__(self, proposals: dict[str, str], seed: int, model: ModelProfile | None = None) -> None:
        self.proposals = proposals
        self.model = model or ModelProfile(name="default")
        self.quality: dict[str, Quality] = {}
        for label, body in proposals.items():
            q = assess(body)
            self.quality[label] = Quality(score=q.score + self.model.blind_spot(body), notes=q.notes)
        self.seed = seed

    def _ranked(self) -> list[str]:
        # Reviewer noise breaks near-ties differently per reviewer, never a clear quality gap.
        def key(label: str) -> tuple[float, str]:
            noise = random.Random(f"{self.seed}:{label}:rank").uniform(-self.model.noise, self.model.noise)
            return -(self.quality[label].score + noise), label

        return sorted(self.proposals, key=key)

    def label_for_key(self, key: str) -> str | None:
        if key in self.proposals:
            return key
        upper = key.upper()
        return upper if upper in self.proposals else None

    def array_labels(self, key: str | None, items: dict[str, Any]) -> list[str] | None:
        if not self.proposals:
            return None
        props = items.get("properties") or {}
        if any(_LABEL_KEYS.search(name) for name in props):
            return list(self.proposals)
        return None

    def _score(self, label: str, key: str | None, lo: float, hi: float) -> float:
        rng = random.Random(f"{self.seed}:{label}:{key}")
        raw = self.quality[label].score + rng.choice((-0.5, 0.0, 0.0, 0.5))
        raw = max(1.0, min(10.0, raw))
        return lo + (raw - 1.0) / 9.0 * (hi - lo)

    def critique(self, label: str) -> str:
        q = self.quality[label]
        if q.notes:
            return f"Proposal {label}: " + "; ".join(q.notes) + "."
        return f"Proposal {label}: complete and well structured; keep the tests close to the code."

    def _chair(self, schema: dict[str, Any], key: str, kind: Any) -> Any:
        # A simulated chair always selects the best candidate; it cannot synthesize text.
        enum = schema.get("enum") or []
        if "select" in enum:
            return "select"
        if kind == "string" and "synthes" in key.lower() and not schema.get("minLength"):
            return ""
        if kind == "string" and _PROSE_KEYS.search(key):
            best = self._ranked()[0]
            return fit_length(f"{best} is the strongest candidate. " + self.critique(best), schema)
        return MISSING

    def value(self, schema: dict[str, Any], key: str | None, label: str | None) -> Any:
        kind = schema.get("type")
        if kind is None and all(isinstance(v, str) for v in schema.get("enum") or [0]):
            kind = "string"
        if not self.proposals:
            return MISSING
        if kind == "array" and key and _RANK_KEYS.search(key):
            item = schema.get("items") or {}
            if item.get("type") == "string" and not item.get("enum"):
                return self._ranked()[: int(schema.get("maxItems", len(self.proposals)))]
        if kind == "string" and key and label is None and _PICK_KEYS.search(key):
            enum = schema.get("enum")
            best = self._ranked()[0]
            return best if not enum or best in enum else MISSING
        if label is None and key:
            chair = self._chair(schema, key, kind)
            if chair is not MISSING:
                return chair
        if label is None or label not in self.proposals:
            return MISSING
        if kind == "string" and key and _LABEL_KEYS.search(key):
            enum = schema.get("enum")
            return label if not enum or label in enum else MISSING
        if kind == "string" and key and _PROSE_KEYS.search(key):
            return fit_length(self.critique(label), schema)
        if kind in ("integer", "number"):
            lo, hi = SchemaInstanceGenerator.bounds(schema, (1, 10))
            score = self._score(label, key, lo, hi)
            if kind == "integer":
                return int(max(-(-lo // 1), min(hi // 1, round(score))))
            return round(min(hi, max(lo, score)), 3)
        return MISSING

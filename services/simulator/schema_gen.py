"""Produce a deterministic instance that validates against a JSON schema.

Covers the subset structured-output schemas use: object/required/properties,
arrays with min/maxItems (and uniqueItems for enums), integer and number
bounds, strings with min/maxLength and a few formats, enum, const, anyOf/oneOf
(first non-null branch), allOf (merged), and local $ref into $defs/definitions.
`pattern` is not honoured. A `Hints` object lets the caller steer values, which
is how simulated reviews make their scores depend on the proposals.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

_WORDS = (
    "clear scope", "solid tests", "tight coupling", "good naming", "missing limits",
    "idempotent writes", "edge cases", "readable flow", "needs metrics", "safe defaults",
)
_PROSE_KEYS = ("critique", "comment", "feedback", "reason", "rationale", "summary", "explanation")


class Missing:
    """Returned by hints that have no opinion."""


MISSING = Missing()


class Hints:
    """Override to steer generated values; every default says 'no opinion'."""

    def label_for_key(self, key: str) -> str | None:
        return None

    def array_labels(self, key: str | None, items: dict[str, Any]) -> list[str] | None:
        return None

    def value(self, schema: dict[str, Any], key: str | None, label: str | None) -> Any:
        return MISSING


class SchemaInstanceGenerator:
    def __init__(self, root: dict[str, Any], seed: int, hints: Hints | None = None) -> None:
        self.root = root
        self.rng = random.Random(seed)
        self.hints = hints or Hints()

    def generate(self) -> Any:
        return self.build(self.root, None, None)

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        seen = 0
        while "$ref" in schema:
            ref = schema["$ref"]
            if not isinstance(ref, str) or not ref.startswith("#"):
                raise ValueError(f"only local $ref is supported: {ref!r}")
            node: Any = self.root
            for part in [p for p in ref[1:].split("/") if p]:
                node = node[part.replace("~1", "/").replace("~0", "~")]
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**node, **rest}
            seen += 1
            if seen > 32:
                raise ValueError("$ref chain too deep")
        if "allOf" in schema:
            merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
            for raw in schema["allOf"]:
                sub = self.resolve(raw)
                merged.setdefault("properties", {}).update(sub.get("properties", {}))
                merged["required"] = sorted(set(merged.get("required", [])) | set(sub.get("required", [])))
                for k, v in sub.items():
                    merged.setdefault(k, v)
            schema = merged
        for key in ("anyOf", "oneOf"):
            if key in schema:
                options = [self.resolve(o) for o in schema[key]]
                chosen = next((o for o in options if o.get("type") != "null"), options[0])
                schema = {**{k: v for k, v in schema.items() if k != key}, **chosen}
        return schema

    def build(self, schema: dict[str, Any], key: str | None, label: str | None) -> Any:
        schema = self.resolve(schema)
        hinted = self.hints.value(schema, key, label)
        if hinted is not MISSING:
            return hinted
        if "const" in schema:
            return schema["const"]
        if "enum" in schema:
            return self.rng.choice(list(schema["enum"]))
        kind = self._type(schema)
        if kind == "object":
            return self._object(schema, label)
        if kind == "array":
            return self._array(schema, key, label)
        if kind == "integer":
            return self._integer(schema)
        if kind == "number":
            return self._number(schema)
        if kind == "boolean":
            return self.rng.random() < 0.5
        if kind == "null":
            return None
        return self._string(schema, key)

    @staticmethod
    def _type(schema: dict[str, Any]) -> str:
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "null")
        if kind:
            return str(kind)
        if "properties" in schema:
            return "object"
        if "items" in schema:
            return "array"
        return "string"

    def _object(self, schema: dict[str, Any], label: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, sub in (schema.get("properties") or {}).items():
            out[name] = self.build(sub, name, self.hints.label_for_key(name) or label)
        return out

    def _array(self, schema: dict[str, Any], key: str | None, label: str | None) -> list[Any]:
        lo = int(schema.get("minItems", 0))
        hi = int(schema.get("maxItems", max(lo, 3)))
        prefix = schema.get("prefixItems") or []
        items = self.resolve(schema.get("items") or {}) if isinstance(schema.get("items"), dict) else {}
        labels = self.hints.array_labels(key, items)
        if labels:
            labels = labels[:hi]
            out = [self.build(items, key, lab) for lab in labels]
            while len(out) < lo:
                out.append(self.build(items, key, label))
            return out
        n = max(lo, min(hi, self.rng.randint(max(lo, 1), max(lo, 1, min(hi, 3)))))
        if items.get("enum") and schema.get("uniqueItems"):
            pool = list(items["enum"])
            self.rng.shuffle(pool)
            return pool[: min(n, len(pool))]
        out = [self.build(p, key, label) for p in prefix[:n]]
        while len(out) < n:
            value = self.build(items, key, label)
            if schema.get("uniqueItems") and value in out:
                if isinstance(value, str):
                    value = f"{value} {len(out)}"
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    break
            out.append(value)
        return out

    @staticmethod
    def bounds(schema: dict[str, Any], default: tuple[float, float]) -> tuple[float, float]:
        step = 1 if schema.get("type") == "integer" else 1e-6
        lo: float | None = schema.get("minimum")
        hi: float | None = schema.get("maximum")
        if isinstance(schema.get("exclusiveMinimum"), (int, float)):
            lo = schema["exclusiveMinimum"] + step
        if isinstance(schema.get("exclusiveMaximum"), (int, float)):
            hi = schema["exclusiveMaximum"] - step
        span = default[1] - default[0]
        if lo is None and hi is None:
            return default
        if lo is None:
            assert hi is not None
            return min(default[0], hi - span), float(hi)
        if hi is None:
            return float(lo), max(default[1], lo + span)
        return float(lo), float(hi)

    def _integer(self, schema: dict[str, Any]) -> int:
        lo, hi = self.bounds({**schema, "type": "integer"}, (1, 10))
        ilo, ihi = int(-(-lo // 1)), int(hi // 1)
        return self.rng.randint(ilo, max(ilo, ihi))

    def _number(self, schema: dict[str, Any]) -> float:
        lo, hi = self.bounds(schema, (0.0, 1.0))
        value = round(self.rng.uniform(lo, hi), 3)
        return min(hi, max(lo, value))

    def _string(self, schema: dict[str, Any], key: str | None) -> str:
        fmt = schema.get("format")
        if fmt == "date-time":
            return f"2025-0{self.rng.randint(1, 9)}-1{self.rng.randint(0, 9)}T12:00:00Z"
        if fmt == "date":
            return f"2025-0{self.rng.randint(1, 9)}-1{self.rng.randint(0, 9)}"
        if fmt == "uuid":
            return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        if fmt == "email":
            return f"user{self.rng.randint(1, 999)}@example.com"
        if key and any(k in key.lower() for k in _PROSE_KEYS):
            text = f"{self.rng.choice(_WORDS).capitalize()}; {self.rng.choice(_WORDS)}."
        else:
            text = self.rng.choice(_WORDS)
        return fit_length(text, schema)


def fit_length(text: str, schema: dict[str, Any]) -> str:
    lo = int(schema.get("minLength", 0))
    hi = schema.get("maxLength")
    while len(text) < lo:
        text += " ok"
    if hi is not None:
        text = text[: int(hi)]
    return text


def generate_instance(schema: dict[str, Any], seed: int, hints: Hints | None = None) -> Any:
    return SchemaInstanceGenerator(schema, seed, hints).generate()

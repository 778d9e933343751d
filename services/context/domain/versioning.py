"""Deterministic version of assembled content: same content, same hash, any process."""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_version(value: Any) -> str:
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()

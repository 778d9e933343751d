"""What one simulator process keeps between requests: its settings and knobs, the
round-robin index of its fault plan, and the stats the admin endpoints report."""

from __future__ import annotations

import json
import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from services.simulator.models import ModelProfile
from services.simulator.settings import Knobs, SimSettings

log = logging.getLogger("conclave.simulator")
NOTE = "SIMULATOR: deterministic canned answers from the Conclave model simulator, not a real model"


def log_event(event: str, **fields: Any) -> None:
    log.info(json.dumps({"ts": round(time.time(), 3), "event": event, "simulator": True, **fields}))


@dataclass
class Stats:
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    # Content chunks written to streams: lets a client (a test) act while an answer is mid-stream.
    streamed_chunks: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    models_requests: int = 0
    by_model: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "streamed_chunks": self.streamed_chunks,
            "by_status": dict(self.by_status),
            "faults": dict(self.faults),
            "models_requests": self.models_requests,
            "by_model": dict(self.by_model),
        }


@dataclass
class SimState:
    settings: SimSettings
    knobs: Knobs
    loading_since: float = field(default_factory=time.monotonic)
    next_index: int = 0
    stats: Stats = field(default_factory=Stats)
    served: dict[str, ModelProfile] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.served = self.served or self.settings.served()

    def loading(self) -> bool:
        return time.monotonic() - self.loading_since < self.knobs.loading_s


STATE = web.AppKey("state", SimState)

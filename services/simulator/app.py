"""The simulator's HTTP surface: an OpenAI-compatible subset plus admin endpoints.

Run it with `run_app(app, handler_cancellation=True)` or an AppRunner with the
same flag: a client that goes away must cancel its handler, which is how the
simulator's stats show that a cancelled call really closed its request.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from services.simulator.content import answer
from services.simulator.faults import FaultPlan, break_json, plan_for
from services.simulator.models import ModelProfile
from services.simulator.settings import Knobs, SimSettings
from services.simulator.tokens import (
    count_prompt_tokens,
    count_tokens,
    estimate_tokens,
    split_pieces,
    tokenizer_name,
)

log = logging.getLogger("conclave.simulator")
NOTE = "SIMULATOR: deterministic canned answers from the Conclave model simulator, not a real model"


def log_event(event: str, **fields: Any) -> None:
    log.info(json.dumps({"ts": round(time.time(), 3), "event": event, "simulator": True, **fields}))


@dataclass
class Stats:
    requests: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    models_requests: int = 0
    by_model: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
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


def _error(status: int, message: str, kind: str = "server_error") -> web.Response:
    return web.json_response({"error": {"message": message, "type": kind, "code": status}}, status=status)


async def health(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response(
        {"status": "loading" if state.loading() else "ok", "simulator": True, "note": NOTE,
         "worker": os.getpid()}
    )


async def models(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.stats.models_requests += 1
    loading = state.loading()
    data = [] if loading else [
        {"id": name, "object": "model", "created": 0, "owned_by": "conclave-simulator"}
        for name in state.served
    ]
    log.debug(json.dumps({"event": "models", "simulator": True, "loading": loading}))
    return web.json_response({"object": "list", "data": data, "simulator": True, "note": NOTE})


def _chunk(cid: str, model: str, delta: dict[str, Any], finish: str | None = None) -> bytes:
    payload = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return f"data: {json.dumps(payload)}\n\n".encode()


def _truncate(text: str, max_tokens: int | None) -> tuple[str, str]:
    if not max_tokens or count_tokens(text) <= max_tokens:
        return text, "stop"
    pieces = split_pieces(text)
    lo, hi = 0, len(pieces)
    while lo < hi:  # longest prefix that fits
        mid = (lo + hi + 1) // 2
        if count_tokens("".join(pieces[:mid])) <= max_tokens:
            lo = mid
        else:
            hi = mid - 1
    return "".join(pieces[:lo]), "length"


async def _stream(
    request: web.Request, state: SimState, body: dict[str, Any], text: str, finish: str,
    usage: dict[str, int], plan: FaultPlan,
) -> web.StreamResponse:
    knobs = state.knobs
    cid = f"chatcmpl-{uuid.uuid4().hex[:24]}"
    model = str(body.get("model") or state.settings.model)
    resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
    await resp.prepare(request)
    pieces = split_pieces(text)
    groups = ["".join(pieces[i : i + 4]) for i in range(0, len(pieces), 4)] or [""]
    drop_at = len(groups) // 2 if plan.drop else None
    started = time.monotonic()
    sent_tokens = 0
    await resp.write(_chunk(cid, model, {"role": "assistant", "content": ""}))
    for i, group in enumerate(groups):
        if drop_at is not None and i == drop_at:
            state.stats.by_status["dropped"] += 1
            assert request.transport is not None
            request.transport.close()
            return resp
        sent_tokens += estimate_tokens(group)
        if knobs.tokens_per_s > 0:
            delay = started + sent_tokens / knobs.tokens_per_s - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        await resp.write(_chunk(cid, model, {"content": group}))
    await resp.write(_chunk(cid, model, {}, finish))
    if (body.get("stream_options") or {}).get("include_usage"):
        tail = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
                "model": model, "choices": [], "usage": usage}
        await resp.write(f"data: {json.dumps(tail)}\n\n".encode())
    await resp.write(b"data: [DONE]\n\n")
    await resp.write_eof()
    state.stats.by_status["200"] += 1
    return resp


async def _whole(
    request: web.Request, state: SimState, body: dict[str, Any], text: str, finish: str,
    usage: dict[str, int], plan: FaultPlan,
) -> web.StreamResponse:
    if state.knobs.tokens_per_s > 0:
        await asyncio.sleep(usage["completion_tokens"] / state.knobs.tokens_per_s)
    payload = json.dumps({
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model") or state.settings.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                     "logprobs": None, "finish_reason": finish}],
        "usage": usage,
    }).encode()
    if plan.drop:
        resp = web.StreamResponse(headers={"Content-Type": "application/json"})
        resp.content_length = len(payload)
        await resp.prepare(request)
        await resp.write(payload[: len(payload) // 2])
        state.stats.by_status["dropped"] += 1
        assert request.transport is not None
        request.transport.close()
        return resp
    state.stats.by_status["200"] += 1
    return web.Response(body=payload, content_type="application/json")


async def chat_completions(request: web.Request) -> web.StreamResponse:
    state = request.app[STATE]
    stats = state.stats
    stats.requests += 1
    stats.in_flight += 1
    stats.max_in_flight = max(stats.max_in_flight, stats.in_flight)
    try:
        try:
            body = await request.json()
            if not isinstance(body, dict) or not isinstance(body.get("messages"), list):
                raise ValueError("messages must be a list")
        except ValueError as err:
            stats.by_status["400"] += 1
            return _error(400, f"invalid request: {err}", "invalid_request_error")
        if state.loading():
            stats.by_status["503"] += 1
            return _error(503, "model loading")
        if body.get("model") is not None and body.get("model") not in state.served:
            stats.by_status["404"] += 1
            return _error(404, f"model {body.get('model')!r} does not exist", "not_found_error")
        plan = plan_for(state.knobs, state.next_index)
        state.next_index += 1
        if plan.status is not None:
            stats.faults["error"] += 1
            stats.by_status[str(plan.status)] += 1
            return _error(plan.status, f"simulated fault {plan.status}")
        if plan.stall:
            stats.faults["stall"] += 1
            await asyncio.sleep(state.knobs.stall_s)
        await asyncio.sleep(state.knobs.ttft_ms / 1000.0)
        model = state.served.get(str(body.get("model")), state.served[state.settings.model])
        stats.by_model[model.name] += 1
        result = answer(body, model)
        text = result.text
        if plan.malformed and result.structured:
            stats.faults["malformed"] += 1
            text = break_json(text)
        if plan.drop:
            stats.faults["drop"] += 1
        text, finish = _truncate(text, body.get("max_completion_tokens") or body.get("max_tokens"))
        prompt_tokens = count_prompt_tokens(body["messages"])
        completion_tokens = count_tokens(text)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}
        send = _stream if body.get("stream") else _whole
        return await send(request, state, body, text, finish, usage, plan)
    except (asyncio.CancelledError, ConnectionResetError):
        stats.by_status["disconnected"] += 1
        raise
    finally:
        stats.in_flight -= 1


async def get_faults(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].knobs.model_dump(mode="json"))


async def set_faults(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        update = await request.json()
        knobs = Knobs.model_validate({**state.knobs.model_dump(), **update})
    except ValueError as err:
        return _error(400, f"invalid knobs: {err}", "invalid_request_error")
    state.knobs = knobs
    state.next_index = 0
    if "loading_s" in update:
        state.loading_since = time.monotonic()
    log_event("knobs", **knobs.model_dump(mode="json"))
    return web.json_response(knobs.model_dump(mode="json"))


async def get_stats(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].stats.as_dict())


async def reset_stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    in_flight = state.stats.in_flight
    state.stats = Stats(in_flight=in_flight, max_in_flight=in_flight)
    return web.json_response(state.stats.as_dict())


async def _announce(app: web.Application) -> None:
    state = app[STATE]
    state.loading_since = time.monotonic()
    log_event("start", note=NOTE, model=state.settings.model, tokenizer=tokenizer_name(),
              knobs=state.knobs.model_dump(mode="json"))


def create_app(settings: SimSettings | None = None, knobs: Knobs | None = None) -> web.Application:
    settings = settings or SimSettings()
    app = web.Application()
    app[STATE] = SimState(settings=settings, knobs=knobs or settings.knobs())
    app.on_startup.append(_announce)
    app.add_routes([
        web.get("/health", health),
        web.get("/v1/models", models),
        web.post("/v1/chat/completions", chat_completions),
        web.get("/admin/faults", get_faults),
        web.post("/admin/faults", set_faults),
        web.get("/admin/stats", get_stats),
        web.post("/admin/stats/reset", reset_stats),
    ])
    return app

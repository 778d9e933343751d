"""The simulator's HTTP surface: an OpenAI-compatible subset plus admin endpoints.

Run it with `run_app(app, handler_cancellation=True)` or an AppRunner with the
same flag: a client that goes away must cancel its handler, which is how the
simulator's stats show that a cancelled call really closed its request.
"""

from __future__ import annotations

import asyncio
import json
import os
import time

from aiohttp import web

from services.simulator.content import answer
from services.simulator.faults import break_json, plan_for
from services.simulator.replies import send_streamed, send_whole, truncate
from services.simulator.settings import Knobs, SimSettings
from services.simulator.state import NOTE, STATE, SimState, Stats, log, log_event
from services.simulator.tokens import count_prompt_tokens, count_tokens, tokenizer_name


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
        text, finish = truncate(text, body.get("max_completion_tokens") or body.get("max_tokens"))
        prompt_tokens = count_prompt_tokens(body["messages"])
        completion_tokens = count_tokens(text)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                 "total_tokens": prompt_tokens + completion_tokens}
        send = send_streamed if body.get("stream") else send_whole
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

"""How a chat completion goes back to the client: streamed as server-sent chunks at the
knobs' pace, or whole; cut at max_tokens; or dropped half-way when the fault plan says so."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

from aiohttp import web

from services.simulator.faults import FaultPlan
from services.simulator.state import SimState
from services.simulator.tokens import count_tokens, estimate_tokens, split_pieces


def _chunk(cid: str, model: str, delta: dict[str, Any], finish: str | None = None) -> bytes:
    payload = {
        "id": cid,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return f"data: {json.dumps(payload)}\n\n".encode()


def truncate(text: str, max_tokens: int | None) -> tuple[str, str]:
    """The text cut to `max_tokens`, and its finish reason ("length" when cut)."""
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


async def send_streamed(
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
        state.stats.streamed_chunks += 1
    await resp.write(_chunk(cid, model, {}, finish))
    if (body.get("stream_options") or {}).get("include_usage"):
        tail = {"id": cid, "object": "chat.completion.chunk", "created": int(time.time()),
                "model": model, "choices": [], "usage": usage}
        await resp.write(f"data: {json.dumps(tail)}\n\n".encode())
    await resp.write(b"data: [DONE]\n\n")
    await resp.write_eof()
    state.stats.by_status["200"] += 1
    return resp


async def send_whole(
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

"""gRPC client of the Context service, as the Ray job needs it."""

from __future__ import annotations

import asyncio
import time

import grpc

from services.gen.fleet.context.v1 import context_pb2 as pb
from services.gen.fleet.context.v1 import context_pb2_grpc as pb_grpc
from services.orchestrator.domain.council import Role
from services.shared import tracing

POLL_FIRST_S = 0.02
POLL_MAX_S = 0.25


class PlanNotRecorded(TimeoutError):
    pass


class ContextClient:
    """The Context service as a Ray job reads it."""

    def __init__(self, addr: str, *, wait_s: float) -> None:
        self.addr = addr
        self.wait_s = wait_s

    async def plan_context(self, story_id: str, role: Role, plan_id: str, plan_version: int) -> str:
        return await plan_context(self.addr, story_id, role, plan_id, plan_version, wait_s=self.wait_s)


async def plan_context(
    addr: str, story_id: str, role: Role, plan_id: str, plan_version: int, *, wait_s: float, budget: int = 0
) -> str:
    """The role's context once it shows the approved plan; never a context that lacks it.

    The Context service consumes the same plan.approved event in parallel, so the plan
    may land a moment after the job starts: poll, with a bound. The first re-polls come
    quickly (the plan is usually a few milliseconds behind), later ones back off to POLL_MAX_S.
    """
    marker = f"{plan_id} v{plan_version}"
    deadline = time.monotonic() + wait_s
    last = "story not recorded yet"
    pause = POLL_FIRST_S
    async with grpc.aio.insecure_channel(addr, interceptors=tracing.client_interceptors()) as channel:
        stub = pb_grpc.ContextServiceStub(channel)
        while time.monotonic() < deadline:
            try:
                reply = await stub.RehydrateSession(
                    pb.RehydrateSessionRequest(story_id=story_id, role=role.value, token_budget=budget),
                    timeout=10,
                )
            except grpc.aio.AioRpcError as exc:
                # A busy Context service (DEADLINE_EXCEEDED) is as worth waiting for as one not up yet.
                if exc.code() not in (grpc.StatusCode.NOT_FOUND, grpc.StatusCode.UNAVAILABLE,
                                      grpc.StatusCode.DEADLINE_EXCEEDED):
                    raise
                last = f"{exc.code().name}: {exc.details()}"
            else:
                text = "\n\n".join(block.content for block in reply.blocks)
                if marker in text:
                    return text
                last = f"context has no plan {marker} yet"
            await asyncio.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 2, POLL_MAX_S)
    raise PlanNotRecorded(f"plan {marker} of story {story_id} not recorded after {wait_s:.0f}s: {last}")

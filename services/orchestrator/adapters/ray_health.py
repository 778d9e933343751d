"""Whether the Ray job API answers: one of the Orchestrator's readiness probes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx


def ray_probe(address: str, auth_token: str = "", timeout_s: float = 2.0) -> Callable[[], Awaitable[bool]]:
    headers = {"Authorization": f"Bearer {auth_token}"} if auth_token else {}

    async def reachable() -> bool:
        async with httpx.AsyncClient(timeout=timeout_s, headers=headers) as client:
            reply = await client.get(f"{address.rstrip('/')}/api/version")
        return reply.status_code == 200

    return reachable

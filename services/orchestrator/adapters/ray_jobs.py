"""Ray job submission adapter: one Ray job per deliberation, keyed by its id."""

from __future__ import annotations

import shlex
from datetime import datetime
from typing import TYPE_CHECKING, Any

import httpx
from prometheus_client import Counter, Histogram

from services.orchestrator.domain.errors import Unavailable
from services.orchestrator.domain.reconciliation import JobView, Nodes
from services.orchestrator.domain.tracking import JobState

if TYPE_CHECKING:
    from ray.job_submission import JobSubmissionClient

JOB_MODULE = "services.orchestrator.entrypoints.job_launch"  # warm through the node's forkserver, else cold
SUBMITS = Counter("conclave_ray_submissions_total", "Ray job submissions by outcome", ["outcome"])
SUBMIT_SECONDS = Histogram("conclave_ray_submit_seconds", "Time to submit one Ray job",
                           buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


def job_client(address: str, auth_token: str = "") -> JobSubmissionClient:
    # For tests and benchmarks that inspect Ray; imported here, as Ray's SDK is slow to import.
    from ray.job_submission import JobSubmissionClient

    # Ray >= 2.59 enables token auth on local clusters by default; the token is
    # passed explicitly rather than picked up from whatever the process env holds.
    headers = {"Authorization": f"Bearer {auth_token}"} if auth_token else None
    return JobSubmissionClient(address, headers=headers)


class RayJobs:
    """The job API over plain HTTP with timeouts: a head that is gone or hangs must cost
    housekeeping and admission a bounded wait and a clear Unavailable, never a stuck thread.

    One HTTP client for the adapter's life, made on first use: making one costs tens of
    milliseconds of CPU (it loads the CA bundle), which a call per running job per sweep and a
    readiness probe every two seconds paid each time."""

    def __init__(
        self, address: str, auth_token: str, *, num_cpus: float, num_gpus: float, env: dict[str, str],
        timeout_s: float = 30.0,
    ) -> None:
        self._address = address.rstrip("/")
        self._headers = {"Authorization": f"Bearer {auth_token}"} if auth_token else {}
        self._timeout = httpx.Timeout(timeout_s, connect=5.0)
        self._num_cpus = num_cpus
        self._num_gpus = num_gpus
        self._env = env
        self._client: httpx.AsyncClient | None = None

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def reachable(self, timeout_s: float = 2.0) -> bool:
        """Whether the job API answers at all: the Orchestrator's readiness probe of Ray."""
        try:
            reply = await self._call("GET", "/api/version", timeout_s=timeout_s)
        except Unavailable:
            return False
        return reply.status_code == 200

    async def _call(
        self, method: str, path: str, body: dict[str, Any] | None = None, timeout_s: float | None = None
    ) -> httpx.Response:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout, headers=self._headers)
        timeout = self._timeout if timeout_s is None else httpx.Timeout(timeout_s)
        try:
            reply = await self._client.request(method, f"{self._address}{path}", json=body, timeout=timeout)
        except httpx.HTTPError as exc:
            raise Unavailable(f"Ray job API at {self._address}: {type(exc).__name__}: {exc}") from exc
        if reply.status_code >= 500 and "already exists" not in reply.text:
            raise Unavailable(f"Ray job API at {self._address}: {reply.status_code} {reply.text[-300:]}")
        return reply

    async def submit(self, deliberation_id: str) -> bool:
        """Submit the job; False when a job with this submission id exists already."""
        # `python` of the Ray node: the project is installed there at the services' version.
        body = {
            "entrypoint": f"python -m {JOB_MODULE} {shlex.quote(deliberation_id)}",
            "submission_id": deliberation_id,
            "entrypoint_num_cpus": self._num_cpus,
            "entrypoint_num_gpus": self._num_gpus,
            "runtime_env": {"env_vars": self._env},
            "metadata": {"deliberation_id": deliberation_id},
        }
        with SUBMIT_SECONDS.time():
            reply = await self._call("POST", "/api/jobs/", body)
        # Ray answers a duplicate submission id with a 500 whose text says so.
        created = reply.status_code == 200
        if not created and "already exists" not in reply.text:
            raise RuntimeError(f"Ray refused job {deliberation_id}: {reply.status_code} {reply.text[-300:]}")
        SUBMITS.labels(outcome="submitted" if created else "existed").inc()
        return created

    async def stop(self, deliberation_id: str) -> None:
        await self._known("POST", f"/api/jobs/{deliberation_id}/stop")

    async def delete(self, deliberation_id: str) -> None:
        await self._known("DELETE", f"/api/jobs/{deliberation_id}")

    async def status(self, deliberation_id: str) -> JobView | None:
        reply = await self._known("GET", f"/api/jobs/{deliberation_id}")
        if reply is None:
            return None
        info = reply.json()
        return JobView(
            state=JobState(info["status"]), exit_code=info.get("driver_exit_code"),
            error_type=info.get("error_type") or "", message=info.get("message") or "",
            driver_node_id=info.get("driver_node_id") or "", submitted_ms=info.get("start_time"),
            ended_ms=info.get("end_time"),
        )

    async def ended_before(self, cutoff: datetime) -> list[str]:
        reply = await self._call("GET", "/api/jobs/")
        if reply.status_code != 200:
            raise RuntimeError(f"Ray job API GET /api/jobs/: {reply.status_code} {reply.text[-300:]}")
        cutoff_ms = cutoff.timestamp() * 1000
        return [
            job["submission_id"] for job in reply.json()
            if (job.get("metadata") or {}).get("deliberation_id") == job.get("submission_id")
            and JobState(job["status"]).ended and job.get("end_time") and job["end_time"] < cutoff_ms
        ]

    async def nodes(self) -> Nodes:
        """Ray's node table from its state API, dead nodes included (GCS keeps them)."""
        reply = await self._call("GET", "/api/v0/nodes?detail=true&limit=10000")
        if reply.status_code != 200:
            raise RuntimeError(f"Ray state API /api/v0/nodes: {reply.status_code} {reply.text[-300:]}")
        listed = reply.json()["data"]["result"]["result"]
        alive = [n for n in listed if n["state"] == "ALIVE"]
        heads = [n.get("start_time_ms") for n in alive if n.get("is_head_node")]
        return Nodes(
            alive=frozenset(n["node_id"] for n in alive),
            dead_heads=frozenset(n["node_id"] for n in listed if n["is_head_node"] and n["state"] != "ALIVE"),
            head_started_ms=max(filter(None, heads), default=None),
        )

    async def _known(self, method: str, path: str) -> httpx.Response | None:
        """The reply, or None when Ray knows no such job."""
        reply = await self._call(method, path)
        if reply.status_code == 404:
            return None
        if reply.status_code != 200:
            raise RuntimeError(f"Ray job API {method} {path}: {reply.status_code} {reply.text[-300:]}")
        return reply

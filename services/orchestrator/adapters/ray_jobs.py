"""Ray job submission adapter: one Ray job per deliberation, keyed by its id."""

from __future__ import annotations

import asyncio
import shlex
from typing import TYPE_CHECKING

from prometheus_client import Counter, Histogram

from services.orchestrator.domain.tracking import JobState

if TYPE_CHECKING:
    from ray.job_submission import JobSubmissionClient

JOB_MODULE = "services.orchestrator.entrypoints.ray_job"
SUBMITS = Counter("conclave_ray_submissions_total", "Ray job submissions by outcome", ["outcome"])
SUBMIT_SECONDS = Histogram("conclave_ray_submit_seconds", "Time to submit one Ray job",
                           buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


def job_client(address: str, auth_token: str = "") -> JobSubmissionClient:
    # Imported here: the Ray job's driver shares this module's process tree and starts faster without Ray's SDK.
    from ray.job_submission import JobSubmissionClient

    # Ray >= 2.59 enables token auth on local clusters by default; the token is
    # passed explicitly rather than picked up from whatever the process env holds.
    headers = {"Authorization": f"Bearer {auth_token}"} if auth_token else None
    return JobSubmissionClient(address, headers=headers)


class RayJobs:
    """Async face of the (blocking) job submission client."""

    def __init__(
        self, address: str, auth_token: str, *, num_cpus: float, num_gpus: float, env: dict[str, str]
    ) -> None:
        self._address = address
        self._auth_token = auth_token
        self._client: JobSubmissionClient | None = None
        self._num_cpus = num_cpus
        self._num_gpus = num_gpus
        self._env = env

    def _connected(self) -> JobSubmissionClient:
        if self._client is None:
            self._client = job_client(self._address, self._auth_token)
        return self._client

    async def submit(self, deliberation_id: str) -> bool:
        """Submit the job; False when a job with this submission id exists already."""
        # `python` of the Ray node: the project is installed there at the services' version.
        entrypoint = f"python -m {JOB_MODULE} {shlex.quote(deliberation_id)}"

        def submit() -> bool:
            try:
                self._connected().submit_job(
                    entrypoint=entrypoint,
                    submission_id=deliberation_id,
                    entrypoint_num_cpus=self._num_cpus,
                    entrypoint_num_gpus=self._num_gpus,
                    runtime_env={"env_vars": self._env},
                    metadata={"deliberation_id": deliberation_id},
                )
            except RuntimeError as exc:
                if "already exists" in str(exc):
                    return False
                raise
            return True

        with SUBMIT_SECONDS.time():
            created = await asyncio.to_thread(submit)
        SUBMITS.labels(outcome="submitted" if created else "existed").inc()
        return created

    async def stop(self, deliberation_id: str) -> None:
        def stop() -> None:
            try:
                self._connected().stop_job(deliberation_id)
            except RuntimeError as exc:
                if "does not exist" not in str(exc):
                    raise

        await asyncio.to_thread(stop)

    async def status(self, deliberation_id: str) -> JobState | None:
        def status() -> JobState | None:
            try:
                return JobState(self._connected().get_job_status(deliberation_id).value)
            except RuntimeError:
                return None

        return await asyncio.to_thread(status)

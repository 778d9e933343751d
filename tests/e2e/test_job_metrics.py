"""A deliberation's Ray job exports its LLM client's metrics through Ray's metrics system: Ray's
metrics agent serves them on the stack's Ray metrics port (`--metrics-export-port`), prefixed
`ray_`, one series per job driver (Ray's WorkerId label), and the final values outlive the job."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from ray.job_submission import JobStatus

from services.orchestrator.adapters.ray_jobs import job_client
from services.shared import events
from services.stack.api import StackConfig, StackInfo
from tests.e2e.support import Flow, flow, plan, story
from tests.waiting import until

pytestmark = pytest.mark.e2e


@pytest.fixture
async def e2e(stack: StackInfo) -> AsyncIterator[Flow]:
    async with flow(stack.env()) as f:
        yield f


async def job_series(url: str, family: str, job_id: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of one family from the agent's page that the given Ray job's driver recorded."""
    async with aiohttp.ClientSession() as http, http.get(url) as resp:
        assert resp.status == 200, await resp.text()
        text = await resp.text()
    found = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            # A driver's WorkerId is its job id padded with f's: it names the job the series came from.
            if s.name == family and s.labels.get("WorkerId", "").startswith(job_id):
                found[tuple(sorted((k, v) for k, v in s.labels.items() if k in {"outcome", "kind"}))] = s.value
    return found


async def test_a_jobs_llm_calls_are_exported_through_rays_metrics(e2e: Flow, stack_config: StackConfig) -> None:
    sid = story()
    await e2e.publish(plan(sid, [events.Role.DEV]))
    done = (await e2e.recorder.terminal(sid, [events.Role.DEV]))["DEV"]
    assert isinstance(done, events.DeliberationCompleted), done
    [total] = [u for u in done.usage if u.stage == "total"]
    calls, tokens = total.calls, {"prompt": total.prompt_tokens, "completion": total.completion_tokens}
    assert calls > 0 and tokens["completion"] > 0
    client = job_client(e2e.env["RAY_ADDRESS"], e2e.env["RAY_AUTH_TOKEN"])

    def job_ended() -> str | None:
        info = client.get_job_info(done.deliberation_id)
        return info.job_id if info.status == JobStatus.SUCCEEDED else None

    # The driver flushes on its way out: once it has exited, its final values are on the agent's page.
    job_id = await until(lambda: asyncio.to_thread(job_ended), 60, f"job {done.deliberation_id} to succeed", 0.5)
    url = f"http://127.0.0.1:{stack_config.ray_metrics_port}/metrics"

    async def exported_calls() -> dict[tuple[tuple[str, str], ...], float] | None:
        found = await job_series(url, "ray_conclave_llm_calls_total", job_id)
        return found if found.get((("outcome", "ok"),)) == calls else None

    assert await until(exported_calls, 30, f"ray_conclave_llm_calls_total{{outcome='ok'}} == {calls}", 0.5) == {
        (("outcome", "ok"),): calls
    }
    exported_tokens = await job_series(url, "ray_conclave_llm_tokens_total", job_id)
    assert exported_tokens == {(("kind", k),): v for k, v in tokens.items()}
    first_tokens = await job_series(url, "ray_conclave_llm_first_token_seconds_count", job_id)
    assert first_tokens == {(): calls}, "one first token per call"

"""The Ray job driver: one deliberation, start to finish, reported over NATS.

Entry point: `python -m services.orchestrator.entrypoints.ray_job <deliberation_id>`.
The job reads what to deliberate from the deliberation's record, so its command line
carries nothing but the id that Ray uses as the submission id.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from nats.js.client import JetStreamContext

from services.orchestrator import deliberation as engine
from services.orchestrator.adapters.context_client import plan_context
from services.orchestrator.adapters.llm_openai import OpenAILLM
from services.orchestrator.adapters.state_kv import CouncilStore, DeliberationStore
from services.orchestrator.domain.errors import CouncilFailed, ValidationError
from services.orchestrator.domain.model import DeliberationResult, ProgressEvent
from services.orchestrator.domain.tracking import DeliberationRecord
from services.orchestrator.outcomes import agent_event, completed_event, header
from services.shared import events, jetstream
from services.shared.logs import configure
from services.shared.settings import OrchestratorSettings

log = logging.getLogger(__name__)


async def run(deliberation_id: str, settings: OrchestratorSettings) -> int:
    nc = await jetstream.connect(settings.nats_url, f"conclave-job-{deliberation_id}")
    js = nc.jetstream()
    llm = OpenAILLM(settings)
    try:
        record = await (await DeliberationStore.open(js)).get(deliberation_id)
        if record is None:
            log.error("no such deliberation", extra={"deliberation_id": deliberation_id})
            return 2
        if record.terminal:
            return 0
        await jetstream.publish(js, events.DeliberationStarted(**header(record)))
        try:
            result = await _deliberate(record, settings, llm, js)
        except (CouncilFailed, ValidationError, TimeoutError) as exc:
            await jetstream.publish(js, events.DeliberationFailed(**header(record), reason=str(exc)))
            return 1
        await jetstream.publish(js, completed_event(record, result))
        return 0
    finally:
        await llm.aclose()
        await nc.drain()


async def _deliberate(
    record: DeliberationRecord, settings: OrchestratorSettings, llm: OpenAILLM, js: JetStreamContext
) -> DeliberationResult:
    request = record.request
    if record.story_id:
        context = await plan_context(
            settings.context_addr, record.story_id, record.role, record.plan_id, record.plan_version,
            wait_s=settings.plan_wait_s,
        )
        request = request.model_copy(update={"context": context})
    council = await (await CouncilStore.open(js)).get(record.role)

    async def report(progress: ProgressEvent) -> None:
        event = agent_event(record, progress)
        if event is not None:
            await jetstream.publish(js, event)

    return await engine.deliberate(llm, request, council, on_event=report)


def main() -> None:
    settings = OrchestratorSettings()
    configure("ray-job", settings.log_level)

    async def guarded() -> int:
        # Ray stops a job with SIGTERM: cancel the work so every LLM request is closed.
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            return await run(sys.argv[1], settings)
        except asyncio.CancelledError:
            log.warning("job cancelled")
            return 143

    sys.exit(asyncio.run(guarded()))


if __name__ == "__main__":
    main()

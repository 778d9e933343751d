"""The Ray job driver: one deliberation, start to finish, reported over NATS.

Entry point: `python -m services.orchestrator.entrypoints.ray_job <deliberation_id>`.
The job reads what to deliberate from the deliberation's record, so its command line
carries nothing but the id that Ray uses as the submission id.
"""

# ruff: noqa: E402  (the start-up tuning below has to run before the heavy imports)
from __future__ import annotations

import gc
import sys
import time

STARTED_AT = time.time()  # once the interpreter is up; the job's timings count from here

if __name__ == "__main__":
    # Every job is a fresh interpreter, and with five roles per plan their imports compete for the
    # node's cores: this start-up is most of a job's overhead (bench/dispatch.py). The import-time
    # objects live as long as the job, so collecting them is wasted work; gc.freeze() below keeps
    # later collections off them too.
    gc.disable()

import asyncio
import logging
import signal
from functools import partial

from nats.js.client import JetStreamContext

from services.orchestrator import deliberation as engine
from services.orchestrator.adapters.context_client import plan_context
from services.orchestrator.adapters.llm_openai import OpenAILLM
from services.orchestrator.adapters.state_kv import CouncilStore, DeliberationStore
from services.orchestrator.domain.errors import CouncilFailed, ValidationError
from services.orchestrator.domain.model import DeliberationResult, ProgressEvent
from services.orchestrator.domain.tracking import DeliberationRecord
from services.orchestrator.outcomes import agent_event, completed_event, header, settle
from services.shared import events, jetstream
from services.shared.logs import configure
from services.shared.settings import OrchestratorSettings

IMPORTED_AT = time.time()
log = logging.getLogger(__name__)


class Timings:
    """Seconds since the interpreter came up, logged once so job start-up can be profiled in place."""

    def __init__(self) -> None:
        self.marks: dict[str, float] = {"imports": IMPORTED_AT - STARTED_AT}

    def mark(self, name: str) -> None:
        self.marks[name] = time.time() - STARTED_AT

    def extra(self, deliberation_id: str) -> dict[str, object]:
        marks = {f"{k}_s": round(v, 3) for k, v in self.marks.items()}
        return {"deliberation_id": deliberation_id, "interpreter_up": round(STARTED_AT, 3), **marks}


async def run(deliberation_id: str, settings: OrchestratorSettings) -> int:
    timings = Timings()
    nc = await jetstream.connect(settings.nats_url, f"conclave-job-{deliberation_id}")
    js = nc.jetstream()
    llm = OpenAILLM(settings)
    publish = partial(jetstream.publish, js)
    try:
        store = await DeliberationStore.open(js)
        record = await store.get(deliberation_id)
        if record is None:
            log.error("no such deliberation", extra={"deliberation_id": deliberation_id})
            return 2
        # A deliberation cancelled before its job came up never starts.
        if not await settle(store, publish, record, events.DeliberationStarted(**header(record))):
            return 0
        timings.mark("started_event")
        try:
            result = await _deliberate(record, settings, llm, js, timings)
        except (CouncilFailed, ValidationError, TimeoutError) as exc:
            await settle(store, publish, record, events.DeliberationFailed(**header(record), reason=str(exc)))
            return 1
        await settle(store, publish, record, completed_event(record, result))
        timings.mark("completed_event")
        log.info("job timings", extra=timings.extra(deliberation_id))
        return 0
    finally:
        await llm.aclose()
        await nc.drain()


async def _deliberate(
    record: DeliberationRecord,
    settings: OrchestratorSettings,
    llm: OpenAILLM,
    js: JetStreamContext,
    timings: Timings,
) -> DeliberationResult:
    request = record.request
    if record.story_id:
        context = await plan_context(
            settings.context_addr,
            record.story_id,
            record.role,
            record.plan_id,
            record.plan_version,
            wait_s=settings.plan_wait_s,
        )
        request = request.model_copy(update={"context": context})
    timings.mark("context")
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
    gc.freeze()
    gc.enable()
    main()

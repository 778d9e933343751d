"""The Ray job driver of one deliberation: `python -m services.orchestrator.entrypoints.ray_job <id>`
started cold, or `main` called in a child of the node's job forkserver (entrypoints/job_forkserver.py),
which the job's launcher handed the job to (entrypoints/job_launch.py).

The command line carries nothing but the id Ray uses as the submission id; the job reads what
to deliberate from the deliberation's record. Exit codes: 0 done (or cancelled before it
started), 1 ended without a result (the reason is recorded), 2 no such deliberation,
143 stopped by Ray.
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
from dataclasses import dataclass

from services.orchestrator import handlers
from services.orchestrator.bootstrap import bootstrap_job
from services.orchestrator.domain.errors import NotFound
from services.orchestrator.domain.tracking import State
from services.orchestrator.settings import OrchestratorSettings
from services.shared import tracing
from services.shared.logs import configure

IMPORTED_AT = time.time()
STOPPED = 143  # 128 + SIGTERM, as a shell reports a process ended by it
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Start:
    """How this driver came up: `cold` (its own interpreter and imports) or `warm` (forked)."""

    kind: str
    interpreter_up: float  # epoch seconds: the job's first process ran its first line
    imports_s: float  # cold: this driver's imports; warm: the hand-off from launcher to fork


COLD = Start("cold", STARTED_AT, IMPORTED_AT - STARTED_AT)


async def run(deliberation_id: str, settings: OrchestratorSettings, start: Start = COLD) -> int:
    tracing.configure("ray-job")
    app = await bootstrap_job(settings, deliberation_id)
    try:
        stored = await handlers.run_deliberation_job(app.deps, deliberation_id)
    except NotFound:
        log.error("no such deliberation", extra={"deliberation_id": deliberation_id})
        return 2
    finally:
        await app.close()
        tracing.shutdown()
    # bench/dispatch.py reads this line to split a job's start-up into Ray's share and ours.
    log.info("job timings", extra={
        "deliberation_id": deliberation_id, "start": start.kind, "interpreter_up": round(start.interpreter_up, 3),
        "imports_s": round(start.imports_s, 3), "finished_s": round(time.time() - start.interpreter_up, 3),
    })
    return 1 if stored == State.FAILED else 0


def main(argv: list[str], start: Start = COLD) -> int:
    """Run the job of `argv[0]`, returning its exit code."""
    settings = OrchestratorSettings()
    configure("ray-job", settings.log_level)

    async def guarded() -> int:
        # Ray stops a job with SIGTERM: cancel the work so every LLM request is closed.
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            return await run(argv[0], settings, start)
        except asyncio.CancelledError:
            log.warning("job cancelled")
            return STOPPED

    return asyncio.run(guarded())


if __name__ == "__main__":
    gc.freeze()
    gc.enable()
    sys.exit(main(sys.argv[1:]))

"""Dispatch benchmark: planning.plan.approved for five roles -> five Ray jobs -> five results.

On the real stack (started or reused): NATS JetStream, the Context service (records the plan),
the Orchestrator (submits one Ray job per role), Ray (runs the job drivers) and the model
SIMULATOR, whose latency is set through its admin API for the run and restored afterwards.

Measured per run: the time from publishing the plan until all five
orchestration.deliberation.completed events have arrived (subscribed before publishing),
against the ideal, one deliberation's critical path at the simulator's latency:
(2R + 2) x latency with the default R = 1. Each deliberation is split into its phases from the
Ray job's JobInfo (submission and end times) and the events' own timestamps, and a no-op Ray
job measures what Ray alone costs per job: alone, and five submitted at once as ours are.
Each driver's log says whether it started warm (forked by the node's job forkserver) or cold.

Usage: python bench/dispatch.py [--latency-ms 200] [--runs 3] [--realistic-ms 1000]
The last line of output is a JSON object with the headline figures (median over runs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from common import knobs, median, set_knobs, stack, unique_plan
from ray.job_submission import JobStatus, JobSubmissionClient
from rich.console import Console
from rich.table import Table

from services.orchestrator.adapters.ray_jobs import job_client
from services.orchestrator.domain.model import DEFAULT_ROUNDS
from services.shared import event_parsing, events, jetstream
from services.stack.api import StackConfig

RAY_PHASE = "Ray submission -> driver's started event"
TERMINAL = {events.DELIBERATION_COMPLETED, events.DELIBERATION_FAILED, events.DELIBERATION_CANCELLED}


@dataclass
class Role:
    """One role's deliberation: wall-clock seconds (epoch) of each step we can see."""

    deliberation_id: str = ""
    started: float = 0.0  # the job driver's started event (occurred_at)
    completed: float = 0.0  # the completed event (occurred_at)
    received: float = 0.0  # when the completed event reached us
    engine_s: float = 0.0  # the engine's own duration, from the completed event
    outcome: str = ""
    submitted: float = 0.0  # Ray JobInfo.start_time: the orchestrator's submission
    job_end: float = 0.0  # Ray JobInfo.end_time: the driver exited
    driver_up: float = 0.0  # the driver's first process ran its first line (its "job timings" log line)
    imports_s: float = 0.0  # cold: the driver's imports; warm: the launcher's hand-off to a fork
    start: str = ""  # cold, or warm (forked by the node's job forkserver)


@dataclass
class Run:
    story_id: str
    published: float
    roles: dict[str, Role] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return max(r.received for r in self.roles.values()) - self.published

    def phases(self) -> dict[str, float]:
        """Medians over the roles, in seconds."""
        rs = list(self.roles.values())
        return {
            "publish -> Ray submission": median(r.submitted - self.published for r in rs),
            RAY_PHASE: median(r.started - r.submitted for r in rs),
            "  Ray: submission -> driver interpreter up": median(r.driver_up - r.submitted for r in rs),
            "  driver: imports (cold) or hand-off (warm)": median(r.imports_s for r in rs),
            "  driver: imports done -> started event": median(r.started - r.driver_up - r.imports_s for r in rs),
            "started -> completed (context fetch + engine)": median(r.completed - r.started for r in rs),
            "  of which the engine": median(r.engine_s for r in rs),
            "completed event -> received here": median(r.received - r.completed for r in rs),
            "completed -> Ray job end (driver exit)": median(r.job_end - r.completed for r in rs),
        }


async def one_run(nc: Any, ray: JobSubmissionClient, timeout_s: float) -> Run:
    plan = unique_plan("bench-dispatch")
    queue: asyncio.Queue[Any] = asyncio.Queue()
    sub = await nc.subscribe(events.DELIBERATION_EVENTS, cb=queue.put)
    run = Run(plan.story_id, time.time())
    try:
        await nc.flush()
        run.published = time.time()
        await jetstream.publish(nc.jetstream(), plan)
        deadline = time.monotonic() + timeout_s
        done = 0
        while done < len(plan.roles):
            msg = await asyncio.wait_for(queue.get(), timeout=max(0.1, deadline - time.monotonic()))
            received = time.time()
            event = event_parsing.parse_event(msg.subject, msg.data)
            if not isinstance(event, events.DeliberationEvent) or event.story_id != plan.story_id:
                continue
            role = run.roles.setdefault(event.role.value, Role(event.deliberation_id))
            if isinstance(event, events.DeliberationStarted):
                role.started = event.occurred_at.timestamp()
            elif msg.subject in TERMINAL:
                role.completed, role.received = event.occurred_at.timestamp(), received
                role.outcome = msg.subject.rsplit(".", 1)[-1]
                role.engine_s = getattr(event, "duration_ms", 0.0) / 1000
                done += 1
    finally:
        await sub.unsubscribe()
    failed = {name: r.outcome for name, r in run.roles.items() if r.outcome != "completed"}
    if failed:
        raise RuntimeError(f"story {plan.story_id}: not every role completed: {failed}")
    for role in run.roles.values():
        role.submitted, role.job_end = await job_times(ray, role.deliberation_id)
        role.driver_up, role.imports_s, role.start = await driver_timings(ray, role.deliberation_id)
    return run


async def driver_timings(ray: JobSubmissionClient, submission_id: str) -> tuple[float, float, str]:
    """When the driver came up (epoch s), its imports or hand-off, and how it started, from its log."""
    logs = await asyncio.to_thread(ray.get_job_logs, submission_id)
    for line in logs.splitlines():
        if '"job timings"' in line:
            marks = json.loads(line)
            return float(marks["interpreter_up"]), float(marks["imports_s"]), str(marks.get("start", "cold"))
    return math.nan, math.nan, "?"  # a driver from before the timings line existed


async def job_times(ray: JobSubmissionClient, submission_id: str) -> tuple[float, float]:
    """Ray's start (submission) and end times in epoch seconds, once the driver has exited."""
    for _ in range(100):
        info = await asyncio.to_thread(ray.get_job_info, submission_id)
        if info.start_time and info.end_time:
            return info.start_time / 1000, info.end_time / 1000
        await asyncio.sleep(0.1)
    raise RuntimeError(f"Ray job {submission_id} has not ended 10 s after its result")


async def noop_job(ray: JobSubmissionClient) -> float:
    """Submit `python -c pass` through the same client and poll until it succeeds."""
    started = time.time()
    sid = f"bench-noop-{uuid.uuid4().hex[:10]}"
    await asyncio.to_thread(ray.submit_job, entrypoint="python -c pass", submission_id=sid, entrypoint_num_cpus=0.25)
    while True:
        status = await asyncio.to_thread(ray.get_job_status, sid)
        if status.is_terminal():
            break
        await asyncio.sleep(0.05)
    if status != JobStatus.SUCCEEDED:
        raise RuntimeError(f"no-op Ray job {sid} ended as {status}")
    return time.time() - started


async def main(args: argparse.Namespace) -> dict[str, Any]:
    async with stack(StackConfig()) as info:
        env = info.env()
        ray = job_client(env["RAY_ADDRESS"], env["RAY_AUTH_TOKEN"])
        before = await knobs(env["VLLM_URL"])
        nc = await jetstream.connect(env["NATS_URL"], "conclave-bench-dispatch")
        try:
            await set_knobs(env["VLLM_URL"], ttft_ms=args.latency_ms, tokens_per_s=0)
            runs = [await one_run(nc, ray, args.timeout) for _ in range(args.runs)]
            noop = [await noop_job(ray) for _ in range(3)]
            # Ray's own cost under the same load as ours: five supervisors starting at once.
            noop_five = list(await asyncio.gather(*(noop_job(ray) for _ in range(5))))
            realistic = None
            if args.realistic_ms:
                await set_knobs(env["VLLM_URL"], ttft_ms=args.realistic_ms, tokens_per_s=0)
                realistic = await one_run(nc, ray, args.timeout)
        finally:
            await set_knobs(env["VLLM_URL"], ttft_ms=before["ttft_ms"], tokens_per_s=before["tokens_per_s"])
            await nc.close()
    return {
        "latency": args.latency_ms / 1000, "runs": runs, "noop": noop, "noop_five": noop_five, "started": info.started,
        "realistic": (args.realistic_ms / 1000, realistic),
    }  # fmt: skip


def report(result: dict[str, Any]) -> dict[str, float]:
    latency, runs, noop = result["latency"], result["runs"], result["noop"]
    ideal = (2 * DEFAULT_ROUNDS + 2) * latency
    console = Console(width=130)  # the same table whether or not stdout is a terminal
    console.print(
        f"[bold yellow]MODEL SIMULATOR[/]: the stack's `conclave sim serve` (not a real model), set to "
        f"{latency * 1000:.0f} ms first-token latency, unpaced, for this run and restored afterwards. "
        f"Stack servers started by this run (stopped again): {', '.join(result['started']) or 'none'}."
    )
    table = Table(title="plan.approved for 5 roles -> 5 Ray jobs -> 5 completed events, SIMULATED model")
    table.add_column("measure")
    for i in range(1, len(runs) + 1):
        table.add_column(f"run {i}")
    table.add_row("story", *(r.story_id.removeprefix("SHOP-142-bench-dispatch-") for r in runs))
    table.add_row("drivers started warm (forked)", *(f"{sum(x.start == 'warm' for x in r.roles.values())} of "
                                                      f"{len(r.roles)}" for r in runs))
    table.add_row("five roles completed after", *(f"{r.seconds:.2f} s" for r in runs))
    table.add_row(f"ideal: one critical path, {2 * DEFAULT_ROUNDS + 2} x latency", *(f"{ideal:.2f} s" for _ in runs))
    table.add_row("overhead (target <= 3 s)", *(f"{r.seconds - ideal:.2f} s" for r in runs))
    phases = [r.phases() for r in runs]
    for name in phases[0]:
        table.add_row(f"per role (median): {name}", *(f"{p[name]:.2f} s" for p in phases))
    console.print(table)
    ray_overhead = [p[RAY_PHASE] for p in phases]
    console.print(
        f"No-op Ray job (`python -c pass`), submission -> SUCCEEDED seen by polling: "
        f"{', '.join(f'{s:.2f}' for s in noop)} s; five submitted at once: "
        f"{', '.join(f'{s:.2f}' for s in sorted(result['noop_five']))} s"
    )
    latency_r, realistic = result["realistic"]
    if realistic is not None:
        ideal_r = (2 * DEFAULT_ROUNDS + 2) * latency_r
        console.print(
            f"At {latency_r * 1000:.0f} ms per call (closer to a real model), one run: five roles completed after "
            f"{realistic.seconds:.2f} s, ideal {ideal_r:.2f} s, overhead {realistic.seconds - ideal_r:.2f} s, "
            f"Ray submission -> started {realistic.phases()[RAY_PHASE]:.2f} s."
        )
    five = median(r.seconds for r in runs)
    return {
        "five_roles_seconds": round(five, 3),
        "ideal_seconds": round(ideal, 3),
        "overhead_seconds": round(five - ideal, 3),
        "ray_job_overhead_seconds": round(median(ray_overhead), 3),
        "noop_job_seconds": round(median(noop), 3),
        # Our submission -> started event against a job that does nothing: what is not Ray's own cost.
        "overhead_vs_noop": round(median(ray_overhead) / median(noop), 3),
        "noop_five_at_once_seconds": round(median(result["noop_five"]), 3),
        "overhead_vs_noop_five_at_once": round(median(ray_overhead) / median(result["noop_five"]), 3),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, default=200.0, help="simulated first-token latency per call")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--realistic-ms", type=float, default=1000.0, help="one more run at this latency per call (0: skip)"
    )
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds to wait for one run's five results")
    logging.basicConfig(level=logging.WARNING)
    outcome = asyncio.run(main(parser.parse_args()))
    print(json.dumps(report(outcome)))

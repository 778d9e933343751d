"""Burst benchmark: P approved plans x 5 roles at once, through admission, Ray and the SIMULATED model.

On the real stack (started or reused): the Orchestrator queues every deliberation and admits
at most its budget into Ray at once. Measured side by side in one run:
- one deliberation alone (a single-role plan, three times one after another), whose median wall
  time from publishing to its completed event sets the admission ideal: budget / that wall time,
  in deliberations per minute (one alone varies by a factor of two here, with Ray's start);
- the burst: deliberations per minute until the last one ends, failures, the most Ray jobs not
  yet ended at once (job supervisors alive, sampled every second, and Ray's job list every 15 s),
  and the memory of Ray's process tree and the job forkserver's (whose children are
  the job drivers) at its peak against its idle figure, as PSS (each shared page split among
  the processes sharing it; every 5 s) and as RSS (every second).

Usage: python bench/burst.py [--plans 10] [--latency-ms 200]
The last line of output is a JSON object with the headline figures.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import statistics
import time
from typing import Any

import grpc
import psutil
from common import knobs, set_knobs, stack, unique_plan
from ray.job_submission import JobSubmissionClient
from rich.console import Console
from rich.table import Table

from services.gen.fleet.orchestrator.v1 import orchestrator_pb2 as pb
from services.gen.fleet.orchestrator.v1 import orchestrator_pb2_grpc as pb_grpc
from services.orchestrator.adapters.ray_jobs import job_client
from services.orchestrator.domain.tracking import deliberation_id
from services.shared import event_parsing, events, jetstream
from services.stack.api import StackConfig, status

FINAL = (events.DeliberationCompleted, events.DeliberationFailed, events.DeliberationCancelled)


def ray_roots(cfg: StackConfig) -> list[int]:
    """The Ray head's and the job forkserver's PIDs. Asking the stack costs half a CPU-second, so
    it is asked once, not at every sample."""
    return [s.pid for s in status(cfg).servers if s.name in ("ray", "forkserver") and s.pid is not None]


def ray_footprint(roots: list[int], proportional: bool = False) -> tuple[float, float | None, int]:
    """Memory (MB) of the Ray head and everything it started (workers, job supervisors, job
    launchers), and of the job forkserver with the job drivers it forked, as RSS and, when
    `proportional`, PSS; and how many job supervisors are alive. RSS counts a page shared by a fork
    once per process, which overstates the forked drivers; PSS splits each shared page among the
    processes sharing it, so its sum is the memory the trees use, but reading it costs about 3 ms
    of CPU per process, so it is asked for less often."""
    rss, pss, supervisors = 0, 0, 0
    for pid in roots:
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    if proportional:
                        full = proc.memory_full_info()
                        rss, pss = rss + full.rss, pss + full.pss
                    else:
                        rss += proc.memory_info().rss
                    supervisors += proc.name().startswith("ray::JobSupervi") and proc.status() != psutil.STATUS_ZOMBIE
    return rss / 2**20, pss / 2**20 if proportional else None, supervisors


async def live_jobs(ray: JobSubmissionClient, ours: set[str]) -> int:
    """Ray's own count, which also sees a job whose supervisor has no process yet. Every call lists
    every job Ray remembers, so it is sampled rarely."""
    jobs = await asyncio.to_thread(ray.list_jobs)
    return sum(1 for j in jobs if j.submission_id in ours and not j.status.is_terminal())


async def deliberate(nc: Any, plans: list[events.PlanApproved], timeout_s: float) -> dict[str, Any]:
    """Publish the plans together; the final event of every role, by deliberation id."""
    stories = {p.story_id for p in plans}
    expected = sum(len(p.roles) for p in plans)
    final: dict[str, events.DeliberationEvent] = {}
    done = asyncio.Event()

    async def on_event(msg: Any) -> None:
        event = event_parsing.parse_event(msg.subject, msg.data)
        if isinstance(event, FINAL) and event.story_id in stories:
            final[event.deliberation_id] = event
            if len(final) == expected:
                done.set()

    sub = await nc.subscribe(events.DELIBERATION_EVENTS, cb=on_event)
    try:
        await nc.flush()
        started = time.monotonic()
        for plan in plans:
            await jetstream.publish(nc.jetstream(), plan)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(done.wait(), timeout_s)
        return {"final": final, "seconds": time.monotonic() - started, "expected": expected}
    finally:
        await sub.unsubscribe()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    cfg = StackConfig()
    async with stack(cfg) as info:
        env = info.env()
        ray = job_client(env["RAY_ADDRESS"], env["RAY_AUTH_TOKEN"])
        before = await knobs(env["VLLM_URL"])
        nc = await jetstream.connect(env["NATS_URL"], "conclave-bench-burst")
        try:
            await set_knobs(env["VLLM_URL"], ttft_ms=args.latency_ms, tokens_per_s=0)
            async with grpc.aio.insecure_channel(env["ORCHESTRATOR_ADDR"]) as channel:
                reply = await pb_grpc.OrchestratorServiceStub(channel).GetStatus(pb.GetStatusRequest())
                budget = reply.admission_budget
            alone = [await deliberate(nc, [single_role(f"bench-burst-one-{i}")], args.timeout) for i in range(3)]
            roots = ray_roots(cfg)
            idle_rss, idle_pss, _ = ray_footprint(roots, proportional=True)
            idle = {"rss_mb": idle_rss, "pss_mb": idle_pss or 0.0}
            plans = [unique_plan(f"bench-burst-{i}") for i in range(args.plans)]
            ours = {f for p in plans for f in _ids(p)}
            peak = {"jobs": 0, **idle}

            async def sample() -> None:
                for tick in itertools.count():
                    rss_mb, pss_mb, supervisors = ray_footprint(roots, proportional=tick % 5 == 0)
                    listed = await live_jobs(ray, ours) if tick % 15 == 0 else 0
                    peak["jobs"] = max(peak["jobs"], supervisors, listed)
                    peak["rss_mb"] = max(peak["rss_mb"], rss_mb)
                    peak["pss_mb"] = max(peak["pss_mb"], pss_mb or 0.0)
                    await asyncio.sleep(1.0)

            sampler = asyncio.create_task(sample())
            try:
                burst = await deliberate(nc, plans, args.timeout)
            finally:
                sampler.cancel()
        finally:
            await set_knobs(env["VLLM_URL"], ttft_ms=before["ttft_ms"], tokens_per_s=before["tokens_per_s"])
            await nc.close()
    return {"budget": budget, "alone": alone, "burst": burst, "idle": idle, "peak": peak,
            "started": info.started, "latency_ms": args.latency_ms}


def single_role(name: str) -> events.PlanApproved:
    return unique_plan(name).model_copy(update={"roles": [events.Role.DEV]})


def _ids(plan: events.PlanApproved) -> list[str]:
    return [deliberation_id(plan.story_id, plan.plan_id, plan.plan_version, r) for r in plan.roles]


def report(r: dict[str, Any]) -> dict[str, Any]:
    burst = r["burst"]
    alone = sorted(a["seconds"] for a in r["alone"])
    completed = sum(isinstance(e, events.DeliberationCompleted) for e in burst["final"].values())
    failed = burst["expected"] - completed
    per_min = completed / burst["seconds"] * 60
    ideal = r["budget"] / statistics.median(alone) * 60
    console = Console(width=130)
    console.print(f"[bold yellow]MODEL SIMULATOR[/] at {r['latency_ms']:.0f} ms per call; stack servers started by "
                  f"this run (stopped again): {', '.join(r['started']) or 'none'}.")
    title = f"burst of {burst['expected']} deliberations, admission budget {r['budget']}"
    table = Table("measure", "value", title=title)
    table.add_row("one deliberation alone, publish -> completed: median (three runs)",
                  f"{statistics.median(alone):.2f} s ({' / '.join(f'{a:.2f}' for a in alone)})")
    table.add_row("admission ideal: budget / that wall time", f"{ideal:.1f} /min")
    table.add_row("burst: completed / failed or missing", f"{completed} / {failed}")
    table.add_row("burst: wall time", f"{burst['seconds']:.1f} s")
    table.add_row("burst: deliberations per minute", f"{per_min:.1f} /min")
    table.add_row("throughput ratio (target >= 0.85)", f"{per_min / ideal:.2f}")
    table.add_row("most Ray jobs not ended at once (budget + a few in transition)", str(r["peak"]["jobs"]))
    for kind, label in (("pss", "PSS, the memory used (target: within 1 GB)"),
                        ("rss", "RSS, shared pages once per process")):
        table.add_row(f"Ray + job forkserver process trees, {label}: idle -> peak",
                      f"{r['idle'][f'{kind}_mb']:.0f} -> {r['peak'][f'{kind}_mb']:.0f} MB")
    console.print(table)
    reasons = sorted({getattr(e, "reason", "") for e in burst["final"].values() if not isinstance(e, FINAL[0])})
    if reasons:
        console.print(f"failure reasons: {reasons[:5]}")
    return {
        "completed": completed, "failed": failed, "throughput_ratio": round(per_min / ideal, 3),
        "per_minute": round(per_min, 2), "ideal_per_minute": round(ideal, 2), "budget": r["budget"],
        "ray_jobs_peak": r["peak"]["jobs"], "ray_rss_mb_peak": round(r["peak"]["rss_mb"], 1),
        "ray_rss_mb_idle": round(r["idle"]["rss_mb"], 1),
        "ray_pss_mb_peak": round(r["peak"]["pss_mb"], 1), "ray_pss_mb_idle": round(r["idle"]["pss_mb"], 1),
        "alone_s": round(statistics.median(alone), 2),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--plans", type=int, default=10, help="plans of five roles published at once")
    parser.add_argument("--latency-ms", type=float, default=200.0, help="simulated first-token latency per call")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for the burst to end")
    logging.basicConfig(level=logging.WARNING)
    print(json.dumps(report(asyncio.run(main(parser.parse_args())))))

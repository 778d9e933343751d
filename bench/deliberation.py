"""Deliberation engine benchmark: Deliberate over real gRPC against the model SIMULATOR.

A private simulator (`conclave sim serve --workers N`, its own processes) answers every call
after a fixed first-token latency with unpaced streaming, so one call costs about that latency.
An in-process Orchestrator gRPC server (the real composition root, on the stack's NATS) serves
the calls; the gRPC client load runs in a separate process, so it never shares the
orchestrator's event loop. The latency is measured at a realistic 1000 ms per call (the JSON
line) and at 200 ms (an extra row that makes per-call overheads visible).
The agents' role context is the one the Ray job would get for a story with history: the demo's
plan grown to 9 tasks plus 10 recorded decisions, written through the real Context service
handlers (Neo4j + ValKey) and read back with the job's own `plan_context` over gRPC.

Measured:
1. makespan of one Deliberate against the ideal critical path, (2R + 2) x latency,
   for K=3/R=1 and K=5/R=2 (median of --repeats runs);
2. throughput of --concurrent simultaneous Deliberate calls against the bound set by the
   in-flight cap: cap / (2K(R + 1) x latency) deliberations per second;
3. LLM calls and prompt tokens per deliberation;
4. per stage, the share of prompt tokens in the prefix every agent of the stage shares
   (`shared_prefix_share`, strict), and the share a server prefix cache such as vLLM's automatic
   prefix caching can serve: per call, the longest prefix already sent by an earlier call of the
   same deliberation (`prefix_cache_share`).

5. on a REAL model (llama.cpp serving SmolLM2-135M, bench/real_model.py), one council K=3, R=1:
   the prompt tokens the server says it served from its cache next to the strict share.

Usage: python bench/deliberation.py [--latency-ms 1000] [--also-ms 200] [--cap 16] [--concurrent 50]
       [--repeats 3] [--sim-workers 2] [--no-real-model]
The stack (NATS, ValKey, Neo4j) is started or reused; the last line of output is a JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import grpc
from common import cpu_seconds, median, private_simulator, stack, tree_cpu_seconds, unique_plan
from pydantic import SecretStr
from real_model import real_model_run, real_model_table
from rich.console import Console
from rich.table import Table

from services.context.bootstrap import bootstrap as context_bootstrap
from services.context.commands import decision_input, update_context
from services.context.entrypoints.grpc_servicer import ContextServicer
from services.context.ingest import record_plan_approved_batch
from services.context.settings import ContextSettings
from services.gen.fleet.context.v1 import context_pb2_grpc
from services.gen.fleet.orchestrator.v1 import orchestrator_pb2 as pb
from services.gen.fleet.orchestrator.v1 import orchestrator_pb2_grpc as pb_grpc
from services.orchestrator.adapters.context_client import plan_context
from services.orchestrator.adapters.llm_openai import OpenAILLM
from services.orchestrator.adapters.state_kv import CouncilStore
from services.orchestrator.bootstrap import bootstrap
from services.orchestrator.domain.council import Council, Role
from services.orchestrator.domain.llm import ChatRequest, ChatResult, LLMPort
from services.orchestrator.domain.prompts import serialized, shared_prefix_share
from services.orchestrator.entrypoints.service import register
from services.orchestrator.settings import OrchestratorSettings
from services.shared.events import PlanApproved, PlanTask
from services.simulator.tokens import count_tokens, tokenizer_name
from services.stack.api import StackConfig

ROLE = Role.DEV
SHAPES = {"k3r1": (3, 1), "k5r2": (5, 2)}


@dataclass
class Call:
    request: ChatRequest
    start: float
    end: float = 0.0


@dataclass
class Recorder:
    """LLMPort wrapper that keeps every request with its start and end time."""

    inner: LLMPort
    calls: list[Call] = field(default_factory=list)

    async def chat(self, request: ChatRequest) -> ChatResult:
        call = Call(request, time.perf_counter())
        self.calls.append(call)
        try:
            return await self.inner.chat(request)
        finally:
            call.end = time.perf_counter()

    def take(self) -> list[Call]:
        calls, self.calls = self.calls, []
        return calls


class SizedCouncils:
    """No stored council, so the engine seats a default council of the requested size: K=5
    needs five seats, and the bench must not change the councils a shared stack serves."""

    async def get(self, role: Role) -> Council | None:
        return None


EXTRA_TASKS = [  # the demo plan's five tasks grown to a story of nine
    ("T6", "DEV", "Per-tenant limits store", "Read tenant limits from ValKey with a local TTL cache", ["T1"]),
    ("T7", "DEV", "Retry-After computation", "Compute Retry-After from the bucket refill time", ["T2"]),
    ("T8", "QA", "Chaos test of the limiter store", "Limiter behaviour when ValKey is slow or down", ["T6"]),
    ("T9", "DEVOPS", "Dashboards and alerts", "429 rate per tenant, limiter latency, store errors", ["T4"]),
]
DECISIONS = [  # (title, rationale, role, tasks affected): the history a story has after design
    ("Token bucket per customer", "Allows short bursts during checkout; sliding window costs more memory",
     "ARCHITECT", ["T1", "T2"]),
    ("Limiter state in ValKey", "Shared across replicas; a local fallback keeps checkout open when it is down",
     "ARCHITECT", ["T1", "T6"]),
    ("Fail open when the store is unreachable", "Losing sales is worse than a short burst of abuse",
     "ARCHITECT", ["T2", "T8"]),
    ("Lua script for atomic take", "One round trip per request keeps p99 inside the 150 ms budget",
     "DEV", ["T2"]),
    ("Limits keyed by tenant and customer id", "Card data never appears in keys or logs", "DEV", ["T2", "T5"]),
    ("Tenant limits cached for 10 seconds", "Runtime changes apply quickly without a read per request",
     "DEV", ["T6"]),
    ("Retry-After rounded up to whole seconds", "Clients and proxies expect an integer header", "DEV", ["T7"]),
    ("Load test at 500 rps with k6", "Matches the acceptance criterion and runs in CI nightly", "QA", ["T3"]),
    ("Limits in a ConfigMap watched by the service", "No redeploy to change a tenant's limit",
     "DEVOPS", ["T4", "T6"]),
    ("Decisions logged to an append-only table", "Abuse analytics query by tenant and hour", "DATA", ["T5"]),
]


def realistic_plan(plan: PlanApproved) -> PlanApproved:
    tasks = [*plan.tasks, *(
        PlanTask(task_id=f"{plan.story_id}-{tid}", role=role, title=title, description=desc,
                 depends_on=[f"{plan.story_id}-{d}" for d in deps])
        for tid, role, title, desc, deps in EXTRA_TASKS
    )]
    return plan.model_copy(update={"tasks": tasks})


async def role_context(env: dict[str, str], plan: PlanApproved) -> str:
    """Record the plan and a story's worth of decisions with the Context service's own handlers,
    then read the role's context exactly as the Ray job does (plan_context -> RehydrateSession)."""
    settings = ContextSettings(
        nats_url=env["NATS_URL"], neo4j_uri=env["NEO4J_URI"], neo4j_user=env["NEO4J_USER"],
        neo4j_password=SecretStr(env["NEO4J_PASSWORD"]), valkey_url=env["VALKEY_URL"],
    )
    app = await context_bootstrap(settings, consumers=False)
    server = grpc.aio.server()
    context_pb2_grpc.add_ContextServiceServicer_to_server(ContextServicer(app.deps), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        await record_plan_approved_batch(app.deps, [plan])
        decisions = [
            decision_input(plan.story_id, title, why, role, [f"{plan.story_id}-{t}" for t in tasks], "bench")
            for title, why, role, tasks in DECISIONS
        ]
        await update_context(app.deps, plan.story_id, decisions=decisions)
        return await plan_context(
            f"127.0.0.1:{port}", plan.story_id, ROLE, plan.plan_id, plan.plan_version, wait_s=15
        )
    finally:
        await server.stop(0)
        await app.close()


def deliberate_request(plan: PlanApproved, context: str, k: int, r: int, n: int = 0) -> pb.DeliberateRequest:
    task = next(t for t in plan.tasks if t.role == ROLE)
    return pb.DeliberateRequest(
        task=f"{task.title}{f' #{n}' if n else ''}: {task.description}",
        role=pb.DEV,
        constraints=pb.TaskConstraints(acceptance_criteria=plan.acceptance_criteria, context=context),
        rounds=r,
        num_agents=k,
    )


def barriers(calls: list[Call]) -> list[list[Call]]:
    """Group calls into the sequential steps of the critical path: a call that starts after
    every earlier call has ended opens a new step."""
    steps: list[list[Call]] = []
    last_end = float("-inf")
    for call in sorted(calls, key=lambda c: c.start):
        if not steps or call.start >= last_end:
            steps.append([])
        steps[-1].append(call)
        last_end = max(last_end, call.end)
    return steps


@dataclass
class Run:
    seconds: float
    reply: pb.DeliberateResponse
    calls: list[Call]
    sent: float

    def breakdown(self) -> dict[str, float]:
        """Where the makespan goes: slowest call per step, gaps between steps, gRPC + setup."""
        steps = barriers(self.calls)
        slowest = sum(max(c.end - c.start for c in step) for step in steps)
        span = max(c.end for c in self.calls) - min(c.start for c in self.calls)
        return {
            "steps": len(steps),
            "slowest_calls_s": slowest,
            "between_steps_s": span - slowest,
            "outside_engine_s": self.seconds - span,
            "call_median_s": median(c.end - c.start for c in self.calls),
        }


def prefix_shares(calls: list[Call]) -> dict[str, tuple[int, int]]:
    return shared_prefix_share([c.request for c in calls], count=count_tokens)


def prefix_cache_shares(calls: list[Call]) -> dict[str, tuple[int, int]]:
    """What a server prefix cache (vLLM's automatic prefix caching) can serve: per call, in the
    order the engine sent them, the longest prefix some earlier call of the same deliberation
    already sent, per stage (tokens served from cache, prompt tokens). Calls of one stage leave
    together, so only the first is charged the shared head; vLLM caches whole blocks (16
    tokens), which this token-exact count ignores (under 16 tokens per call)."""
    sent: list[str] = []
    shares: dict[str, tuple[int, int]] = {}
    for call in sorted(calls, key=lambda c: c.start):
        text = serialized(call.request)
        hit = max((_common(text, earlier) for earlier in sent), default=0)
        sent.append(text)
        cached, total = shares.get(call.request.stage, (0, 0))
        shares[call.request.stage] = (cached + count_tokens(text[:hit]), total + count_tokens(text))
    return shares


def _common(a: str, b: str) -> int:
    """common_prefix_length of two strings by bisection on slice compares (C speed, long prompts)."""
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _b64(message: Any) -> str:
    return base64.b64encode(message.SerializeToString()).decode()


async def client(requests: list[pb.DeliberateRequest], address: str, concurrent: bool) -> list[dict[str, Any]]:
    """Send Deliberate calls from a separate process (see `--client`), so the client's gRPC work
    never competes with the orchestrator's event loop; perf_counter is CLOCK_MONOTONIC, so the
    times compare with the recorder's."""
    payload = json.dumps({"address": address, "concurrent": concurrent, "requests": [_b64(r) for r in requests]})
    proc = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--client", stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate(payload.encode())
    if proc.returncode != 0:
        raise RuntimeError(f"bench client exited with {proc.returncode}")
    results: list[dict[str, Any]] = json.loads(out)
    for result in results:
        result["reply"] = pb.DeliberateResponse.FromString(base64.b64decode(result["reply"]))
    return results


async def client_main() -> None:
    job = json.loads(sys.stdin.read())
    requests = [pb.DeliberateRequest.FromString(base64.b64decode(r)) for r in job["requests"]]
    async with grpc.aio.insecure_channel(job["address"]) as channel:
        stub = pb_grpc.OrchestratorServiceStub(channel)
        await channel.channel_ready()

        async def call(request: pb.DeliberateRequest) -> dict[str, Any]:
            sent = time.perf_counter()
            reply = await stub.Deliberate(request, timeout=600)
            return {"sent": sent, "end": time.perf_counter(), "reply": _b64(reply)}

        cpu = time.process_time()
        if job["concurrent"]:
            results = list(await asyncio.gather(*(call(r) for r in requests)))
        else:
            results = [await call(r) for r in requests]
        results[0]["client_cpu"] = time.process_time() - cpu
    print(json.dumps(results))


async def makespan(
    address: str, recorder: Recorder, plan: PlanApproved, context: str, k: int, r: int, repeats: int,
) -> list[Run]:
    # The first call warms code paths and connections and is not counted.
    requests = [deliberate_request(plan, context, k, r, n) for n in range(repeats + 1)]
    recorder.take()
    results = await client(requests, address, concurrent=False)
    calls = recorder.take()
    return [
        Run(x["end"] - x["sent"], x["reply"], [c for c in calls if x["sent"] <= c.start <= x["end"]], x["sent"])
        for x in results[1:]
    ]


async def throughput(
    address: str, recorder: Recorder, llm: OpenAILLM, plan: PlanApproved, context: str, n: int, sim_pid: int,
) -> dict[str, Any]:
    recorder.take()
    samples: list[tuple[float, int]] = []

    async def sample() -> None:
        # How full the cap really is: a slot held while the event loop is busy elsewhere is a lost slot.
        while True:
            samples.append((time.perf_counter(), llm.status().in_flight))
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    cpu_bench, cpu_sim = cpu_seconds(), tree_cpu_seconds(sim_pid)
    results = await client([deliberate_request(plan, context, 3, 1, i + 1) for i in range(n)], address, True)
    cpu_bench, cpu_sim = cpu_seconds() - cpu_bench, tree_cpu_seconds(sim_pid) - cpu_sim
    sampler.cancel()
    started, ended = min(x["sent"] for x in results), max(x["end"] for x in results)
    seconds = ended - started
    calls = recorder.take()
    assert all(len(x["reply"].ranked) == 3 for x in results)
    return {
        "n": n,
        "seconds": seconds,
        "calls": len(calls),
        "mean_in_flight": statistics.fmean(v for t, v in samples if started <= t <= ended),
        "bench_cpu": cpu_bench / seconds,
        "sim_cpu": cpu_sim / seconds,
        "client_cpu": results[0]["client_cpu"] / seconds,
        "call_median_s": median(c.end - c.start for c in calls),
    }


async def measure(
    env: dict[str, str], plan: PlanApproved, context: str, latency_ms: float, args: argparse.Namespace,
) -> dict[str, Any]:
    log = Path(tempfile.gettempdir()) / f"bench-sim-{uuid.uuid4().hex[:8]}.log"
    async with private_simulator(latency_ms, log, workers=args.sim_workers) as (sim_url, sim_pid):
        settings = OrchestratorSettings(
            nats_url=env["NATS_URL"], ray_address=env["RAY_ADDRESS"], vllm_url=sim_url,
            vllm_model="conclave-sim", llm_max_in_flight=args.cap, default_councils=False,
        )
        app = await bootstrap(settings)
        recorder = Recorder(app.deps.llm)
        app.deps.llm = recorder
        app.deps.councils = cast(CouncilStore, SizedCouncils())
        server = grpc.aio.server()
        register(app, server)
        address = f"127.0.0.1:{server.add_insecure_port('127.0.0.1:0')}"
        await server.start()
        try:
            runs = {
                name: await makespan(address, recorder, plan, context, k, r, args.repeats)
                for name, (k, r) in SHAPES.items()
            }
            load = await throughput(address, recorder, app.llm, plan, context, args.concurrent, sim_pid)
        finally:
            await server.stop(0)
            await app.close()
    return {"latency": latency_ms / 1000, "runs": runs, "load": load}


async def main(args: argparse.Namespace) -> dict[str, Any]:
    async with stack(StackConfig(services=False), ["nats", "valkey", "neo4j"]) as info:
        env = info.env()
        plan = realistic_plan(unique_plan("bench-delib"))
        context = await role_context(env, plan)
        latencies = list(dict.fromkeys([args.latency_ms, *args.also_ms]))
        by_latency = [await measure(env, plan, context, ms, args) for ms in latencies]
    real = None if args.no_real_model else await real_model_run(plan, context, ROLE)
    return {"cap": args.cap, "context": context, "plan": plan, "measured": by_latency,
            "sim_workers": args.sim_workers, "real_model": real}


async def real_model_only() -> dict[str, Any]:
    async with stack(StackConfig(services=False), ["nats", "valkey", "neo4j"]) as info:
        plan = realistic_plan(unique_plan("bench-delib"))
        context = await role_context(info.env(), plan)
    return await real_model_run(plan, context, ROLE)


def overall(shares: dict[str, tuple[int, int]]) -> float:
    return sum(s for s, _ in shares.values()) / sum(t for _, t in shares.values())


def break_even(shares: dict[str, tuple[int, int]], run: Run, target: float = 0.80) -> float:
    """Extra role-context tokens that lift the overall share to `target`: every call of a shared
    stage carries the context inside its shared prefix, so each adds it to both sums."""
    calls = sum(1 for c in run.calls if c.request.stage in shares)
    shared, total = (sum(x) for x in zip(*shares.values(), strict=True))
    return max(0.0, (target * total - shared) / ((1 - target) * calls))


def report(result: dict[str, Any]) -> dict[str, float]:
    cap, measured = result["cap"], result["measured"]
    console = Console(width=160)  # the same table whether or not stdout is a terminal
    latencies = ", ".join(f"{m['latency'] * 1000:.0f} ms" for m in measured)
    console.print(
        f"[bold yellow]MODEL SIMULATOR[/]: every LLM call is answered by `conclave sim serve` (not a real model; "
        f"{result['sim_workers']} worker processes) after a fixed first-token latency ({latencies}), unpaced "
        "streaming. The JSON line is measured at the first latency."
    )
    context_tokens = count_tokens(result["context"])
    plan = result["plan"]
    console.print(
        f"Role context: the Context service's DEV context (RehydrateSession via plan_context, as the Ray job reads "
        f"it) for story {plan.story_id}: the demo plan grown to {len(plan.tasks)} tasks plus {len(DECISIONS)} "
        f"recorded decisions, {context_tokens:,} tokens ({tokenizer_name()} tokenizer)."
    )
    table = Table(title="Deliberate over gRPC (client in its own process), in-process Orchestrator, SIMULATED model")
    table.add_column("measure")
    for m in measured:
        for name in SHAPES:
            table.add_column(f"{name.upper()} @ {m['latency'] * 1000:.0f} ms")
    ratios: dict[tuple[float, str], float] = {}
    rows: dict[str, list[str]] = {}
    for m in measured:
        latency, runs = m["latency"], m["runs"]
        for name, (k, r) in SHAPES.items():
            ideal = (2 * r + 2) * latency
            seconds = median(run.seconds for run in runs[name])
            ratios[latency, name] = seconds / ideal
            parts = [run.breakdown() for run in runs[name]]
            first = runs[name][0]
            cols = {
                "ideal critical path (2R+2) x latency": f"{ideal:.2f} s",
                "makespan, median (min-max)": f"{seconds:.3f} s ({min(x.seconds for x in runs[name]):.3f}-"
                f"{max(x.seconds for x in runs[name]):.3f})",
                "makespan ratio measured / ideal (target <= 1.10)": f"{ratios[latency, name]:.3f}",
                "  sequential LLM steps seen": f"{statistics.mode(int(p['steps']) for p in parts)}",
                "  per-call latency seen by the engine (median)":
                    f"{median(p['call_median_s'] for p in parts) * 1000:.0f} ms",
                "  sum of the slowest call per step": f"{median(p['slowest_calls_s'] for p in parts):.3f} s",
                "  engine time between steps": f"{median(p['between_steps_s'] for p in parts) * 1000:.0f} ms",
                "  gRPC + request setup + mapping": f"{median(p['outside_engine_s'] for p in parts) * 1000:.0f} ms",
                "LLM calls per deliberation (2K(R+1))": f"{first.reply.usage.llm_calls} ({2 * k * (r + 1)})",
                "prompt / completion tokens per deliberation": f"{first.reply.usage.prompt_tokens:,} / "
                f"{first.reply.usage.completion_tokens:,}",
            }
            for label, value in cols.items():
                rows.setdefault(label, []).append(value)
    for label, values in rows.items():
        table.add_row(label, *values)
    console.print(table)

    primary = measured[0]
    strict, cached = {}, {}
    shares = Table(title="Prompt prefix sharing (latency-independent; first counted run of each shape)")
    for col in ("measure", *(name.upper() for name in SHAPES)):
        shares.add_column(col)
    share_rows: dict[str, list[str]] = {}
    for name in SHAPES:
        first = primary["runs"][name][0]
        strict[name], cached[name] = prefix_shares(first.calls), prefix_cache_shares(first.calls)
        cols = {}
        for stage in ("generate", "review", "revise"):
            s, t = strict[name].get(stage, (0, 1))
            cols[f"shared_prefix_share (strict: common to every call), {stage}"] = f"{s / t:.3f} ({s:,} of {t:,} tok)"
        cols["shared_prefix_share, all stages (target >= 0.80)"] = f"{overall(strict[name]):.3f}"
        needed = context_tokens + break_even(strict[name], first)
        cols["  role context needed for 0.80 (strict)"] = f"~{needed:,.0f} tok"
        for stage in ("generate", "review", "revise"):
            s, t = cached[name].get(stage, (0, 1))
            cols[f"prefix_cache_share (already sent earlier in the deliberation), {stage}"] = (
                f"{s / t:.3f} ({s:,} of {t:,} tok)"
            )
        cols["prefix_cache_share, all stages"] = f"{overall(cached[name]):.3f}"
        for label, value in cols.items():
            share_rows.setdefault(label, []).append(value)
    for label, values in share_rows.items():
        shares.add_row(label, *values)
    console.print(shares)

    per_delib = 12
    tput = Table(title=f"Concurrent Deliberate (K=3 R=1), LLM_MAX_IN_FLIGHT={cap}, SIMULATED model")
    tput.add_column("measure")
    for m in measured:
        tput.add_column(f"@ {m['latency'] * 1000:.0f} ms")
    rates = []
    trows: dict[str, list[str]] = {}
    for m in measured:
        load, latency = m["load"], m["latency"]
        ideal_rate = cap / (per_delib * latency)
        rate = load["n"] / load["seconds"]
        rates.append(rate / ideal_rate)
        cols = {
            "ideal: cap / (12 calls x latency)": f"{ideal_rate:.2f} deliberations/s",
            "measured": f"{rate:.2f} deliberations/s ({load['seconds']:.2f} s for {load['n']})",
            "throughput ratio measured / ideal (target >= 0.90)": f"{rate / ideal_rate:.3f}",
            "LLM calls": f"{load['calls']}",
            "mean LLM calls in flight, sampled every 10 ms (cap)": f"{load['mean_in_flight']:.1f} ({cap})",
            "per-call time seen by the engine, incl. queueing for a slot (median)":
                f"{load['call_median_s'] * 1000:.0f} ms",
            "CPU: orchestrator process": f"{load['bench_cpu']:.2f} cores",
            "CPU: client process": f"{load['client_cpu']:.2f} cores",
            "CPU: simulator processes": f"{load['sim_cpu']:.2f} cores",
        }
        for label, value in cols.items():
            trows.setdefault(label, []).append(value)
    for label, values in trows.items():
        tput.add_row(label, *values)
    console.print(tput)
    first_latency = primary["latency"]
    extra = {
        f"makespan_ratio_{name}_{m['latency'] * 1000:.0f}ms": round(ratios[m["latency"], name], 3)
        for m in measured[1:] for name in SHAPES
    }
    return {
        "makespan_ratio_k3r1": round(ratios[first_latency, "k3r1"], 3),
        "makespan_ratio_k5r2": round(ratios[first_latency, "k5r2"], 3),
        "throughput_ratio": round(rates[0], 3),
        "shared_prefix_share": round(overall(strict["k3r1"]), 3),
        "prefix_cache_share": round(overall(cached["k3r1"]), 3),
        "latency_ms": round(first_latency * 1000),
        **extra,
        **{
            f"throughput_ratio_{m['latency'] * 1000:.0f}ms": round(x, 3)
            for m, x in zip(measured[1:], rates[1:], strict=True)
        },
        "role_context_tokens": context_tokens,
        "simulator": True,
        **real_model_table(console, result.get("real_model")),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, default=1000.0,
                        help="simulated first-token latency per call for the JSON line")
    parser.add_argument("--also-ms", type=float, nargs="*", default=[200.0],
                        help="further latencies shown as extra columns")
    parser.add_argument("--cap", type=int, default=16, help="LLM_MAX_IN_FLIGHT of the orchestrator")
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sim-workers", type=int, default=2, help="simulator processes (SO_REUSEPORT)")
    parser.add_argument("--no-real-model", action="store_true",
                        help="skip the K=3, R=1 council on the real model (llama.cpp, SmolLM2)")
    parser.add_argument("--only-real-model", action="store_true",
                        help="just the K=3, R=1 council on the real model, with the same role context")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)  # the load process
    logging.basicConfig(level=logging.WARNING)
    parsed = parser.parse_args()
    if parsed.client:
        asyncio.run(client_main())
    elif parsed.only_real_model:
        print(json.dumps(real_model_table(Console(width=160), asyncio.run(real_model_only()))))
    else:
        outcome = asyncio.run(main(parsed))
        print(json.dumps(report(outcome)))

"""Deliberation engine benchmark: Deliberate over real gRPC against the model SIMULATOR.

A private simulator (`conclave sim serve`, its own process) answers every call after a fixed
first-token latency with unpaced streaming, so one call costs about that latency. An in-process
Orchestrator gRPC server (the real composition root, on the stack's NATS) serves the calls.
The agents' role context is the one the Ray job would get: the demo's sample plan is recorded
through the real Context service handlers (Neo4j + ValKey) and read back with the job's own
`plan_context` over gRPC.

Measured:
1. makespan of one Deliberate against the ideal critical path, (2R + 2) x latency,
   for K=3/R=1 and K=5/R=2 (median of --repeats runs);
2. throughput of --concurrent simultaneous Deliberate calls against the bound set by the
   in-flight cap: cap / (2K(R + 1) x latency) deliberations per second;
3. LLM calls and prompt tokens per deliberation;
4. per stage, the share of prompt tokens in the prefix every agent of the stage shares.

Usage: python bench/deliberation.py [--latency-ms 200] [--cap 16] [--concurrent 50] [--repeats 3]
The stack (NATS, ValKey, Neo4j) is started or reused; the last line of output is a JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import grpc
from common import cpu_seconds, median, private_simulator, sim_stats, stack, unique_plan
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table

from services.context.bootstrap import bootstrap as context_bootstrap
from services.context.entrypoints.grpc_servicer import ContextServicer
from services.context.handlers import record_plan_approved_batch
from services.gen.fleet.context.v1 import context_pb2_grpc
from services.gen.fleet.orchestrator.v1 import orchestrator_pb2 as pb
from services.gen.fleet.orchestrator.v1 import orchestrator_pb2_grpc as pb_grpc
from services.orchestrator.adapters.context_client import plan_context
from services.orchestrator.adapters.llm_openai import OpenAILLM
from services.orchestrator.adapters.state_kv import CouncilStore
from services.orchestrator.bootstrap import bootstrap
from services.orchestrator.domain.council import Council, Role
from services.orchestrator.domain.llm import ChatRequest, ChatResult, LLMPort
from services.orchestrator.domain.prompts import shared_prefix_share
from services.shared.events import PlanApproved
from services.shared.settings import ContextSettings, OrchestratorSettings
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


async def role_context(env: dict[str, str], plan: PlanApproved) -> str:
    """Record the plan with the Context service's own handler, then read the role's context
    exactly as the Ray job does (plan_context -> RehydrateSession over gRPC)."""
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


async def one(stub: pb_grpc.OrchestratorServiceStub, recorder: Recorder, request: pb.DeliberateRequest) -> Run:
    recorder.take()
    sent = time.perf_counter()
    reply = await stub.Deliberate(request, timeout=300)
    seconds = time.perf_counter() - sent
    return Run(seconds, reply, recorder.take(), sent)


def prefix_shares(calls: list[Call]) -> dict[str, tuple[int, int]]:
    return shared_prefix_share([c.request for c in calls], count=count_tokens)


async def makespan(
    stub: pb_grpc.OrchestratorServiceStub, recorder: Recorder, plan: PlanApproved, context: str,
    k: int, r: int, repeats: int,
) -> list[Run]:
    await one(stub, recorder, deliberate_request(plan, context, k, r))  # warm code paths and connections
    return [await one(stub, recorder, deliberate_request(plan, context, k, r, n + 1)) for n in range(repeats)]


async def throughput(
    stub: pb_grpc.OrchestratorServiceStub, recorder: Recorder, llm: OpenAILLM, plan: PlanApproved, context: str,
    n: int, sim_pid: int,
) -> dict[str, Any]:
    recorder.take()
    samples: list[int] = []

    async def sample() -> None:
        # How full the cap really is: a slot held while the event loop is busy elsewhere is a lost slot.
        while True:
            samples.append(llm.status().in_flight)
            await asyncio.sleep(0.01)

    sampler = asyncio.create_task(sample())
    cpu_bench, cpu_sim = cpu_seconds(), cpu_seconds(sim_pid)
    started = time.perf_counter()
    replies = await asyncio.gather(
        *(stub.Deliberate(deliberate_request(plan, context, 3, 1, i + 1), timeout=600) for i in range(n))
    )
    seconds = time.perf_counter() - started
    sampler.cancel()
    calls = recorder.take()
    assert all(len(r.ranked) == 3 for r in replies)
    return {
        "n": n,
        "seconds": seconds,
        "calls": len(calls),
        "mean_in_flight": statistics.fmean(samples),
        "bench_cpu": (cpu_seconds() - cpu_bench) / seconds,
        "sim_cpu": (cpu_seconds(sim_pid) - cpu_sim) / seconds,
        "call_median_s": median(c.end - c.start for c in calls),
    }


async def main(args: argparse.Namespace) -> dict[str, Any]:
    latency = args.latency_ms / 1000
    async with stack(StackConfig(services=False), ["nats", "valkey", "neo4j"]) as info:
        env = info.env()
        plan = unique_plan("bench-delib")
        context = await role_context(env, plan)
        log = Path(tempfile.gettempdir()) / f"bench-sim-{uuid.uuid4().hex[:8]}.log"
        async with private_simulator(args.latency_ms, log) as (sim_url, sim_pid):
            settings = OrchestratorSettings(
                nats_url=env["NATS_URL"], ray_address=env["RAY_ADDRESS"], vllm_url=sim_url,
                vllm_model="conclave-sim", llm_max_in_flight=args.cap, default_councils=False,
            )
            app = await bootstrap(settings)
            recorder = Recorder(app.deps.llm)
            app.deps.llm = recorder
            app.deps.councils = cast(CouncilStore, SizedCouncils())
            server = grpc.aio.server()
            app.register(server)
            port = server.add_insecure_port("127.0.0.1:0")
            await server.start()
            try:
                async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
                    stub = pb_grpc.OrchestratorServiceStub(channel)
                    runs = {
                        name: await makespan(stub, recorder, plan, context, k, r, args.repeats)
                        for name, (k, r) in SHAPES.items()
                    }
                    load = await throughput(stub, recorder, app.llm, plan, context, args.concurrent, sim_pid)
                    load["sim_max_in_flight"] = (await sim_stats(sim_url))["max_in_flight"]
            finally:
                await server.stop(0)
                await app.close()
    return {"latency": latency, "cap": args.cap, "context": context, "plan": plan, "runs": runs, "load": load}


def overall(shares: dict[str, tuple[int, int]]) -> float:
    return sum(s for s, _ in shares.values()) / sum(t for _, t in shares.values())


def break_even(shares: dict[str, tuple[int, int]], run: Run, target: float = 0.80) -> float:
    """Extra role-context tokens that lift the overall share to `target`: every call of a shared
    stage carries the context inside its shared prefix, so each adds it to both sums."""
    calls = sum(1 for c in run.calls if c.request.stage in shares)
    shared, total = (sum(x) for x in zip(*shares.values(), strict=True))
    return max(0.0, (target * total - shared) / ((1 - target) * calls))


def report(result: dict[str, Any]) -> dict[str, float]:
    latency, cap, runs, load = result["latency"], result["cap"], result["runs"], result["load"]
    console = Console(width=130)  # the same table whether or not stdout is a terminal
    console.print(
        f"[bold yellow]MODEL SIMULATOR[/]: every LLM call is answered by `conclave sim serve` (not a real model) "
        f"after a fixed {latency * 1000:.0f} ms first-token latency, unpaced streaming."
    )
    context_tokens = count_tokens(result["context"])
    console.print(
        f"Role context: the Context service's DEV context for the demo plan {result['plan'].story_id} "
        f"(recorded by its handlers, read with plan_context): {context_tokens:,} tokens "
        f"({tokenizer_name()})."
    )
    table = Table(title="Deliberate over gRPC, in-process Orchestrator, SIMULATED model")
    for col in ("measure", "K=3 R=1", "K=5 R=2"):
        table.add_column(col)
    ratios, shares = {}, {}
    rows: dict[str, list[str]] = {}
    for name, (k, r) in SHAPES.items():
        ideal = (2 * r + 2) * latency
        measured = median(run.seconds for run in runs[name])
        ratios[name] = measured / ideal
        parts = [run.breakdown() for run in runs[name]]
        first = runs[name][0]
        shares[name] = {stage: s for stage, s in prefix_shares(first.calls).items()}
        cols = {
            "ideal critical path (2R+2) x latency": f"{ideal:.2f} s",
            "makespan, median of runs (min-max)": f"{measured:.3f} s ({min(x.seconds for x in runs[name]):.3f}-"
            f"{max(x.seconds for x in runs[name]):.3f})",
            "makespan ratio measured / ideal (target <= 1.10)": f"{ratios[name]:.3f}",
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
        for stage in ("generate", "review", "revise"):
            s, t = shares[name].get(stage, (0, 1))
            cols[f"shared-prefix share, {stage}"] = f"{s / t:.3f} ({s:,} of {t:,} tok)"
        cols["shared-prefix share, all stages"] = f"{overall(shares[name]):.3f}"
        cols["  role context needed for 0.80 overall"] = f"~{context_tokens + break_even(shares[name], first):,.0f} tok"
        for label, value in cols.items():
            rows.setdefault(label, []).append(value)
    for label, values in rows.items():
        table.add_row(label, *values)
    console.print(table)

    per_delib = 12
    ideal_rate = cap / (per_delib * latency)
    rate = load["n"] / load["seconds"]
    tput = Table(title=f"{load['n']} concurrent Deliberate (K=3 R=1), LLM_MAX_IN_FLIGHT={cap}, SIMULATED model")
    for col in ("measure", "value"):
        tput.add_column(col)
    tput.add_row("ideal: cap / (12 calls x latency)", f"{ideal_rate:.2f} deliberations/s")
    tput.add_row("measured", f"{rate:.2f} deliberations/s ({load['seconds']:.2f} s for {load['n']})")
    tput.add_row("throughput ratio measured / ideal (target >= 0.90)", f"{rate / ideal_rate:.3f}")
    tput.add_row("LLM calls", f"{load['calls']}")
    tput.add_row("mean LLM calls in flight, sampled every 10 ms (cap)", f"{load['mean_in_flight']:.1f} ({cap})")
    tput.add_row("simulator max in flight", f"{load['sim_max_in_flight']}")
    tput.add_row(
        "per-call time seen by the engine, incl. queueing for a slot (median)",
        f"{load['call_median_s'] * 1000:.0f} ms",
    )
    tput.add_row("CPU: bench process (orchestrator + client)", f"{load['bench_cpu']:.2f} cores")
    tput.add_row("CPU: simulator process", f"{load['sim_cpu']:.2f} cores")
    console.print(tput)
    return {
        "makespan_ratio_k3r1": round(ratios["k3r1"], 3),
        "makespan_ratio_k5r2": round(ratios["k5r2"], 3),
        "throughput_ratio": round(rate / ideal_rate, 3),
        "shared_prefix_share": round(overall(shares["k3r1"]), 3),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency-ms", type=float, default=200.0, help="simulated first-token latency per call")
    parser.add_argument("--cap", type=int, default=16, help="LLM_MAX_IN_FLIGHT of the orchestrator")
    parser.add_argument("--concurrent", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=3)
    logging.basicConfig(level=logging.WARNING)
    outcome = asyncio.run(main(parser.parse_args()))
    print(json.dumps(report(outcome)))

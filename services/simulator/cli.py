"""`conclave sim serve`: run the model simulator in the foreground."""

from __future__ import annotations

import ctypes
import logging
import multiprocessing
import os
import signal
import sys
from typing import Annotated, Any

import typer

from services.simulator.settings import SimSettings

app = typer.Typer(help="OpenAI-compatible model simulator (NOT a real model).", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Keep `serve` a named subcommand even while it is the only one."""


def _opt(text: str, env: str) -> Any:
    return typer.Option(help=f"{text} (env SIM_{env})")


@app.command()
def serve(
    host: Annotated[str | None, _opt("bind address, default 127.0.0.1", "HOST")] = None,
    port: Annotated[int | None, _opt("port, default 8000", "PORT")] = None,
    model: Annotated[str | None, _opt("model id, default conclave-sim", "MODEL")] = None,
    models: Annotated[str | None, _opt("more model ids, each with its judging noise, e.g. "
                                       "'family-b:noise=1.0:shared=0.8,family-c'", "MODELS")] = None,
    ttft_ms: Annotated[float | None, _opt("time to first token, ms", "TTFT_MS")] = None,
    tokens_per_s: Annotated[float | None, _opt("stream pacing; 0 = unpaced", "TOKENS_PER_S")] = None,
    error_rates: Annotated[str | None, _opt("e.g. '503:0.3,429:0.1'", "ERROR_RATES")] = None,
    stall_prob: Annotated[float | None, _opt("P(stall before the first token)", "STALL_PROB")] = None,
    stall_s: Annotated[float | None, _opt("stall length, s", "STALL_S")] = None,
    drop_prob: Annotated[float | None, _opt("P(connection dropped mid-answer)", "DROP_PROB")] = None,
    malformed_json_prob: Annotated[
        float | None, _opt("P(broken JSON for structured output)", "MALFORMED_JSON_PROB")
    ] = None,
    loading_s: Annotated[float | None, _opt("model-loading period after start, s", "LOADING_S")] = None,
    seed: Annotated[int | None, _opt("fault RNG seed", "SEED")] = None,
    workers: Annotated[int, typer.Option(
        min=1, help="processes sharing the port (SO_REUSEPORT); each keeps its own knobs and stats, "
                    "so /admin reaches one worker: set knobs at start when workers > 1")] = 1,
) -> None:
    """Serve /v1/models, /v1/chat/completions, /health and /admin/{faults,stats}."""
    overrides = {k: v for k, v in locals().items() if v is not None and k != "workers"}
    settings = SimSettings(**overrides)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    if workers == 1:
        _run(settings, reuse_port=False)
        return
    # One event loop is one core: under a load test the simulator's own per-request work
    # (building and tokenizing answers) would otherwise queue behind itself.
    ctx = multiprocessing.get_context("spawn")
    children = [ctx.Process(target=_worker, args=(settings, os.getpid()), daemon=True) for _ in range(workers - 1)]
    for child in children:
        child.start()
    try:
        _run(settings, reuse_port=True)
    finally:
        for child in children:
            child.terminate()
        for child in children:
            child.join(5)


def _run(settings: SimSettings, *, reuse_port: bool) -> None:
    # Imported here: only the simulator image carries aiohttp; every image loads this CLI.
    from aiohttp import web

    from services.simulator.app import create_app

    web.run_app(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        handler_cancellation=True,
        reuse_port=reuse_port or None,
        print=None,
    )


def _worker(settings: SimSettings, parent: int) -> None:
    if sys.platform == "linux":  # die with the parent even if it is killed with SIGKILL
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        return
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    _run(settings, reuse_port=True)

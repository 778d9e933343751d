"""`conclave sim serve` as a real process: env configuration, loading period, SIMULATOR logging."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from typing import Any

from services.stack.config import free_port
from tests.waiting import until_sync

LAUNCH = "from services.simulator.cli import app; app()"


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, json.loads(resp.read())
    except OSError:
        return 0, None


def test_serve_reads_sim_env_lists_no_model_while_loading_and_says_it_is_a_simulator() -> None:
    port = free_port()
    env = {**os.environ, "SIM_PORT": str(port), "SIM_LOADING_S": "1.0", "SIM_MODEL": "tiny-sim"}
    proc = subprocess.Popen([sys.executable, "-c", LAUNCH, "serve", "--ttft-ms", "5"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        until_sync(lambda: get(f"{base}/health")[0] == 200, 15, "the simulator to answer /health")
        status, listing = get(f"{base}/v1/models")
        assert status == 200 and listing["data"] == [] and "SIMULATOR" in listing["note"]
        until_sync(lambda: get(f"{base}/v1/models")[1]["data"], 15, "the model to finish loading")
        listing = get(f"{base}/v1/models")[1]
        assert [m["id"] for m in listing["data"]] == ["tiny-sim"]
        assert listing["data"][0]["owned_by"] == "conclave-simulator"
        assert get(f"{base}/admin/faults")[1]["ttft_ms"] == 5.0
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=10)
    start = json.loads(next(line for line in out.splitlines() if '"event": "start"' in line))
    assert start["simulator"] is True and "SIMULATOR" in start["note"] and start["model"] == "tiny-sim"

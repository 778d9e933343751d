"""LLMPort over an OpenAI-compatible server (vLLM in production, the simulator in dev).

Policies live here and nowhere else: timeouts (connect, first token, total per
attempt), a per-process cap on requests in flight, the one retry layer (the
SDK's own retries are switched off), readiness on /v1/models, and usage
accounting. Every call streams, so a cancelled caller closes its HTTP request
and the first-token deadline can be enforced separately from the total.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx2  # the HTTP library the openai SDK itself runs on
import openai
from openai import AsyncOpenAI

from services.orchestrator.adapters.llm_metrics import LLMMetrics, NoMetrics
from services.orchestrator.adapters.sse_stream import StreamRead
from services.orchestrator.domain.budgets import within_ceiling
from services.orchestrator.domain.llm import (
    ChatRequest,
    ChatResult,
    LLMError,
    LLMStatus,
    Usage,
    WaitCallback,
    notify_waiting,
    wait_listener,
)
from services.orchestrator.settings import LLMSettings

log = logging.getLogger("conclave.llm")

class _Retryable(Exception):
    def __init__(self, reason: str, detail: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.reason = reason
        self.retry_after = retry_after


def _retry_after(err: openai.APIStatusError) -> float | None:
    value = err.response.headers.get("retry-after")
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


class OpenAILLM:
    """Implements LLMPort. One instance per process; close it with `aclose()`."""

    def __init__(self, settings: LLMSettings | None = None, *, rng: random.Random | None = None,
                 metrics: LLMMetrics | None = None) -> None:
        self.settings = s = settings or LLMSettings()
        self.metrics = metrics or NoMetrics()  # the composition root passes the process's sink
        self._client = AsyncOpenAI(
            base_url=s.vllm_url,
            api_key=s.vllm_api_key or "EMPTY",
            max_retries=0,  # the only retry layer is `chat` below
            timeout=openai.Timeout(
                connect=s.llm_connect_timeout_s,
                read=s.llm_total_timeout_s,
                write=s.llm_total_timeout_s,
                pool=s.llm_total_timeout_s,
            ),
        )
        self._slots = asyncio.Semaphore(s.llm_max_in_flight)
        self._rng = rng or random.Random()
        self._in_flight = 0
        self._queued = 0
        self._ready = False
        self._models: list[str] = []
        self._simulated = False
        self._reachable = False
        self._probe_ms: float | None = None
        self._probe_error = ""
        self._probed_at = 0.0
        self._probe_lock = asyncio.Lock()

    async def __aenter__(self) -> OpenAILLM:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.close()

    # -- readiness ---------------------------------------------------------

    async def probe(self) -> LLMStatus:
        """Ask /v1/models now; ready means the configured model is listed."""
        started = time.monotonic()
        try:
            async with asyncio.timeout(self.settings.llm_connect_timeout_s + 5.0):
                page = await self._client.models.list()
            self._models = [m.id for m in page.data]
            self._simulated = any("simulator" in (m.owned_by or "") for m in page.data)
            self._reachable, self._probe_error = True, ""
        except (openai.APIError, TimeoutError) as err:
            self._models, self._reachable = [], False
            self._probe_error = f"{type(err).__name__}: {err}"
        self._probe_ms = (time.monotonic() - started) * 1000.0
        self._probed_at = time.monotonic()
        self._ready = self.settings.vllm_model in self._models
        return self.status()

    async def _probe_shared(self) -> None:
        # Many callers may wait at once; they share one probe per interval.
        async with self._probe_lock:
            if time.monotonic() - self._probed_at >= self.settings.llm_probe_interval_s / 2:
                await self.probe()

    def _loading_message(self, waited: float) -> str:
        s = self.settings
        why = self._probe_error or f"listed models: {self._models or 'none'}"
        return f"model loading: {s.vllm_model} not ready at {s.vllm_url} after {waited:.1f}s ({why})"

    async def wait_ready(
        self,
        timeout: float | None = None,  # noqa: ASYNC109 - a bound on waiting, not an I/O timeout
        on_wait: WaitCallback | None = None,
    ) -> None:
        """Return once the model is listed; raise LLMError('model loading...') after `timeout`."""
        if self._ready:
            return
        limit = self.settings.llm_ready_timeout_s if timeout is None else timeout
        listener = on_wait or wait_listener.get()
        started = time.monotonic()
        while True:
            await self._probe_shared()
            if self._ready:
                return
            waited = time.monotonic() - started
            message = self._loading_message(waited)
            if waited >= limit:
                raise LLMError(message, retryable=True)
            await notify_waiting(listener, message)
            await asyncio.sleep(min(self.settings.llm_probe_interval_s, max(0.0, limit - waited)))

    def status(self) -> LLMStatus:
        s = self.settings
        return LLMStatus(
            url=s.vllm_url, model=s.vllm_model, ready=self._ready, reachable=self._reachable,
            models=list(self._models), in_flight=self._in_flight, queued=self._queued,
            max_in_flight=s.llm_max_in_flight, last_probe_latency_ms=self._probe_ms,
            last_probe_error=self._probe_error, simulator=self._simulated,
        )

    # -- calls ---------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _slot(self) -> AsyncIterator[None]:
        queued_at = time.monotonic()
        self._queued += 1
        self.metrics.queued(+1)
        ticker = None
        listener = wait_listener.get()
        if listener is not None and self._slots.locked():
            ticker = asyncio.create_task(self._tick(listener, queued_at))
        try:
            await self._slots.acquire()
        finally:
            self._queued -= 1
            self.metrics.queued(-1)
            if ticker is not None:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
        self.metrics.waited(time.monotonic() - queued_at)
        self._in_flight += 1
        self.metrics.in_flight(+1)
        try:
            yield
        finally:
            self._in_flight -= 1
            self.metrics.in_flight(-1)
            self._slots.release()

    async def _tick(self, listener: WaitCallback, since: float) -> None:
        while True:
            await asyncio.sleep(self.settings.llm_probe_interval_s)
            waited = time.monotonic() - since
            await notify_waiting(listener, f"waiting for an LLM slot ({self._queued} queued, "
                                    f"{self._in_flight} in flight, {waited:.1f}s)")

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        s = self.settings
        ceiling = min(s.llm_backoff_max_s, s.llm_backoff_base_s * 2**attempt)
        delay = ceiling / 2 + self._rng.uniform(0, ceiling / 2)  # "equal jitter"
        if retry_after is not None:
            delay = max(delay, min(retry_after, s.llm_backoff_max_s))
        return delay

    def _kwargs(self, request: ChatRequest) -> dict[str, Any]:
        ceiling = self.settings.llm_max_answer_tokens
        schema, max_tokens = within_ceiling(request.json_schema, request.max_tokens, ceiling)
        kwargs: dict[str, Any] = {
            "model": self.settings.vllm_model,
            "messages": [m.model_dump() for m in request.messages],
            "temperature": request.temperature,
            "max_tokens": max_tokens,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if schema is not None:
            kwargs["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": request.schema_name, "schema": schema, "strict": True},
            }
        return kwargs

    async def chat(self, request: ChatRequest) -> ChatResult:
        started = time.monotonic()
        await self.wait_ready()
        attempt = 0
        try:
            while True:
                try:
                    async with self._slot():
                        text, usage, model, finish, first_token_ms = await self._attempt(request)
                    break
                except _Retryable as err:
                    if attempt >= self.settings.llm_max_retries:
                        raise LLMError(
                            f"LLM call failed after {attempt + 1} attempts: {err.reason}: {err}",
                            retryable=True,
                        ) from err
                    self.metrics.retry(err.reason)
                    delay = self._backoff(attempt, err.retry_after)
                    log.info("LLM %s (%s); retry %d in %.2fs", err.reason, err, attempt + 1, delay)
                    await asyncio.sleep(delay)
                    attempt += 1
        except asyncio.CancelledError:
            self.metrics.call("cancelled")
            raise
        except LLMError:
            self.metrics.call("error")
            raise
        self.metrics.call("ok")
        self.metrics.tokens(usage.prompt_tokens, usage.completion_tokens)
        duration_ms = (time.monotonic() - started) * 1000.0
        return ChatResult(text=text, usage=usage, duration_ms=duration_ms, first_token_ms=first_token_ms,
                          model=model, finish_reason=finish)

    async def _attempt(self, request: ChatRequest) -> tuple[str, Usage, str, str, float]:
        s = self.settings
        sent = time.monotonic()
        first_token = asyncio.timeout(s.llm_first_token_timeout_s)
        read = StreamRead(model=s.vllm_model)
        first_token_s = 0.0
        try:
            async with asyncio.timeout(s.llm_total_timeout_s), first_token:
                # The raw response, not the SDK's stream (see sse_stream.py). Leaving the `async with`
                # closes the HTTP response however we leave, cancellation included.
                create = self._client.chat.completions.with_streaming_response.create
                async with create(**self._kwargs(request)) as resp:
                    async for line in resp.iter_lines():
                        if read.feed(line) and first_token.when():
                            first_token.reschedule(None)
                            first_token_s = time.monotonic() - sent
                            self.metrics.first_token(first_token_s)
                    # Read on past [DONE] to the end of the body, as the SDK does, so the
                    # connection goes back to the pool instead of being closed.
        except TimeoutError as err:
            if first_token.expired():
                detail = f"no token within {s.llm_first_token_timeout_s}s"
                raise _Retryable("first_token_timeout", detail) from err
            raise LLMError(f"LLM call exceeded the total timeout of {s.llm_total_timeout_s}s") from err
        except openai.APIStatusError as err:
            if err.status_code in (408, 429) or err.status_code >= 500:
                raise _Retryable(f"http_{err.status_code}", err.message, _retry_after(err)) from err
            raise LLMError(f"LLM request rejected: HTTP {err.status_code}: {err.message}") from err
        except (openai.APITimeoutError, httpx2.TimeoutException) as err:
            raise _Retryable("read_timeout", str(err) or type(err).__name__) from err
        except openai.APIConnectionError as err:
            raise _Retryable("connection", f"{err}: {err.__cause__!r}") from err
        except httpx2.TransportError as err:  # mid-stream: the raw body is not wrapped by the SDK
            raise _Retryable("connection", f"{type(err).__name__}: {err}") from err
        except openai.APIError as err:
            raise LLMError(f"LLM error: {err}") from err
        if not read.finished:
            raise _Retryable("incomplete", "stream ended before a finish_reason")
        text = "".join(read.parts)
        usage = read.usage
        if usage is None:
            # Servers without include_usage: a rough count keeps accounting non-zero.
            prompt_chars = sum(len(m.content) for m in request.messages)
            usage = Usage(calls=1, prompt_tokens=prompt_chars // 4, completion_tokens=len(read.parts))
        return text, usage, read.model, read.finish_reason, first_token_s * 1000.0

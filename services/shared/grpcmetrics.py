"""gRPC server metrics for every service, named as go-grpc-prometheus names them so that
existing dashboards and alerts for gRPC servers work unchanged."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import aclosing
from typing import Any

import grpc
from prometheus_client import Counter, Histogram

LABELS = ["grpc_type", "grpc_service", "grpc_method"]
STARTED = Counter("grpc_server_started_total", "RPCs started on the server", LABELS)
HANDLED = Counter("grpc_server_handled_total", "RPCs completed on the server, by status code", [*LABELS, "grpc_code"])
HANDLING_SECONDS = Histogram(
    "grpc_server_handling_seconds",
    "Time from the start of an RPC to its status, streams included",
    LABELS,
    # Up to 30 minutes: a streamed deliberation on a CPU model runs for many minutes.
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800),
)

Behavior = Callable[..., Any]


def rpc_type(handler: grpc.RpcMethodHandler) -> str:
    if handler.request_streaming:
        return "bidi_stream" if handler.response_streaming else "client_stream"
    return "server_stream" if handler.response_streaming else "unary"


def split_method(full: str) -> tuple[str, str]:
    """'/pkg.Service/Method' -> ('pkg.Service', 'Method')."""
    service, _, method = full.lstrip("/").rpartition("/")
    return service or "unknown", method or "unknown"


def code_of(context: grpc.aio.ServicerContext, error: BaseException | None) -> str:
    # Cancellation and unhandled errors never reach context.code(): the server maps them itself.
    if isinstance(error, asyncio.CancelledError):
        return grpc.StatusCode.CANCELLED.name
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    if error is not None and not isinstance(error, grpc.aio.AbortError):
        return grpc.StatusCode.UNKNOWN.name
    return grpc.StatusCode.OK.name


class _Call:
    """One RPC's accounting: started on creation, handled exactly once."""

    def __init__(self, labels: tuple[str, str, str]) -> None:
        self.labels = labels
        self.start = time.perf_counter()
        STARTED.labels(*labels).inc()

    def done(self, context: grpc.aio.ServicerContext, error: BaseException | None) -> None:
        HANDLED.labels(*self.labels, code_of(context, error)).inc()
        HANDLING_SECONDS.labels(*self.labels).observe(time.perf_counter() - self.start)


def _wrap(behavior: Behavior, labels: tuple[str, str, str]) -> Behavior:
    if inspect.isasyncgenfunction(behavior):

        async def stream(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
            call = _Call(labels)
            error: BaseException | None = None
            try:
                # aclosing: a client that goes away must still run the handler's own clean-up now.
                async with aclosing(behavior(request, context)) as responses:
                    async for response in responses:
                        yield response
            except BaseException as exc:
                error = exc
                raise
            finally:
                call.done(context, error)

        return stream

    async def unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
        call = _Call(labels)
        error: BaseException | None = None
        try:
            result = behavior(request, context)
            return await result if isinstance(result, Awaitable) else result
        except BaseException as exc:
            error = exc
            raise
        finally:
            call.done(context, error)

    return unary


class ServerMetrics(grpc.aio.ServerInterceptor):
    """Counts and times every RPC of a registered method; unknown methods stay uncounted so
    that a scanner cannot grow the label space."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        kind = rpc_type(handler)
        labels = (kind, *split_method(handler_call_details.method))
        field = {"unary": "unary_unary", "server_stream": "unary_stream",
                 "client_stream": "stream_unary", "bidi_stream": "stream_stream"}[kind]
        behavior = getattr(handler, field)
        if behavior is None:
            return handler
        return handler._replace(**{field: _wrap(behavior, labels)})

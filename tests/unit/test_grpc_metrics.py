"""The gRPC server interceptor counts and times RPCs of every kind, on a real in-process server."""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from prometheus_client import REGISTRY

from services.shared import grpcserver
from services.shared.grpcmetrics import ServerMetrics, split_method
from tests.waiting import until


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def handled(service: str, method: str, code: str, kind: str = "unary") -> float:
    return sample("grpc_server_handled_total", grpc_type=kind, grpc_service=service, grpc_method=method, grpc_code=code)


async def counted(expected: float, service: str, method: str, code: str, kind: str = "unary") -> None:
    """The interceptor records a call once its handler has ended, and `context.abort` sends the
    status before it raises, so the client can have its answer first: wait for the count, and fail
    if it never is exactly `expected`."""
    await until(lambda: handled(service, method, code, kind) == expected, 5,
                f"{service}/{method} {code} to be counted {expected:g} times")


class Server:
    """A generic service under a unique name, so counts start at zero in every test."""

    def __init__(self) -> None:
        self.service = f"test.Probe{uuid.uuid4().hex[:8]}"
        self.stream_closed = asyncio.Event()
        self.release = asyncio.Event()

    async def ok(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        return request

    async def missing(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        await context.abort(grpc.StatusCode.NOT_FOUND, "no such story")
        raise AssertionError("abort raises")

    async def broken(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        raise RuntimeError("a bug")

    async def flagged(self, request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        context.set_code(grpc.StatusCode.INVALID_ARGUMENT)
        return b""

    async def stream(self, request: bytes, context: grpc.aio.ServicerContext) -> AsyncIterator[bytes]:
        try:
            for i in range(3):
                yield bytes([i])
            if request == b"hang":
                await self.release.wait()
        finally:
            self.stream_closed.set()

    def handler(self) -> grpc.GenericRpcHandler:
        names = ("ok", "missing", "broken", "flagged")
        unary = {n: grpc.unary_unary_rpc_method_handler(getattr(self, n)) for n in names}
        return grpc.method_handlers_generic_handler(
            self.service, {**unary, "stream": grpc.unary_stream_rpc_method_handler(self.stream)}
        )


async def serving(probe: Server) -> tuple[grpc.aio.Server, grpc.aio.Channel]:
    server = grpc.aio.server(interceptors=[ServerMetrics()])
    server.add_generic_rpc_handlers((probe.handler(),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, grpc.aio.insecure_channel(f"127.0.0.1:{port}")


async def test_unary_calls_are_counted_by_code_and_timed() -> None:
    probe = Server()
    server, channel = await serving(probe)
    try:
        for _ in range(2):
            assert await channel.unary_unary(f"/{probe.service}/ok")(b"x") == b"x"
        for method, code in (("missing", grpc.StatusCode.NOT_FOUND), ("broken", grpc.StatusCode.UNKNOWN),
                             ("flagged", grpc.StatusCode.INVALID_ARGUMENT)):
            with pytest.raises(grpc.aio.AioRpcError) as err:
                await channel.unary_unary(f"/{probe.service}/{method}")(b"")
            assert err.value.code() == code
            await counted(1, probe.service, method, code.name)
        await counted(2, probe.service, "ok", "OK")
        labels = {"grpc_type": "unary", "grpc_service": probe.service, "grpc_method": "ok"}
        assert sample("grpc_server_started_total", **labels) == 2
        assert sample("grpc_server_handling_seconds_count", **labels) == 2
        assert sample("grpc_server_handling_seconds_bucket", **labels, le="+Inf") == 2
    finally:
        await channel.close()
        await server.stop(None)


async def test_server_streams_are_counted_when_they_end_and_closed_when_the_client_leaves() -> None:
    probe = Server()
    server, channel = await serving(probe)
    method = channel.unary_stream(f"/{probe.service}/stream")
    try:
        assert [r async for r in method(b"")] == [b"\x00", b"\x01", b"\x02"]
        await counted(1, probe.service, "stream", "OK", "server_stream")

        probe.stream_closed.clear()
        call = method(b"hang")
        got = [await call.read() for _ in range(3)]
        assert got == [b"\x00", b"\x01", b"\x02"]
        call.cancel()
        # The handler's own clean-up runs although the interceptor sits between it and the server.
        await asyncio.wait_for(probe.stream_closed.wait(), timeout=5)
        await counted(1, probe.service, "stream", "CANCELLED", "server_stream")
        started = sample("grpc_server_started_total", grpc_type="server_stream",
                         grpc_service=probe.service, grpc_method="stream")
        assert started == 2
    finally:
        await channel.close()
        await server.stop(None)


async def test_unknown_methods_are_not_counted() -> None:
    probe = Server()
    server, channel = await serving(probe)
    try:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await channel.unary_unary(f"/{probe.service}/nope")(b"")
        assert err.value.code() == grpc.StatusCode.UNIMPLEMENTED
        assert handled(probe.service, "nope", "UNIMPLEMENTED") == 0
    finally:
        await channel.close()
        await server.stop(None)


def test_method_names_split_into_service_and_method() -> None:
    service = "fleet.context.v1.ContextService"
    assert split_method(f"/{service}/GetContext") == (service, "GetContext")
    assert split_method("garbage") == ("unknown", "garbage")


async def test_every_service_server_is_built_with_the_interceptor() -> None:
    # The health service stands in for a service's own: the same server carries both.
    before = handled("grpc.health.v1.Health", "Check", "OK")
    stop = asyncio.Event()
    port = free_port()
    plan = grpcserver.ServerPlan(port=port, metrics_port=0, services=[], grace_s=1)
    task = asyncio.create_task(grpcserver.run(plan, stop))
    try:
        await asyncio.wait_for(plan.ready.wait(), timeout=10)
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        await counted(before + 1, "grpc.health.v1.Health", "Check", "OK")
    finally:
        stop.set()
        await asyncio.wait_for(task, timeout=10)

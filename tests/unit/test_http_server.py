from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry

from shared_core.volume_files.http_server import HealthServer
from shared_core.volume_files.metrics import ServiceMetrics


@dataclass
class Flags:
    healthy: bool = True
    ready: bool = False


@dataclass
class Running:
    server: HealthServer
    port: int
    flags: Flags
    metrics: ServiceMetrics


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    flags = Flags()
    metrics = ServiceMetrics(CollectorRegistry())
    server = HealthServer(metrics.registry, host="127.0.0.1", port=0,
                          healthy=lambda: flags.healthy, ready=lambda: flags.ready)
    port = await server.start()
    try:
        yield Running(server, port, flags, metrics)
    finally:
        await server.close()


async def request(port: int, raw: bytes) -> tuple[str, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), timeout=5)
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v for k, _, v in (line.partition(": ") for line in lines)}
    return status, headers, body


async def get(port: int, path: str) -> tuple[str, dict[str, str], bytes]:
    return await request(port, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())


async def test_start_on_port_zero_picks_a_free_port(running: Running) -> None:
    assert running.port > 0
    assert running.server.port == running.port


async def test_metrics(running: Running) -> None:
    running.metrics.ticks.labels("applied").inc(3)
    status, headers, body = await get(running.port, "/metrics")
    assert status == "HTTP/1.1 200 OK"
    assert headers["content-type"] == CONTENT_TYPE_LATEST
    assert int(headers["content-length"]) == len(body)
    assert headers["connection"] == "close"
    assert b'volume_engine_ticks_total{outcome="applied"} 3.0' in body
    assert b'volume_engine_dead_letters_total{reason="bad_json"} 0.0' in body


async def test_healthz(running: Running) -> None:
    assert await get(running.port, "/healthz") == (
        "HTTP/1.1 200 OK", {"content-type": "text/plain", "content-length": "3",
                            "connection": "close"}, b"ok\n")
    running.flags.healthy = False
    status, _, body = await get(running.port, "/healthz")
    assert (status, body) == ("HTTP/1.1 503 Service Unavailable", b"unhealthy\n")


async def test_readyz(running: Running) -> None:
    status, _, body = await get(running.port, "/readyz")
    assert (status, body) == ("HTTP/1.1 503 Service Unavailable", b"not ready\n")
    running.flags.ready = True
    status, _, body = await get(running.port, "/readyz?verbose=1")
    assert (status, body) == ("HTTP/1.1 200 OK", b"ready\n")


@pytest.mark.parametrize("path", ["/", "/metricsx", "/healthz/", "/favicon.ico"])
async def test_unknown_path_is_404(running: Running, path: str) -> None:
    status, _, body = await get(running.port, path)
    assert (status, body) == ("HTTP/1.1 404 Not Found", b"not found\n")


async def test_garbage_and_dropped_connections_do_not_stop_the_server(running: Running) -> None:
    status, _, _ = await request(running.port, b"NONSENSE\r\n\r\n")
    assert status == "HTTP/1.1 404 Not Found"
    _, writer = await asyncio.open_connection("127.0.0.1", running.port)
    writer.close()  # hang up without a request
    await writer.wait_closed()
    status, _, body = await get(running.port, "/healthz")
    assert (status, body) == ("HTTP/1.1 200 OK", b"ok\n")


async def test_a_real_http_client(running: Running) -> None:
    def fetch(path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{running.port}{path}", timeout=5) as r:
                return int(r.status), bytes(r.read())
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    assert await asyncio.to_thread(fetch, "/healthz") == (200, b"ok\n")
    assert await asyncio.to_thread(fetch, "/readyz") == (503, b"not ready\n")
    code, body = await asyncio.to_thread(fetch, "/metrics")
    assert code == 200
    assert b"# TYPE volume_engine_ticks_total counter" in body


async def test_close_stops_listening() -> None:
    server = HealthServer(CollectorRegistry(), host="127.0.0.1", port=0,
                          healthy=lambda: True, ready=lambda: True)
    port = await server.start()
    await server.close()
    await server.close()  # idempotent
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", port)

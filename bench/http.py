"""P1 through the JSON API: `patronauth serve --workers N` on loopback, signed into with
`POST /api/v1/sessions` by a bounded asynchronous client in this process."""

from __future__ import annotations

import asyncio
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from bench.apps import PASSWORD

START_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class HttpRun:
    workers: int
    concurrency: int
    elapsed: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    client_cpu_seconds: float = 0.0

    @property
    def created(self) -> int:
        return self.statuses[201]

    @property
    def rate(self) -> float:
        return self.created / self.elapsed if self.elapsed else 0.0

    def details(self) -> dict[str, Any]:
        ordered = sorted(self.latencies) or [0.0]
        return {
            "server_workers": self.workers,
            "client_concurrency": self.concurrency,
            "seconds": round(self.elapsed, 3),
            "statuses": {str(k): v for k, v in self.statuses.items()},
            "latency_p50_ms": round(statistics.median(ordered) * 1000, 2),
            "latency_p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))] * 1000, 2),
            "client_cpu_share_of_cores": round(
                self.client_cpu_seconds / (self.elapsed * (os.cpu_count() or 1)), 3
            )
            if self.elapsed
            else None,
        }


class Server:
    """`patronauth serve` in a child process, stopped with SIGINT (a graceful stop)."""

    def __init__(self, env: dict[str, str], workers: int, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("wb")
        script = Path(sys.executable).with_name("patronauth")
        self._process = subprocess.Popen(
            [
                str(script),
                "serve",
                "--no-sip2",
                "--port",
                str(self.port),
                "--workers",
                str(workers),
            ],
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self._process.pid

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError("patronauth serve stopped while starting")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("patronauth serve did not answer /healthz in time")

    def stop(self) -> None:
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._log.close()


async def _drive(
    url: str, barcodes: list[str], *, concurrency: int, seconds: float, max_logins: int
) -> tuple[Counter[int], list[float], float]:
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    issued = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def one_worker() -> None:
            nonlocal issued
            while time.perf_counter() < stop and issued < max_logins:
                issued += 1
                body = {"identifier": barcodes[issued % len(barcodes)], "secret": PASSWORD}
                began = time.perf_counter()
                response = await client.post("/api/v1/sessions", json=body)
                latencies.append(time.perf_counter() - began)
                statuses[response.status_code] += 1

        started = time.perf_counter()
        await asyncio.gather(*(one_worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return statuses, latencies, elapsed


def run_http_logins(
    server: Server,
    barcodes: list[str],
    *,
    workers: int,
    concurrency: int,
    seconds: float,
    max_logins: int,
) -> HttpRun:
    """Warm up, then sign in for `seconds`; every answer must be 201."""
    asyncio.run(_drive(server.url, barcodes, concurrency=concurrency, seconds=1, max_logins=50))
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    statuses, latencies, elapsed = asyncio.run(
        _drive(
            server.url, barcodes, concurrency=concurrency, seconds=seconds, max_logins=max_logins
        )
    )
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    run = HttpRun(workers, concurrency, elapsed, statuses, latencies)
    run.client_cpu_seconds = (cpu_after.ru_utime - cpu_before.ru_utime) + (
        cpu_after.ru_stime - cpu_before.ru_stime
    )
    if set(statuses) != {201}:
        raise RuntimeError(f"sign-ins through the API did not all succeed: {dict(statuses)}")
    return run

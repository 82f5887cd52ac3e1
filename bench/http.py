"""`patronauth serve --workers N` on loopback for P1 through the JSON API, and a short
warm-up of `POST /api/v1/sessions` from this process (the measurement itself is wrk's,
`bench/wrk.py`)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx

from bench.apps import PASSWORD

START_SECONDS = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


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


def warm_up(server: Server, barcodes: list[str], *, concurrency: int) -> None:
    """A second of sign-ins before a measurement; every answer must be 201."""
    statuses, _, _ = asyncio.run(
        _drive(server.url, barcodes, concurrency=concurrency, seconds=1, max_logins=50)
    )
    if set(statuses) != {201}:
        raise RuntimeError(f"warm-up sign-ins did not all succeed: {dict(statuses)}")

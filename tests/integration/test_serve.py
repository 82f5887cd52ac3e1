"""`patronauth serve` as a real process: metrics added up over its workers, JSON log
lines, and a graceful stop on SIGTERM that lets a request in flight finish."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.test_health_and_metrics import value
from tests.servers import free_port
from tests.support import METRICS_HEADERS, make_app, register
from tests.support import test_env as deployment_env

SCRIPT = Path(sys.executable).parent / "patronauth"
START_SECONDS = 60.0


class Served:
    def __init__(self, env: dict[str, str], log: Path, workers: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("PATRONAUTH_")}
        inherited.pop("PROMETHEUS_MULTIPROC_DIR", None)
        command = [str(SCRIPT), "serve", "--port", str(self.port), "--workers", str(workers)]
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                [*command, "--no-sip2"],
                env=inherited | env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert self.process.poll() is None, self.log.read_text()[-3000:]
            assert time.monotonic() < deadline, "serve did not answer /livez in time"
            try:
                if httpx.get(f"{self.url}/livez", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def deployment(sqlite_url: str, tmp_path: Path) -> dict[str, str]:
    env = deployment_env(sqlite_url, tmp_path / "var", PATRONAUTH_LOG_FORMAT="json")
    app = make_app(env)
    register(app, "hkpl", "HKPL0001", phone="9123 4567")
    app.close()
    return {**env, "PATRONAUTH_PUBLIC_URL": "http://127.0.0.1", "PATRONAUTH_COOKIE_SECURE": "0"}


@pytest.fixture
def two_workers(deployment: dict[str, str], tmp_path: Path) -> Iterator[Served]:
    served = Served(deployment, tmp_path / "serve.log", workers=2)
    yield served
    served.close()


def test_metrics_add_up_over_the_workers_and_logs_are_json_lines(
    two_workers: Served, tmp_path: Path
) -> None:
    wrong = {"identifier": "HKPL0001", "secret": "0000"}
    statuses = []
    for _ in range(6):  # a new connection each time: the workers share the requests
        statuses.append(httpx.post(f"{two_workers.url}/api/v1/sessions", json=wrong).status_code)
    assert statuses == [401] * 5 + [429]
    page = httpx.get(f"{two_workers.url}/metrics", headers=METRICS_HEADERS).text
    assert value(page, "patronauth_attempts_total", channel="app", outcome="invalid") == 5
    assert value(page, "patronauth_attempts_total", channel="app", outcome="blocked") == 1
    assert value(page, "patronauth_hash_seconds_count") == 5
    assert (tmp_path / "var" / "metrics").is_dir()  # the workers' values, added up
    assert httpx.get(f"{two_workers.url}/readyz").json()["database"] == "up"

    assert two_workers.terminate() == 0
    lines = [line for line in two_workers.log.read_text().splitlines() if line.strip()]
    assert lines
    for line in lines:
        record = json.loads(line)  # every line one JSON object
        assert {"time", "level", "logger", "message"} <= record.keys(), line
    assert any(json.loads(line)["logger"] == "patronauth.serve" for line in lines)
    assert "0000" not in two_workers.log.read_text()
    # Each worker may hash on every core: one of them may hold every connection.
    messages = [json.loads(line)["message"] for line in lines]
    pools = [m for m in messages if "hashing pool" in m]
    cores = os.cpu_count() or 1
    assert pools == [f"argon2id hashing pool: {cores} at a time in this process"] * 2
    # ... and together they run as many at once as one would (adapters/hash_gate.py).
    gate = tmp_path / "var" / "hash-gate"
    gates = [m for m in messages if "argon2id gate" in m]
    assert gates == [f"argon2id gate: {cores} at a time among the web workers ({gate})"] * 2
    assert sorted(p.name for p in gate.iterdir()) == [f"place-{n}.lock" for n in range(cores)]


def test_sigterm_lets_the_request_in_flight_finish(
    deployment: dict[str, str], tmp_path: Path
) -> None:
    served = Served(deployment, tmp_path / "serve.log", workers=1)
    try:
        body = json.dumps({"identifier": "HKPL0001", "secret": "4567"}).encode()
        head = (
            "POST /api/v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Content-Type: application/json\r\nExpect: 100-continue\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        with socket.create_connection(("127.0.0.1", served.port), timeout=30) as conn:
            conn.sendall(head)
            # 100 Continue: the application has started on this request and waits for its body.
            assert conn.recv(1024).startswith(b"HTTP/1.1 100 Continue")
            served.process.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 30
            while _accepts(served.port):  # shutting down: no new connections
                assert time.monotonic() < deadline, "serve kept accepting connections"
                time.sleep(0.05)
            conn.sendall(body)
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 201 "), answer[:200]
        assert b'"token"' in answer
        assert served.process.wait(timeout=60) == 0
    finally:
        served.close()


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0

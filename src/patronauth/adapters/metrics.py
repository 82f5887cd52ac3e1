"""Prometheus metrics of one process, or of every worker of `serve --workers N`.

With several workers, `patronauth serve` points PROMETHEUS_MULTIPROC_DIR at a folder
under var/ before the workers start; prometheus-client then keeps each worker's values
in files there, and `/metrics` adds them up. The names are listed in docs/operations.md.

The page is never open to anyone on the public port: there it needs the bearer token
PATRONAUTH_METRICS_TOKEN (without one the public port has no /metrics), and
PATRONAUTH_METRICS_ADDRESS serves it on an address of its own instead.
"""

from __future__ import annotations

import hmac
import os
import threading
from pathlib import Path
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

MULTIPROCESS_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

ATTEMPTS = Counter(
    "patronauth_attempts",
    "Sign-in attempts and secret checks, by channel and outcome.",
    ["channel", "outcome"],
)
BLOCKS = Counter(
    "patronauth_blocks",
    "Lockout blocks started (an identifier reached the failure limit).",
)
HASH_SECONDS = Histogram(
    "patronauth_hash_seconds",
    "Time of one argon2 computation in the hashing pool (waiting excluded).",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)
HASH_QUEUE = Gauge(
    "patronauth_hash_queue_depth",
    "argon2 computations admitted to the hashing pool and not yet finished.",
    multiprocess_mode="livesum",
)
HASH_REFUSED = Counter(
    "patronauth_hash_busy",
    "Computations refused because the hashing pool's queue was full (service.busy).",
)
DATABASE_ERRORS = Counter(
    "patronauth_database_errors",
    "Errors of the database driver (connection lost, refused, timed out, ...).",
)
REDIS_ERRORS = Counter(
    "patronauth_redis_errors",
    "Failed Redis operations, by component (counter, throttle).",
    ["component"],
)
FALLBACK_ACTIVE = Gauge(
    "patronauth_redis_fallback_active",
    "1 while a component works without Redis (counter: the database; throttle: memory).",
    ["component"],
    multiprocess_mode="max",
)
REDIS_OUTAGES = Counter(
    "patronauth_redis_outages",
    "Times a component lost Redis and switched to its fallback.",
    ["component"],
)


class PrometheusTelemetry:
    """The use cases' Telemetry port."""

    def attempt(self, channel: str, outcome: str) -> None:
        ATTEMPTS.labels(channel, outcome).inc()


def multiprocess_dir() -> str | None:
    return os.environ.get(MULTIPROCESS_VARIABLE) or None


def prepare_multiprocess(folder: Path) -> None:
    """Before the workers start: a folder for their values without an earlier run's
    files (prometheus-client's `*.db`; nothing else in it is touched), named in the
    environment the workers inherit."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.db"):
        old.unlink(missing_ok=True)
    os.environ[MULTIPROCESS_VARIABLE] = str(folder)


def exposition() -> tuple[bytes, str]:
    """The text format of every metric, summed over the workers in multiprocess mode."""
    if multiprocess_dir():
        registry = CollectorRegistry()
        _multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    """One value of this process's registry (for tests and the readiness answer)."""
    value = REGISTRY.get_sample_value(name, labels or {})
    return float(value) if value is not None else 0.0


def authorised(header: str | None, token: str | None) -> bool:
    """Whether an `Authorization` header carries the metrics bearer token. Without a
    token configured nobody is (the public port then has no /metrics at all)."""
    if not token or not header:
        return False
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Scrapes are not logged (uvicorn's access log is off too)."""


class _Threads(ThreadingMixIn, WSGIServer):
    daemon_threads = True


def _page(token: str | None) -> WSGIApplication:
    def page(environ: WSGIEnvironment, start: StartResponse) -> list[bytes]:
        if environ.get("PATH_INFO") != "/metrics":
            start("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        if token and not authorised(environ.get("HTTP_AUTHORIZATION"), token):
            start("401 Unauthorized", [("WWW-Authenticate", "Bearer")])
            return [b""]
        body, content_type = exposition()
        start("200 OK", [("Content-Type", content_type)])
        return [body]

    return page


def serve_separately(host: str, port: int, token: str | None) -> WSGIServer:
    """/metrics alone on its own address (PATRONAUTH_METRICS_ADDRESS), in a daemon
    thread of this process: with several workers, this is the `serve` process, which
    adds up the workers' values like the page on the public port would. The token,
    when one is configured, is asked for here too."""
    server = make_server(host, port, _page(token), server_class=_Threads, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server

"""P1 at the use-case level: `authenticate` throughput against the hash limit, and the
non-hash work of one login."""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench import hashing
from bench.apps import PASSWORD
from patronauth.bootstrap import App
from patronauth.domain.credentials import Channel, Outcome
from patronauth.services.authenticate import Attempt, authenticate

SOURCES = 1000  # distinct client addresses, so the per-source throttle never refuses


def _source(n: int) -> str:
    k = n % SOURCES
    return f"10.{k // 250}.{k % 250}.1"


@dataclass
class LoginRun:
    threads: int
    logins: int
    elapsed: float
    outcomes: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.logins / self.elapsed

    def details(self) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        return {
            "threads": self.threads,
            "logins": self.logins,
            "seconds": round(self.elapsed, 3),
            "outcomes": dict(self.outcomes),
            "latency_p50_ms": round(statistics.median(ordered) * 1000, 3),
            "latency_p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))] * 1000, 3),
        }


def run_logins(
    app: App, barcodes: list[str], *, threads: int, seconds: float, max_logins: int
) -> LoginRun:
    """Each thread signs patrons in (web, their chosen password) until time or count
    runs out; every attempt must come back `ok`."""
    lock = threading.Lock()
    run = LoginRun(threads, 0, 0.0)
    next_index = 0
    stop = time.perf_counter() + seconds

    def take() -> int | None:
        nonlocal next_index
        with lock:
            if next_index >= max_logins or time.perf_counter() >= stop:
                return None
            next_index += 1
            return next_index

    def work() -> None:
        outcomes: Counter[str] = Counter()
        latencies: list[float] = []
        while (n := take()) is not None:
            attempt = Attempt(barcodes[n % len(barcodes)], PASSWORD, Channel.WEB, source=_source(n))
            began = time.perf_counter()
            result = authenticate(app.ports, attempt)
            latencies.append(time.perf_counter() - began)
            outcomes[result.outcome.value] += 1
        with lock:
            run.outcomes.update(outcomes)
            run.latencies.extend(latencies)

    started = time.perf_counter()
    workers = [threading.Thread(target=work) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    run.elapsed = time.perf_counter() - started
    run.logins = sum(run.outcomes.values())
    if set(run.outcomes) != {Outcome.OK.value}:
        raise RuntimeError(f"logins did not all succeed: {dict(run.outcomes)}")
    return run


@dataclass
class NonHashWork:
    """P1's non-hash work of one sign-in: the median single-threaded sign-in with
    argon2id at a tiny cost, less the median time of that cheap verification alone."""

    run: LoginRun
    per_login: float  # seconds, median
    verify: float  # seconds, median

    @property
    def ms(self) -> float:
        return (self.per_login - self.verify) * 1000

    def details(self) -> dict[str, Any]:
        return {
            "cheap_login": self.run.details(),
            "cheap_login_median_ms": round(self.per_login * 1000, 3),
            "cheap_login_mean_ms": round(statistics.fmean(self.run.latencies) * 1000, 3),
            "cheap_verify_median_ms": round(self.verify * 1000, 4),
        }


def non_hash_work(
    app: App, barcodes: list[str], *, warm: float, seconds: float, verify_seconds: float
) -> NonHashWork:
    """Measured on `app`, whose argon2id costs next to nothing: medians, so that other
    work on a shared machine does not swamp a figure of a few milliseconds."""
    run_logins(app, barcodes, threads=1, seconds=warm, max_logins=200)
    run = run_logins(app, barcodes, threads=1, seconds=seconds, max_logins=5000)
    verifies = hashing.verify_times(app.ports.hasher, runs=2000, seconds=verify_seconds)
    return NonHashWork(run, statistics.median(run.latencies), statistics.median(verifies))

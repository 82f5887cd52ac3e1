"""The hash limit (SPEC 6): t_verify of the configured argon2id, measured in this run."""

from __future__ import annotations

import statistics
import threading
import time
from typing import Any

from bench.apps import PASSWORD as SECRET
from patronauth.services.interfaces import SecretHasher


def verify_times(hasher: SecretHasher, *, runs: int, seconds: float) -> list[float]:
    """Seconds per verification of an up-to-date hash: one argon2 computation each."""
    stored = hasher.hash(SECRET)
    result = hasher.verify(stored, SECRET)
    if not result.ok or result.rehashed is not None:
        raise RuntimeError("the hasher did not verify its own fresh hash")
    times: list[float] = []
    deadline = time.perf_counter() + seconds
    while len(times) < runs and time.perf_counter() < deadline:
        start = time.perf_counter()
        hasher.verify(stored, SECRET)
        times.append(time.perf_counter() - start)
    return times


def summary(times: list[float]) -> dict[str, Any]:
    ordered = sorted(times)
    return {
        "runs": len(times),
        "median_ms": statistics.median(ordered) * 1000,
        "mean_ms": statistics.fmean(ordered) * 1000,
        "min_ms": ordered[0] * 1000,
        "p90_ms": ordered[int(0.9 * (len(ordered) - 1))] * 1000,
    }


def alone_just_before(hasher: SecretHasher, *, threads: int) -> float:
    """How fast `threads` threads hash with nothing else running, measured just before a
    figure: the host's speed moves within a run, and a figure's rate over this says how
    much of its gap to the hash limit is the host's (the details of the figures that
    hash through a server)."""
    return parallel_rate(hasher, threads=threads, seconds=3)


def over_alone(rate: float, alone: float) -> dict[str, float]:
    """The details that put a figure's `rate` beside `alone_just_before`."""
    return {
        "argon2_alone_just_before": round(alone, 1),
        "rate_over_argon2_alone": round(rate / alone, 2),
    }


def parallel_rate(hasher: SecretHasher, *, threads: int, seconds: float) -> float:
    """Verifications per second with `threads` threads hashing and nothing else."""
    stored = hasher.hash(SECRET)
    counts = [0] * threads
    stop = time.perf_counter() + seconds

    def work(index: int) -> None:
        while time.perf_counter() < stop:
            hasher.verify(stored, SECRET)
            counts[index] += 1

    started = time.perf_counter()
    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return sum(counts) / (time.perf_counter() - started)

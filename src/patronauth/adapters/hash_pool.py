"""A bound on argon2 work: at most `workers` computations at once and `queue` waiting.

Each computation costs tens of milliseconds of a core and ~19 MiB of memory; without a
bound a flood of sign-ins queues without limit and every patron waits. With it, work
beyond the queue is refused at once with `service.busy` (`Busy`), which the API answers
with 503 and Retry-After, the web pages with a "busy" page and SIP2 with its own refusal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import TypeVar

from patronauth.adapters import metrics
from patronauth.adapters.hash_gate import HashGate
from patronauth.domain.errors import Busy

R = TypeVar("R")


class HashPool:
    def __init__(self, *, workers: int, queue: int, gate: HashGate | None = None) -> None:
        if workers < 1 or queue < 0:
            raise ValueError("a hash pool needs at least one worker and a queue of 0 or more")
        self.workers = workers
        self.queue = queue
        self.gate = gate  # places shared with the other web workers (`hash_gate`)
        self._admitted = threading.BoundedSemaphore(workers + queue)
        self._running = threading.BoundedSemaphore(workers)
        self._lock = threading.Lock()
        self._in_use = 0

    @property
    def in_use(self) -> int:
        """Computations running or waiting now."""
        return self._in_use

    def _track(self, change: int) -> None:
        with self._lock:
            self._in_use += change
        metrics.HASH_QUEUE.inc(change)

    def _shared_place(self) -> AbstractContextManager[None]:
        return self.gate.place() if self.gate is not None else nullcontext()

    def run(self, work: Callable[..., R], *args: object) -> R:
        """Run `work(*args)` in one of the pool's places, or raise Busy at once."""
        if not self._admitted.acquire(blocking=False):
            metrics.HASH_REFUSED.inc()
            raise Busy.of("service.busy")
        self._track(1)
        try:
            with self._running, self._shared_place():
                started = time.perf_counter()
                try:
                    return work(*args)
                finally:
                    metrics.HASH_SECONDS.observe(time.perf_counter() - started)
        finally:
            self._track(-1)
            self._admitted.release()

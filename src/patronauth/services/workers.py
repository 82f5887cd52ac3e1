"""Pure work over the batches of a long job, here or in worker processes (P3).

Parsing and checking the rows of a registry feed (identifiers, identity documents,
phone numbers, defaults) and digesting them is CPU work without I/O. On a machine
with several cores it runs in a standard process pool while this process writes to
the database. The pool starts fresh interpreters ("spawn"), never forks: a worker
inherits no connection, thread or pepper key; it is given only what its call names
(an import sends the current pepper key's digester, `KeyedDigests`).

A worker runs its calls with Python's cycle collector paused: a call allocates a
batch's worth of objects, which reference counting frees once its result is sent, and
the collector's passes over them while they lived found nothing to free (about a
twentieth of a worker's CPU, P3). Before each call the worker collects the youngest
generation instead: what the previous call left behind, cycles included.

Workers also run at a lower scheduling priority (niceness raised by
`WORKER_NICENESS`). A registry import's bottleneck is the process that writes, which
never waits for the workers' results; on a machine with as many workers as cores,
the kernel otherwise shares the cores evenly among the three and the writer gets less
than one. The lower priority also leaves the cores to a server's sign-ins first while
an import runs beside them.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from types import TracebackType
from typing import TypeVar

R = TypeVar("R")


def available_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not every platform has scheduler affinity
        return os.cpu_count() or 1


class BatchWork:
    """Runs submitted calls inline, or in `workers` processes from the second call on.

    A job of one batch never pays for starting processes. `depth` says how many calls
    may be outstanding to keep every worker busy.
    """

    def __init__(self, workers: int) -> None:
        self._wanted = max(0, workers)
        self._pool: ProcessPoolExecutor | None = None
        self._calls = 0

    @property
    def depth(self) -> int:
        return self._wanted + 1 if self._pool is not None else 0

    def submit(self, fn: Callable[..., R], *args: object) -> Future[R]:
        self._calls += 1
        if self._wanted and self._calls > 1:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    max_workers=self._wanted,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_worker,
                )
            return self._pool.submit(_after_collecting, fn, *args)
        return self.here(fn, *args)

    def here(self, fn: Callable[..., R], *args: object) -> Future[R]:
        """Run `fn` in this process now (work too small to be worth sending out)."""
        done: Future[R] = Future()
        try:
            done.set_result(fn(*args))
        except Exception as error:  # the same as a worker's failure: raised by result()
            done.set_exception(error)
        return done

    def __enter__(self) -> BatchWork:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


WORKER_NICENESS = 10  # added to the niceness of the process that starts the workers


def _start_worker() -> None:
    gc.disable()
    os.nice(WORKER_NICENESS)


def _after_collecting(fn: Callable[..., R], *args: object) -> R:
    """In a worker, its cycle collector paused: free what earlier calls left in the
    youngest generation (their batches' objects are gone by now), then call."""
    gc.collect(0)
    return fn(*args)

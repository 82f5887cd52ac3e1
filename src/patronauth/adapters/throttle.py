"""Per-source throttles and a global ceiling (S3), as named limits of the `limits` library.

With Redis as the storage, an unreachable Redis does not switch the throttles off: the
same limits are kept in this process's memory until Redis answers again (then the
memory counts are dropped: a throttle is a short ceiling, the lockout is the guard).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from redis.exceptions import RedisError

from patronauth.adapters.redis_health import RedisHealth


class SweptMemoryStorage(MemoryStorage):
    """`limits`' memory storage without a thread per hit.

    The library starts a 10 ms timer thread to sweep expired windows whenever none is
    running, so with sign-ins more than 10 ms apart every hit started a thread (P1).
    Here the sweep runs inline, at most once per `SWEEP_SECONDS`; a window read in
    between is still expired on read by the library itself."""

    SWEEP_SECONDS = 1.0

    def __init__(self) -> None:
        super().__init__()
        self._swept = time.monotonic()

    def _MemoryStorage__schedule_expiry(self) -> None:  # the name the library calls
        now = time.monotonic()
        if now - self._swept >= self.SWEEP_SECONDS:
            self._swept = now
            self._MemoryStorage__expire_events()  # type: ignore[attr-defined]


def storage_of(uri: str) -> Storage:
    """The `limits` storage for a URI: a `memory://` one without a thread per hit."""
    if uri.startswith("memory://"):
        return SweptMemoryStorage()
    found = storage_from_string(uri)
    assert isinstance(found, Storage)
    return found


class LimitsThrottle:
    def __init__(
        self,
        storage: str | Storage,
        *,
        per_source: str,
        overall: str,
        health: RedisHealth | None = None,
    ) -> None:
        if isinstance(storage, str):
            storage = storage_of(storage)
        # The sliding window counter costs O(1) per hit, in memory and in Redis alike.
        self._limiter = SlidingWindowCounterRateLimiter(storage)
        self._fallback = SlidingWindowCounterRateLimiter(SweptMemoryStorage())
        self._health = health
        self._per_source = parse(per_source)
        self._overall = parse(overall)
        self._named: dict[str, RateLimitItem] = {}

    @property
    def health(self) -> RedisHealth | None:
        return self._health

    @staticmethod
    def _wait(
        limiter: SlidingWindowCounterRateLimiter, limit: RateLimitItem, *identifiers: str
    ) -> int:
        if limiter.hit(limit, *identifiers):
            return 0
        reset = limiter.get_window_stats(limit, *identifiers).reset_time
        return max(1, math.ceil(reset - time.time()))

    def _hit(self, limiter: SlidingWindowCounterRateLimiter, scope: str, source: str) -> int:
        return self._wait(limiter, self._overall, scope, "*") or self._wait(
            limiter, self._per_source, scope, source
        )

    def hit(self, scope: str, source: str) -> int:
        return self._guarded(lambda limiter: self._hit(limiter, scope, source))

    def hit_limit(self, limit: str, scope: str, key: str) -> int:
        item = self._named.get(limit)
        if item is None:
            item = self._named.setdefault(limit, parse(limit))
        return self._guarded(lambda limiter: self._wait(limiter, item, scope, key))

    def _guarded(self, hit: Callable[[SlidingWindowCounterRateLimiter], int]) -> int:
        health = self._health
        if health is None:
            return hit(self._limiter)
        if health.should_try():
            try:
                wait = hit(self._limiter)
            except (StorageError, RedisError) as error:
                health.failed(error)
            else:
                health.succeeded()
                return wait
        return hit(self._fallback)

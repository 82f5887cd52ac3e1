"""Per-source throttles and a global ceiling (S3), as named limits of the `limits` library.

With Redis as the storage, an unreachable Redis does not switch the throttles off: the
same limits are kept in this process's memory until Redis answers again (then the
memory counts are dropped: a throttle is a short ceiling, the lockout is the guard).

In Redis an attempt's two limits, the ceiling and its source's, are counted in one
round trip (P1): the library's own script for each, sent together in one pipeline. An
attempt one of them refuses still counts against the other.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import cast

from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import MemoryStorage, RedisStorage, Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter
from redis import Redis
from redis.exceptions import NoScriptError, RedisError

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
        return _reset_wait(limiter, limit, *identifiers)

    def _hit(self, limiter: SlidingWindowCounterRateLimiter, scope: str, source: str) -> int:
        limits = [(self._overall, (scope, "*")), (self._per_source, (scope, source))]
        storage = limiter.storage
        if isinstance(storage, RedisStorage):
            acquired = _acquired_together(storage, limits)
            if acquired is not None:
                refused = [pair for pair, ok in zip(limits, acquired, strict=True) if not ok]
                return _reset_wait(limiter, refused[0][0], *refused[0][1]) if refused else 0
        for limit, identifiers in limits:
            wait = self._wait(limiter, limit, *identifiers)
            if wait:
                return wait
        return 0

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


def _reset_wait(
    limiter: SlidingWindowCounterRateLimiter, limit: RateLimitItem, *identifiers: str
) -> int:
    """Whole seconds until `limit` lets an attempt through again (at least 1)."""
    reset = limiter.get_window_stats(limit, *identifiers).reset_time
    return max(1, math.ceil(reset - time.time()))


def _acquired_together(
    storage: RedisStorage, limits: Sequence[tuple[RateLimitItem, tuple[str, ...]]]
) -> list[bool] | None:
    """One entry acquired in each limit, in one round trip: the script and the keys
    `SlidingWindowCounterRateLimiter.hit` would use, one EVALSHA each in a pipeline.
    None when Redis does not hold the script yet (after a restart or a `SCRIPT
    FLUSH`): nothing was counted, and the library's own calls load it."""
    script = storage.lua_acquire_sliding_window
    pipe = cast(Redis, storage.get_connection()).pipeline(transaction=False)
    for limit, identifiers in limits:
        key = limit.key_for(*identifiers)
        pipe.evalsha(
            script.sha,
            2,
            storage.prefixed_key(storage._previous_window_key(key)),
            storage.prefixed_key(storage._current_window_key(key)),
            limit.amount,
            limit.get_expiry(),
            1,
        )
    try:
        return [bool(answer) for answer in pipe.execute()]
    except NoScriptError:
        return None

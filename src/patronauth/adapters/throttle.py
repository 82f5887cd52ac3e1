"""Per-source throttles and a global ceiling (S3), as named limits of the `limits` library."""

from __future__ import annotations

import math
import time

from limits import RateLimitItem, parse
from limits.storage import storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter


class LimitsThrottle:
    def __init__(self, storage_uri: str, *, per_source: str, overall: str) -> None:
        # The sliding window counter costs O(1) per hit, in memory and in Redis alike.
        self._limiter = SlidingWindowCounterRateLimiter(storage_from_string(storage_uri))
        self._per_source = parse(per_source)
        self._overall = parse(overall)

    def _wait(self, limit: RateLimitItem, *identifiers: str) -> int:
        if self._limiter.hit(limit, *identifiers):
            return 0
        reset = self._limiter.get_window_stats(limit, *identifiers).reset_time
        return max(1, math.ceil(reset - time.time()))

    def hit(self, scope: str, source: str) -> int:
        return self._wait(self._overall, scope, "*") or self._wait(self._per_source, scope, source)


class NoThrottle:
    def hit(self, scope: str, source: str) -> int:
        return 0

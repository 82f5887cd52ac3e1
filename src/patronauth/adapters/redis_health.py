"""Whether Redis answers, as one component sees it: an outage is logged once, counted
in the metrics, and Redis is tried again after a short back-off until it answers."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from redis import Redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from patronauth.adapters import metrics

log = logging.getLogger("patronauth.redis")

DEFAULT_RETRY_SECONDS = 5.0


def client(url: str, *, timeout_seconds: float) -> Redis:
    """A client that fails fast: no retries of its own (the fallback is the retry) and
    bounded connect and read times, so an outage costs an attempt little time."""
    return Redis.from_url(
        url,
        socket_connect_timeout=timeout_seconds,
        socket_timeout=timeout_seconds,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=30,
    )


class RedisHealth:
    """Thread-safe; `component` names the user in logs and metrics ("counter", "throttle")."""

    def __init__(
        self,
        component: str,
        *,
        retry_seconds: float = DEFAULT_RETRY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.component = component
        self.retry_seconds = retry_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._failures = 0

    @property
    def degraded(self) -> bool:
        return self._down_since is not None

    def should_try(self) -> bool:
        """True while Redis is up, and once per back-off while it is down."""
        if self._down_since is None:
            return True
        with self._lock:
            now = self._clock()
            if now < self._retry_at:
                return False
            self._retry_at = now + self.retry_seconds  # one probe per back-off
            return True

    def failed(self, error: Exception) -> None:
        metrics.REDIS_ERRORS.labels(self.component).inc()
        with self._lock:
            now = self._clock()
            self._retry_at = now + self.retry_seconds
            self._failures += 1
            if self._down_since is not None:
                return
            self._down_since = now
        metrics.REDIS_OUTAGES.labels(self.component).inc()
        metrics.FALLBACK_ACTIVE.labels(self.component).set(1)
        log.warning(
            "Redis unreachable: the %s works without it until it answers (%s)",
            self.component,
            _reason(error),
            extra={"component": self.component, "event": "redis.down"},
        )

    def succeeded(self) -> bool:
        """Redis answered; True when this ends an outage."""
        if self._down_since is None:
            return False
        with self._lock:
            if self._down_since is None:
                return False
            lasted = self._clock() - self._down_since
            self._down_since = None
            failures, self._failures = self._failures, 0
        metrics.FALLBACK_ACTIVE.labels(self.component).set(0)
        log.warning(
            "Redis answers again: the %s uses it again after %.0f s (%d failed operations)",
            self.component,
            lasted,
            failures,
            extra={"component": self.component, "event": "redis.up"},
        )
        return True


def _reason(error: Exception) -> str:
    """The first line of the error: the host and port, never the URL with its password."""
    text = str(error).splitlines()[0] if str(error) else type(error).__name__
    return text[:200]

"""Redis first, the database while Redis is unreachable (SPEC 5, 7).

- An attempt is always counted: when Redis fails, the same atomic read-modify-write
  runs on the database's row (`SqlAttemptCounter`), which every process shares.
- The outage is logged once and shown in the metrics (`RedisHealth`); Redis is tried
  again after a short back-off and used again as soon as it answers.
- Counts made in the database are not lost when Redis returns: the first process to
  reach Redis again moves every database count into Redis (`merged`: failures, attempts
  in flight and blocks of both stores added up, the later block end kept) and deletes
  it from the database, key by key under the row's lock. A process that starts moves
  what an earlier outage left behind.
- An attempt admitted in the database is settled there, then moved, so its place in
  the window is held exactly once.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections import Counter
from collections.abc import Collection

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from patronauth.adapters.counters.redis import RedisAttemptCounter
from patronauth.adapters.counters.sql import SqlAttemptCounter
from patronauth.adapters.redis_health import RedisHealth
from patronauth.domain.lockout import Admission, Admitted, LockoutRule

log = logging.getLogger("patronauth.redis")


class ResilientAttemptCounter:
    def __init__(
        self, redis: RedisAttemptCounter, database: SqlAttemptCounter, health: RedisHealth
    ) -> None:
        self._redis = redis
        self._database = database
        self._health = health
        self._moved = False  # database counts moved into Redis since it last answered
        self._lock = threading.Lock()
        self._in_database: Counter[tuple[str, float]] = Counter()

    @property
    def health(self) -> RedisHealth:
        return self._health

    def _redis_usable(self) -> bool:
        if self._moved and not self._health.degraded:
            return True
        if not self._health.should_try():
            return False
        try:
            self._redis.ping()
            self._move_all()
        except RedisError as error:
            self._health.failed(error)
            return False
        self._health.succeeded()
        self._moved = True
        return True

    def _move_all(self) -> None:
        try:
            keys = self._database.keys()
            for key in keys:
                self._move(key)
        except SQLAlchemyError as error:
            # Redis works; what the database holds is moved when Redis next returns.
            log.warning("database counts not moved into Redis: %s", type(error).__name__)
            return
        if keys:
            log.warning(
                "moved %d attempt counts from the database into Redis",
                len(keys),
                extra={"event": "redis.counts_moved", "count": len(keys)},
            )

    def _move(self, key: str) -> None:
        self._database.move(key, functools.partial(self._redis.add, key))

    def admit(self, key: str, now: float, rule: LockoutRule) -> Admission:
        if self._redis_usable():
            try:
                return self._redis.admit(key, now, rule)
            except RedisError as error:
                self._health.failed(error)
        admission = self._database.admit(key, now, rule)
        if isinstance(admission, Admitted):
            with self._lock:
                self._in_database[(key, admission.ticket)] += 1
        return admission

    def _admitted_in_database(self, key: str, ticket: float) -> bool:
        with self._lock:
            if self._in_database[(key, ticket)] <= 0:
                self._in_database.pop((key, ticket), None)
                return False
            self._in_database[(key, ticket)] -= 1
            if not self._in_database[(key, ticket)]:
                del self._in_database[(key, ticket)]
            return True

    def settle(
        self, key: str, ticket: float, *, success: bool, now: float, rule: LockoutRule
    ) -> None:
        if self._admitted_in_database(key, ticket):
            self._database.settle(key, ticket, success=success, now=now, rule=rule)
            if self._redis_usable():
                try:  # Redis came back meanwhile: it may hold the admission, moved there
                    self._move(key)
                    self._redis.forget_pending(key, ticket)
                except RedisError as error:
                    self._health.failed(error)
            return
        if self._redis_usable():
            try:
                self._redis.settle(key, ticket, success=success, now=now, rule=rule)
                return
            except RedisError as error:
                self._health.failed(error)
        # Admitted in Redis, which has gone: the failure is counted in the database.
        self._database.settle(key, ticket, success=success, now=now, rule=rule)

    def blocked_for(self, key: str, now: float) -> int:
        # Where `admit` decides: Redis while it answers (the database's counts were moved
        # into it when it came back), else the database.
        if self._redis_usable():
            try:
                return self._redis.blocked_for(key, now)
            except RedisError as error:
                self._health.failed(error)
        return self._database.blocked_for(key, now)

    def blocked_for_each(self, keys: Collection[str], now: float) -> dict[str, int]:
        # As `blocked_for`, for many keys in one round trip.
        if self._redis_usable():
            try:
                return self._redis.blocked_for_each(keys, now)
            except RedisError as error:
                self._health.failed(error)
        return self._database.blocked_for_each(keys, now)

    def clear(self, key: str) -> None:
        self._database.clear(key)
        if self._redis_usable():
            try:
                self._redis.clear(key)
            except RedisError as error:
                self._health.failed(error)

from __future__ import annotations

from redis import Redis
from redis.exceptions import WatchError

from patronauth.adapters.counters import (
    StateCounter,
    T,
    Update,
    decode,
    encode,
    merged,
    without_pending,
)
from patronauth.domain.lockout import CounterState

TTL_SECONDS = 2 * 86400  # beyond the longest escalation period


class RedisAttemptCounter(StateCounter):
    """Shared by every node; WATCH/MULTI makes each read-modify-write atomic."""

    def __init__(self, client: Redis, prefix: str = "patronauth:attempts:") -> None:
        self._redis = client
        self._prefix = prefix

    def _update(self, key: str, change: Update[T]) -> T:
        name = self._prefix + key
        with self._redis.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(name)  # type: ignore[no-untyped-call]
                    before = decode(pipe.get(name))
                    state, result = change(before)
                    if state == before:
                        pipe.unwatch()
                        return result
                    pipe.multi()
                    if state.is_empty:
                        pipe.delete(name)
                    else:
                        pipe.set(name, encode(state), ex=TTL_SECONDS)
                    pipe.execute()
                    return result
                except WatchError:
                    continue

    def _read(self, key: str) -> CounterState:
        return decode(self._redis.get(self._prefix + key))

    def ping(self) -> None:
        self._redis.ping()

    def add(self, key: str, state: CounterState) -> None:
        """Counts made elsewhere (in the database, while Redis was away) join this one."""
        self._update(key, lambda before: (merged(before, state), None))

    def forget_pending(self, key: str, ticket: float) -> None:
        """An attempt admitted here but settled elsewhere no longer holds a place."""
        self._update(key, lambda before: (without_pending(before, ticket), None))

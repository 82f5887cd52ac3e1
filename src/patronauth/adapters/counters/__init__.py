"""Attempt counters (S3): one decision procedure (`patronauth.domain.lockout`), three stores.

Each store runs the pure decision inside its own atomic read-modify-write: a lock in
memory, a row lock in SQL; Redis runs a transcription of it as a Lua script, one round
trip per admission and per settlement (`redis.py`). The Redis store falls back to the
SQL one while Redis is unreachable (`resilient.py`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection
from dataclasses import replace
from typing import TypeVar

from patronauth.adapters import metrics
from patronauth.domain.lockout import (
    Admission,
    CounterState,
    LockoutRule,
    admit,
    blocked_for,
    settle,
)

T = TypeVar("T")
Update = Callable[[CounterState], tuple[CounterState, T]]


def encode(state: CounterState) -> str:
    return json.dumps(
        {"f": state.failures, "p": state.pending, "b": state.blocked_until, "h": state.blocks},
        separators=(",", ":"),
    )


def decode(text: str | bytes | None) -> CounterState:
    if not text:
        return CounterState()
    data = json.loads(text)
    return CounterState(
        failures=tuple(data.get("f", ())),
        pending=tuple(data.get("p", ())),
        blocked_until=float(data.get("b", 0.0)),
        blocks=tuple(data.get("h", ())),
    )


def merged(first: CounterState, second: CounterState) -> CounterState:
    """Both stores' counts together: every failure, attempt in flight and block of either
    (a sum, never a maximum: an attempt counted in one store is not hidden by the other),
    and the later end of a block."""
    return CounterState(
        failures=tuple(sorted(first.failures + second.failures)),
        pending=tuple(sorted(first.pending + second.pending)),
        blocked_until=max(first.blocked_until, second.blocked_until),
        blocks=tuple(sorted(first.blocks + second.blocks)),
    )


def without_pending(state: CounterState, ticket: float) -> CounterState:
    if ticket not in state.pending:
        return state
    index = state.pending.index(ticket)
    return replace(state, pending=state.pending[:index] + state.pending[index + 1 :])


class StateCounter:
    """The port's operations over an atomic `_update` and a plain `_read`."""

    def _update(self, key: str, change: Update[T]) -> T:
        raise NotImplementedError

    def _read(self, key: str) -> CounterState:
        raise NotImplementedError

    def admit(self, key: str, now: float, rule: LockoutRule) -> Admission:
        return self._update(key, lambda state: admit(state, now, rule))

    def settle(
        self, key: str, ticket: float, *, success: bool, now: float, rule: LockoutRule
    ) -> None:
        def change(state: CounterState) -> tuple[CounterState, bool]:
            after = settle(state, ticket, success=success, now=now, rule=rule)
            return after, after.blocked_until > max(state.blocked_until, now)

        if self._update(key, change):
            metrics.BLOCKS.inc()

    def blocked_for(self, key: str, now: float) -> int:
        return blocked_for(self._read(key), now)

    def blocked_for_each(self, keys: Collection[str], now: float) -> dict[str, int]:
        return {key: blocked_for(state, now) for key, state in self._read_each(keys).items()}

    def _read_each(self, keys: Collection[str]) -> dict[str, CounterState]:
        """`_read` of each key; a store that can read many at once does so."""
        return {key: self._read(key) for key in keys}

    def clear(self, key: str) -> None:
        self._update(key, lambda _state: (CounterState(), None))

from __future__ import annotations

import threading

from patronauth.adapters.counters import StateCounter, T, Update
from patronauth.domain.lockout import CounterState


class MemoryAttemptCounter(StateCounter):
    """One process only: tests and single-process deployments."""

    def __init__(self) -> None:
        self._states: dict[str, CounterState] = {}
        self._lock = threading.Lock()

    def _update(self, key: str, change: Update[T]) -> T:
        with self._lock:
            state, result = change(self._states.get(key, CounterState()))
            if state.is_empty:
                self._states.pop(key, None)
            else:
                self._states[key] = state
            return result

    def _read(self, key: str) -> CounterState:
        with self._lock:
            return self._states.get(key, CounterState())

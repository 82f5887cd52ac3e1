"""Lockout decisions for one identifier (S3, R12).

The counter counts failures, not admissions. An attempt first asks `admit`, before
any hash is computed: a blocked identifier is refused (`Blocked`); otherwise the
attempt reserves one of the places the window still has for failures (the limit less
the failures in it), so concurrent attempts cannot race past the limit: however many
arrive at once, no more than that many reach the hasher. When every place is taken
by attempts still in flight, the attempt is told to wait (`Full`): it is no failure,
and as soon as one of those settles it may go on, or it meets the block their
failures started. `settle` records the outcome: a success gives its place back, a
failure keeps it, and the failure that fills the window starts a block. Blocks
double on each repeat within the escalation period, up to a ceiling. Times are
POSIX seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class LockoutRule:
    max_failures: int = 5
    window_seconds: float = 60.0
    block_seconds: float = 60.0
    block_max_seconds: float = 3600.0
    escalation_seconds: float = 86400.0

    def block_length(self, previous_blocks: int) -> float:
        return float(min(self.block_seconds * 2**previous_blocks, self.block_max_seconds))


@dataclass(frozen=True)
class CounterState:
    failures: tuple[float, ...] = ()  # settled failures inside the window
    pending: tuple[float, ...] = ()  # admitted attempts not yet settled
    blocked_until: float = 0.0
    blocks: tuple[float, ...] = ()  # start times of blocks inside the escalation period

    @property
    def is_empty(self) -> bool:
        return self == CounterState()


@dataclass(frozen=True)
class Admitted:
    ticket: float


@dataclass(frozen=True)
class Blocked:
    retry_after: int  # whole seconds, at least 1


@dataclass(frozen=True)
class Full:
    """Every place left in the window is held by an attempt in flight: wait for one."""


Admission = Admitted | Blocked | Full


def _pruned(state: CounterState, now: float, rule: LockoutRule) -> CounterState:
    window_start = now - rule.window_seconds
    return replace(
        state,
        failures=tuple(t for t in state.failures if t > window_start),
        pending=tuple(t for t in state.pending if t > window_start),
        blocks=tuple(t for t in state.blocks if t > now - rule.escalation_seconds),
        blocked_until=state.blocked_until if state.blocked_until > now else 0.0,
    )


def blocked_seconds(value: float) -> int:
    """Seconds left of a block that ends in `value` seconds, as a refusal tells them."""
    return max(1, math.ceil(value))


def admit(state: CounterState, now: float, rule: LockoutRule) -> tuple[CounterState, Admission]:
    state = _pruned(state, now, rule)
    if state.blocked_until > now:
        return state, Blocked(blocked_seconds(state.blocked_until - now))
    if len(state.failures) >= rule.max_failures:  # a rule made stricter since: as a block
        oldest = sorted(state.failures)[len(state.failures) - rule.max_failures]
        return state, Blocked(blocked_seconds(oldest + rule.window_seconds - now))
    if len(state.failures) + len(state.pending) >= rule.max_failures:
        return state, Full()
    return replace(state, pending=(*state.pending, now)), Admitted(now)


def _without(values: tuple[float, ...], value: float) -> tuple[float, ...]:
    if value not in values:
        return values
    index = values.index(value)
    return values[:index] + values[index + 1 :]


def settle(
    state: CounterState, ticket: float, *, success: bool, now: float, rule: LockoutRule
) -> CounterState:
    state = replace(state, pending=_without(state.pending, ticket))
    state = _pruned(state, now, rule)
    if success:
        return state
    failures = (*state.failures, ticket)
    if len(failures) < rule.max_failures:
        return replace(state, failures=failures)
    length = rule.block_length(len(state.blocks))
    return replace(
        state,
        failures=(),
        blocked_until=now + length,
        blocks=(*state.blocks, now),
    )


def blocked_for(state: CounterState, now: float) -> int:
    """Seconds left of the current block, 0 when none."""
    return blocked_seconds(state.blocked_until - now) if state.blocked_until > now else 0


@dataclass(frozen=True)
class RefusalPace:
    """P2: how fast one process answers refusals that cost no hash (a blocked
    identifier, a throttled source). A flood of them would otherwise take the cores
    from the patrons signing in beside it: beyond `per_second`, each waits its turn,
    and none waits longer than `longest` seconds. `per_second` 0 answers at once.
    Turns are answered together at multiples of `grain` seconds: a process woken for
    each refusal apart would spend more on waking than on the refusals.

    `next_free` is when the next refusal may be answered, in seconds of the clock the
    caller passes as `now`."""

    per_second: float
    longest: float = 2.0
    grain: float = 0.005
    next_free: float = 0.0


def paced(pace: RefusalPace, now: float) -> tuple[RefusalPace, float]:
    """The pace after one more refusal at `now`, and how long that refusal waits. One
    that would wait longer than `longest` waits that long and takes no turn: the
    turns stay a steady `per_second`, however many wait."""
    if pace.per_second <= 0:
        return pace, 0.0
    turn = max(now, pace.next_free)
    if turn - now > pace.longest:
        return pace, pace.longest
    answered = math.ceil(turn / pace.grain - 1e-9) * pace.grain if turn > now else now
    return replace(pace, next_free=turn + 1.0 / pace.per_second), answered - now

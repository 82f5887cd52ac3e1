"""Lockout decisions for one identifier (R12, S3). Time is an argument: POSIX seconds."""

from __future__ import annotations

import pytest

from patronauth.domain.lockout import (
    Admitted,
    Blocked,
    CounterState,
    Full,
    LockoutRule,
    RefusalPace,
    admit,
    blocked_for,
    paced,
    settle,
)

RULE = LockoutRule()


def attempt(state: CounterState, now: float, *, success: bool) -> CounterState:
    """One admitted attempt, settled at once; fails the test if it was not admitted."""
    state, admission = admit(state, now, RULE)
    assert isinstance(admission, Admitted), f"attempt at {now} was not admitted: {admission}"
    return settle(state, admission.ticket, success=success, now=now, rule=RULE)


def failures(times: list[float], state: CounterState | None = None) -> CounterState:
    state = state or CounterState()
    for now in times:
        state = attempt(state, now, success=False)
    return state


def test_the_rule_defaults_are_the_seed_and_baseline_values() -> None:
    assert (
        RULE.max_failures,
        RULE.window_seconds,
        RULE.block_seconds,
        RULE.block_max_seconds,
        RULE.escalation_seconds,
    ) == (5, 60.0, 60.0, 3600.0, 86400.0)


def test_five_failures_within_a_minute_block_the_sixth_attempt() -> None:
    state = failures([0, 10, 20, 30, 40])
    assert state.blocked_until == 100.0
    assert state.blocks == (40.0,)
    assert state.failures == ()
    assert state.pending == ()
    # admit() is never told the secret: the sixth attempt is refused whatever it carries.
    state, admission = admit(state, 41, RULE)
    assert admission == Blocked(retry_after=59)
    assert state.pending == ()


def test_four_failures_do_not_block() -> None:
    state = failures([0, 10, 20, 30])
    assert state.blocked_until == 0.0
    assert state.failures == (0.0, 10.0, 20.0, 30.0)
    _, admission = admit(state, 40, RULE)
    assert admission == Admitted(40)


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (40.0, Blocked(60)),
        (41.0, Blocked(59)),
        (70.0, Blocked(30)),
        (99.0, Blocked(1)),
        (99.5, Blocked(1)),
        (99.999, Blocked(1)),
        (100.0, Admitted(100.0)),
        (160.0, Admitted(160.0)),
    ],
)
def test_the_block_expires_after_sixty_seconds(now: float, expected: object) -> None:
    state = failures([0, 10, 20, 30, 40])
    _, admission = admit(state, now, RULE)
    assert admission == expected


@pytest.mark.parametrize(
    ("now", "seconds"),
    [(40.0, 60), (40.5, 60), (41.0, 59), (99.0, 1), (99.9, 1), (100.0, 0), (5000.0, 0)],
)
def test_blocked_for(now: float, seconds: int) -> None:
    state = failures([0, 10, 20, 30, 40])
    assert blocked_for(state, now) == seconds


def test_blocked_for_an_empty_state_is_zero() -> None:
    assert blocked_for(CounterState(), 0.0) == 0


@pytest.mark.parametrize(
    ("previous_blocks", "seconds"),
    [
        (0, 60.0),
        (1, 120.0),
        (2, 240.0),
        (3, 480.0),
        (4, 960.0),
        (5, 1920.0),
        (6, 3600.0),
        (7, 3600.0),
        (20, 3600.0),
    ],
)
def test_block_length_doubles_up_to_the_ceiling(previous_blocks: int, seconds: float) -> None:
    assert RULE.block_length(previous_blocks) == seconds


def test_repeated_blocks_within_a_day_double() -> None:
    state = CounterState()
    now = 0.0
    lengths = []
    for _ in range(8):
        state = failures([now + i for i in range(5)], state)
        settled_at = now + 4
        lengths.append(blocked_for(state, settled_at))
        now = state.blocked_until
    assert lengths == [60, 120, 240, 480, 960, 1920, 3600, 3600]


@pytest.mark.parametrize(
    ("second_block_after", "length"),
    [(3600.0, 120), (86399.0, 120), (86400.0, 60), (90000.0, 60)],
)
def test_escalation_forgets_blocks_older_than_a_day(second_block_after: float, length: int) -> None:
    state = failures([0, 1, 2, 3, 4])  # the first block starts at 4
    second = 4 + second_block_after
    state = failures([second - 4, second - 3, second - 2, second - 1, second], state)
    assert blocked_for(state, second) == length


@pytest.mark.parametrize(
    ("times", "blocked"),
    [
        ([0, 10, 20, 30, 40], True),
        ([0, 1, 2, 3, 4], True),
        ([0, 10, 20, 30, 59.9], True),
        # The failure at 0 is exactly 60 s old at 60: outside the window.
        ([0, 10, 20, 30, 60], False),
        ([0, 15, 30, 45, 61], False),
        ([0, 100, 101, 102, 103], False),
        ([0, 100, 101, 102, 103, 104], True),
        ([0, 50, 70, 90, 105, 120], False),
        ([0, 50, 70, 90, 105, 109], True),
    ],
)
def test_the_window_rolls(times: list[float], blocked: bool) -> None:
    state = failures(times)
    last = times[-1]
    assert (blocked_for(state, last) > 0) is blocked
    _, admission = admit(state, last + 0.5, RULE)
    assert isinstance(admission, Blocked) is blocked


def test_old_failures_are_forgotten() -> None:
    state = failures([0, 1, 2, 3])
    state, _ = admit(state, 62, RULE)
    assert state.failures == (3.0,)


def test_a_success_gives_its_reservation_back() -> None:
    state = failures([0, 1, 2, 3])
    state, admission = admit(state, 4, RULE)
    assert isinstance(admission, Admitted)
    assert state.pending == (4.0,)
    state = settle(state, admission.ticket, success=True, now=4, rule=RULE)
    assert state.pending == ()
    assert state.failures == (0.0, 1.0, 2.0, 3.0)
    assert state.blocked_until == 0.0
    _, admission = admit(state, 5, RULE)
    assert admission == Admitted(5)


def test_a_success_does_not_clear_the_failures_in_the_window() -> None:
    state = failures([0, 1, 2, 3])
    state = attempt(state, 4, success=True)
    state = failures([5], state)
    assert blocked_for(state, 5) == 60


def test_attempts_in_flight_hold_the_places_left_and_the_next_one_waits() -> None:
    state = CounterState()
    tickets = []
    for now in [0, 1, 2, 3, 4]:
        state, admission = admit(state, now, RULE)
        assert isinstance(admission, Admitted)
        tickets.append(admission.ticket)
    assert state.pending == (0.0, 1.0, 2.0, 3.0, 4.0)
    state, admission = admit(state, 5, RULE)
    assert admission == Full()  # not blocked: none of them has failed
    assert len(state.pending) == 5
    assert blocked_for(state, 5) == 0
    # One of them turns out right: its place is free again.
    state = settle(state, tickets[0], success=True, now=6, rule=RULE)
    _, admission = admit(state, 6, RULE)
    assert admission == Admitted(6)


def test_failures_and_attempts_in_flight_add_up() -> None:
    state = failures([0, 1, 2, 3])
    state, admission = admit(state, 4, RULE)
    assert isinstance(admission, Admitted)
    _, sixth = admit(state, 5, RULE)
    assert sixth == Full()
    state = settle(state, admission.ticket, success=False, now=6, rule=RULE)
    assert blocked_for(state, 6) == 60


def test_five_concurrent_failures_settled_late_block() -> None:
    state = CounterState()
    tickets = []
    for now in [0.0, 0.1, 0.2, 0.3, 0.4]:
        state, admission = admit(state, now, RULE)
        assert isinstance(admission, Admitted)
        tickets.append(admission.ticket)
    for ticket in tickets:
        state = settle(state, ticket, success=False, now=1.0, rule=RULE)
    assert state.pending == ()
    assert blocked_for(state, 1.0) == 60


@pytest.mark.parametrize(
    ("state", "now", "retry_after"),
    [
        (CounterState(blocked_until=100.0), 40.0, 60),
        (CounterState(blocked_until=100.0), 40.5, 60),
        (CounterState(blocked_until=100.0), 99.01, 1),
        (CounterState(blocked_until=100.0), 99.999, 1),
        (CounterState(failures=(0.0, 0.0, 0.0, 0.0, 0.0)), 59.9, 1),
        (CounterState(failures=(0.0, 1.0, 2.0, 3.0, 4.0, 5.0)), 30.5, 31),
    ],
)
def test_retry_after_is_whole_seconds_and_at_least_one(
    state: CounterState, now: float, retry_after: int
) -> None:
    _, admission = admit(state, now, RULE)
    assert isinstance(admission, Blocked)
    assert isinstance(admission.retry_after, int)
    assert admission.retry_after == retry_after


def test_a_stricter_rule() -> None:
    rule = LockoutRule(max_failures=2, window_seconds=10, block_seconds=5, block_max_seconds=8)
    state = CounterState()
    for now in [0.0, 1.0]:
        state, admission = admit(state, now, rule)
        assert isinstance(admission, Admitted)
        state = settle(state, admission.ticket, success=False, now=now, rule=rule)
    assert blocked_for(state, 1.0) == 5
    assert rule.block_length(1) == 8.0


def test_an_untouched_counter_is_empty() -> None:
    assert CounterState().is_empty
    state, _ = admit(CounterState(), 0.0, RULE)
    assert not state.is_empty


@pytest.mark.parametrize("settled", [0, 1, 2, 3, 4])
def test_the_places_in_flight_are_those_the_failures_leave(settled: int) -> None:
    """Failures count; admissions only hold a place while in flight."""
    state = failures([float(i) for i in range(settled)])
    admitted = 0
    while True:
        state, admission = admit(state, 10.0, RULE)
        if not isinstance(admission, Admitted):
            break
        admitted += 1
    assert admission == Full()
    assert admitted == RULE.max_failures - settled


def test_correct_attempts_one_after_another_never_fill_the_window() -> None:
    state = CounterState()
    for now in range(100):
        state = attempt(state, now / 10, success=True)
    assert state.is_empty or (state.failures, state.pending) == ((), ())


def waits(pace: RefusalPace, times: list[float]) -> list[float]:
    found = []
    for now in times:
        pace, wait = paced(pace, now)
        found.append(round(wait, 6))
    return found


def test_refusals_within_the_pace_are_answered_at_once() -> None:
    assert waits(RefusalPace(per_second=10), [100.0, 100.1, 100.2, 100.35]) == [0, 0, 0, 0]


def test_refusals_beyond_the_pace_wait_their_turn_answered_together_at_the_grain() -> None:
    # Ten a second: turns at 100.0, 100.1, 100.2, ...; answered at multiples of 0.05.
    pace = RefusalPace(per_second=10, grain=0.05)
    assert waits(pace, [100.0, 100.0, 100.0, 100.01]) == [0, 0.1, 0.2, 0.29]
    assert waits(RefusalPace(per_second=10, grain=0.05), [100.0, 100.02]) == [0, 0.08]


def test_no_refusal_waits_longer_than_the_longest_and_such_a_one_takes_no_turn() -> None:
    pace = RefusalPace(per_second=1, longest=2.0, grain=0.5)
    found = waits(pace, [10.0] * 5)
    assert found == [0, 1.0, 2.0, 2.0, 2.0]
    pace, _ = paced(RefusalPace(per_second=1, longest=2.0, grain=0.5), 10.0)
    pace, _ = paced(pace, 10.0)
    pace, _ = paced(pace, 10.0)
    after, wait = paced(pace, 10.0)
    assert (wait, after) == (2.0, pace)  # the turns stay one a second


def test_a_pace_of_zero_never_waits() -> None:
    assert waits(RefusalPace(per_second=0), [5.0] * 100) == [0] * 100

"""S3 and R12 through the whole stack: blocks, expiry, escalation, suspension, channels."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import event

from patronauth.adapters.profiles import shipped_texts
from patronauth.bootstrap import App
from patronauth.domain.credentials import Channel, CredentialKind, CredentialState, Outcome
from patronauth.domain.errors import InvalidInput
from patronauth.domain.sessions import SessionChannel
from patronauth.services.account import account
from patronauth.services.sessions import open_session
from patronauth.services.staff import audit_trail, show_patron, unlock
from tests.support import (
    STAFF,
    attempt,
    clear_of_the_minute_edge,
    clock_of,
    hasher_of,
    make_app,
    register,
)


@pytest.fixture
def polyu(app: App) -> App:
    register(app, "polyu", "21012345A", id_number="Z123456(1)")
    return app


def fail(app: App, identifier: str, times: int, channel: Channel = Channel.WEB) -> None:
    for _ in range(times):
        assert attempt(app, identifier, "wrong-secret", channel).outcome is Outcome.INVALID


def test_the_sixth_attempt_within_a_minute_is_blocked_even_with_the_right_pin(polyu: App) -> None:
    fail(polyu, "21012345A", 5)
    result = attempt(polyu, "21012345A", "Z12345")
    assert result.outcome is Outcome.BLOCKED
    assert result.retry_after == 60


def test_a_blocked_identifier_is_refused_before_anything_is_read(polyu: App) -> None:
    """P2: a refusal while blocked reads no patron, no card, no credential; besides the
    attempt counter (a row of the database with the SQL counter) it only writes its
    audit record (S8)."""
    fail(polyu, "21012345A", 5)
    statements: list[str] = []

    def seen(conn: object, cursor: object, sql: str, *args: object) -> None:
        statements.append(" ".join(sql.split()))

    event.listen(polyu.engine, "before_cursor_execute", seen)
    try:
        result = attempt(polyu, "21012345A", "Z12345")
    finally:
        event.remove(polyu.engine, "before_cursor_execute", seen)
    assert result.outcome is Outcome.BLOCKED
    done = [s for s in statements if s.split()[0].upper() not in {"BEGIN", "COMMIT", "ROLLBACK"}]
    counted = [s for s in done if "attempt_counters" in s]
    if polyu.settings.counter != "sql":
        assert counted == []
    others = [s for s in done if s not in counted]
    assert len(others) == 1
    assert others[0].startswith("INSERT INTO audit_events")
    (latest, *_) = audit_trail(polyu.ports, "21012345A", limit=1)
    # Recorded before any patron was read: under the card key's keyed digest alone.
    assert latest.event.outcome == "blocked"
    assert latest.event.identifier == polyu.ports.hasher.keyed("21012345A", salt="audit")


def test_my_account_shows_the_attempts_refused_while_the_card_was_blocked(polyu: App) -> None:
    fail(polyu, "21012345A", 5)
    assert attempt(polyu, "21012345A", "Z12345").outcome is Outcome.BLOCKED
    clock_of(polyu).advance(61)
    signed_in = attempt(polyu, "21012345A", "Z12345")
    opened = open_session(polyu.ports, signed_in, SessionChannel.WEB, source="127.0.0.1")
    seen = [e.outcome for e in account(polyu.ports, opened.session).recent_sign_ins]
    assert seen == ["ok must-change", "blocked", *["invalid"] * 5]


def test_the_block_expires(polyu: App) -> None:
    fail(polyu, "21012345A", 5)
    clock_of(polyu).advance(59)
    assert attempt(polyu, "21012345A", "Z12345").outcome is Outcome.BLOCKED
    clock_of(polyu).advance(2)
    assert attempt(polyu, "21012345A", "Z12345").outcome is Outcome.MUST_CHANGE


def test_failures_spread_over_more_than_a_minute_do_not_block(polyu: App) -> None:
    for _ in range(8):
        fail(polyu, "21012345A", 1)
        clock_of(polyu).advance(15)
    assert attempt(polyu, "21012345A", "Z12345").outcome is Outcome.MUST_CHANGE


def test_blocks_double_on_each_repeat_within_a_day(polyu: App) -> None:
    clock = clock_of(polyu)
    for expected in (60, 120, 240):
        fail(polyu, "21012345A", 5)
        assert attempt(polyu, "21012345A", "Z12345").retry_after == expected
        clock.advance(expected + 1)
        # A right PIN after the block keeps the consecutive count below the cap.
        assert attempt(polyu, "21012345A", "Z12345").outcome is Outcome.MUST_CHANGE


def test_the_consecutive_cap_suspends_until_staff_unlock(polyu: App) -> None:
    fail(polyu, "21012345A", 5)
    clock_of(polyu).advance(61)
    fail(polyu, "21012345A", 4)
    assert attempt(polyu, "21012345A", "wrong-secret").outcome is Outcome.INVALID  # the 10th
    clock_of(polyu).advance(121)  # the second block doubled
    result = attempt(polyu, "21012345A", "Z12345")
    assert result.outcome is Outcome.SUSPENDED
    assert "Circulation Counter" in result.contact["en"]
    view = show_patron(polyu.ports, "21012345A")
    assert [c.state for c in view.credentials] == [CredentialState.SUSPENDED]
    # Only the right PIN learns of the suspension: a wrong one is told what a stranger is.
    assert attempt(polyu, "21012345A", "wrong-secret") == attempt(polyu, "NOBODY42", "x")
    assert unlock(polyu.ports, "21012345A", staff=STAFF).unsuspended == [CredentialKind.PIN]
    assert attempt(polyu, "21012345A", "Z12345").outcome is Outcome.MUST_CHANGE


def test_success_resets_the_consecutive_counter(polyu: App) -> None:
    fail(polyu, "21012345A", 4)
    assert show_patron(polyu.ports, "21012345A").credentials[0].consecutive_failures == 4
    assert attempt(polyu, "21012345A", "Z12345").outcome is Outcome.MUST_CHANGE
    assert show_patron(polyu.ports, "21012345A").credentials[0].consecutive_failures == 0


def test_failures_on_every_channel_add_up_on_one_identifier(app: App) -> None:
    register(app, "hkpl", "HKPL0001", phone="9123 4567")
    fail(app, "HKPL0001", 2, Channel.WEB)  # online password
    fail(app, "HKPL0001", 1, Channel.APP)  # online password
    fail(app, "HKPL0001", 1, Channel.SIP2)  # PIN
    fail(app, "HKPL0001", 1, Channel.TELEPHONE)  # PIN
    assert attempt(app, "HKPL0001", "4567", Channel.SIP2).outcome is Outcome.BLOCKED
    assert attempt(app, "HKPL0001", "4567", Channel.WEB).outcome is Outcome.BLOCKED


def test_case_spaces_and_leading_zeros_count_as_one_identifier(app: App) -> None:
    register(app, "hkpl", "0012345", phone="9123 4567")
    for typed in ("0012345", "012345", "12345", " 0012345 ", "0 0 1 2 3 4 5"):
        assert attempt(app, typed, "wrong-secret").outcome is Outcome.INVALID
    assert attempt(app, "0012345", "4567").outcome is Outcome.BLOCKED


def test_unknown_identifiers_are_blocked_like_known_ones(app: App) -> None:
    fail(app, "NOBODY42", 5)
    blocked = attempt(app, "NOBODY42", "anything")
    register(app, "hkpl", "HKPL0001", phone="9123 4567")
    fail(app, "HKPL0001", 5)
    assert attempt(app, "HKPL0001", "4567") == blocked  # nothing says the card exists


def test_fifty_parallel_wrong_attempts_let_at_most_five_reach_the_hasher(polyu: App) -> None:
    hasher = hasher_of(polyu)
    before = hasher.computations
    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(
            pool.map(lambda _: attempt(polyu, "21012345A", "wrong-secret").outcome, range(50))
        )
    assert hasher.computations - before <= 5
    assert outcomes.count(Outcome.INVALID) <= 5
    assert outcomes.count(Outcome.BLOCKED) >= 45
    assert set(outcomes) <= {Outcome.INVALID, Outcome.BLOCKED}
    assert attempt(polyu, "21012345A", "Z12345").outcome is Outcome.BLOCKED


def test_a_busy_source_is_throttled_across_identifiers(env: dict[str, str]) -> None:
    throttled = make_app({**env, "PATRONAUTH_THROTTLE_PER_SOURCE": "3 per minute"})
    try:
        register(throttled, "hkpl", "HKPL0001", phone="9123 4567")
        clear_of_the_minute_edge()
        for identifier in ("AAAA01", "AAAA02", "AAAA03"):
            assert attempt(throttled, identifier, "guess", source="10.0.0.7").outcome is (
                Outcome.INVALID
            )
        result = attempt(throttled, "HKPL0001", "4567", source="10.0.0.7")
        assert result.outcome is Outcome.THROTTLED
        assert 1 <= result.retry_after <= 60
        # Another source is not affected.
        assert attempt(throttled, "HKPL0001", "4567", source="10.0.0.8").outcome is (
            Outcome.MUST_CHANGE
        )
    finally:
        throttled.close()


def test_an_attempt_refused_after_the_lookup_gives_its_place_in_the_window_back(
    polyu: App,
) -> None:
    """Every institution served shares one lockout rule, so the counter admits an
    attempt before the card is read. A request the card's own profile refuses (PolyU
    signs in on the web with its PIN) checked no secret: it must not hold a place, or
    four failures and three such requests would fill the window of five."""
    fail(polyu, "21012345A", 4)
    for _ in range(3):
        with pytest.raises(InvalidInput) as refused:
            attempt(polyu, "21012345A", "Z12345", Channel.WEB, CredentialKind.PASSWORD)
        assert refused.value.code == "credential.not_for_channel"
    assert attempt(polyu, "21012345A", "Z12345").outcome is Outcome.MUST_CHANGE


def test_institutions_with_different_rules_count_each_card_by_its_own(
    env: dict[str, str], tmp_path: Path
) -> None:
    """Where the served institutions' lockout rules differ, the rule is the card's: the
    block is read before the lookup, the admission follows it."""
    folder = tmp_path / "profiles"
    folder.mkdir()
    polyu_text, _ = shipped_texts()["polyu"]
    (folder / "polyu.toml").write_text(
        polyu_text.replace("max_failures = 5\n", "max_failures = 3\n")
    )
    strict = make_app({**env, "PATRONAUTH_PROFILES_DIR": str(folder)})
    try:
        register(strict, "polyu", "21012345A", id_number="Z123456(1)")
        register(strict, "hkpl", "HKPL0001", phone="9123 4567")
        fail(strict, "21012345A", 3)
        assert attempt(strict, "21012345A", "Z12345").outcome is Outcome.BLOCKED
        fail(strict, "HKPL0001", 4)
        assert attempt(strict, "HKPL0001", "4567").outcome is Outcome.MUST_CHANGE
        # Named, the institution's rule is known before the lookup: the same count.
        named = attempt(strict, "21012345A", "Z12345", institution="polyu")
        assert named.outcome is Outcome.BLOCKED
    finally:
        strict.close()

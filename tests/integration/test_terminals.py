"""Self-service terminal accounts (SPEC 4.5) over storage, on SQLite and PostgreSQL:
adding, listing, disabling, options, and the SIP2 login with its neutral answer,
lockout, throttle and audit trail (never the password)."""

from __future__ import annotations

import json

import pytest

from patronauth.bootstrap import App
from patronauth.domain.errors import Conflict, InvalidInput, NotFound, Refused
from patronauth.domain.terminals import Encoding, TerminalOptions
from patronauth.services import terminals as term
from patronauth.services.interfaces import AuditEvent
from tests.support import STAFF, clear_of_the_minute_edge, clock_of, make_app

PASSWORD = "kiosk-Secret-2026"


def add(app: App, login: str = "kiosk1", institution: str = "hkpl", **more: object) -> None:
    term.add_terminal(
        app.ports,
        login=login,
        institution=institution,
        password=str(more.pop("password", PASSWORD)),
        staff=STAFF,
        **more,  # type: ignore[arg-type]
    )


def audit(app: App) -> list[AuditEvent]:
    with app.ports.uow() as uow:
        return [stored.event for stored in reversed(uow.audit.recent(limit=100))]


def stored_rows(app: App) -> list[tuple[object, ...]]:
    from sqlalchemy import select

    from patronauth.adapters.storage import tables as t

    with app.engine.connect() as conn:
        return [tuple(row) for row in conn.execute(select(t.terminals))]


def test_a_terminal_is_added_enabled_with_its_options_and_a_hashed_password(app: App) -> None:
    add(
        app,
        location="Central Library, 1/F",
        options=TerminalOptions(encoding=Encoding.CP850, crlf=True, allow_pinless=True),
    )
    [terminal] = term.list_terminals(app.ports)
    assert (terminal.login, terminal.institution, terminal.location, terminal.enabled) == (
        "kiosk1",
        "hkpl",
        "Central Library, 1/F",
        True,
    )
    assert terminal.options == TerminalOptions(Encoding.CP850, True, True, False)
    with app.ports.uow() as uow:
        stored = uow.terminals.get("kiosk1")
    assert stored is not None
    assert stored.password_hash.startswith("a2:")
    assert "$argon2id$" in stored.password_hash
    assert PASSWORD not in repr(stored_rows(app))
    assert PASSWORD not in repr(audit(app))
    [event] = [e for e in audit(app) if e.action == "terminal.add"]
    assert event.actor == STAFF
    assert event.detail["encoding"] == "cp850"


def test_defaults_are_utf8_cr_pin_required_and_wrong_pin_told(app: App) -> None:
    add(app)
    terminal = term.get_terminal(app.ports, "kiosk1")
    assert terminal.options == TerminalOptions()
    assert terminal.options.encoding is Encoding.UTF8
    assert not terminal.options.crlf
    assert not terminal.options.allow_pinless
    assert not terminal.options.wrong_pin_as_unknown


BAD_INPUT = {
    "login with a space": ({"login": "kiosk 1"}, InvalidInput, "terminal.login_invalid"),
    "login too long": ({"login": "k" * 33}, InvalidInput, "terminal.login_invalid"),
    "login with a pipe": ({"login": "kiosk|1"}, InvalidInput, "terminal.login_invalid"),
    "unknown institution": ({"institution": "nowhere"}, Refused, "institution.unknown"),
    "short password": ({"password": "short-pw"}, InvalidInput, "terminal.password_too_short"),
    "long password": ({"password": "x" * 129}, InvalidInput, "terminal.password_too_long"),
    "control character": (
        {"password": "kiosk-Secret\x002026"},
        InvalidInput,
        "terminal.password_control_character",
    ),
    "field separator": (
        {"password": "kiosk|Secret-2026"},
        InvalidInput,
        "terminal.password_separator",
    ),
    "not in cp850": (
        {"password": "自助借書機密碼-kiosk-2026", "options": TerminalOptions(Encoding.CP850)},
        InvalidInput,
        "terminal.password_not_encodable",
    ),
    "location with a separator": (
        {"location": "Central|1/F"},
        InvalidInput,
        "terminal.location_invalid",
    ),
    "location too long": ({"location": "L" * 65}, InvalidInput, "terminal.location_invalid"),
}


@pytest.mark.parametrize(("fields", "kind", "code"), BAD_INPUT.values(), ids=BAD_INPUT)
def test_bad_input_is_refused_with_its_code_and_nothing_is_written(
    app: App, fields: dict[str, object], kind: type[Refused], code: str
) -> None:
    with pytest.raises(kind) as refused:
        add(app, **fields)  # type: ignore[arg-type]
    assert refused.value.code == code
    assert stored_rows(app) == []
    assert [e for e in audit(app) if e.action.startswith("terminal")] == []


def test_a_login_is_unique(app: App) -> None:
    add(app)
    with pytest.raises(Conflict) as refused:
        add(app, institution="hku")
    assert refused.value.code == "terminal.login_taken"
    assert len(stored_rows(app)) == 1


def test_list_by_institution(app: App) -> None:
    add(app, "kiosk1")
    add(app, "cu-kiosk", "hku")
    assert [t.login for t in term.list_terminals(app.ports, "hku")] == ["cu-kiosk"]
    assert sorted(t.login for t in term.list_terminals(app.ports)) == ["cu-kiosk", "kiosk1"]


def test_the_right_password_logs_in(app: App) -> None:
    add(app)
    terminal = term.terminal_login(app.ports, "kiosk1", PASSWORD, source="10.0.0.5")
    assert terminal is not None
    assert terminal.login == "kiosk1"
    assert terminal.institution == "hkpl"
    [event] = [e for e in audit(app) if e.action == "terminal.login"]
    assert (event.outcome, event.actor, event.channel, event.source) == (
        "ok",
        "terminal:kiosk1",
        "sip2",
        "10.0.0.5",
    )


NEUTRAL = {
    "unknown login": ("kiosk9", PASSWORD, "unknown"),
    "wrong password": ("kiosk1", "kiosk-Secret-2025", "wrong_password"),
    "malformed login": ("kiosk\x00", PASSWORD, "unknown"),
    "malformed password": ("kiosk1", "x", "malformed"),
}


@pytest.mark.parametrize(("login", "password", "reason"), NEUTRAL.values(), ids=NEUTRAL)
def test_failures_get_the_same_answer_and_are_audited_without_the_password(
    app: App, login: str, password: str, reason: str
) -> None:
    add(app)
    assert term.terminal_login(app.ports, login, password, source="10.0.0.5") is None
    [event] = [e for e in audit(app) if e.action == "terminal.login"]
    assert event.outcome == "invalid"
    assert event.detail["reason"] == reason
    assert password not in json.dumps(dict(event.detail)) + event.actor
    assert PASSWORD not in repr(event)


def test_a_disabled_terminal_cannot_log_in_until_enabled(app: App) -> None:
    add(app)
    disabled = term.disable_terminal(app.ports, "kiosk1", staff=STAFF)
    assert not disabled.enabled
    assert term.terminal_login(app.ports, "kiosk1", PASSWORD, source="s") is None
    events = [e for e in audit(app) if e.action == "terminal.login"]
    assert events[0].detail["reason"] == "disabled"
    with pytest.raises(Conflict) as again:
        term.disable_terminal(app.ports, "kiosk1", staff=STAFF)
    assert again.value.code == "terminal.already_disabled"
    term.enable_terminal(app.ports, "kiosk1", staff=STAFF)
    assert term.terminal_login(app.ports, "kiosk1", PASSWORD, source="s") is not None


def test_an_unknown_terminal_is_not_found(app: App) -> None:
    for action in (term.disable_terminal, term.enable_terminal):
        with pytest.raises(NotFound) as refused:
            action(app.ports, "kiosk9", staff=STAFF)
        assert refused.value.code == "terminal.not_found"
    with pytest.raises(NotFound):
        term.set_terminal_options(app.ports, "kiosk9", staff=STAFF, crlf=True)


def test_options_change_one_at_a_time(app: App) -> None:
    add(app)
    term.set_terminal_options(app.ports, "kiosk1", staff=STAFF, crlf=True)
    changed = term.set_terminal_options(app.ports, "kiosk1", staff=STAFF, wrong_pin_as_unknown=True)
    assert changed.options == TerminalOptions(Encoding.UTF8, True, False, True)
    assert term.get_terminal(app.ports, "kiosk1").options == changed.options


def test_five_wrong_passwords_block_the_login_even_for_the_right_one(app: App) -> None:
    add(app)
    for _ in range(5):
        assert term.terminal_login(app.ports, "kiosk1", "kiosk-Wrong-0000", source="s") is None
    assert term.terminal_login(app.ports, "kiosk1", PASSWORD, source="s") is None
    outcomes = [e.outcome for e in audit(app) if e.action == "terminal.login"]
    assert outcomes.count("blocked") == 1
    clock_of(app).advance(61)
    assert term.terminal_login(app.ports, "kiosk1", PASSWORD, source="s") is not None


def test_a_rotated_pepper_key_still_logs_in_and_upgrades_the_hash(
    app: App, env: dict[str, str]
) -> None:
    add(app)
    rotated = make_app(
        {**env, "PATRONAUTH_PEPPER": "t2 " + "ab" * 32 + ";" + env["PATRONAUTH_PEPPER"]}
    )
    try:
        assert term.terminal_login(rotated.ports, "kiosk1", PASSWORD, source="s") is not None
        with rotated.ports.uow() as uow:
            stored = uow.terminals.get("kiosk1")
        assert stored is not None
        assert stored.password_hash.startswith("a2:t2:")
        assert term.terminal_login(rotated.ports, "kiosk1", PASSWORD, source="s") is not None
    finally:
        rotated.close()


def test_a_busy_source_is_throttled_across_logins(env: dict[str, str]) -> None:
    throttled = make_app({**env, "PATRONAUTH_THROTTLE_PER_SOURCE": "3 per minute"})
    try:
        add(throttled)
        clear_of_the_minute_edge()
        for login in ("guess1", "guess2", "guess3"):
            assert term.terminal_login(throttled.ports, login, PASSWORD, source="10.0.0.7") is None
        assert term.terminal_login(throttled.ports, "kiosk1", PASSWORD, source="10.0.0.7") is None
        assert [e.outcome for e in audit(throttled) if e.action == "terminal.login"] == [
            *["invalid"] * 3,
            "throttled",
        ]
        # Another source is not affected.
        assert term.terminal_login(throttled.ports, "kiosk1", PASSWORD, source="10.0.0.8")
    finally:
        throttled.close()


def _statements(app: App) -> list[str]:
    from sqlalchemy import event

    seen: list[str] = []
    event.listen(app.engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    return seen


def test_a_sip2_process_reads_every_terminal_account_at_once_and_again_when_stale(
    app: App,
) -> None:
    from time import monotonic

    add(app, "kiosk1")
    add(app, "kiosk2")
    accounts = term.TerminalAccounts(app.ports, seconds=3600)
    logged_in = monotonic()
    seen = _statements(app)
    first = accounts.current("kiosk1", not_before=logged_in)
    assert first is not None
    assert first.enabled
    reads = len([s for s in seen if "terminals" in s])
    assert reads == 1
    for login in ("kiosk1", "kiosk2", "kiosk1", "kiosk2"):
        assert accounts.current(login, not_before=logged_in) is not None
    assert len([s for s in seen if "terminals" in s]) == reads  # one reading serves all
    assert accounts.current("nobody", not_before=logged_in) is None

    term.disable_terminal(app.ports, "kiosk1", staff=STAFF)
    # Within `seconds` of the reading, the account is as read ...
    known = accounts.current("kiosk1", not_before=logged_in)
    assert known is not None
    assert known.enabled
    # ... and a login after the reading (or a reading `seconds` old) reads again.
    later = accounts.current("kiosk1", not_before=monotonic())
    assert later is not None
    assert not later.enabled
    assert accounts.current("kiosk2", not_before=logged_in) is not None


def test_terminal_accounts_read_again_once_the_reading_is_old(app: App) -> None:
    from time import monotonic

    add(app, "kiosk1")
    accounts = term.TerminalAccounts(app.ports, seconds=0.0)
    logged_in = monotonic()
    assert accounts.current("kiosk1", not_before=logged_in).enabled  # type: ignore[union-attr]
    term.disable_terminal(app.ports, "kiosk1", staff=STAFF)
    assert not accounts.current("kiosk1", not_before=logged_in).enabled  # type: ignore[union-attr]

"""Self-service terminals (SPEC 4.5): their accounts, and the SIP2 login (message 93).

A terminal's password is a secret like a patron's: validated, then stored only as an
argon2id hash over the pepper. A login attempt is throttled per source, counted in an
attempt counter of its own (the terminal's login, never a patron's identifier), and
audited without the password. An unknown login, a wrong password and a disabled
terminal get one and the same answer (None), after the same single hash computation.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from time import monotonic

from patronauth.domain.credentials import Channel
from patronauth.domain.errors import Busy, Conflict, InvalidInput, NotFound
from patronauth.domain.lockout import Blocked, LockoutRule
from patronauth.domain.terminals import (
    LOGIN_PATTERN,
    PASSWORD_MAX_LENGTH,
    Encoding,
    Terminal,
    TerminalOptions,
    terminal_location,
    terminal_password,
)
from patronauth.domain.terminals import terminal_login as checked_login
from patronauth.services.admission import admit
from patronauth.services.audit import Trail, given_reason
from patronauth.services.interfaces import Ports, StoredTerminal, UnitOfWork

CHANNEL = "sip2"
LOGIN_LOCKOUT = LockoutRule()


def _options_detail(terminal: Terminal) -> dict[str, str]:
    o = terminal.options
    return {
        "login": terminal.login,
        "location": terminal.location,
        "encoding": o.encoding.value,
        "crlf": str(o.crlf).lower(),
        "allow_pinless": str(o.allow_pinless).lower(),
        "wrong_pin_as_unknown": str(o.wrong_pin_as_unknown).lower(),
        "channel": o.channel.value,
    }


def add_terminal(
    ports: Ports,
    *,
    login: str,
    institution: str,
    password: str,
    location: str | None = None,
    options: TerminalOptions | None = None,
    staff: str,
    reason: str | None = None,
) -> Terminal:
    """A new terminal account of `institution`, enabled. Nothing is written on a refusal."""
    why = given_reason(reason)
    options = options or TerminalOptions()
    login = checked_login(login)
    ports.profiles.get(institution)
    place = terminal_location(location)
    secret = terminal_password(password, options.encoding)
    password_hash = ports.hasher.hash(secret)
    now = ports.clock.now()
    with ports.uow() as uow:
        trail = Trail(uow, ports.clock, staff, "staff", reason=why)
        terminal = uow.terminals.add(
            login, institution, place, password_hash, options, created_by=staff, at=now
        )
        trail.record("terminal.add", None, _options_detail(terminal), institution=institution)
        uow.commit()
    return terminal


def list_terminals(ports: Ports, institution: str | None = None) -> list[Terminal]:
    if institution is not None:
        ports.profiles.get(institution)
    with ports.read() as uow:
        return uow.terminals.all(institution)


def get_terminal(ports: Ports, login: str) -> Terminal:
    """The terminal as stored now (the server checks it is still enabled)."""
    if not LOGIN_PATTERN.fullmatch(login):
        raise NotFound.of("terminal.not_found")
    with ports.read() as uow:
        return _stored(uow, login).terminal


class TerminalAccounts:
    """The terminal accounts as one SIP2 process knows them between requests: all read
    in one query, and read again once the last reading is `seconds` old. A connection
    checks its terminal here at every request, so a terminal disabled (or removed)
    meanwhile loses its connection within `seconds`, for one read per `seconds` in the
    whole process however many terminals are connected (P4)."""

    def __init__(self, ports: Ports, *, seconds: float = 1.0) -> None:
        self.ports = ports
        self.seconds = seconds
        self._lock = threading.Lock()
        self._by_login: dict[str, Terminal] = {}
        self._read_at = float("-inf")

    def current(self, login: str, *, not_before: float) -> Terminal | None:
        """The account of `login` as read at `not_before` (a `monotonic()` time) or
        later, and at most `seconds` ago; None when there is none."""
        if self._stale(not_before):
            with self._lock:
                if self._stale(not_before):  # not read meanwhile by another thread
                    began = monotonic()
                    with self.ports.read() as uow:
                        terminals = uow.terminals.all()
                    self._by_login = {terminal.login: terminal for terminal in terminals}
                    self._read_at = began
        return self._by_login.get(login)

    def _stale(self, not_before: float) -> bool:
        read_at = self._read_at
        return read_at < not_before or monotonic() - read_at >= self.seconds


def _stored(uow: UnitOfWork, login: str) -> StoredTerminal:
    stored = uow.terminals.get(login)
    if stored is None:
        raise NotFound.of("terminal.not_found")
    return stored


def _set_enabled(
    ports: Ports, login: str, enabled: bool, staff: str, reason: str | None
) -> Terminal:
    why = given_reason(reason)
    login = checked_login(login)
    now = ports.clock.now()
    with ports.uow() as uow:
        trail = Trail(uow, ports.clock, staff, "staff", reason=why)
        stored = _stored(uow, login)
        if stored.terminal.enabled == enabled:
            raise Conflict.of(
                "terminal.already_enabled" if enabled else "terminal.already_disabled"
            )
        uow.terminals.set_enabled(login, enabled, now)
        trail.record(
            "terminal.enable" if enabled else "terminal.disable",
            None,
            {"login": login},
            institution=stored.terminal.institution,
        )
        uow.commit()
    return replace(stored.terminal, enabled=enabled)


def disable_terminal(
    ports: Ports, login: str, *, staff: str, reason: str | None = None
) -> Terminal:
    """The terminal can no longer log in; a connection it has open is ended by the server
    at its first request after the server reads the accounts again
    (`TerminalAccounts`, every second)."""
    return _set_enabled(ports, login, False, staff, reason)


def enable_terminal(ports: Ports, login: str, *, staff: str, reason: str | None = None) -> Terminal:
    return _set_enabled(ports, login, True, staff, reason)


def unlock_terminal(ports: Ports, login: str, *, staff: str, reason: str | None = None) -> Terminal:
    """Lift the block of a terminal's login (five wrong passwords within a minute) and
    forget its failures, as `unlock` does for a card."""
    why = given_reason(reason)
    terminal = get_terminal(ports, checked_login(login))
    blocked = ports.counter.blocked_for(_login_key(terminal.login), ports.clock.now().timestamp())
    ports.counter.clear(_login_key(terminal.login))
    with ports.uow() as uow:
        trail = Trail(uow, ports.clock, staff, "staff", reason=why)
        trail.record(
            "terminal.unlock",
            None,
            {"login": terminal.login, "was_blocked_for": str(blocked)},
            institution=terminal.institution,
        )
        uow.commit()
    return terminal


def _login_key(login: str) -> str:
    """The attempt counter's key of a terminal login (never a card's: `:` is in none)."""
    return f"terminal:{login}"


def set_terminal_options(
    ports: Ports,
    login: str,
    *,
    staff: str,
    encoding: Encoding | None = None,
    crlf: bool | None = None,
    allow_pinless: bool | None = None,
    wrong_pin_as_unknown: bool | None = None,
    channel: Channel | None = None,
) -> Terminal:
    """Change some options; the others keep their values.

    The password is not re-checked against a new encoding (only its hash is kept): a
    terminal moved to cp850 needs a password that cp850 can carry.
    """
    login = checked_login(login)
    now = ports.clock.now()
    with ports.uow() as uow:
        trail = Trail(uow, ports.clock, staff, "staff")
        stored = _stored(uow, login)
        current = stored.terminal.options
        options = TerminalOptions(
            encoding=current.encoding if encoding is None else encoding,
            crlf=current.crlf if crlf is None else crlf,
            allow_pinless=current.allow_pinless if allow_pinless is None else allow_pinless,
            wrong_pin_as_unknown=current.wrong_pin_as_unknown
            if wrong_pin_as_unknown is None
            else wrong_pin_as_unknown,
            channel=current.channel if channel is None else channel,
        )
        uow.terminals.set_options(login, options, now)
        terminal = replace(stored.terminal, options=options)
        trail.record(
            "terminal.options", None, _options_detail(terminal), institution=terminal.institution
        )
        uow.commit()
    return terminal


def terminal_login(ports: Ports, login: str, password: str, *, source: str) -> Terminal | None:
    """SIP2 93: the terminal, or None for an unknown login, a wrong password, a disabled
    terminal, a blocked login or a throttled source (the caller answers `940` alike)."""
    valid_login = LOGIN_PATTERN.fullmatch(login) is not None
    actor = f"terminal:{login}" if valid_login else "terminal:?"
    outcome, reason, terminal = _check_login(ports, login, password, valid_login, source)
    detail = {"login": login} if valid_login else {}
    if reason:
        detail["reason"] = reason
    with ports.uow() as uow:
        trail = Trail(uow, ports.clock, actor, CHANNEL)
        trail.record(
            "terminal.login",
            None,
            detail,
            outcome=outcome,
            institution=terminal.institution if terminal else None,
            source=source[:80],
        )
        uow.commit()
    return terminal if outcome == "ok" else None


def _check_login(
    ports: Ports, login: str, password: str, valid_login: bool, source: str
) -> tuple[str, str, Terminal | None]:
    """(outcome, reason, terminal) of one login attempt."""
    wait = ports.throttle.hit("terminal_login", source or CHANNEL)
    if wait:
        return "throttled", "", None
    try:
        secret = terminal_password(password, Encoding.UTF8) if valid_login else None
    except InvalidInput:
        secret = None
    if secret is None:
        # No stored password could match: spend the same hash anyway (S4).
        ports.hasher.dummy_verify(password[:PASSWORD_MAX_LENGTH] or "-")
        return "invalid", "unknown" if not valid_login else "malformed", None
    key = _login_key(login)
    admission = admit(ports, key, LOGIN_LOCKOUT)
    if isinstance(admission, Blocked):
        return "blocked", "", None
    success = False
    try:
        with ports.read() as uow:
            stored = uow.terminals.get(login)
        if stored is None:
            ports.hasher.dummy_verify(secret)
            return "invalid", "unknown", None
        verification = ports.hasher.verify(stored.password_hash, secret)
        if not verification.ok:
            return "invalid", "wrong_password", None
        if not stored.terminal.enabled:
            return "invalid", "disabled", stored.terminal
        success = True
        if verification.rehashed:
            with ports.uow() as uow:
                uow.terminals.set_password_hash(login, verification.rehashed, ports.clock.now())
                uow.commit()
        return "ok", "", stored.terminal
    except Busy:
        success = True  # no password was checked: the attempt gives its place back
        raise
    finally:
        ports.counter.settle(
            key,
            admission.ticket,
            success=success,
            now=ports.clock.now().timestamp(),
            rule=LOGIN_LOCKOUT,
        )

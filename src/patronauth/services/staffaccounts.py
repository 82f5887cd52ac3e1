"""Staff accounts of the counter console: adding, enrolment, sign-in with two factors,
console sessions, and the re-check of the second factor.

Sign-in has two steps. The password opens a short `Stage.PASSWORD` session that
reaches nothing but the second step; a TOTP code or a WebAuthn assertion then ends it
and opens the console session under a new token. Every wrong password and every wrong
second factor counts against `staff:<login>` in the same attempt counter as patrons'
identifiers, under the staff lockout rule. Every step is audited under the staff
member's login; secrets never are.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from patronauth.domain.errors import NotFound, PolicyRefused, Refused, Violation
from patronauth.domain.lockout import Blocked
from patronauth.domain.policies import ContextKind, SecretContext, check, normalise_secret
from patronauth.domain.staff import (
    ENROLMENT_HOURS,
    STAFF_LOCKOUT,
    STAFF_PASSWORD_POLICY,
    Role,
    StaffMember,
    StaffSession,
    StaffStatus,
    Stage,
    lockout_key,
    parse_institutions,
    parse_login,
    parse_name,
    totp_step_usable,
)
from patronauth.services.admission import admit
from patronauth.services.audit import Trail, given_reason
from patronauth.services.interfaces import StaffPorts, StoredStaff, UnitOfWork, WebAuthnKey
from patronauth.services.sessions import token_hash

CHANNEL = "staff"


def _trail(
    uow: UnitOfWork, sp: StaffPorts, actor: str, at: datetime, reason: str | None = None
) -> Trail:
    return Trail(uow, sp.ports.clock, actor, CHANNEL, at=at, reason=reason)


def _home(member: StaffMember) -> str | None:
    return member.institutions[0] if member.institutions else None


# --- accounts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Added:
    member: StaffMember
    link: str  # the one-time enrolment link, shown once
    expires_at: datetime


def add_staff(
    sp: StaffPorts,
    login: str,
    name: str,
    role: Role,
    institutions: Sequence[str],
    *,
    by: str,
    reason: str | None = None,
) -> Added:
    """A new staff account, waiting for its holder to enrol through the link."""
    why = given_reason(reason)
    ports = sp.ports
    login, name = parse_login(login), parse_name(name)
    chosen = parse_institutions(institutions, list(ports.profiles.all()))
    now = ports.clock.now()
    token = ports.randomness.token()
    expires_at = now + timedelta(hours=ENROLMENT_HOURS)
    with ports.uow() as uow:
        member = uow.staff.add(login, name, role, chosen, created_by=by, at=now)
        uow.staff.add_enrolment(token_hash(token), member.id, now=now, expires_at=expires_at)
        _trail(uow, sp, by, now, why).record(
            "staff.add",
            None,
            {"member": login, "role": role.value, "institutions": " ".join(chosen)},
            institution=chosen[0],
        )
        uow.commit()
    return Added(member, f"{sp.console_url}/enrol/{token}", expires_at)


def list_staff(sp: StaffPorts) -> list[StaffMember]:
    with sp.ports.read() as uow:
        return uow.staff.all()


def _require_staff(uow: UnitOfWork, login: str) -> StoredStaff:
    stored = uow.staff.by_login(login.strip().lower())
    if stored is None:
        raise NotFound.of("staff.unknown", login=login)
    return stored


def disable_staff(sp: StaffPorts, login: str, *, by: str, reason: str | None = None) -> StaffMember:
    """The account stops signing in, and every console session of it ends now."""
    why = given_reason(reason)
    now = sp.ports.clock.now()
    with sp.ports.uow() as uow:
        stored = _require_staff(uow, login)
        uow.staff.set_status(stored.member.id, StaffStatus.DISABLED, now)
        ended = uow.staff_sessions.revoke_staff(stored.member.id, now)
        _trail(uow, sp, by, now, why).record(
            "staff.disable",
            None,
            {"member": stored.member.login, "sessions_ended": str(ended)},
            institution=_home(stored.member),
        )
        uow.commit()
        again = uow.staff.get(stored.member.id)
    assert again is not None
    return again.member


def set_role(
    sp: StaffPorts, login: str, role: Role, *, by: str, reason: str | None = None
) -> StaffMember:
    why = given_reason(reason)
    now = sp.ports.clock.now()
    with sp.ports.uow() as uow:
        stored = _require_staff(uow, login)
        uow.staff.set_role(stored.member.id, role, now)
        _trail(uow, sp, by, now, why).record(
            "staff.role",
            None,
            {"member": stored.member.login, "from": stored.member.role.value, "to": role.value},
            institution=_home(stored.member),
        )
        uow.commit()
        again = uow.staff.get(stored.member.id)
    assert again is not None
    return again.member


# --- enrolment ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Offer:
    """What the enrolment page shows: the TOTP key (as a QR code and as text) and the
    options for registering a security key."""

    member: StaffMember
    totp_secret: str
    totp_uri: str
    qr_svg: str
    webauthn_options: str
    expires_at: datetime


def open_enrolment(sp: StaffPorts, token: str) -> Offer:
    ports = sp.ports
    now = ports.clock.now()
    with ports.uow() as uow:
        enrolment = uow.staff.enrolment(token_hash(token), now)
        stored = uow.staff.get(enrolment.staff_id) if enrolment else None
        if enrolment is None or stored is None or stored.member.status is StaffStatus.DISABLED:
            raise Refused.of("staff.enrolment_invalid")
        member = stored.member
        # The same key is shown again when the page is reloaded, so an app that has
        # read it already keeps working.
        secret = enrolment.totp_secret or sp.factors.new_totp_secret()
        options, challenge = sp.factors.registration_options(
            member.login.encode("utf-8"), member.login, member.name, ()
        )
        uow.staff.offer(token_hash(token), secret, challenge)
        uow.commit()
    uri = sp.factors.totp_uri(secret, member.login)
    return Offer(member, secret, uri, sp.factors.qr_svg(uri), options, enrolment.expires_at)


def check_staff_password(sp: StaffPorts, member: StaffMember, password: str, confirm: str) -> str:
    """The staff password policy; every problem at once, on its field."""
    password, confirm = normalise_secret(password), normalise_secret(confirm)
    words = [member.login, *member.name.split()]
    violations = check(
        password,
        STAFF_PASSWORD_POLICY,
        context=SecretContext(words={ContextKind.NAME: words}),
        blocklists=sp.ports.blocklists,
    )
    mismatch = (
        [Violation("secret.confirmation_mismatch", field="confirm")] if password != confirm else []
    )
    if violations:
        raise PolicyRefused(*(v.on("password") for v in violations), *mismatch)
    if mismatch:
        raise Refused(*mismatch)
    return password


def enrol(
    sp: StaffPorts,
    token: str,
    password: str,
    confirm: str,
    *,
    code: str | None = None,
    webauthn: str | None = None,
    source: str,
) -> StaffMember:
    """Set the password and the first second factor; the link is used up."""
    ports = sp.ports
    now = ports.clock.now()
    with ports.read() as uow:
        enrolment = uow.staff.enrolment(token_hash(token), now)
        stored = uow.staff.get(enrolment.staff_id) if enrolment else None
    if enrolment is None or stored is None or stored.member.status is StaffStatus.DISABLED:
        raise Refused.of("staff.enrolment_invalid")
    member = stored.member
    clean = check_staff_password(sp, member, password, confirm)
    step: int | None = None
    key = None
    if webauthn:
        if enrolment.challenge is None:
            raise Refused.of("staff.webauthn_invalid")
        key = sp.factors.verify_registration(webauthn, enrolment.challenge)
    else:
        if enrolment.totp_secret is None:
            raise Refused.of("staff.enrolment_invalid")
        step = sp.factors.totp_step(enrolment.totp_secret, code or "", now)
        if step is None:
            raise Refused(Violation("staff.totp_invalid", field="code"))
    password_hash = ports.hasher.hash(clean)  # never inside a unit of work
    with ports.uow() as uow:
        if not uow.staff.take_enrolment(token_hash(token), now):
            raise Refused.of("staff.enrolment_invalid")
        uow.staff.set_password(member.id, password_hash, now)
        if key is not None:
            uow.staff.add_key(member.id, key.credential_id, key.public_key, key.sign_count, now)
            factor = "webauthn"
        else:
            assert enrolment.totp_secret is not None
            assert step is not None
            uow.staff.set_totp(member.id, enrolment.totp_secret, now)
            uow.staff.use_totp_step(member.id, step)  # the enrolment code is used up
            factor = "totp"
        uow.staff.set_status(member.id, StaffStatus.ACTIVE, now)
        _trail(uow, sp, member.actor, now).record(
            "staff.enrol", None, {"factor": factor}, institution=_home(member), source=source
        )
        uow.commit()
        again = uow.staff.get(member.id)
    assert again is not None
    return again.member


# --- sign-in ----------------------------------------------------------------------------


@dataclass(frozen=True)
class StaffOpened:
    token: str  # given to the browser once, never stored
    session: StaffSession
    member: StaffMember


def _refuse(
    sp: StaffPorts,
    code: str,
    *,
    actor: str,
    login: str,
    member: StaffMember | None,
    source: str,
    action: str,
    at: datetime,
    **params: str | int,
) -> Refused:
    """Audit the refusal (in its own transaction) and return it to raise."""
    with sp.ports.uow() as uow:
        _trail(uow, sp, actor, at).record(
            action,
            None,
            {"reason": code},
            outcome=code,
            identifier=lockout_key(login),
            institution=_home(member) if member else None,
            source=source,
        )
        uow.commit()
    return Refused.of(code, **params)


def _admit(
    sp: StaffPorts, login: str, member: StaffMember | None, source: str, action: str
) -> float:
    ports = sp.ports
    now = ports.clock.now()
    admission = admit(ports, lockout_key(login), STAFF_LOCKOUT)
    if isinstance(admission, Blocked):
        actor = member.actor if member else "staff:?"
        raise _refuse(
            sp,
            "staff.blocked",
            actor=actor,
            login=login,
            member=member,
            source=source,
            action=action,
            at=now,
            seconds=admission.retry_after,
        )
    return admission.ticket


def _settle(sp: StaffPorts, login: str, ticket: float, *, success: bool) -> None:
    now = sp.ports.clock.now().timestamp()
    sp.ports.counter.settle(
        lockout_key(login), ticket, success=success, now=now, rule=STAFF_LOCKOUT
    )


def sign_in_password(sp: StaffPorts, login: str, password: str, *, source: str) -> StaffOpened:
    """The first step: the password. Refuses `staff.sign_in_failed` for an unknown login,
    a wrong password or an account that cannot sign in, alike."""
    ports = sp.ports
    login = login.strip().lower()[:64]
    password = normalise_secret(password)
    with ports.read() as uow:
        stored = uow.staff.by_login(login)
    member = stored.member if stored else None
    ticket = _admit(sp, login, member, source, "staff.sign_in")
    if stored is None or stored.password_hash is None:
        ports.hasher.dummy_verify(password)
        ok = False
    else:
        ok = ports.hasher.verify(stored.password_hash, password).ok
    usable = ok and member is not None and member.status is StaffStatus.ACTIVE
    _settle(sp, login, ticket, success=usable)
    now = ports.clock.now()
    if not usable or member is None:
        raise _refuse(
            sp,
            "staff.sign_in_failed",
            actor=member.actor if member else "staff:?",
            login=login,
            member=member,
            source=source,
            action="staff.sign_in",
            at=now,
        )
    token = ports.randomness.token()
    with ports.uow() as uow:
        session = uow.staff_sessions.create(
            token_hash(token), member.id, Stage.PASSWORD, source=source, now=now
        )
        _trail(uow, sp, member.actor, now).record(
            "staff.sign_in",
            None,
            {"step": "password"},
            institution=_home(member),
            identifier=lockout_key(login),
            source=source,
        )
        uow.commit()
    return StaffOpened(token, session, member)


def _session_and_member(
    uow: UnitOfWork, token: str | None, now: datetime
) -> tuple[StaffSession, StoredStaff]:
    if not token:
        raise Refused.of("staff.session_missing")
    session = uow.staff_sessions.find(token_hash(token))
    if session is None:
        raise Refused.of("staff.session_ended")
    problem = session.problem(now)
    if problem:
        raise Refused.of(problem)
    stored = uow.staff.get(session.staff_id)
    if stored is None or stored.member.status is not StaffStatus.ACTIVE:
        raise Refused.of("staff.session_ended")
    return session, stored


def webauthn_options(sp: StaffPorts, token: str | None) -> str:
    """Options for `navigator.credentials.get`, for the second step or a re-check; the
    challenge is kept with the session."""
    now = sp.ports.clock.now()
    with sp.ports.uow() as uow:
        session, stored = _session_and_member(uow, token, now)
        keys = uow.staff.keys(stored.member.id)
        if not keys:
            raise Refused.of("staff.webauthn_none")
        options, challenge = sp.factors.authentication_options([k.credential_id for k in keys])
        uow.staff_sessions.set_challenge(session.id, challenge)
        uow.commit()
    return options


def _verify_factor(
    sp: StaffPorts,
    session: StaffSession,
    stored: StoredStaff,
    *,
    code: str | None,
    webauthn: str | None,
    now: datetime,
) -> tuple[str, Violation | None]:
    """Check the second factor; the factor's name and what was wrong, if anything. A
    used TOTP step and a WebAuthn counter are stored as the check passes."""
    member = stored.member
    with sp.ports.uow() as uow:
        if webauthn:
            challenge = uow.staff_sessions.challenge(session.id)
            uow.staff_sessions.set_challenge(session.id, None)  # one assertion per challenge
            if challenge is None:
                uow.commit()
                return "webauthn", Violation("staff.webauthn_invalid")
            try:
                wanted = sp.factors.credential_id(webauthn)
                key = next(
                    (k for k in uow.staff.keys(member.id) if k.credential_id == wanted), None
                )
                if key is None:
                    raise Refused.of("staff.webauthn_invalid")
                count = sp.factors.verify_authentication(webauthn, challenge, key)
            except Refused as refused:
                uow.commit()
                return "webauthn", refused.violations[0]
            if not uow.staff.use_key(key.id, key.sign_count, count, now):
                uow.commit()
                return "webauthn", Violation("staff.webauthn_replayed")
            uow.commit()
            return "webauthn", None
        if stored.totp_secret is None:
            return "totp", Violation("staff.totp_invalid", field="code")
        step = sp.factors.totp_step(stored.totp_secret, code or "", now)
        problem = totp_step_usable(step, stored.totp_last_step)
        if problem is None and step is not None and not uow.staff.use_totp_step(member.id, step):
            problem = Violation("staff.totp_replayed")
        uow.commit()
        return "totp", problem.on("code") if problem else None


def _second_factor(
    sp: StaffPorts,
    token: str | None,
    *,
    code: str | None,
    webauthn: str | None,
    source: str,
    stage: Stage,
    action: str,
) -> tuple[StaffSession, StaffMember, str]:
    now = sp.ports.clock.now()
    with sp.ports.uow() as uow:
        session, stored = _session_and_member(uow, token, now)
    if session.stage is not stage:
        raise Refused.of("staff.session_ended")
    member = stored.member
    ticket = _admit(sp, member.login, member, source, action)
    factor, problem = _verify_factor(sp, session, stored, code=code, webauthn=webauthn, now=now)
    _settle(sp, member.login, ticket, success=problem is None)
    if problem is not None:
        with sp.ports.uow() as uow:
            _trail(uow, sp, member.actor, now).record(
                action,
                None,
                {"factor": factor, "reason": problem.code},
                outcome=problem.code,
                institution=_home(member),
                identifier=member.lockout_key,
                source=source,
            )
            uow.commit()
        raise Refused(problem)
    return session, member, factor


def sign_in_second_factor(
    sp: StaffPorts,
    token: str | None,
    *,
    code: str | None = None,
    webauthn: str | None = None,
    source: str,
) -> StaffOpened:
    """The second step: a TOTP code or a WebAuthn assertion. The password step's
    session ends and the console session begins under a new token."""
    session, member, factor = _second_factor(
        sp,
        token,
        code=code,
        webauthn=webauthn,
        source=source,
        stage=Stage.PASSWORD,
        action="staff.second_factor",
    )
    now = sp.ports.clock.now()
    new_token = sp.ports.randomness.token()
    with sp.ports.uow() as uow:
        uow.staff_sessions.revoke(session.id, now)
        opened = uow.staff_sessions.create(
            token_hash(new_token), member.id, Stage.FULL, source=source, now=now
        )
        _trail(uow, sp, member.actor, now).record(
            "staff.second_factor",
            None,
            {"factor": factor},
            institution=_home(member),
            identifier=member.lockout_key,
            source=source,
        )
        uow.commit()
    return StaffOpened(new_token, opened, member)


def recheck(
    sp: StaffPorts,
    token: str | None,
    *,
    code: str | None = None,
    webauthn: str | None = None,
    source: str,
) -> None:
    """The second factor again, before a credential reset or a change of role."""
    session, member, factor = _second_factor(
        sp,
        token,
        code=code,
        webauthn=webauthn,
        source=source,
        stage=Stage.FULL,
        action="staff.recheck",
    )
    now = sp.ports.clock.now()
    with sp.ports.uow() as uow:
        uow.staff_sessions.verified(session.id, now)
        _trail(uow, sp, member.actor, now).record(
            "staff.recheck", None, {"factor": factor}, institution=_home(member), source=source
        )
        uow.commit()


@dataclass(frozen=True)
class Desk:
    """A signed-in staff member at the console."""

    session: StaffSession
    member: StaffMember
    has_keys: bool


def current_staff(sp: StaffPorts, token: str | None, *, stage: Stage = Stage.FULL) -> Desk:
    """The console session behind a token (of `stage`), or a refusal; a use counts
    for the idle timeout."""
    now = sp.ports.clock.now()
    with sp.ports.uow() as uow:
        session, stored = _session_and_member(uow, token, now)
        if session.stage is not stage:
            raise Refused.of("staff.session_missing")
        if stage is Stage.FULL:
            uow.staff_sessions.touch(session.id, now)
        has_keys = bool(uow.staff.keys(stored.member.id))
        uow.commit()
    return Desk(session, stored.member, has_keys)


def sign_out(sp: StaffPorts, token: str | None) -> None:
    if not token:
        return
    now = sp.ports.clock.now()
    with sp.ports.uow() as uow:
        session = uow.staff_sessions.find(token_hash(token))
        if session is not None:
            uow.staff_sessions.revoke(session.id, now)
            stored = uow.staff.get(session.staff_id)
            if stored is not None:
                _trail(uow, sp, stored.member.actor, now).record(
                    "staff.sign_out", None, institution=_home(stored.member)
                )
        uow.commit()


def staff_member(sp: StaffPorts, login: str) -> StaffMember:
    with sp.ports.read() as uow:
        return _require_staff(uow, login).member


# --- second factors on the member's own page -------------------------------------------

TOTP_OFFER_SALT = "staff-totp-offer"


@dataclass(frozen=True)
class Factors:
    """The member's second factors, and what the page offers to add: a new TOTP key
    (sealed to this session, as the form carries it back) and a security key's
    registration options (whose challenge the session keeps)."""

    has_totp: bool
    keys: tuple[WebAuthnKey, ...]
    totp_secret: str
    totp_seal: str
    qr_svg: str
    webauthn_options: str


def _seal(sp: StaffPorts, session: StaffSession, secret: str) -> str:
    return sp.ports.hasher.keyed(f"{session.id}:{secret}", salt=TOTP_OFFER_SALT)


def my_factors(sp: StaffPorts, desk: Desk) -> Factors:
    member = desk.member
    secret = sp.factors.new_totp_secret()
    with sp.ports.uow() as uow:
        stored = uow.staff.get(member.id)
        keys = uow.staff.keys(member.id)
        options, challenge = sp.factors.registration_options(
            member.login.encode("utf-8"), member.login, member.name, [k.credential_id for k in keys]
        )
        uow.staff_sessions.set_challenge(desk.session.id, challenge)
        uow.commit()
    uri = sp.factors.totp_uri(secret, member.login)
    return Factors(
        has_totp=bool(stored and stored.totp_secret),
        keys=tuple(keys),
        totp_secret=secret,
        totp_seal=_seal(sp, desk.session, secret),
        qr_svg=sp.factors.qr_svg(uri),
        webauthn_options=options,
    )


def _fresh(sp: StaffPorts, desk: Desk) -> datetime:
    """Changing one's second factors needs one of them given in the last minutes."""
    now = sp.ports.clock.now()
    if not desk.session.recently_verified(now):
        raise Refused.of("staff.recheck_needed")
    return now


def add_totp(sp: StaffPorts, desk: Desk, *, secret: str, seal: str, code: str, source: str) -> None:
    """Set up an authenticator app (in place of the one set up before, if any): the
    key offered on the page, proved by a code of it."""
    now = _fresh(sp, desk)
    member = desk.member
    if not secret or not hmac.compare_digest(seal, _seal(sp, desk.session, secret)):
        raise Refused.of("staff.factor_offer_stale")
    step = sp.factors.totp_step(secret, code, now)
    if step is None:
        raise Refused(Violation("staff.totp_invalid", field="new_code"))
    with sp.ports.uow() as uow:
        stored = uow.staff.get(member.id)
        replaced = bool(stored and stored.totp_secret)
        uow.staff.set_totp(member.id, secret, now)
        uow.staff.use_totp_step(member.id, step)
        _trail(uow, sp, member.actor, now).record(
            "staff.factor_add",
            None,
            {"factor": "totp", "replaced": "yes" if replaced else "no"},
            institution=_home(member),
            source=source,
        )
        uow.commit()


def add_security_key(sp: StaffPorts, desk: Desk, *, webauthn: str, source: str) -> None:
    """Register another security key, answering the challenge the page offered."""
    now = _fresh(sp, desk)
    member = desk.member
    with sp.ports.uow() as uow:
        challenge = uow.staff_sessions.challenge(desk.session.id)
        uow.staff_sessions.set_challenge(desk.session.id, None)
        uow.commit()
    if challenge is None:
        raise Refused.of("staff.factor_offer_stale")
    key = sp.factors.verify_registration(webauthn, challenge)
    with sp.ports.uow() as uow:
        uow.staff.add_key(member.id, key.credential_id, key.public_key, key.sign_count, now)
        _trail(uow, sp, member.actor, now).record(
            "staff.factor_add",
            None,
            {"factor": "webauthn"},
            institution=_home(member),
            source=source,
        )
        uow.commit()


def remove_factor(sp: StaffPorts, desk: Desk, factor: str, *, source: str) -> None:
    """Remove the authenticator app (`totp`) or a security key (its number), as long
    as another second factor remains."""
    now = _fresh(sp, desk)
    member = desk.member
    with sp.ports.uow() as uow:
        uow.staff.lock(member.id)  # two removals at once must not leave none
        stored = uow.staff.get(member.id)
        keys = uow.staff.keys(member.id)
        has_totp = bool(stored and stored.totp_secret)
        if factor == "totp":
            if not has_totp:
                raise NotFound.of("staff.factor_unknown")
        elif not factor.isdigit() or int(factor) not in {k.id for k in keys}:
            raise NotFound.of("staff.factor_unknown")
        if int(has_totp) + len(keys) <= 1:
            raise Refused.of("staff.last_factor")
        if factor == "totp":
            uow.staff.clear_totp(member.id, now)
        else:
            uow.staff.remove_key(member.id, int(factor))
        _trail(uow, sp, member.actor, now).record(
            "staff.factor_remove",
            None,
            {"factor": "totp" if factor == "totp" else "webauthn"},
            institution=_home(member),
            source=source,
        )
        uow.commit()

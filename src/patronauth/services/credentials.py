"""Changing, resetting and setting up secrets (R5-R7, R13, R14, R18, R23, R24, R27, S5, S6)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from patronauth.domain.credentials import (
    Channel,
    CredentialEvent,
    CredentialKind,
    CredentialState,
    Outcome,
    transition,
)
from patronauth.domain.defaults import as_default
from patronauth.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PolicyRefused,
    Refused,
    Violation,
)
from patronauth.domain.patrons import Credential, Identifier, Patron
from patronauth.domain.policies import (
    Charset,
    ContextKind,
    CredentialPolicy,
    HiddenWord,
    SecretContext,
    check,
    normalise_secret,
)
from patronauth.domain.profile import CredentialSettings, Profile
from patronauth.domain.sessions import Session, may_reach
from patronauth.services import change_codes
from patronauth.services.audit import Trail, given_reason
from patronauth.services.authenticate import Attempt, AuthResult, verify_attempt
from patronauth.services.directory import refuse_local_change
from patronauth.services.interfaces import (
    NewCredential,
    Notice,
    NoticeKind,
    Ports,
    SecretHasher,
    UnitOfWork,
)
from patronauth.services.lookup import Found, current_card, find_patron, require_patron
from patronauth.services.sessions import (
    AfterChange,
    Opened,
    after_change,
    change_sessions,
    end_sessions,
    ended_elsewhere,
)

log = logging.getLogger(__name__)

_VERIFIED = {Outcome.OK, Outcome.MUST_CHANGE, Outcome.CHANGE_REQUIRED}


class AttemptRefused(Refused):
    """The current secret did not sign in; `result` says why (invalid, blocked, ...)."""

    def __init__(self, result: AuthResult) -> None:
        params: dict[str, str | int] = {}
        if result.retry_after:
            params["seconds"] = result.retry_after
        super().__init__(Violation(result.outcome.reason, params))
        self.result = result


@dataclass(frozen=True)
class ChangeRequest:
    identifier: str | None  # None for a signed-in patron's change: their current card
    current: str
    new: str
    confirm: str
    channel: Channel
    kind: CredentialKind | None = None
    source: str = ""
    institution: str | None = None
    code: str | None = None  # the e-mailed code confirming a first change of a default


@dataclass(frozen=True)
class Changed:
    outcome: Outcome  # what the current secret had (a must-change sign-in opens the change)
    opened: Opened | None = None  # a web page's new session, when asked to `rotate`


def secret_context(
    hasher: SecretHasher, patron: Patron, identifiers: list[Identifier]
) -> SecretContext:
    """S6: the patron's own data a secret must not contain (digest-only data included)."""
    words = {ContextKind.BARCODE: [i.value for i in identifiers]}
    if patron.name:
        words[ContextKind.NAME] = patron.name.replace(",", " ").split()
    hidden = {}
    if patron.phone_digest and patron.phone_masked:
        phone_digest = patron.phone_digest
        hidden[ContextKind.PHONE] = HiddenWord(
            len(patron.phone_masked), lambda s: hasher.keyed_matches(phone_digest, s)
        )
    if patron.id_digest and patron.id_masked:
        id_digest = patron.id_digest
        hidden[ContextKind.ID_NUMBER] = HiddenWord(
            len(patron.id_masked), lambda s: hasher.keyed_matches(id_digest, s.upper())
        )
    return SecretContext(words=words, hidden=hidden)


def _settings(found: Found, kind: CredentialKind) -> CredentialSettings:
    return found.profile.credential(found.patron.category, kind)


def _kind(profile: Profile, kind: CredentialKind | None) -> CredentialKind:
    if kind is not None:
        if kind not in profile.kinds:
            raise Refused.of("credential.kind_not_used", kind=kind.value, institution=profile.id)
        return kind
    if len(profile.kinds) > 1:
        raise Refused.of("credential.kind_required", kinds=", ".join(profile.kinds))
    return profile.kinds[0]


def checked_new_secret(
    ports: Ports,
    uow: UnitOfWork,
    found: Found,
    kind: CredentialKind,
    new: str,
    confirm: str,
    *,
    current: str | None,
    default_digest: str | None,
) -> tuple[str, CredentialPolicy]:
    new, confirm = normalise_secret(new), normalise_secret(confirm)
    settings = _settings(found, kind)
    policy = settings.policy_on(found.profile.day_of(ports.clock.now()))
    context = secret_context(ports.hasher, found.patron, uow.patrons.identifiers(found.patron.id))
    violations = check(new, policy, context=context, blocklists=ports.blocklists)
    if not violations:
        current = normalise_secret(current) if current is not None else None
        if current is not None and _unchanged(ports, new, current, default_digest):
            violations.append(Violation(policy.code("unchanged")))
        elif default_digest and ports.hasher.keyed_matches(default_digest, as_default(new)):
            # A default's letters sign in in either case, so `ab9876` is still `AB9876`.
            violations.append(Violation(policy.code("same_as_default")))
    # Every problem at once: the new secret's, then its confirmation's.
    mismatch = (
        [Violation("secret.confirmation_mismatch", field="confirm")] if new != confirm else []
    )
    if violations:
        raise PolicyRefused(*(v.on("new") for v in violations), *mismatch)
    if mismatch:
        raise Refused(*mismatch)
    return new, policy


def _unchanged(ports: Ports, new: str, current: str, default_digest: str | None) -> bool:
    """The same secret, or the current default with only the case of its letters changed."""
    if new == current:
        return True
    return bool(
        default_digest
        and as_default(new) == as_default(current)
        and ports.hasher.keyed_matches(default_digest, as_default(current))
    )


def change_secret(
    ports: Ports, request: ChangeRequest, *, session: Session | None = None, rotate: bool = False
) -> Changed:
    """The patron's own change, the whole command (R6, R13, R18, S5, S7, S8): the
    current secret, the policy, the new secret stored, every other session of the
    patron ended on every store and node, the patron notified.

    The current secret is an attempt like any other: it is counted in the lockout.
    A signed-in patron's change names their `session` (and no identifier: their
    current card is used); a must-change session may change only the credential it
    was opened for. That session reaches everything afterwards: web pages `rotate`
    to a new session (`Changed.opened`), the app keeps its token.

    A directory category's PIN is refused before it is tried: it is changed at the
    university, and nothing is counted here (R20).
    """
    identifier, institution = request.identifier, request.institution
    if session is not None:
        identifier, institution = _signed_in_card(ports, session, request.kind)
    if identifier is None:
        raise InvalidInput.of("identifier.empty")
    try:
        with ports.read() as uow:
            named = find_patron(uow, ports.profiles, identifier, institution=institution)
    except Refused:
        named = None  # the attempt below refuses it as it refuses every other attempt
    if named is not None:
        refuse_local_change(named)
    verified = verify_attempt(
        ports,
        Attempt(
            identifier=identifier,
            secret=request.current,
            channel=request.channel,
            credential=request.kind,
            source=request.source,
            institution=institution,
            purpose="credential.verify",
        ),
    )
    if verified.result.outcome not in _VERIFIED or not verified.found or not verified.credential:
        raise AttemptRefused(verified.result)
    found, credential = verified.found, verified.credential
    if session is not None and found.patron.id != session.patron_id:
        raise AttemptRefused(AuthResult(Outcome.INVALID, kind=request.kind))
    with ports.uow() as uow:
        new, policy = checked_new_secret(
            ports,
            uow,
            found,
            credential.kind,
            request.new,
            request.confirm,
            current=request.current,
            default_digest=credential.default_digest,
        )
    if change_codes.needed(found, credential):
        change_codes.confirm(ports, found, credential, request.code, notify)
    after = AfterChange(session, rotate, request.source)
    now, opened = _store_chosen(
        ports, found, credential, new, policy, after, actor="patron", channel=request.channel
    )
    opened = after_change(ports, found.patron.id, credential.kind, after, opened, now)
    notify(ports, found.patron, NoticeKind.CREDENTIAL_CHANGED, credential.kind)
    return Changed(verified.result.outcome, opened)


def _signed_in_card(ports: Ports, session: Session, kind: CredentialKind | None) -> tuple[str, str]:
    """The current card of a signed-in patron, and their institution."""
    if kind is None or not may_reach(session, change_of=kind):
        raise Refused.of("session.must_change")
    with ports.read() as uow:
        patron = uow.patrons.get(session.patron_id)
        if patron is None:
            raise NotFound.of("patron.not_found")
        if kind not in ports.profiles.get(patron.institution).kinds:
            # Refused here: as an attempt it would count a failure against the card.
            raise NotFound.of("credential.kind_not_used", kind=kind.value)
        card = current_card(uow, patron.id)
    if card is None:
        raise NotFound.of("patron.not_found")
    return card.value, patron.institution


def _store_chosen(
    ports: Ports,
    found: Found,
    credential: Credential,
    new: str,
    policy: CredentialPolicy,
    after: AfterChange,
    *,
    actor: str,
    channel: Channel,
) -> tuple[datetime, Opened | None]:
    """The new secret, the end of the patron's other sessions in the database and the
    audit record: one transaction, so that no change is committed with them open."""
    secret_hash = ports.hasher.hash(new)
    now = ports.clock.now()
    with ports.uow() as uow:
        stored = uow.credentials.replace_secret(
            credential,
            secret_hash=secret_hash,
            state=transition(credential.state, CredentialEvent.CHOOSE),
            policy_from=policy.effective_from,
            set_at=now,
        )
        if not stored:
            raise Conflict.of("credential.changed_concurrently")
        uow.temporaries.void(credential.patron_id, credential.kind, now)
        opened = change_sessions(ports, uow, found.patron.id, credential.kind, after, now)
        _audit(ports, uow, now, "credential.change", found, credential.kind, actor, channel)
        uow.commit()
    return now, opened


@dataclass(frozen=True)
class ResetResult:
    kind: CredentialKind
    state: CredentialState
    temporary: str | None = None  # shown once to staff to hand over at the counter
    expires_at: datetime | None = None


def reset_credential(
    ports: Ports,
    identifier: str,
    kind: CredentialKind | None,
    *,
    staff: str,
    institution: str | None = None,
    reason: str | None = None,
) -> ResetResult:
    """Staff reset (R14, R24, R27): back to the default, else a temporary secret.

    Either way a suspension ends and the failure count restarts, and every session of
    the patron ends on every store and node: whoever signed in with the old secret is
    out. Staff never see the current secret (S10); a temporary secret is random and
    expires (S5).
    """
    why = given_reason(reason)
    now = ports.clock.now()
    with ports.uow() as uow:
        found = require_patron(uow, ports.profiles, identifier, institution=institution)
        refuse_local_change(found)
        kind = _kind(found.profile, kind)
        settings = _settings(found, kind)
        credential = uow.credentials.get(found.patron.id, kind)
    to_default = credential is not None and bool(credential.default_digest)
    if not to_default:
        # Hashed before the transaction that stores it (argon2 never runs inside one).
        temporary = temporary_secret(ports, settings.policy_on(found.profile.day_of(now)))
        expires_at = now + timedelta(hours=settings.temporary_lifetime_hours)
        secret_hash = ports.hasher.hash(temporary)
    with ports.uow() as uow:
        if credential is not None and to_default:
            state = transition(credential.state, CredentialEvent.RESET_TO_DEFAULT)
            stored = uow.credentials.replace_secret(
                credential,
                secret_hash=credential.default_digest or "",
                state=state,
                policy_from=None,
                set_at=now,
            )
            result = ResetResult(kind, state)
        else:
            if credential is None:
                uow.credentials.add(
                    found.patron.id,
                    NewCredential(
                        kind=kind,
                        state=CredentialState.TEMPORARY,
                        secret_hash=secret_hash,
                        default_digest=None,
                        policy_from=None,
                        set_at=now,
                        expires_at=expires_at,
                    ),
                )
                stored = True
            else:
                stored = uow.credentials.replace_secret(
                    credential,
                    secret_hash=secret_hash,
                    state=transition(credential.state, CredentialEvent.TEMPORARY),
                    policy_from=None,
                    set_at=now,
                    expires_at=expires_at,
                )
            result = ResetResult(kind, CredentialState.TEMPORARY, temporary, expires_at)
        if not stored:
            raise Conflict.of("credential.changed_concurrently")
        uow.temporaries.void(found.patron.id, kind, now)
        _audit(
            ports,
            uow,
            now,
            "credential.reset",
            found,
            kind,
            staff,
            Channel.STAFF,
            result.state.value,
            reason=why,
        )
        end_sessions(uow, found.patron.id, now)
        uow.commit()
    ended_elsewhere(ports, found.patron.id, now)
    notify(ports, found.patron, NoticeKind.CREDENTIAL_RESET, kind)
    return result


_UNAMBIGUOUS_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnpqrstuvwxyz"
_DIGITS = "23456789"
_SPECIALS = "#%*+=?@"


def temporary_secret(ports: Ports, policy: CredentialPolicy) -> str:
    """A random secret that meets `policy` (without context words)."""
    if policy.charset is Charset.DIGITS:
        alphabet, length = "0123456789", max(policy.min_length, 8)
    else:
        alphabet = _UNAMBIGUOUS_LETTERS + _DIGITS
        if policy.charset in {Charset.ANY, Charset.ASCII}:
            alphabet += _SPECIALS
        length = max(policy.min_length, 12)
    length = min(length, policy.max_length)
    for _ in range(1000):
        candidate = ports.randomness.secret(alphabet, length)
        if not check(candidate, policy, blocklists=ports.blocklists):
            return candidate
    raise RuntimeError("no random secret satisfies the policy; check the profile")


def set_up_credential(
    ports: Ports,
    identifier: str,
    kind: CredentialKind | None,
    new: str,
    confirm: str,
    *,
    actor: str,
    channel: Channel,
    institution: str | None = None,
) -> CredentialKind:
    """R23: the first secret of a patron who has no default (the institution gives none,
    or the patron's registration data gave none)."""
    with ports.uow() as uow:
        found = require_patron(uow, ports.profiles, identifier, institution=institution)
        refuse_local_change(found)
        kind = _kind(found.profile, kind)
        existing = uow.credentials.get(found.patron.id, kind)
        if existing is not None and not _settings(found, kind).first_time_setup:
            raise Refused.of("credential.setup_not_offered")
        if existing is not None:
            raise Conflict.of("credential.already_set_up")
        new, policy = checked_new_secret(
            ports, uow, found, kind, new, confirm, current=None, default_digest=None
        )
    secret_hash = ports.hasher.hash(new)
    now = ports.clock.now()
    with ports.uow() as uow:
        if uow.credentials.get(found.patron.id, kind) is not None:
            raise Conflict.of("credential.already_set_up")
        uow.credentials.add(
            found.patron.id,
            NewCredential(
                kind=kind,
                state=CredentialState.CHOSEN,
                secret_hash=secret_hash,
                default_digest=None,
                policy_from=policy.effective_from,
                set_at=now,
            ),
        )
        _audit(ports, uow, now, "credential.setup", found, kind, actor, channel)
        uow.commit()
    notify(ports, found.patron, NoticeKind.CREDENTIAL_CHANGED, kind)
    return kind


def _audit(
    ports: Ports,
    uow: UnitOfWork,
    now: datetime,
    action: str,
    found: Found,
    kind: CredentialKind,
    actor: str,
    channel: Channel,
    outcome: str = "ok",
    *,
    reason: str | None = None,
) -> None:
    Trail(uow, ports.clock, actor, channel.value, at=now, reason=reason).record(
        action,
        found.patron,
        {"credential": kind.value},
        outcome=outcome,
        identifier=found.identifier.lookup_key,
    )


def notify(
    ports: Ports,
    patron: Patron,
    kind: NoticeKind,
    credential: CredentialKind,
    *,
    language: str | None = None,
    **params: str,
) -> None:
    """S8: the patron hears of every change (by e-mail, when registered). A failed
    delivery does not undo what happened; it is logged, without the notice's content.
    A notice asked for from a page (a reset) is in that page's `language`."""
    if not patron.email:
        return
    notice = Notice(
        kind=kind,
        to=patron.email,
        language=language or patron.language,
        institution=patron.institution,
        params={"credential": credential.value, **params},
    )
    try:
        ports.notifier.notify(notice)
    except Exception:
        log.exception("notice %s to patron %s not delivered", kind.value, patron.id)

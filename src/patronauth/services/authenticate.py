"""Authenticate: one attempt on any channel, through one lockout (S3, S4, S5).

Load, decide, store: a blocked identifier is refused first, before any patron is
read: the attempt counter admits the attempt or refuses it as blocked before the
lookup wherever the lockout rule is known without the card (an institution named, or
one rule for every institution served), else the block is read first and the
admission follows the lookup. No hash is computed before the admission (so a blocked
identifier never reaches the hashing pool); the hash runs outside every transaction;
the outcome is then recorded in one transaction. A full hashing pool raises `Busy`,
which counts as no attempt at all; an attempt refused before its secret is checked
gives its place in the window back.

Where a category's secrets live in the campus directory (R20), the verify step asks
the directory instead of the hasher (`services.directory`), after the same lockout;
a directory that does not answer raises `Unavailable` (a `Busy`): no attempt counted.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from patronauth.domain.credentials import (
    Channel,
    CredentialEvent,
    CredentialKind,
    CredentialState,
    Outcome,
    after_verified,
    suspends,
    transition,
)
from patronauth.domain.defaults import as_default
from patronauth.domain.errors import Busy, InvalidInput
from patronauth.domain.identifiers import lockout_key
from patronauth.domain.lockout import Admitted, Blocked, LockoutRule, blocked_seconds
from patronauth.domain.patrons import Credential, PatronStatus, TemporarySecret
from patronauth.domain.policies import HARD_MAX_LENGTH, normalise_secret
from patronauth.domain.profile import Profile, Text, change_due
from patronauth.domain.text import has_control_characters
from patronauth.services import audit_keys
from patronauth.services.admission import admit
from patronauth.services.directory import DirectoryRoute, check_in_directory, directory_route
from patronauth.services.interfaces import AuditEvent, CardHolder, Ports, UnitOfWork
from patronauth.services.lookup import Found, find_card_holder


@dataclass(frozen=True)
class Attempt:
    identifier: str
    secret: str
    channel: Channel
    credential: CredentialKind | None = None
    source: str = ""
    institution: str | None = None
    purpose: str = "sign_in"  # the audit action: a sign-in, or the check of a change
    # `refuse_if_blocked` was asked for this very attempt just before: the block is not
    # read again (the counter's admission still refuses a block since).
    block_checked: bool = False


@dataclass(frozen=True)
class AuthResult:
    outcome: Outcome
    retry_after: int = 0
    patron_id: int | None = None
    institution: str | None = None
    kind: CredentialKind | None = None
    language: str = "en"
    contact: Text = field(default_factory=dict)

    @property
    def signed_in(self) -> bool:
        return self.outcome.signed_in


@dataclass(frozen=True)
class _Verified:
    """The inner result, with the credential for use cases that go on to change it, and
    the session opened in the outcome's transaction (`open_in`), if any."""

    result: AuthResult
    found: Found | None = None
    credential: Credential | None = None
    opened: object = None


# Opens a session inside the unit of work that records a successful outcome.
OpenIn = Callable[[UnitOfWork, AuthResult], object]


def clean_secret(raw: str) -> str:
    """S2: NFC, no control characters, a bounded length, before any hashing."""
    if len(raw) > HARD_MAX_LENGTH * 4:
        raise InvalidInput.of("secret.too_long", max=HARD_MAX_LENGTH)
    secret = normalise_secret(raw)
    if not secret:
        raise InvalidInput.of("secret.empty")
    if len(secret) > HARD_MAX_LENGTH:
        raise InvalidInput.of("secret.too_long", max=HARD_MAX_LENGTH)
    if has_control_characters(secret):
        raise InvalidInput.of("secret.control_character")
    return secret


def authenticate(ports: Ports, attempt: Attempt) -> AuthResult:
    return verify_attempt(ports, attempt).result


def verify_attempt(ports: Ports, attempt: Attempt, *, open_in: OpenIn | None = None) -> _Verified:
    secret = clean_secret(attempt.secret)
    key = lockout_key(attempt.identifier)
    event = _Event(ports, attempt, key)
    # A credential or channel the profile does not give this sign-in is a request error:
    # refused before anything is counted, and without a lookup where the profile is known.
    refusal = _channel_refusal(_named_profile(ports, attempt), attempt)
    if refusal is not None:
        event.refused(refusal)
        raise refusal

    wait = ports.throttle.hit("attempt", attempt.source or attempt.channel.value)
    if wait:
        result = AuthResult(Outcome.THROTTLED, retry_after=wait, kind=attempt.credential)
        event.record(result, kind=attempt.credential)
        return _Verified(result)

    # Where the lockout rule is known before the card is read, the counter's admission
    # comes first and answers a block itself: one round trip fewer than a read of the
    # block and an admission after the lookup (P1). Elsewhere the block is read first.
    held: tuple[Admitted, LockoutRule] | None = None  # the admission, and its rule
    rule = _rule_before_lookup(ports, attempt)
    if rule is not None:
        admission = admit(ports, key, rule)
        if isinstance(admission, Blocked):
            return _Verified(_blocked(ports, attempt, event, admission))
        held = (admission, rule)
    elif not attempt.block_checked:
        blocked = _refuse_if_blocked(ports, attempt, key, event)
        if blocked is not None:
            return _Verified(blocked)

    checked = False  # a secret was checked: the attempt counts, whatever happens next
    success = False
    try:
        found, holder, kind, credential = _read_card(ports, attempt, event)
        route = directory_route(ports, found, attempt.institution)
        if held is None:
            rule = _lockout_rule(ports, found, attempt)
            admission = admit(ports, key, rule)
            if isinstance(admission, Blocked):
                # The same answer whether or not a patron has the identifier (S3).
                result = AuthResult(
                    Outcome.BLOCKED, retry_after=admission.retry_after, kind=attempt.credential
                )
                event.record(result, found, kind=kind)
                return _Verified(result, found, credential)
            held = (admission, rule)

        checked = True
        if route is not None:
            verified = _verify_in_directory(ports, attempt, secret, route, kind, event)
        else:
            forced = holder is None or holder.forced_changes > 0
            verified = _verify(
                ports, attempt, secret, found, kind, credential, event, open_in, forced=forced
            )
        success = verified.result.outcome not in {Outcome.INVALID, Outcome.SUSPENDED}
        return verified
    except Busy:
        # No secret was checked: the attempt gives its place in the window back.
        checked = False
        raise
    finally:
        if held is not None:
            # Until a secret is checked (a refused request, a failed read, a full hashing
            # pool) the attempt only gives its place back.
            admitted, counted_by = held
            now = ports.clock.now().timestamp()
            ports.counter.settle(
                key, admitted.ticket, success=success or not checked, now=now, rule=counted_by
            )


def _read_card(
    ports: Ports, attempt: Attempt, event: _Event
) -> tuple[Found | None, CardHolder | None, CredentialKind | None, Credential | None]:
    """The card's patron and the credential the attempt is checked against, in one
    read; a credential or channel the card's profile does not give raises (audited)."""
    with ports.read() as uow:
        match = find_card_holder(
            uow, ports.profiles, attempt.identifier, institution=attempt.institution
        )
    found, holder = match if match else (None, None)
    refusal = _channel_refusal(found.profile if found else None, attempt)
    if refusal is not None:
        event.refused(refusal, found)
        raise refusal
    kind, credential = _credential_for(found, holder, attempt)
    return found, holder, kind, credential


def _rule_before_lookup(ports: Ports, attempt: Attempt) -> LockoutRule | None:
    """The lockout rule an attempt is counted by, when it is known before the card is
    read: its named institution's, or the one every institution served shares (a card
    no patron holds is then counted by it too). None when the card's institution
    decides."""
    if attempt.institution is not None:
        return ports.profiles.get(attempt.institution).lockout
    rules = {profile.lockout for profile in ports.profiles.all().values()}
    return rules.pop() if len(rules) == 1 else None


def _blocked(ports: Ports, attempt: Attempt, event: _Event, admission: Blocked) -> AuthResult:
    """The refusal of an attempt the admission found blocked before any read: audited as
    one record per block, with its count, like `_refuse_if_blocked`'s (P2)."""
    result = AuthResult(Outcome.BLOCKED, retry_after=admission.retry_after, kind=attempt.credential)
    event.blocked(result, until=ports.clock.now().timestamp() + admission.retry_after)
    return result


def refuse_if_blocked(ports: Ports, attempt: Attempt) -> AuthResult | None:
    """P2: the refusal of an attempt on a blocked identifier, or None when it is not
    blocked. Asked before anything else is read (`signin.sign_in_blocked_first`, the
    API's sign-in); the attempt's secret must be clean and its channel's (else a
    request error is raised, as `sign_in` would)."""
    clean_secret(attempt.secret)
    key = lockout_key(attempt.identifier)
    event = _Event(ports, attempt, key)
    refusal = _channel_refusal(_named_profile(ports, attempt), attempt)
    if refusal is not None:
        raise refusal
    return _refuse_if_blocked(ports, attempt, key, event)


def _refuse_if_blocked(
    ports: Ports, attempt: Attempt, key: str, event: _Event
) -> AuthResult | None:
    now = ports.clock.now().timestamp()
    blocked = ports.counter.blocked_for(key, now)
    if not blocked:
        return None
    # A blocked identifier is refused before anything is read (P2): the answer and its
    # cost are the same whether or not a patron has it (S3). Its refusals are audited
    # as one record per block, with their count.
    result = AuthResult(Outcome.BLOCKED, retry_after=blocked, kind=attempt.credential)
    event.blocked(result, until=now + blocked)
    return result


# How long this process answers a blocked identifier from memory after the attempt
# counter said it is blocked (P2: a flood of attempts on blocked cards costs each one
# no read of the counter). A block staff lift on another node may still be answered
# for that long here; one lifted on this node ends at once (`RefusalTally.unblocked`).
KNOWN_BLOCK_SECONDS = 1.0


def known_refusal(ports: Ports, attempt: Attempt) -> AuthResult | None:
    """P2: the refusal of an attempt on an identifier this process saw blocked a moment
    ago, answered from memory: no read, no write, nothing that waits. None means ask
    `refuse_if_blocked` (not known, not well-formed, or its record's count is due)."""
    try:
        clean_secret(attempt.secret)
        key = lockout_key(attempt.identifier)
    except InvalidInput:
        return None
    if _channel_refusal(_named_profile(ports, attempt), attempt) is not None:
        return None
    now = ports.clock.now().timestamp()
    channel = attempt.channel.value
    until = ports.refusals.known(key, channel, now, fresh=KNOWN_BLOCK_SECONDS)
    if until is None:
        return None
    seconds = blocked_seconds(until - now)
    result = AuthResult(Outcome.BLOCKED, retry_after=seconds, kind=attempt.credential)
    ports.telemetry.attempt(channel, result.outcome.value)
    return result


def flush_refusal_counts(ports: Ports) -> int:
    """Write the counts of blocked refusals not written yet (at shutdown, or on a
    timer); how many records were updated."""
    owed = ports.refusals.due()
    if owed:
        with ports.uow() as uow:
            for audit_id, count in owed:
                uow.audit.set_count(audit_id, count)
            uow.commit()
    return len(owed)


def _named_profile(ports: Ports, attempt: Attempt) -> Profile | None:
    """The profile an attempt is for before any lookup: the institution it names, or
    the only one served."""
    if attempt.institution is not None:
        return ports.profiles.get(attempt.institution)
    served = ports.profiles.all()
    return next(iter(served.values())) if len(served) == 1 else None


def _channel_refusal(profile: Profile | None, attempt: Attempt) -> InvalidInput | None:
    """R1: a sign-in takes the credential its channel is mapped to (a change may name any
    credential the profile uses: HKPL changes its PIN on the web)."""
    if profile is None or attempt.purpose != "sign_in":
        return None
    try:
        profile.sign_in_kind(attempt.channel, attempt.credential)
    except InvalidInput as refusal:
        return refusal
    return None


def _lockout_rule(ports: Ports, found: Found | None, attempt: Attempt) -> LockoutRule:
    if found is not None:
        return found.profile.lockout
    if attempt.institution is not None:
        return ports.profiles.get(attempt.institution).lockout
    return LockoutRule()


def _credential_for(
    found: Found | None, holder: CardHolder | None, attempt: Attempt
) -> tuple[CredentialKind | None, Credential | None]:
    """The credential this attempt is checked against, among those the patron holds."""
    if found is None or holder is None:
        return attempt.credential, None
    profile = found.profile
    kind = attempt.credential or profile.kind_for(attempt.channel)
    if kind not in profile.kinds:
        return kind, None
    return kind, next((c for c in holder.credentials if c.kind is kind), None)


def _for_patron(result: AuthResult, found: Found) -> AuthResult:
    return AuthResult(
        result.outcome,
        retry_after=result.retry_after,
        patron_id=found.patron.id,
        institution=found.patron.institution,
        kind=result.kind,
        language=found.patron.language,
        contact=found.profile.contact if result.outcome in _WITH_CONTACT else {},
    )


_WITH_CONTACT = {Outcome.PENDING_REGISTRATION, Outcome.BARRED, Outcome.SUSPENDED}


def _verify(
    ports: Ports,
    attempt: Attempt,
    secret: str,
    found: Found | None,
    kind: CredentialKind | None,
    credential: Credential | None,
    event: _Event,
    open_in: OpenIn | None = None,
    *,
    forced: bool = True,
) -> _Verified:
    """`forced`: whether the institution may have forced changes on record (read after
    the hash); False when the card's read found none."""
    if found is None or credential is None or kind is None:
        ports.hasher.dummy_verify(secret)
        result = _invalid(attempt)
        event.record(result, found, kind=kind, reason="unknown" if found is None else "not_set_up")
        return _Verified(result, found)
    typed = as_default(secret) if credential.state is CredentialState.DEFAULT else secret
    verification = ports.hasher.verify(credential.secret_hash, typed)
    # A temporary secret from a self-service reset also ends a suspension.
    temporary = None if verification.ok else _matching_temporary(ports, credential, secret)
    with ports.uow() as uow:
        if not verification.ok:
            used = _use_temporary(ports, uow, credential, temporary) if temporary else None
            if used is None:
                _record_failure(uow, found, credential)
                result = _invalid(attempt)
                event.record(result, found, kind=kind, uow=uow)
                uow.commit()
                return _Verified(result, found, credential)
            credential = used
        elif credential.state is CredentialState.SUSPENDED:
            # Said only to whoever knows the secret: a wrong one is just invalid (S4).
            result = _for_patron(AuthResult(Outcome.SUSPENDED, kind=kind), found)
            event.record(result, found, kind=kind, uow=uow)
            uow.commit()
            return _Verified(result, found, credential)
        else:
            if credential.consecutive_failures:
                uow.credentials.clear_failures(credential.id)
            if verification.rehashed:
                uow.credentials.rehash(credential, verification.rehashed)
        outcome = _after_correct_secret(
            ports, uow, found, credential, attempt.channel, forced=forced
        )
        if (
            outcome is Outcome.MUST_CHANGE
            and credential.state is CredentialState.TEMPORARY
            and attempt.purpose == "sign_in"
            and not uow.credentials.use_temporary(credential, ports.clock.now())
        ):
            # S5: a temporary secret opens one change step; the change itself may still
            # check it, but a second sign-in with it is refused.
            outcome = Outcome.TEMPORARY_EXPIRED
        result = _for_patron(AuthResult(outcome, kind=kind), found)
        event.record(result, found, kind=kind, uow=uow)
        opened = open_in(uow, result) if open_in is not None and result.signed_in else None
        uow.commit()
    return _Verified(result, found, credential, opened)


def _verify_in_directory(
    ports: Ports,
    attempt: Attempt,
    secret: str,
    route: DirectoryRoute,
    kind: CredentialKind | None,
    event: _Event,
) -> _Verified:
    """R20: the directory decides; the library record's standing applies after it."""
    check = check_in_directory(ports, route, attempt.identifier, secret)
    found = check.found
    if check.outcome is Outcome.INVALID:
        result = _invalid(attempt)
    elif found is not None:
        kind = kind or attempt.credential or found.profile.kind_for(attempt.channel)
        result = _for_patron(AuthResult(check.outcome, kind=kind), found)
    else:
        result = AuthResult(check.outcome, kind=attempt.credential, institution=check.institution)
    event.record(result, found, kind=kind, reason=check.reason)
    return _Verified(result, found)


def _matching_temporary(
    ports: Ports, credential: Credential, secret: str
) -> TemporarySecret | None:
    """S5: the unused temporary secret `secret` is, if any. Temporary secrets are kept
    as keyed digests, so this costs no argon2: every attempt runs exactly one, whatever
    the credential's state (issue 10). One kept as argon2 (made before that) is still
    checked; a full hashing pool then counts as no match, since the main hash has
    already judged the guess wrong and it must count (issue 15)."""
    with ports.read() as uow:
        active = uow.temporaries.active(credential.patron_id, credential.kind, ports.clock.now())
    for temporary in active:
        if temporary.secret_hash.startswith("hk:"):
            if ports.hasher.keyed_matches(temporary.secret_hash, secret):
                return temporary
            continue
        try:
            if ports.hasher.verify(temporary.secret_hash, secret).ok:
                return temporary
        except Busy:
            return None
    return None


def _use_temporary(
    ports: Ports, uow: UnitOfWork, credential: Credential, temporary: TemporarySecret
) -> Credential | None:
    """S5: an unused temporary secret replaces the current one when it is first used."""
    now = ports.clock.now()
    state = transition(credential.state, CredentialEvent.TEMPORARY)
    replaced = uow.credentials.replace_secret(
        credential,
        secret_hash=temporary.secret_hash,
        state=state,
        policy_from=None,
        set_at=now,
        expires_at=temporary.expires_at,
    )
    if not replaced:
        return None  # changed meanwhile: the temporary secret stays unused
    uow.temporaries.mark_used(temporary.id, now)
    uow.temporaries.void(credential.patron_id, credential.kind, now)
    return uow.credentials.get(credential.patron_id, credential.kind)


def _invalid(attempt: Attempt) -> AuthResult:
    """S4: an unknown identifier and a wrong secret give the very same answer."""
    return AuthResult(Outcome.INVALID, kind=attempt.credential)


def _record_failure(uow: UnitOfWork, found: Found, credential: Credential) -> None:
    settings = found.profile.credential(found.patron.category, credential.kind)
    count = uow.credentials.record_failure(credential.id)
    if credential.state is not CredentialState.SUSPENDED and suspends(
        count, settings.consecutive_failure_cap
    ):
        uow.credentials.set_state(
            credential.id,
            transition(credential.state, CredentialEvent.SUSPEND),
            suspended_from=credential.state,
        )


def _after_correct_secret(
    ports: Ports,
    uow: UnitOfWork,
    found: Found,
    credential: Credential,
    channel: Channel,
    *,
    forced: bool = True,
) -> Outcome:
    patron = found.patron
    now = ports.clock.now()
    if patron.status is PatronStatus.PENDING_REGISTRATION:
        return Outcome.PENDING_REGISTRATION
    if patron.status is PatronStatus.BARRED:
        return Outcome.BARRED
    if (
        credential.state is CredentialState.TEMPORARY
        and credential.expires_at is not None
        and credential.expires_at <= now
    ):
        return Outcome.TEMPORARY_EXPIRED
    settings = found.profile.credential(patron.category, credential.kind)
    recorded = uow.forced_changes.for_institution(patron.institution) if forced else []
    due = change_due(
        [*found.profile.forced_changes, *recorded],
        patron.category,
        settings,
        set_on=found.profile.day_of(credential.set_at),
        policy_from=credential.policy_from,
        today=found.profile.day_of(now),
    )
    return after_verified(
        credential.state,
        channel,
        default_accepted_on=settings.default_accepted_on,
        change_due=due,
    )


class _Event:
    """Writes the audit record of one attempt (S8): never the secret."""

    def __init__(self, ports: Ports, attempt: Attempt, key: str) -> None:
        self.ports = ports
        self.attempt = attempt
        self.key = key

    def record(
        self,
        result: AuthResult,
        found: Found | None = None,
        *,
        kind: CredentialKind | None,
        reason: str = "",
        uow: UnitOfWork | None = None,
    ) -> None:
        self.ports.telemetry.attempt(self.attempt.channel.value, result.outcome.value)
        detail = {"credential": kind.value} if kind else {}
        if reason:
            detail["reason"] = reason
        if result.retry_after:
            detail["retry_after"] = str(result.retry_after)
        event = AuditEvent(
            at=self.ports.clock.now(),
            action=self.attempt.purpose,
            outcome=result.outcome.value,
            actor="patron",
            channel=self.attempt.channel.value,
            source=self.attempt.source,
            institution=found.patron.institution if found else self.attempt.institution,
            patron_id=found.patron.id if found else None,
            identifier=audit_keys.kept(self.ports, self.key, identifies=found is not None),
            detail=detail,
        )
        self._write(event, uow)

    def blocked(self, result: AuthResult, *, until: float) -> None:
        """One record per block of the identifier on this channel, with a count."""
        self.ports.telemetry.attempt(self.attempt.channel.value, result.outcome.value)
        now = self.ports.clock.now()
        channel = self.attempt.channel.value
        count, audit_id = self.ports.refusals.add(self.key, channel, until, now.timestamp())
        if not count:
            return
        with self.ports.uow() as uow:
            if audit_id is not None:
                uow.audit.set_count(audit_id, count)
            else:
                detail = {"credential": result.kind.value} if result.kind else {}
                first = AuditEvent(
                    at=now,
                    action=self.attempt.purpose,
                    outcome=result.outcome.value,
                    actor="patron",
                    channel=channel,
                    source=self.attempt.source,
                    institution=self.attempt.institution,
                    patron_id=None,
                    identifier=audit_keys.kept(self.ports, self.key, identifies=False),
                    detail={**detail, "retry_after": str(result.retry_after)},
                )
                audit_id = uow.audit.record_counted(first)
            uow.commit()
        self.ports.refusals.recorded(self.key, channel, audit_id)

    def refused(self, refusal: InvalidInput, found: Found | None = None) -> None:
        """A request error: audited with its code, counted nowhere."""
        institution = found.patron.institution if found else self.attempt.institution
        detail = {"reason": refusal.code}
        if self.attempt.credential is not None:
            detail["credential"] = self.attempt.credential.value
        event = AuditEvent(
            at=self.ports.clock.now(),
            action=self.attempt.purpose,
            outcome="refused",
            actor="patron",
            channel=self.attempt.channel.value,
            source=self.attempt.source,
            institution=institution,
            patron_id=found.patron.id if found else None,
            identifier=self.key,
            detail=detail,
        )
        self._write(event, None)

    def _write(self, event: AuditEvent, uow: UnitOfWork | None) -> None:
        if uow is not None:
            uow.audit.record(event)
            return
        with self.ports.uow() as own:
            own.audit.record(event)
            own.commit()

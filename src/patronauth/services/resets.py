"""Forgotten secrets and first-time set-up without staff (R7, R14, R23, S4, S5).

Every request gets the same answer whatever was found: "if the details match, we have
sent an e-mail" (S4). What the e-mail holds depends on the institution's profile:

- `email_temporary` (HKPL, R7): a random temporary secret; the current one keeps
  working until the temporary one is used (S5);
- `revert_to_default` (PolyU, R14): a one-time link; following it returns the PIN to
  its default (the link keeps a stranger from resetting somebody's PIN);
- first-time set-up (HKU, R23, and every patron registered without a default): a
  one-time link to a page where the patron sets the secret, given the card number and
  the registered e-mail address. A forgotten-secret request for such a patron, who has
  nothing to reset yet, sends the same link.

Cards sharing one address get one e-mail naming each card, masked (`HK****01`), with
the secret or link of each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from patronauth.domain.credentials import (
    Channel,
    CredentialEvent,
    CredentialKind,
    CredentialState,
    transition,
)
from patronauth.domain.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PolicyRefused,
    Refused,
    Violation,
)
from patronauth.domain.identifiers import lockout_key, mask_card, normalise_email
from patronauth.domain.patrons import Patron, PatronStatus
from patronauth.domain.profile import Profile, SelfServiceReset
from patronauth.services import audit_keys
from patronauth.services.audit import Trail
from patronauth.services.credentials import checked_new_secret, notify, temporary_secret
from patronauth.services.interfaces import (
    ActionPurpose,
    Clock,
    NewCredential,
    NoticeKind,
    Ports,
    UnitOfWork,
)
from patronauth.services.lookup import Found, current_card, find_patron
from patronauth.services.sessions import end_sessions, ended_elsewhere, token_hash

LINK_LIFETIME = timedelta(hours=24)
MAX_ACCOUNTS_PER_ADDRESS = 5


@dataclass(frozen=True)
class ResetRequest:
    identifier: str | None
    email: str | None
    source: str
    institution: str | None = None
    language: str | None = None  # of the page it was asked from: the e-mail's language


def _clean_email(raw: str | None) -> str | None:
    if raw is None or not raw.strip():
        return None
    try:
        return normalise_email(raw)
    except InvalidInput:
        return None


def _accounts(uow: UnitOfWork, ports: Ports, request: ResetRequest) -> list[Found]:
    """The accounts both details point to: the identifier's patron if its registered
    address is the one given, or the patrons registered with the address."""
    email = _clean_email(request.email)
    if request.identifier and request.identifier.strip():
        try:
            found = find_patron(
                uow, ports.profiles, request.identifier, institution=request.institution
            )
        except Refused:
            return []
        if found is None or email is None or found.patron.email != email:
            return []
        return [found]
    if email is None:
        return []
    accounts = []
    for patron in uow.patrons.with_email(email, limit=MAX_ACCOUNTS_PER_ADDRESS):
        if request.institution is not None and patron.institution != request.institution:
            continue
        card = current_card(uow, patron.id)
        if card is not None:
            accounts.append(Found(patron, card, ports.profiles.get(patron.institution)))
    return accounts


def request_reset(ports: Ports, request: ResetRequest) -> None:
    """R7, R14: the answer never says whether anything was found or sent."""
    if ports.throttle.hit("reset", request.source or "-"):
        _audit(ports, "reset.request", "throttled", None, request)
        return
    now = ports.clock.now()
    with ports.uow() as uow:
        accounts = _accounts(uow, ports, request)
    if not accounts:
        _audit(ports, "reset.request", "no_match", None, request)
        return
    mails = _Mails()
    addresses: dict[str, bool] = {}  # one e-mail per address: it counts once
    for found in accounts:
        kind = found.profile.kind_for(Channel.WEB)
        settings = found.profile.credential(found.patron.category, kind)
        method = settings.self_service_reset
        if found.profile.directory_for(found.patron.category) is not None:
            # R20: the Portal PIN is reset at the university; nothing to send from here.
            _audit(ports, "reset.request", "directory_managed", found, request)
            continue
        if method is SelfServiceReset.NONE:
            _audit(ports, "reset.request", "in_person_only", found, request)
            continue
        with ports.read() as uow:
            credential = uow.credentials.get(found.patron.id, kind)
        if (
            credential is not None
            and method is SelfServiceReset.REVERT_TO_DEFAULT
            and not credential.default_digest
        ):
            # A patron registered without a default has nothing to return to: the
            # counter issues a temporary secret (R27).
            _audit(ports, "reset.request", "in_person_only", found, request)
            continue
        if _mails_limited(ports, found, addresses):
            _audit(ports, "reset.request", "mail_limited", found, request)
            continue
        if credential is None:
            # Registered without a default and nothing set up yet: a temporary secret or
            # a return to the default would have nothing to act on; a set-up link has.
            link = _new_link(ports, found, ActionPurpose.SET_UP, kind, now)
            mails.add(_SETUP_LINK, kind, _Issued(found, link, now + LINK_LIFETIME))
            _audit(ports, "reset.request", "setup_link_sent", found, request)
        elif method is SelfServiceReset.EMAIL_TEMPORARY:
            secret = temporary_secret(ports, settings.policy_on(found.profile.day_of(now)))
            expires = now + timedelta(hours=settings.temporary_lifetime_hours)
            # Random, single-use and short-lived: a keyed digest (HMAC under the pepper)
            # keeps it, so that checking it costs a sign-in no second argon2 (issue 10).
            secret_hash = ports.hasher.keyed(secret, salt=ports.randomness.secret(_SALT, 12))
            with ports.uow() as uow:
                # One live temporary secret per credential: a new one voids the old.
                uow.temporaries.void(found.patron.id, kind, now)
                uow.temporaries.add(found.patron.id, kind, secret_hash, expires)
                _record(
                    uow,
                    ports.clock,
                    "reset.request",
                    "temporary_sent",
                    found,
                    request,
                    identifier=_key(request.identifier) if request.identifier else None,
                )
                uow.commit()
            mails.add(_TEMPORARY, kind, _Issued(found, secret, expires))
        else:
            link = _new_link(ports, found, ActionPurpose.REVERT_TO_DEFAULT, kind, now)
            mails.add(_REVERT_LINK, kind, _Issued(found, link, now + LINK_LIFETIME))
            _audit(ports, "reset.request", "link_sent", found, request)
    mails.send(ports, request.language)


@dataclass(frozen=True)
class _Mailing:
    """What a reset or set-up e-mail carries for each card: `one` is the notice for a
    single card (its secret or link passed as `value`), `several` the notice for cards
    sharing one address (a line `HK****01: ...` a card)."""

    one: NoticeKind
    several: NoticeKind
    value: str


_TEMPORARY = _Mailing(NoticeKind.TEMPORARY_SECRET, NoticeKind.TEMPORARY_SECRETS, "secret")
_REVERT_LINK = _Mailing(NoticeKind.RESET_LINK, NoticeKind.RESET_LINKS, "link")
_SETUP_LINK = _Mailing(NoticeKind.SETUP_LINK, NoticeKind.SETUP_LINKS, "link")


@dataclass(frozen=True)
class _Issued:
    found: Found
    value: str  # the temporary secret, or the link
    expires: datetime


class _Mails:
    """The e-mails of one request. Cards sharing one address get one e-mail naming
    each card (masked), with a secret or link for each: one per credential, never one
    per e-mail sent, and no e-mail that leaves the reader guessing which card it is for."""

    def __init__(self) -> None:
        self._batches: dict[tuple[str, str, CredentialKind, _Mailing], list[_Issued]] = {}

    def add(self, mailing: _Mailing, kind: CredentialKind, issued: _Issued) -> None:
        patron = issued.found.patron
        address = (patron.institution, patron.email or "", kind, mailing)
        self._batches.setdefault(address, []).append(issued)

    def send(self, ports: Ports, language: str | None) -> None:
        """`language`: the page's the request came from (else each patron's own)."""
        for (_, _, kind, mailing), issued in self._batches.items():
            first = issued[0]
            if len(issued) == 1:
                notify(
                    ports,
                    first.found.patron,
                    mailing.one,
                    kind,
                    card=mask_card(first.found.identifier.value),
                    expires=_when(first.expires, first.found.profile),
                    language=language,
                    **{mailing.value: first.value},
                )
                continue
            cards = "\n".join(f"{mask_card(i.found.identifier.value)}: {i.value}" for i in issued)
            notify(
                ports,
                first.found.patron,
                mailing.several,
                kind,
                cards=cards,
                expires=_when(min(i.expires for i in issued), first.found.profile),
                language=language,
            )


def request_setup(ports: Ports, request: ResetRequest) -> None:
    """R23: a set-up link for a patron whose institution gives no default, sent only to
    the registered address and only while nothing is set up yet."""
    if ports.throttle.hit("reset", request.source or "-"):
        _audit(ports, "setup.request", "throttled", None, request)
        return
    now = ports.clock.now()
    with ports.uow() as uow:
        accounts = _accounts(uow, ports, request) if request.identifier else []
        eligible = []
        for found in accounts:
            kind = found.profile.kind_for(Channel.WEB)
            in_directory = found.profile.directory_for(found.patron.category) is not None
            # R23, and wherever the patron was registered without a default: HKPL
            # without a phone, HKCT with a passport, PolyU registered before 2013-06-01.
            if not in_directory and uow.credentials.get(found.patron.id, kind) is None:
                eligible.append((found, kind))
    if not eligible:
        _audit(ports, "setup.request", "no_match", None, request)
        return
    mails, addresses = _Mails(), dict[str, bool]()
    for found, kind in eligible:
        if _mails_limited(ports, found, addresses):
            _audit(ports, "setup.request", "mail_limited", found, request)
            continue
        link = _new_link(ports, found, ActionPurpose.SET_UP, kind, now)
        mails.add(_SETUP_LINK, kind, _Issued(found, link, now + LINK_LIFETIME))
        _audit(ports, "setup.request", "link_sent", found, request)
    mails.send(ports, request.language)


RESET_MAILS_PER_HOUR = "3 per hour"
_SALT = "abcdefghijkmnopqrstuvwxyz23456789"


def _mails_limited(ports: Ports, found: Found, addresses: dict[str, bool]) -> bool:
    """At most `RESET_MAILS_PER_HOUR` reset and set-up e-mails a card, and as many an
    address (cards sharing one address share its count): nobody can fill a mailbox,
    or pile up secrets and links, by asking again and again. `addresses` holds the
    decisions already made for this one e-mail: an address counts once for it."""
    if ports.throttle.hit_limit(RESET_MAILS_PER_HOUR, "reset_mail_card", str(found.patron.id)):
        return True
    address = (found.patron.email or "").lower()
    if address not in addresses:
        wait = ports.throttle.hit_limit(RESET_MAILS_PER_HOUR, "reset_mail_address", address)
        addresses[address] = bool(wait)
    return addresses[address]


def _new_link(
    ports: Ports, found: Found, purpose: ActionPurpose, kind: CredentialKind, now: datetime
) -> str:
    """Store a new link for the purpose; the link to e-mail (`_Mails` sends it)."""
    token = ports.randomness.token()
    with ports.uow() as uow:
        # One live link per credential and purpose: a new one voids those before it.
        uow.action_tokens.void(found.patron.id, purpose, kind, now)
        uow.action_tokens.add(
            token_hash(token),
            found.patron.id,
            purpose,
            kind,
            now=now,
            expires_at=now + LINK_LIFETIME,
        )
        uow.commit()
    page = "set-up" if purpose is ActionPurpose.SET_UP else "reset"
    return f"{ports.public_url}/{found.patron.institution}/{page}/{token}"


@dataclass(frozen=True)
class LinkTarget:
    patron: Patron
    kind: CredentialKind
    institution: str


def open_link(ports: Ports, token: str, purpose: ActionPurpose) -> LinkTarget:
    """What a one-time link is for, without using it up (the page shows a form first)."""
    with ports.read() as uow:
        found = uow.action_tokens.peek(token_hash(token), purpose, ports.clock.now())
        patron = uow.patrons.get(found.patron_id) if found else None
    if found is None or patron is None:
        raise NotFound.of("link.invalid")
    return LinkTarget(patron, found.kind, patron.institution)


def revert_to_default(ports: Ports, token: str, *, source: str) -> LinkTarget:
    """R14: following the e-mailed link returns the PIN to its default."""
    now = ports.clock.now()
    with ports.uow() as uow:
        used = uow.action_tokens.take(token_hash(token), ActionPurpose.REVERT_TO_DEFAULT, now)
        patron = uow.patrons.get(used.patron_id) if used else None
        if used is None or patron is None:
            raise NotFound.of("link.invalid")
        credential = uow.credentials.get(patron.id, used.kind)
        if credential is None or not credential.default_digest:
            raise Conflict.of("credential.no_default")
        uow.credentials.replace_secret(
            credential,
            secret_hash=credential.default_digest,
            state=transition(credential.state, CredentialEvent.RESET_TO_DEFAULT),
            policy_from=None,
            set_at=now,
        )
        uow.temporaries.void(patron.id, used.kind, now)
        _record_patron(ports, uow, now, "reset.revert_to_default", patron, used.kind, source)
        end_sessions(uow, patron.id, now)
        uow.commit()
    ended_elsewhere(ports, patron.id, now)
    notify(ports, patron, NoticeKind.CREDENTIAL_RESET, used.kind)
    return LinkTarget(patron, used.kind, patron.institution)


def _setup_target(ports: Ports, uow: UnitOfWork, target: LinkTarget) -> Found:
    card = current_card(uow, target.patron.id)
    if card is None:
        raise NotFound.of("link.invalid")
    return Found(target.patron, card, ports.profiles.get(target.institution))


def check_setup_secret(
    ports: Ports, token: str, secret: str, *, institution: str
) -> list[Violation]:
    """The live hints of the set-up page (S6): every rule the secret breaks as
    `complete_setup` checks it, the patron's own words included, for the holder of the
    link alone. Nothing is stored or used up; the answer names rules, never the data."""
    target = open_link(ports, token, ActionPurpose.SET_UP)
    if target.institution != institution:
        raise NotFound.of("link.invalid")
    with ports.uow() as uow:
        found = _setup_target(ports, uow, target)
        try:
            checked_new_secret(
                ports, uow, found, target.kind, secret, secret, current=None, default_digest=None
            )
        except PolicyRefused as refused:
            return [Violation(v.code, v.params) for v in refused.violations]
    return []


def complete_setup(ports: Ports, token: str, new: str, confirm: str, *, source: str) -> LinkTarget:
    """R23: the first PIN, set through the e-mailed link. The link is used up only by a
    PIN that passes the policy."""
    target = open_link(ports, token, ActionPurpose.SET_UP)
    with ports.uow() as uow:
        found = _setup_target(ports, uow, target)
        if target.patron.status is PatronStatus.PENDING_REGISTRATION:
            raise Refused.of("login.pending_registration")
        secret, policy = checked_new_secret(
            ports, uow, found, target.kind, new, confirm, current=None, default_digest=None
        )
    secret_hash = ports.hasher.hash(secret)
    now = ports.clock.now()
    with ports.uow() as uow:
        if uow.action_tokens.take(token_hash(token), ActionPurpose.SET_UP, now) is None:
            raise NotFound.of("link.invalid")
        if uow.credentials.get(target.patron.id, target.kind) is not None:
            raise Conflict.of("credential.already_set_up")
        uow.credentials.add(
            target.patron.id,
            NewCredential(
                kind=target.kind,
                state=CredentialState.CHOSEN,
                secret_hash=secret_hash,
                default_digest=None,
                policy_from=policy.effective_from,
                set_at=now,
            ),
        )
        _record_patron(ports, uow, now, "credential.setup", target.patron, target.kind, source)
        uow.commit()
    notify(ports, target.patron, NoticeKind.CREDENTIAL_CHANGED, target.kind)
    return target


def _when(moment: datetime, profile: Profile) -> str:
    """A time in an e-mail: on the library's clock, with its zone's name (HKT)."""
    return profile.local(moment).strftime("%Y-%m-%d %H:%M %Z")


def _record(
    uow: UnitOfWork,
    clock: Clock,
    action: str,
    outcome: str,
    found: Found | None,
    request: ResetRequest,
    *,
    identifier: str | None,
) -> None:
    Trail(uow, clock, "patron", Channel.WEB.value).record(
        action,
        found.patron if found else None,
        outcome=outcome,
        source=request.source,
        institution=request.institution,
        identifier=identifier,
    )


def _key(identifier: str) -> str | None:
    try:
        return lockout_key(identifier)
    except InvalidInput:
        return None


def _audit(
    ports: Ports, action: str, outcome: str, found: Found | None, request: ResetRequest
) -> None:
    with ports.uow() as uow:
        key = _key(request.identifier) if request.identifier else None
        identifier = audit_keys.kept(ports, key, identifies=found is not None)
        _record(uow, ports.clock, action, outcome, found, request, identifier=identifier)
        uow.commit()


def _record_patron(
    ports: Ports,
    uow: UnitOfWork,
    now: datetime,
    action: str,
    patron: Patron,
    kind: CredentialKind,
    source: str,
) -> None:
    Trail(uow, ports.clock, "patron", Channel.WEB.value, at=now).record(
        action, patron, {"credential": kind.value}, source=source
    )

"""Self-service terminals' use cases (SPEC 4.5): what SIP2 messages 23, 63, 11, 09, 29,
65, 17 and 35 ask, answered from the patron store and the circulation core.

The protocol layer maps message fields to these functions and the answers back; it
knows no rule. Every answer is a frozen record in the library's terms (restrictions,
fines owed, an item's status); screen messages are reason codes with their values,
which the protocol layer renders in `language` (the patron's, when known). A terminal
serves only its own institution: a patron or item of another one is simply not found.

The PIN: None when the terminal sent none, "" when it was sent empty. Every PIN
that is checked is an attempt on the `sip2` channel (`telephone` for a terminal with
that option: a telephone box speaking SIP2) through `sign_in`, so the
same lockout holds as on the web and in the app (S3). A patron's personal data (name,
e-mail, phone, loans) is told, and items lent, only after a right PIN, or, on a
terminal allowed to serve patrons without a PIN (`allow_pinless`), when AD was absent
or empty.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from patronauth.domain.circulation import HoldStatus, ItemStatus, Standing, StandingFacts
from patronauth.domain.credentials import Outcome
from patronauth.domain.errors import InvalidInput, Refused, Violation
from patronauth.domain.identifiers import base_form, lockout_key
from patronauth.domain.patrons import Identifier, Patron
from patronauth.domain.selfservice import (
    PinAnswer,
    PinCheck,
    Restriction,
    lends,
    minutes,
    pin_answer,
    restrictions,
    window,
)
from patronauth.domain.terminals import Terminal
from patronauth.services import loans
from patronauth.services.authenticate import Attempt, AuthResult
from patronauth.services.interfaces import Ports
from patronauth.services.lending import library_today, standing_facts_in, standing_of
from patronauth.services.lookup import (
    Found,
    current_card,
    find_patron,
    find_patron_standing,
    patron_standing_in,
)
from patronauth.services.record import Record, record
from patronauth.services.signin import sign_in


class ItemList(StrEnum):
    """The one item list a patron information request (63) may ask for."""

    HOLDS = "holds"  # reservations ready for pickup (the copies set aside)
    OVERDUE = "overdue"
    CHARGED = "charged"  # every item on loan
    FINES = "fines"
    RECALL = "recall"  # PatronAuth has no recalls; always empty
    UNAVAILABLE_HOLDS = "unavailable_holds"  # reservations still waiting (titles)


@dataclass(frozen=True)
class PatronAnswer:
    """23 Patron Status and 63 Patron Information."""

    identifier: str  # as the terminal sent it
    valid_patron: bool
    valid_pin: bool | None  # None: not asked
    restrictions: frozenset[Restriction]
    language: str | None  # the patron's ("en", "zh_Hant"), None when unknown
    name: str = ""
    email: str = ""
    phone: str = ""  # as stored: masked
    screen: tuple[Violation, ...] = ()
    holds: int = 0  # ready for pickup
    overdue: int = 0
    charged: int = 0  # on loan
    fine_items: int = 0
    recall: int = 0
    unavailable_holds: int = 0
    fines_owed: int = 0  # cents, never negative
    currency: str = ""  # the profile's currency ("HK$")
    loan_limit: int = 0  # items the patron may have on loan
    items: tuple[str, ...] = ()  # the list a summary asked for
    item_list: ItemList | None = None


@dataclass(frozen=True)
class LendingAnswer:
    """11 Checkout and 29 Renew."""

    ok: bool
    renewal: bool  # the item was already on loan to this patron and was renewed
    identifier: str
    item_barcode: str
    title: str = ""
    due_on: date | None = None
    language: str | None = None
    screen: tuple[Violation, ...] = ()


@dataclass(frozen=True)
class CheckinAnswer:
    """09 Checkin."""

    ok: bool
    item_barcode: str
    title: str = ""
    home_library: str = ""  # the copy's permanent location
    patron_identifier: str = ""  # the card of the patron who had it
    hold_pickup: str = ""  # the library where a reservation now waits for the copy
    fine: int = 0  # cents charged for lateness on return
    screen: tuple[Violation, ...] = ()

    @property
    def alert(self) -> bool:
        return bool(self.hold_pickup)


@dataclass(frozen=True)
class RenewAllAnswer:
    """65 Renew All."""

    ok: bool
    identifier: str
    renewed: tuple[str, ...] = ()  # item barcodes
    unrenewed: tuple[str, ...] = ()  # item barcodes
    language: str | None = None
    screen: tuple[Violation, ...] = ()


@dataclass(frozen=True)
class ItemAnswer:
    """17 Item Information."""

    found: bool
    item_barcode: str
    status: ItemStatus | None = None  # None: not found
    title: str = ""
    due_on: date | None = None
    home_library: str = ""
    hold_pickup: str = ""  # where the copy waits on the hold shelf
    hold_queue: int = 0  # reservations waiting for the title
    screen: tuple[Violation, ...] = ()


@dataclass(frozen=True)
class EndSessionAnswer:
    """35 End Patron Session."""

    ended: bool
    identifier: str
    screen: tuple[Violation, ...] = field(default_factory=tuple)


# --- who is at the terminal ----------------------------------------------------------------


@dataclass(frozen=True)
class _Gate:
    """The patron behind an identifier and what became of the PIN."""

    found: Found | None
    check: PinCheck
    answer: PinAnswer
    screen: tuple[Violation, ...]
    account: Standing | None = None  # read with the patron when asked for

    @property
    def language(self) -> str | None:
        return self.found.patron.language if self.found and not self.answer.as_unknown else None

    @property
    def discloses(self) -> bool:
        return (
            self.found is not None
            and self.answer.valid_pin is not False
            and not (self.check is PinCheck.NOT_ASKED and self.answer.denied)
        )


_REFUSED_OUTCOMES = {
    Outcome.BARRED: "sip2.account_barred",
    Outcome.PENDING_REGISTRATION: "sip2.account_pending",
    Outcome.NOT_PROVISIONED: "sip2.account_not_provisioned",
    Outcome.CHANGE_REQUIRED: "sip2.pin_change_required",
    Outcome.TEMPORARY_EXPIRED: "sip2.pin_temporary_expired",
    Outcome.MUST_CHANGE: "sip2.pin_change_required",
}
_CHECKS = {
    Outcome.OK: PinCheck.RIGHT,
    Outcome.INVALID: PinCheck.WRONG,
    Outcome.BLOCKED: PinCheck.BLOCKED,
    Outcome.THROTTLED: PinCheck.THROTTLED,
    Outcome.SUSPENDED: PinCheck.SUSPENDED,
}


_Rows = list[tuple[Patron, Identifier, StandingFacts]]


@dataclass(frozen=True)
class StatusReads:
    """What the patron status requests without PIN of many terminals read, read for all
    of them together (`read_statuses`): by institution the library's date, by that date
    and lockout key the cards with their patrons' standing on it, and by lockout key the
    seconds left of a block. A request whose reads are not here reads them itself."""

    today: dict[str, date]
    found: dict[tuple[date, str], _Rows]
    blocked: dict[str, int]

    def standing_rows(self, institution: str, identifier: str) -> tuple[date, _Rows] | None:
        """The library's date and the rows read for `identifier` at `institution`."""
        today = self.today.get(institution)
        rows = None if today is None else self.found.get((today, lockout_key(identifier)))
        return None if today is None or rows is None else (today, rows)


def read_statuses(ports: Ports, asked: Iterable[tuple[Terminal, str]]) -> StatusReads:
    """The reads of `patron_status` without PIN for each (terminal, card) of `asked`:
    one statement per library date (one, unless institutions' dates differ) and one
    read of the attempt counter, instead of two round trips for each. A card that is
    not one (no lockout key) is left out: its request reads nothing."""
    today: dict[str, date] = {}
    keys: dict[date, set[str]] = {}
    for terminal, identifier in asked:
        try:
            key = lockout_key(identifier)
        except InvalidInput:
            continue
        institution = terminal.institution
        if institution not in today:
            today[institution] = library_today(ports, ports.profiles.get(institution))
        keys.setdefault(today[institution], set()).add(key)
    found: dict[tuple[date, str], _Rows] = {}
    if keys:
        with ports.read() as uow:
            for day, of_day in keys.items():
                for key, rows in uow.loans.found_with_standing_each(of_day, day).items():
                    found[(day, key)] = rows
    every = set().union(*keys.values())
    now = ports.clock.now().timestamp()
    blocked = ports.counter.blocked_for_each(every, now) if every else {}
    return StatusReads(today, found, blocked)


def _find(
    ports: Ports,
    terminal: Terminal,
    identifier: str,
    *,
    standing: bool = False,
    reads: StatusReads | None = None,
) -> tuple[Found | None, Standing | None]:
    """The patron, and with `standing` the patron's standing, read with it in one
    statement (or found among `reads`)."""
    try:
        if not standing:
            with ports.read() as uow:
                found = find_patron(
                    uow, ports.profiles, identifier, institution=terminal.institution
                )
            return found, None
        institution = terminal.institution
        read = reads.standing_rows(institution, identifier) if reads else None
        if read is not None:
            today, rows = read
            match = patron_standing_in(rows, ports.profiles, identifier, institution=institution)
        else:
            today = library_today(ports, ports.profiles.get(institution))
            with ports.read() as uow:
                match = find_patron_standing(
                    uow, ports.profiles, identifier, institution=institution, today=today
                )
        if match is None:
            return None, None
        found, facts = match
        return found, standing_facts_in(found, facts, today)
    except Refused:
        return None, None  # not an identifier at all, or one no patron here has


def _blocked_for(ports: Ports, identifier: str, reads: StatusReads | None = None) -> int:
    try:
        key = lockout_key(identifier)
    except InvalidInput:
        return 0
    if reads is not None and key in reads.blocked:
        return reads.blocked[key]
    return ports.counter.blocked_for(key, ports.clock.now().timestamp())


def _gate(
    ports: Ports,
    terminal: Terminal,
    identifier: str,
    pin: str | None,
    source: str,
    *,
    standing: bool = False,
    reads: StatusReads | None = None,
) -> _Gate:
    """`standing`: read the patron's standing with the patron, in one statement. With a
    PIN the one sign-in checks it first (it looks the card up itself); the patron and
    the standing are read after it, whatever its outcome (the answer says whether the
    patron is valid either way). Without one, what `reads` holds is not read again."""
    result: AuthResult | None = None
    seconds = 0
    if pin:
        try:
            result = sign_in(
                ports,
                Attempt(
                    identifier,
                    pin,
                    terminal.options.channel,
                    source=source,
                    institution=terminal.institution,
                ),
            ).result
        except InvalidInput:
            result = None  # a malformed identifier or PIN: refused before any attempt
        found, account = _find(ports, terminal, identifier, standing=standing)
        if found is None and result is not None and result.patron_id is not None:
            found = _signed_in_as(ports, result.patron_id)  # R20: a Portal UID typed
        check = _CHECKS.get(result.outcome, PinCheck.REFUSED) if result else PinCheck.WRONG
        seconds = result.retry_after if result else 0
    else:
        found, account = _find(ports, terminal, identifier, standing=standing, reads=reads)
        seconds = _blocked_for(ports, identifier, reads) if found else 0
        if seconds:
            check = PinCheck.BLOCKED
        else:
            check = PinCheck.NOT_ASKED if pin is None else PinCheck.EMPTY
    options = terminal.options
    answer = pin_answer(
        found is not None,
        check,
        allow_pinless=options.allow_pinless,
        wrong_pin_as_unknown=options.wrong_pin_as_unknown,
    )
    return _Gate(found, check, answer, _screen(found, check, answer, result, seconds), account)


def _signed_in_as(ports: Ports, patron_id: int) -> Found | None:
    """The record a directory sign-in named, when what was typed is no card here."""
    with ports.read() as uow:
        patron = uow.patrons.get(patron_id)
        card = current_card(uow, patron_id)
    if patron is None or card is None:
        return None
    return Found(patron, card, ports.profiles.get(patron.institution))


def _screen(
    found: Found | None,
    check: PinCheck,
    answer: PinAnswer,
    result: AuthResult | None,
    seconds: int,
) -> tuple[Violation, ...]:
    if result is not None and result.outcome is Outcome.NOT_PROVISIONED:
        return (Violation("sip2.account_not_provisioned"),)  # seed 004: not ready yet
    if found is None or answer.as_unknown:
        return (Violation("sip2.patron_unknown"),)
    if check is PinCheck.WRONG:
        return (Violation("sip2.pin_wrong"),)
    if check is PinCheck.EMPTY and not answer.valid_pin:
        return (Violation("sip2.pin_required"),)
    if check is PinCheck.NOT_ASKED and answer.denied:
        return (Violation("sip2.pin_required"),)
    if check is PinCheck.BLOCKED:
        return (Violation("sip2.blocked", {"seconds": seconds, "minutes": minutes(seconds)}),)
    if check is PinCheck.THROTTLED:
        return (Violation("sip2.throttled", {"seconds": seconds}),)
    if check is PinCheck.SUSPENDED:
        return (Violation("sip2.pin_suspended"),)
    if check is PinCheck.REFUSED and result is not None:
        return (Violation(_REFUSED_OUTCOMES.get(result.outcome, "sip2.pin_wrong")),)
    return ()


def _channel(terminal: Terminal) -> str:
    """`sip2`, or `telephone` for a telephone box that speaks SIP2 (its option)."""
    return terminal.options.channel.value


def _actor(terminal: Terminal) -> str:
    return f"terminal:{terminal.login}"


# --- 23 and 63 -----------------------------------------------------------------------------


def patron_status(
    ports: Ports,
    terminal: Terminal,
    identifier: str,
    pin: str | None,
    *,
    source: str,
    reads: StatusReads | None = None,
) -> PatronAnswer:
    """23 Patron Status: may the patron use the terminal, and is the PIN right?

    Message 24 carries no counts or item lists, and kiosks send 23 often, so only the
    lending standing is read (the counts stay 0): one query and no write. Without a PIN
    the patron and the standing are read in one unit of work, or taken from `reads`
    (`read_statuses`, for many requests that arrived together)."""
    gate = _gate(ports, terminal, identifier, pin, source, standing=True, reads=reads)
    if gate.found is None or not gate.discloses:
        return PatronAnswer(
            identifier=identifier,
            valid_patron=gate.answer.valid_patron,
            valid_pin=gate.answer.valid_pin,
            restrictions=restrictions(None),
            language=gate.language,
            screen=gate.screen,
        )
    patron = gate.found.patron
    account = gate.account or standing_of(ports, patron)
    screen = list(gate.screen)
    refusal = None if screen else account.lending_refusal("checkout")
    if refusal is not None:
        screen.extend(refusal.violations)
    return PatronAnswer(
        identifier=identifier,
        valid_patron=gate.answer.valid_patron,
        valid_pin=gate.answer.valid_pin,
        restrictions=restrictions(account, denied=gate.answer.denied),
        language=gate.language,
        name=patron.name or "",
        email=patron.email or "",
        phone=patron.phone_masked or "",
        screen=tuple(screen),
        fines_owed=max(account.balance, 0),
        currency=ports.profiles.get(patron.institution).currency,
        loan_limit=account.rules.max_loans,
    )


def patron_information(
    ports: Ports,
    terminal: Terminal,
    identifier: str,
    pin: str | None,
    *,
    source: str,
    summary: ItemList | None = None,
    start: int | None = None,
    end: int | None = None,
) -> PatronAnswer:
    """63 Patron Information: the status, the counts, and the one item list `summary`
    asks for, from `start` to `end` (1-based, inclusive; missing: the whole list)."""
    gate = _gate(ports, terminal, identifier, pin, source)
    denied = gate.answer.denied
    if gate.found is None or not gate.discloses:
        return PatronAnswer(
            identifier=identifier,
            valid_patron=gate.answer.valid_patron,
            valid_pin=gate.answer.valid_pin,
            restrictions=restrictions(None),
            language=gate.language,
            screen=gate.screen,
        )
    patron = gate.found.patron
    mine = record(ports, patron.id)
    lists = _lists(ports, mine)
    account = mine.standing
    screen = list(gate.screen)
    if not screen:
        refusal = account.lending_refusal("checkout")
        if refusal is not None:
            screen.extend(refusal.violations)
    return PatronAnswer(
        identifier=identifier,
        valid_patron=gate.answer.valid_patron,
        valid_pin=gate.answer.valid_pin,
        restrictions=restrictions(account, denied=denied),
        language=gate.language,
        name=patron.name or "",
        email=patron.email or "",
        phone=patron.phone_masked or "",
        screen=tuple(screen),
        holds=len(lists[ItemList.HOLDS]),
        overdue=len(lists[ItemList.OVERDUE]),
        charged=len(lists[ItemList.CHARGED]),
        fine_items=len(lists[ItemList.FINES]),
        recall=0,
        unavailable_holds=len(lists[ItemList.UNAVAILABLE_HOLDS]),
        fines_owed=max(account.balance, 0),
        currency=mine.profile.currency,
        loan_limit=account.rules.max_loans,
        items=tuple(window(lists[summary], start, end)) if summary else (),
        item_list=summary,
    )


def _lists(ports: Ports, mine: Record) -> dict[ItemList, list[str]]:
    currency = mine.profile.currency
    with ports.read() as uow:
        held = []
        for view in mine.holds:
            if view.hold.status is HoldStatus.READY and view.hold.item_id is not None:
                item = uow.catalogue.item(view.hold.item_id)
                held.append(item.barcode if item else view.title.title)
    fines = []
    if mine.standing.balance > 0:
        fines = [
            f"{v.item_barcode} {currency}{v.fine_so_far / 100:.2f}"
            for v in mine.loans
            if v.fine_so_far > 0
        ]
        fines += [f"{f.reason} {currency}{f.amount / 100:.2f}" for f in mine.fines]
    return {
        ItemList.HOLDS: held,
        ItemList.OVERDUE: [v.item_barcode for v in mine.loans if v.overdue],
        ItemList.CHARGED: [v.item_barcode for v in mine.loans],
        ItemList.FINES: fines,
        ItemList.RECALL: [],
        ItemList.UNAVAILABLE_HOLDS: [
            v.title.title for v in mine.holds if v.hold.status is HoldStatus.WAITING
        ],
    }


# --- 11, 29 and 65 -------------------------------------------------------------------------


def _item_barcode(raw: str) -> str | None:
    try:
        return base_form(raw)
    except InvalidInput:
        return None


def _lending_gate(
    ports: Ports,
    terminal: Terminal,
    identifier: str,
    item_barcode: str,
    pin: str | None,
    source: str,
) -> tuple[_Gate, LendingAnswer]:
    """The PIN check of a lending request, and the answer if it stops there."""
    gate = _gate(ports, terminal, identifier, pin, source)
    refused = LendingAnswer(
        ok=False,
        renewal=False,
        identifier=identifier,
        item_barcode=item_barcode,
        language=gate.language,
        screen=gate.screen,
    )
    return gate, refused


def checkout(
    ports: Ports,
    terminal: Terminal,
    identifier: str,
    item_barcode: str,
    pin: str | None,
    *,
    source: str,
) -> LendingAnswer:
    """11 Checkout. An item already on loan to the same patron is renewed instead, as
    kiosks expect; any other item goes through the circulation rules."""
    gate, refused = _lending_gate(ports, terminal, identifier, item_barcode, pin, source)
    if gate.found is None or not lends(gate.answer):
        return refused
    patron = gate.found.patron
    own_loan = _own_loan(ports, terminal, patron, item_barcode)
    if own_loan is not None:
        return _renew(ports, terminal, patron, own_loan, refused, renewal=True)
    try:
        done = loans.checkout(
            ports,
            identifier,
            item_barcode,
            actor=_actor(terminal),
            channel=_channel(terminal),
            institution=terminal.institution,
        )
    except Refused as refusal:
        return LendingAnswer(
            ok=False,
            renewal=False,
            identifier=identifier,
            item_barcode=item_barcode,
            title=_title_of(ports, terminal, item_barcode),
            language=gate.language,
            screen=refusal.violations,
        )
    return LendingAnswer(
        ok=True,
        renewal=False,
        identifier=identifier,
        item_barcode=item_barcode,
        title=done.title.title,
        due_on=done.loan.due_on,
        language=gate.language,
    )


def renew(
    ports: Ports,
    terminal: Terminal,
    identifier: str,
    item_barcode: str,
    pin: str | None,
    *,
    source: str,
) -> LendingAnswer:
    """29 Renew: one of the patron's own loans, by the item's barcode."""
    gate, refused = _lending_gate(ports, terminal, identifier, item_barcode, pin, source)
    if gate.found is None or not lends(gate.answer):
        return refused
    patron = gate.found.patron
    loan_id = _own_loan(ports, terminal, patron, item_barcode)
    if loan_id is None:
        return LendingAnswer(
            ok=False,
            renewal=False,
            identifier=identifier,
            item_barcode=item_barcode,
            title=_title_of(ports, terminal, item_barcode),
            language=gate.language,
            screen=(Violation("loan.not_found"),),
        )
    return _renew(ports, terminal, patron, loan_id, refused, renewal=True)


def _own_loan(ports: Ports, terminal: Terminal, patron: Patron, item_barcode: str) -> int | None:
    barcode = _item_barcode(item_barcode)
    if barcode is None:
        return None
    with ports.read() as uow:
        item = uow.catalogue.item_by_barcode(terminal.institution, barcode)
        loan = uow.loans.open_loan_of_item(item.id) if item else None
    return loan.id if loan is not None and loan.patron_id == patron.id else None


def _title_of(ports: Ports, terminal: Terminal, item_barcode: str) -> str:
    barcode = _item_barcode(item_barcode)
    if barcode is None:
        return ""
    with ports.read() as uow:
        item = uow.catalogue.item_by_barcode(terminal.institution, barcode)
        title = uow.catalogue.title(item.title_id) if item else None
    return title.title if title else ""


def _renew(
    ports: Ports,
    terminal: Terminal,
    patron: Patron,
    loan_id: int,
    refused: LendingAnswer,
    *,
    renewal: bool,
) -> LendingAnswer:
    title = _title_of(ports, terminal, refused.item_barcode)
    try:
        due = loans.renew_loan(
            ports, patron.id, loan_id, channel=_channel(terminal), actor=_actor(terminal)
        )
    except Refused as refusal:
        return LendingAnswer(
            ok=False,
            renewal=False,
            identifier=refused.identifier,
            item_barcode=refused.item_barcode,
            title=title,
            language=refused.language,
            screen=refusal.violations,
        )
    return LendingAnswer(
        ok=True,
        renewal=renewal,
        identifier=refused.identifier,
        item_barcode=refused.item_barcode,
        title=title,
        due_on=due,
        language=refused.language,
    )


def renew_all(
    ports: Ports, terminal: Terminal, identifier: str, pin: str | None, *, source: str
) -> RenewAllAnswer:
    """65 Renew All: every loan that may be renewed; the others are listed as unrenewed,
    with the reasons on the screen."""
    gate = _gate(ports, terminal, identifier, pin, source)
    if gate.found is None or not lends(gate.answer):
        return RenewAllAnswer(
            ok=False, identifier=identifier, language=gate.language, screen=gate.screen
        )
    patron = gate.found.patron
    with ports.uow() as uow:
        barcodes = {}
        for loan in uow.loans.open_loans(patron.id):
            item = uow.catalogue.item(loan.item_id)
            barcodes[loan.id] = item.barcode if item else ""
    results = loans.renew_all(ports, patron.id, channel=_channel(terminal), actor=_actor(terminal))
    reasons: dict[str, Violation] = {}
    for result in results:
        if result.refusal is not None:
            for violation in result.refusal.violations:
                reasons.setdefault(violation.code, violation)
    return RenewAllAnswer(
        ok=True,
        identifier=identifier,
        renewed=tuple(barcodes.get(r.loan_id, "") for r in results if r.ok),
        unrenewed=tuple(barcodes.get(r.loan_id, "") for r in results if not r.ok),
        language=gate.language,
        screen=tuple(reasons.values()),
    )


# --- 09, 17 and 35 -------------------------------------------------------------------------


def checkin(ports: Ports, terminal: Terminal, item_barcode: str, *, source: str) -> CheckinAnswer:
    """09 Checkin: an overdue fine is charged; a reservation waiting for the title gets
    the copy (the answer names its pickup library, an alert for the sorter)."""
    del source  # the circulation audit records the terminal as the actor
    try:
        done = loans.checkin(
            ports,
            item_barcode,
            terminal.institution,
            actor=_actor(terminal),
            channel=_channel(terminal),
        )
    except Refused as refusal:
        return CheckinAnswer(
            ok=False,
            item_barcode=item_barcode,
            title=_title_of(ports, terminal, item_barcode),
            screen=refusal.violations,
        )
    pickup = ""
    card = ""
    with ports.uow() as uow:
        if done.hold_for is not None:
            pickup = next(
                (
                    h.pickup
                    for h in uow.holds.hold_queue(done.item.title_id)
                    if h.item_id == done.item.id and h.status is HoldStatus.READY
                ),
                "",
            )
        if done.patron_id is not None:
            identifier = current_card(uow, done.patron_id)
            card = identifier.value if identifier else ""
    return CheckinAnswer(
        ok=True,
        item_barcode=item_barcode,
        title=done.title.title,
        home_library=done.item.home_library,
        patron_identifier=card,
        hold_pickup=pickup,
        fine=done.fine,
    )


def item_information(ports: Ports, terminal: Terminal, item_barcode: str) -> ItemAnswer:
    """17 Item Information, within the terminal's institution."""
    barcode = _item_barcode(item_barcode)
    with ports.read() as uow:
        item = uow.catalogue.item_by_barcode(terminal.institution, barcode) if barcode else None
        if item is None:
            return ItemAnswer(
                found=False, item_barcode=item_barcode, screen=(Violation("item.not_found"),)
            )
        title = uow.catalogue.title(item.title_id)
        loan = uow.loans.open_loan_of_item(item.id)
        queue = uow.holds.hold_queue(item.title_id)
    pickup = next(
        (h.pickup for h in queue if h.item_id == item.id and h.status is HoldStatus.READY), ""
    )
    return ItemAnswer(
        found=True,
        item_barcode=item_barcode,
        status=item.status,
        title=title.title if title else "",
        due_on=loan.due_on if loan else None,
        home_library=item.home_library,
        hold_pickup=pickup,
        hold_queue=sum(1 for h in queue if h.status is HoldStatus.WAITING),
    )


def end_session(
    ports: Ports, terminal: Terminal, identifier: str, *, source: str
) -> EndSessionAnswer:
    """35 End Patron Session. PatronAuth keeps no session for a terminal's patron (each
    request carries the identifier and PIN), so there is nothing to end but the answer."""
    del ports, terminal, source
    return EndSessionAnswer(ended=True, identifier=identifier)

"""From SIP2 requests to the self-service use cases and back: fields in, answers out.

No rule lives here (they are in `services.selfservice` and the domain); this module
only reads fields, calls a use case and writes its answer in the message's layout,
with the wire forms of `sip2.fields` (patron status flags, circulation status and
currency codes).
Screen messages (AF) are the answers' reason codes rendered in the patron's language
when it is known, else in the language the terminal asked for, else in English.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime, time
from time import monotonic
from zoneinfo import ZoneInfo

from patronauth.domain.errors import Busy, Violation
from patronauth.domain.terminals import Terminal
from patronauth.presentation.i18n import DEFAULT_LANGUAGE, render
from patronauth.services import selfservice
from patronauth.services.interfaces import Ports
from patronauth.services.selfservice import ItemList, LendingAnswer, PatronAnswer, StatusReads
from patronauth.services.terminals import TerminalAccounts, terminal_login
from patronauth.sip2.fields import circulation_status, currency_code, patron_status
from patronauth.sip2.messages import (
    Message,
    count,
    language_code,
    language_of,
    message,
    sip_date,
    yes_no,
)
from patronauth.sip2.server import Answerer, Session, each_answered

PROTOCOL_VERSION = "2.00"
BUSY = Message("96")

# selfservice.checkout or selfservice.renew: the same question about one item.
_Lend = Callable[..., LendingAnswer]

# What message 98 offers (BX), in the order of SIP2 2.00: patron status, checkout,
# checkin, block patron, SC/ACS status, request resend, login, patron information, end
# patron session, fee paid, item information, item status update, patron enable, hold,
# renew, renew all. It must say exactly what `Answers` answers.
SUPPORTED = "YYYNYYYYYNYNNNYY"

# The summary field of 63: position -> the item list asked for.
_SUMMARY = (
    ItemList.HOLDS,
    ItemList.OVERDUE,
    ItemList.CHARGED,
    ItemList.FINES,
    ItemList.RECALL,
    ItemList.UNAVAILABLE_HOLDS,
)
_LIST_FIELDS = {
    ItemList.HOLDS: "AS",
    ItemList.OVERDUE: "AT",
    ItemList.CHARGED: "AU",
    ItemList.FINES: "AV",
    ItemList.RECALL: "BU",
    ItemList.UNAVAILABLE_HOLDS: "CD",
}


def summary_list(summary: str) -> ItemList | None:
    """The item list a 63 summary asks for: the first `Y` (at most one is allowed)."""
    for position, flag in enumerate(summary[: len(_SUMMARY)]):
        if flag.upper() == "Y":
            return _SUMMARY[position]
    return None


def _number(raw: str) -> int | None:
    text = raw.strip()
    return int(text) if text.isdigit() and len(text) <= 6 else None


def _money(cents: int) -> str:
    return f"{cents / 100:.2f}"


class Answers(Answerer):
    """The answers of one PatronAuth installation (its ports) to every request."""

    def __init__(self, ports: Ports, *, recheck_seconds: float = 1.0) -> None:
        """`recheck_seconds`: how often the terminal accounts are read again (to close
        the connection of a terminal disabled meanwhile)."""
        self.ports = ports
        self.terminals = TerminalAccounts(ports, seconds=recheck_seconds)
        self._handlers: dict[str, Callable[[Session, Terminal, Message], Message]] = {
            "99": self._status,
            "23": self._patron_status,
            "63": self._patron_information,
            "11": self._checkout,
            "09": self._checkin,
            "29": self._renew,
            "65": self._renew_all,
            "35": self._end_session,
            "17": self._item_information,
        }

    def answer(self, session: Session, msg: Message) -> Message | None:
        return self._answer(session, msg)

    def answer_each(
        self, asked: Sequence[tuple[Session, Message]]
    ) -> list[Message | Exception | None]:
        # The 23s among them (quick ones: without PIN) read what they need together.
        statuses = [
            (session.terminal, msg.text("AA"))
            for session, msg in asked
            if msg.code == "23" and session.terminal is not None
        ]
        reads = None
        if len(statuses) > 1:
            try:
                reads = selfservice.read_statuses(self.ports, statuses)
            except Exception:  # each request then reads (and fails) alone
                reads = None
        return each_answered(asked, lambda session, msg: self._answer(session, msg, reads))

    def _answer(
        self, session: Session, msg: Message, reads: StatusReads | None = None
    ) -> Message | None:
        if msg.code == "93":
            try:
                return self._login(session, msg)
            except Busy:  # as below: nothing was checked or counted
                return BUSY
        terminal = session.terminal
        assert terminal is not None, "the connection lets nothing but 93 through before login"
        # A terminal disabled while connected loses its connection at its first request
        # after the accounts are read again (read no earlier than its login).
        current = self.terminals.current(terminal.login, not_before=session.logged_in_at)
        if current is None or not current.enabled:
            return None
        session.terminal = terminal = current
        try:
            if msg.code == "23":
                return self._patron_status(session, terminal, msg, reads)
            return self._handlers[msg.code](session, terminal, msg)
        except Busy:
            # The hashing pool is full and nothing was done or counted: 96 asks the
            # terminal to send the same request again, which kiosks do at once.
            return BUSY

    def quick(self, msg: Message) -> bool:
        # Both read the terminal accounts (again once a second); a 23 without a PIN
        # (none sent, or an empty one) then the card with the standing in one
        # statement, and the attempt counter.
        return msg.code == "99" or (msg.code == "23" and not self._pin(msg))

    # -- helpers ----------------------------------------------------------------------

    def _zone(self, terminal: Terminal) -> ZoneInfo:
        return ZoneInfo(self.ports.profiles.get(terminal.institution).timezone)

    def _now(self, terminal: Terminal) -> str:
        return sip_date(self.ports.clock.now(), self._zone(terminal))

    def _due(self, terminal: Terminal, day: date | None) -> str | None:
        """A due date as a SIP2 date: the end of that day in the library's time zone."""
        if day is None:
            return None
        return sip_date(datetime.combine(day, time(23, 59, 59)), self._zone(terminal))

    @staticmethod
    def _language(answer_language: str | None, msg: Message) -> str:
        return answer_language or language_of(msg.fixed.get("language", "")) or DEFAULT_LANGUAGE

    @staticmethod
    def _screen(violations: tuple[Violation, ...], language: str) -> list[tuple[str, str]]:
        return [("AF", render(v, language)) for v in violations]

    @staticmethod
    def _institution(terminal: Terminal, msg: Message) -> str:
        return msg.text("AO") or terminal.institution

    @staticmethod
    def _pin(msg: Message) -> str | None:
        """The PIN: None when AD was not sent, "" when it was sent empty."""
        return msg.get("AD")

    # -- 93 and 99 --------------------------------------------------------------------

    def _login(self, session: Session, msg: Message) -> Message:
        plain = msg.fixed.get("uid_algorithm") == "0" and msg.fixed.get("pwd_algorithm") == "0"
        terminal = (
            terminal_login(self.ports, msg.text("CN"), msg.text("CO"), source=session.source)
            if plain
            else None
        )
        if terminal is not None:
            session.terminal, session.logged_in_at = terminal, monotonic()
            session.encoding = terminal.options.encoding.value
            session.crlf = terminal.options.crlf
        return message("94", {"ok": "1" if terminal else "0"})

    def _status(self, session: Session, terminal: Terminal, msg: Message) -> Message:
        profile = self.ports.profiles.get(terminal.institution)
        return message(
            "98",
            {
                "online": "Y",
                "checkin_ok": "Y",
                "checkout_ok": "Y",
                "renewal_policy": "Y",
                "status_update_ok": "N",
                "offline_ok": "N",
                "timeout": "030",
                "retries": "003",
                "date": self._now(terminal),
                "protocol_version": PROTOCOL_VERSION,
            },
            ("AO", self._institution(terminal, msg)),
            ("AM", profile.name.get(DEFAULT_LANGUAGE) or terminal.institution),
            ("BX", SUPPORTED),
            ("AN", terminal.location or None),
        )

    # -- 23 and 63 --------------------------------------------------------------------

    @staticmethod
    def _patron_fields(answer: PatronAnswer) -> list[tuple[str, str | None]]:
        return [
            ("BL", yes_no(answer.valid_patron)),
            ("CQ", None if answer.valid_pin is None else yes_no(answer.valid_pin)),
            ("BH", (currency_code(answer.currency) or None) if answer.fines_owed else None),
            ("BV", _money(answer.fines_owed) if answer.fines_owed else None),
        ]

    def _patron_status(
        self,
        session: Session,
        terminal: Terminal,
        msg: Message,
        reads: StatusReads | None = None,
    ) -> Message:
        answer = selfservice.patron_status(
            self.ports,
            terminal,
            msg.text("AA"),
            self._pin(msg),
            source=session.source,
            reads=reads,
        )
        language = self._language(answer.language, msg)
        return message(
            "24",
            {
                "patron_status": patron_status(answer.restrictions),
                "language": language_code(language),
                "date": self._now(terminal),
            },
            ("AO", self._institution(terminal, msg)),
            ("AA", answer.identifier),
            ("AE", answer.name),
            *self._patron_fields(answer),
            *self._screen(answer.screen, language),
        )

    def _patron_information(self, session: Session, terminal: Terminal, msg: Message) -> Message:
        wanted = summary_list(msg.fixed.get("summary", ""))
        answer = selfservice.patron_information(
            self.ports,
            terminal,
            msg.text("AA"),
            self._pin(msg),
            source=session.source,
            summary=wanted,
            start=_number(msg.text("BP")),
            end=_number(msg.text("BQ")),
        )
        language = self._language(answer.language, msg)
        items = [(_LIST_FIELDS[wanted], item) for item in answer.items] if wanted else []
        return message(
            "64",
            {
                "patron_status": patron_status(answer.restrictions),
                "language": language_code(language),
                "date": self._now(terminal),
                "hold_count": count(answer.holds),
                "overdue_count": count(answer.overdue),
                "charged_count": count(answer.charged),
                "fine_count": count(answer.fine_items),
                "recall_count": count(answer.recall),
                "unavailable_holds_count": count(answer.unavailable_holds),
            },
            ("AO", self._institution(terminal, msg)),
            ("AA", answer.identifier),
            ("AE", answer.name),
            ("CB", count(answer.loan_limit) if answer.loan_limit else None),
            *self._patron_fields(answer),
            *items,
            ("BE", answer.email or None),
            ("BF", answer.phone or None),
            *self._screen(answer.screen, language),
        )

    # -- 11, 29, 65 -------------------------------------------------------------------

    def _lending(
        self,
        code: str,
        lend: _Lend,
        session: Session,
        terminal: Terminal,
        msg: Message,
    ) -> Message:
        answer = lend(
            self.ports,
            terminal,
            msg.text("AA"),
            msg.text("AB"),
            self._pin(msg),
            source=session.source,
        )
        language = self._language(answer.language, msg)
        return message(
            code,
            {
                "ok": "1" if answer.ok else "0",
                "renewal_ok": yes_no(answer.renewal),
                "magnetic_media": "U",
                "desensitize": yes_no(answer.ok),
                "date": self._now(terminal),
            },
            ("AO", self._institution(terminal, msg)),
            ("AA", answer.identifier),
            ("AB", answer.item_barcode),
            ("AJ", answer.title),
            ("AH", self._due(terminal, answer.due_on) or ""),
            *self._screen(answer.screen, language),
        )

    def _checkout(self, session: Session, terminal: Terminal, msg: Message) -> Message:
        return self._lending("12", selfservice.checkout, session, terminal, msg)

    def _renew(self, session: Session, terminal: Terminal, msg: Message) -> Message:
        return self._lending("30", selfservice.renew, session, terminal, msg)

    def _renew_all(self, session: Session, terminal: Terminal, msg: Message) -> Message:
        answer = selfservice.renew_all(
            self.ports, terminal, msg.text("AA"), self._pin(msg), source=session.source
        )
        language = self._language(answer.language, msg)
        return message(
            "66",
            {
                "ok": "1" if answer.ok else "0",
                "renewed_count": count(len(answer.renewed)),
                "unrenewed_count": count(len(answer.unrenewed)),
                "date": self._now(terminal),
            },
            ("AO", self._institution(terminal, msg)),
            *(("BM", barcode) for barcode in answer.renewed),
            *(("BN", barcode) for barcode in answer.unrenewed),
            *self._screen(answer.screen, language),
        )

    # -- 09, 17, 35 -------------------------------------------------------------------

    def _checkin(self, session: Session, terminal: Terminal, msg: Message) -> Message:
        answer = selfservice.checkin(self.ports, terminal, msg.text("AB"), source=session.source)
        language = self._language(None, msg)
        return message(
            "10",
            {
                "ok": "1" if answer.ok else "0",
                "resensitize": yes_no(answer.ok),
                "magnetic_media": "U",
                "alert": yes_no(answer.alert),
                "date": self._now(terminal),
            },
            ("AO", self._institution(terminal, msg)),
            ("AB", answer.item_barcode),
            ("AQ", answer.home_library),
            ("AJ", answer.title),
            ("CL", answer.hold_pickup or None),
            ("AA", answer.patron_identifier or None),
            *self._screen(answer.screen, language),
        )

    def _end_session(self, session: Session, terminal: Terminal, msg: Message) -> Message:
        answer = selfservice.end_session(
            self.ports, terminal, msg.text("AA"), source=session.source
        )
        return message(
            "36",
            {"end_session": yes_no(answer.ended), "date": self._now(terminal)},
            ("AO", self._institution(terminal, msg)),
            ("AA", answer.identifier),
            *self._screen(answer.screen, self._language(None, msg)),
        )

    def _item_information(self, session: Session, terminal: Terminal, msg: Message) -> Message:
        answer = selfservice.item_information(self.ports, terminal, msg.text("AB"))
        return message(
            "18",
            {
                "circulation_status": circulation_status(answer.status).value,
                "security_marker": "00",
                "fee_type": "01",
                "date": self._now(terminal),
            },
            ("CF", count(answer.hold_queue) if answer.found else None),
            ("AH", self._due(terminal, answer.due_on)),
            ("AB", answer.item_barcode),
            ("AJ", answer.title),
            ("AQ", answer.home_library or None),
            ("AP", answer.hold_pickup or None),
            *self._screen(answer.screen, self._language(None, msg)),
        )

"""The demo catalogue and loans: a few titles per library, with loans of the demo patrons.

Loans are made through the real use cases under a clock set back in time, so that some
are overdue today and carry a fine, and a few titles are reserved by another demo patron
so that their renewal is refused (`renewal.reserved`). A library whose first demo copy
exists already is left alone: `patronauth init --demo` can run at every start.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from patronauth.bootstrap import App, ManualClock
from patronauth.domain.circulation import RequestKind
from patronauth.services.catalogue import add_item
from patronauth.services.fines import close_calendar, pay_fines, resume_calendar
from patronauth.services.holds import place_reservation
from patronauth.services.interfaces import Ports
from patronauth.services.loans import checkin, checkout
from patronauth.services.lookup import require_patron
from patronauth.services.requests import submit_request


@dataclass(frozen=True)
class Title:
    title: str
    author: str
    copies: tuple[tuple[str, str], ...]  # (barcode, home library)


@dataclass(frozen=True)
class Loan:
    card: str
    item: str
    days_ago: int  # checked out this many days ago
    returned_days_ago: int | None = None  # returned then, with its overdue fine


@dataclass(frozen=True)
class Return:
    item: str
    days_ago: int


@dataclass(frozen=True)
class Reservation:
    card: str
    item: str  # a copy of the title reserved
    pickup: str
    days_ago: int


@dataclass(frozen=True)
class Payment:
    card: str
    cents: int
    days_ago: int


@dataclass(frozen=True)
class Request:
    card: str
    kind: RequestKind
    title: str
    author: str
    note: str
    days_ago: int


Step = Loan | Return | Reservation | Payment | Request


@dataclass(frozen=True)
class Closure:
    """A fine-calendar closure, as staff typed it at the time (seed 001)."""

    start: date
    resumed: date  # the first day fines accrue again
    closed_at: datetime  # when staff recorded each step
    resumed_at: datetime


@dataclass(frozen=True)
class Lending:
    institution: str
    titles: tuple[Title, ...]
    loans: tuple[Loan, ...]
    reservations: tuple[Reservation, ...] = ()
    payments: tuple[Payment, ...] = ()
    requests: tuple[Request, ...] = ()
    closures: tuple[Closure, ...] = ()


@dataclass(frozen=True)
class Try:
    """A line of `patronauth demo`'s lending table."""

    institution: str
    card: str
    where: str
    action: str
    expect: str


def _hk(year: int, month: int, day: int) -> datetime:
    return datetime(year, month, day, 2, tzinfo=UTC)  # 10:00 in Hong Kong


LENDING: tuple[Lending, ...] = (
    Lending(
        "hkpl",
        (
            Title(
                "Dream of the Red Chamber", "Cao Xueqin", (("BK10001", "CEN"), ("BK10002", "KLN"))
            ),
            Title("Journey to the West", "Wu Cheng'en", (("BK10003", "CEN"),)),
            Title("Water Margin", "Shi Nai'an", (("BK10004", "STN"),)),
            Title("Romance of the Three Kingdoms", "Luo Guanzhong", (("BK10005", "KLN"),)),
            Title("The Analects", "Confucius", (("BK10006", "CEN"), ("BK10007", "STN"))),
            Title("Fortress Besieged", "Qian Zhongshu", (("BK10008", "CEN"),)),
        ),
        (
            Loan("HKPL0001", "BK10006", 60, returned_days_ago=30),  # 9 days late: HK$13.50
            Loan("HKPL0001", "BK10005", 35),  # overdue
            Loan("HKPL0002", "BK10004", 30),  # overdue; HKPL still renews it
            Loan("HKPL0002", "BK10001", 10),
            Loan("HKPL0002", "BK10003", 5),  # reserved by HKPL0001
        ),
        reservations=(
            Reservation("HKPL0001", "BK10003", "CEN", 3),
            Reservation("HKPL0002", "BK10005", "KLN", 2),
        ),
        payments=(Payment("HKPL0001", 500, 29),),
        # Seed 001: fines were suspended while the libraries were closed and "resumed
        # from 5 March" 2021; the page does not say when they stopped (the libraries
        # closed on 2 December 2020).
        closures=(
            Closure(date(2020, 12, 2), date(2021, 3, 5), _hk(2020, 12, 2), _hk(2021, 2, 18)),
        ),
    ),
    Lending(
        "polyu",
        (
            Title(
                "Introduction to Algorithms",
                "Thomas H. Cormen, Charles E. Leiserson, Ronald L. Rivest, Clifford Stein",
                (("BK20001", "PAO"), ("BK20002", "PAO")),
            ),
            Title(
                "Structure and Interpretation of Computer Programs",
                "Harold Abelson, Gerald Jay Sussman",
                (("BK20003", "PAO"),),
            ),
            Title("The Design of Everyday Things", "Don Norman", (("BK20004", "PAO"),)),
            Title("Principles of Economics", "N. Gregory Mankiw", (("BK20005", "PAO"),)),
        ),
        (
            Loan("19054321B", "BK20005", 40),  # overdue: PolyU then refuses every renewal
            Loan("21012345A", "BK20001", 12),
            Loan("21012345A", "BK20003", 6),  # reserved by 19054321B
        ),
        reservations=(Reservation("19054321B", "BK20003", "PAO", 2),),
        requests=(
            Request(
                "21012345A",
                RequestKind.RECOMMENDATION,
                "Deep Learning",
                "Ian Goodfellow, Yoshua Bengio, Aaron Courville",
                "For the course reserve of my final-year project.",
                8,
            ),
            Request(
                "21012345A",
                RequestKind.INTERLIBRARY_LOAN,
                "The Art of Computer Programming, Volume 1",
                "Donald E. Knuth",
                "Not in the PolyU catalogue.",
                4,
            ),
        ),
    ),
    Lending(
        "hkct",
        (
            Title(
                "Principles of Marketing",
                "Philip Kotler, Gary Armstrong",
                (("BK30001", "KBY"), ("BK30002", "KBY")),
            ),
            Title("Accounting Principles", "Jerry J. Weygandt", (("BK30003", "KBY"),)),
            Title("Business Communication Today", "Courtland L. Bovée", (("BK30004", "KBY"),)),
        ),
        (
            Loan("16071234", "BK30004", 20),  # overdue
            Loan("20181234", "BK30001", 4),
            Loan("20181234", "BK30003", 2),  # reserved by 16071234
        ),
        reservations=(Reservation("16071234", "BK30003", "KBY", 1),),
    ),
    Lending(
        "hku",
        (
            Title("The Concept of Law", "H. L. A. Hart", (("BK40001", "LAW"),)),
            Title("A History of Hong Kong", "Frank Welsh", (("BK40002", "MAIN"),)),
            Title("Orientalism", "Edward W. Said", (("BK40003", "MAIN"), ("BK40004", "LAW"))),
            Title("The Wealth of Nations", "Adam Smith", (("BK40005", "MAIN"),)),
        ),
        (
            Loan("PU21012345", "BK40005", 35),  # overdue
            Loan("SP7654321", "BK40002", 9),
            Loan("SP7654321", "BK40001", 4),  # reserved by CU1234567
        ),
        reservations=(Reservation("CU1234567", "BK40001", "LAW", 1),),
    ),
)

TRIES: tuple[Try, ...] = (
    Try("hkpl", "HKPL0002", "web", "renew Dream of the Red Chamber", "renewed for 21 days"),
    Try("hkpl", "HKPL0002", "web", "renew Journey to the West", "renewal.reserved (HKPL0001)"),
    Try("hkpl", "HKPL0002", "web", "renew Water Margin (overdue)", "renewed: HKPL lets it"),
    Try("hkpl", "HKPL0002", "web", "reserve Fortress Besieged", "ready at once: on the shelf"),
    Try(
        "hkpl",
        "HKPL0001",
        "cli",
        "patronauth fines show HKPL0001",
        "an overdue loan, a fine, a payment, the balance",
    ),
    Try(
        "hkpl",
        "HKPL0001",
        "cli",
        "patronauth checkin BK10005 --institution hkpl",
        "fine charged; waits for HKPL0002's reservation",
    ),
    Try(
        "hkpl",
        "-",
        "cli",
        "patronauth calendar show --institution hkpl",
        "no fines 2020-12-02 to 2021-03-04 (seed 001)",
    ),
    Try(
        "polyu",
        "21012345A",
        "web",
        "renew Introduction to Algorithms, then SICP",
        "renewed; renewal.reserved",
    ),
    Try("polyu", "19054321B", "web", "renew Principles of Economics", "renewal.overdue_block"),
    Try(
        "polyu",
        "21012345A",
        "cli",
        "patronauth request list 21012345A",
        "a recommendation, an interlibrary loan",
    ),
    Try(
        "hkct",
        "20181234",
        "web",
        "renew Principles of Marketing, then Accounting Principles",
        "renewed; renewal.reserved",
    ),
    Try(
        "hku",
        "SP7654321",
        "web",
        "renew A History of Hong Kong, then The Concept of Law",
        "renewed; renewal.reserved",
    ),
    Try("hku", "SP7654321", "web", "reserve The Wealth of Nations", "waiting, place 1"),
)


@dataclass
class Added:
    copies: int = 0
    loans: int = 0
    reservations: int = 0
    requests: int = 0

    def as_dict(self) -> dict[str, int]:
        return {
            "copies": self.copies,
            "loans": self.loans,
            "reservations": self.reservations,
            "requests": self.requests,
        }


def load(app: App, staff: str) -> Added:
    """The demo lending of each library that has none yet (the demo patrons exist)."""
    added = Added()
    for lending in LENDING:
        ports = app.ports
        first = lending.titles[0].copies[0][0]
        with ports.uow() as uow:
            present = uow.catalogue.item_by_barcode(lending.institution, first) is not None
        if not present:
            _load(ports, lending, staff, added)
    return added


def _load(ports: Ports, lending: Lending, staff: str, added: Added) -> None:
    now = ports.clock.now()
    clock = ManualClock(now)
    past = replace(ports, clock=clock)
    institution = lending.institution

    def patron_id(card: str) -> int:
        with ports.uow() as uow:
            return require_patron(uow, ports.profiles, card, institution=institution).patron.id

    def title_id(barcode: str) -> int:
        with ports.uow() as uow:
            copy = uow.catalogue.item_by_barcode(institution, barcode)
        assert copy is not None
        return copy.title_id

    def run(step: Step) -> None:
        match step:
            case Loan(card, item, _, _):
                checkout(past, card, item, actor=staff, channel="staff", institution=institution)
            case Return(item, _):
                checkin(past, item, institution, actor=staff, channel="staff")
            case Payment(card, cents, _):
                pay_fines(past, card, cents, staff=staff, institution=institution)
            case Reservation(card, item, pickup, _):
                place_reservation(past, patron_id(card), title_id(item), pickup, channel="web")
            case Request(card, kind, title, author, note, _):
                submit_request(
                    past, patron_id(card), kind, title=title, author=author, note=note,
                    channel="web",
                )  # fmt: skip

    oldest = max([loan.days_ago for loan in lending.loans], default=0) + 1
    clock.set(now - timedelta(days=oldest))
    for title in lending.titles:
        for barcode, library in title.copies:
            add_item(
                past,
                institution,
                barcode=barcode,
                title=title.title,
                author=title.author,
                home_library=library,
                staff=staff,
            )
            added.copies += 1

    # Every step at its own moment, the oldest first (in the order above on one day).
    steps: list[Step] = [
        *lending.loans,
        *(
            Return(x.item, x.returned_days_ago)
            for x in lending.loans
            if x.returned_days_ago is not None
        ),
        *lending.payments,
        *lending.reservations,
        *lending.requests,
    ]
    for step in sorted(steps, key=lambda s: -s.days_ago):
        clock.set(now - timedelta(days=step.days_ago))
        run(step)
    added.loans += len(lending.loans)
    added.reservations += len(lending.reservations)
    added.requests += len(lending.requests)

    for closure in lending.closures:
        clock.set(closure.closed_at)
        close_calendar(past, institution, closure.start, None, staff=staff)
        clock.set(closure.resumed_at)
        resume_calendar(past, institution, closure.resumed, staff=staff)

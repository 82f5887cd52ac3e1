"""Registering patrons, one at a time or from a registry feed (R15-R17, R21, R25, S9).

Personal data is validated, then kept only as far as the rules need it: the phone
and ID numbers as a mask plus a keyed digest, and each default as a keyed digest
computed once here, never recomputed from stored data (S9).
"""

from __future__ import annotations

import gc
import hashlib
import heapq
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, NamedTuple, Protocol, TypeVar, runtime_checkable

from patronauth.domain.credentials import CredentialKind, CredentialState
from patronauth.domain.defaults import RegistrationData, derive
from patronauth.domain.errors import InvalidInput, Refused, Violation
from patronauth.domain.identifiers import (
    IdDocument,
    IdentifierKind,
    IdType,
    base_form,
    lockout_key,
    mask_phone,
    normalise,
    normalise_email,
    normalise_name,
    normalise_phone,
    parse_id_document,
    parse_julac,
)
from patronauth.domain.patrons import Patron, PatronStatus
from patronauth.domain.profile import LANGUAGES, BarcodeFormat, Category, Profile
from patronauth.services.audit import Trail
from patronauth.services.interfaces import (
    KeyedDigests,
    KnownBarcode,
    NewCredential,
    NewPatron,
    Ports,
    RegistryRow,
    SecretHasher,
)
from patronauth.services.workers import BatchWork, available_cores

T = TypeVar("T")


@dataclass(frozen=True)
class Registration:
    """What staff or a registry feed give about one patron (all text as typed)."""

    institution: str
    barcode: str
    category: str | None = None
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    id_number: str | None = None
    id_type: IdType | None = None
    student_number: str | None = None
    staff_number: str | None = None
    registered_on: date | None = None
    pending: bool = False
    language: str = "en"
    # The fields a registry row gives (non-empty cells); None: all of them (staff
    # registering one patron). An update of a known patron changes only these.
    given: frozenset[str] | None = None


class Checked(NamedTuple):
    """A registration validated and normalised: everything but the keyed digests.

    It needs no uid, so a registry feed checks its rows before it knows which patrons
    exist already, in worker processes: it is a plain tuple, cheap to pass between
    processes. It holds personal data and defaults in clear, so it is never stored,
    logged or shown (its repr leaves them out).
    """

    barcode: str
    lookup_key: str
    kind: IdentifierKind
    category: str
    pending: bool
    name: str | None
    email: str | None
    phone: str | None  # digits only
    id_type: IdType | None
    id_number: str | None  # compact, e.g. `A1234563`
    id_masked: str | None
    registered_on: date
    language: str
    defaults: tuple[tuple[CredentialKind, str], ...]
    student_number: str | None = None
    staff_number: str | None = None
    given: frozenset[str] | None = None
    # A feed row without the data its default needs: the code a new patron is refused
    # with (a known patron keeps the credentials it has).
    missing_default: str | None = None
    # R20: the student or staff number that links a directory category's record to its
    # directory entry, kept as an identifier of the patron.
    link: tuple[IdentifierKind, str] | None = None

    def __repr__(self) -> str:
        return f"Checked(barcode={self.barcode!r}, category={self.category!r})"


# A new patron's stored form: personal data and defaults as keyed digests.
Digested = tuple[NewPatron, tuple[NewCredential, ...]]
# A uid and the keyed digests under it of a registration's values (`new_patron_digests`).
Keyed = tuple[str, dict[str, str]]


@dataclass(frozen=True)
class Prepared:
    barcode: str
    lookup_key: str
    kind: IdentifierKind
    patron: NewPatron
    credentials: tuple[NewCredential, ...]
    link: tuple[IdentifierKind, str] | None = None


def _optional(value: str | None) -> str | None:
    if value is None:
        return None
    stripped = value.strip()
    return stripped or None


def _card(registration: Registration, profile: Profile) -> tuple[Category, str, IdentifierKind]:
    """The category and the stored barcode: a JULAC card number where the category says so."""
    category = _on("category", profile.category, _optional(registration.category))
    if category.barcode_format is BarcodeFormat.JULAC:
        card = _on("barcode", parse_julac, registration.barcode).card_number
        return category, card, IdentifierKind.JULAC
    barcode = _on("barcode", normalise, registration.barcode, profile.identifiers)
    return category, barcode, IdentifierKind.BARCODE


def _on(name: str, parse: Callable[..., T], *args: Any) -> T:
    """`parse(*args)`, its refusal naming the field `name`."""
    try:
        return parse(*args)
    except Refused as refused:
        raise type(refused)(*(v.on(name) for v in refused.violations)) from None


class _Problems:
    """Every field's refusal of one registration, so that all are told at once."""

    def __init__(self) -> None:
        self.violations: list[Violation] = []

    def of(self, name: str, parse: Callable[[str], T], value: str | None) -> T | None:
        text = _optional(value)
        if text is None:
            return None
        try:
            return _on(name, parse, text)
        except Refused as refused:
            self.violations.extend(refused.violations)
            return None


def check(registration: Registration, profile: Profile, *, today: date) -> Checked:
    """Validate one registration and derive its defaults; no digest, nothing written.
    Every wrong field is told at once."""
    try:
        category, barcode, kind = _card(registration, profile)
    except Refused as refused:
        problems = _Problems()
        _fields(registration, problems, today)
        if not problems.violations:
            raise
        raise InvalidInput(*refused.violations, *problems.violations) from None
    return _check_card(registration, profile, category, barcode, kind, today)


class _Fields(NamedTuple):
    name: str | None
    email: str | None
    phone: str | None
    document: IdDocument | None
    student: str | None
    staff: str | None
    registered_on: date


def _fields(registration: Registration, problems: _Problems, today: date) -> _Fields:
    id_type = registration.id_type
    fields = _Fields(
        name=problems.of("name", normalise_name, registration.name),
        email=problems.of("email", normalise_email, registration.email),
        phone=problems.of("phone", normalise_phone, registration.phone),
        document=problems.of(
            "id_number", lambda v: parse_id_document(v, id_type), registration.id_number
        ),
        student=problems.of("student_number", base_form, registration.student_number),
        staff=problems.of("staff_number", base_form, registration.staff_number),
        registered_on=registration.registered_on or today,
    )
    if registration.language not in LANGUAGES:
        known = ", ".join(LANGUAGES)
        problems.violations.append(Violation("language.unknown", {"known": known}, "language"))
    if fields.registered_on > today:
        problems.violations.append(Violation("registered_on.in_future", field="registered_on"))
    return fields


def _check_card(
    registration: Registration,
    profile: Profile,
    category: Category,
    barcode: str,
    kind: IdentifierKind,
    today: date,
) -> Checked:
    problems = _Problems()
    f = _fields(registration, problems, today)
    digits = profile.identifiers.student_number_digits
    if (
        f.student is not None
        and digits
        and not (f.student.isascii() and f.student.isdigit() and len(f.student) == digits)
    ):
        problems.violations.append(
            Violation("student_number.invalid", {"digits": digits}, "student_number")
        )
    if problems.violations:
        raise InvalidInput(*problems.violations)
    name, email, phone, document, student, staff = (
        f.name, f.email, f.phone, f.document, f.student, f.staff
    )  # fmt: skip
    id_text = _optional(registration.id_number)
    registered_on = f.registered_on

    data = RegistrationData(
        phone=phone,
        id_number=id_text,
        student_number=student,
        staff_number=staff,
        id_type=document.type if document else None,
    )
    link = _link(category, student, staff)
    missing = None
    try:
        defaults = _defaults(profile, category.name, registered_on, data)
    except Refused as refusal:
        if registration.given is None or not refusal.code.startswith("default.missing_"):
            raise
        defaults, missing = (), refusal.code
    return Checked(
        barcode=barcode,
        lookup_key=lockout_key(barcode),
        kind=kind,
        category=category.name,
        pending=registration.pending,
        name=name,
        email=email,
        phone=phone,
        id_type=document.type if document else None,
        id_number=document.number if document else None,
        id_masked=document.masked if document else None,
        registered_on=registered_on,
        language=registration.language,
        defaults=defaults,
        link=link,
        student_number=student,
        staff_number=staff,
        given=registration.given,
        missing_default=missing,
    )


def _defaults(
    profile: Profile, category: str, registered_on: date, data: RegistrationData
) -> tuple[tuple[CredentialKind, str], ...]:
    defaults = []
    # R20: a directory category's secrets are the directory's; PatronAuth holds none.
    in_directory = profile.category(category).in_directory
    for cred_kind in profile.kinds if not in_directory else ():
        settings = profile.credential(category, cred_kind)
        default = derive(settings.default_rule_for(registered_on), data)
        if default is not None:
            defaults.append((cred_kind, default))
    return tuple(defaults)


def _as_update(checked: Checked, known: KnownBarcode, profile: Profile) -> Checked | Refused:
    """A feed row for a known patron: the registration date never moves, a category the
    row does not give stays, and the defaults follow from those (docs/registry-feed.md)."""
    given = checked.given
    category = checked.category if given is None or "category" in given else known.category
    if (category, known.registered_on) == (checked.category, checked.registered_on):
        return checked
    data = RegistrationData(
        phone=checked.phone,
        id_number=checked.id_number,
        student_number=checked.student_number,
        staff_number=checked.staff_number,
        id_type=checked.id_type,
    )
    missing = None
    try:
        defaults = _defaults(profile, category, known.registered_on, data)
    except Refused as refusal:
        if not refusal.code.startswith("default.missing_"):
            return refusal
        defaults, missing = (), refusal.code
    return checked._replace(
        category=category,
        registered_on=known.registered_on,
        defaults=defaults,
        missing_default=missing,
    )


def _link(
    category: Category, student: str | None, staff: str | None
) -> tuple[IdentifierKind, str] | None:
    """A directory category's record names its directory entry by the student or staff
    number (R20); it has no local secret and so no default."""
    if not category.in_directory:
        return None
    if student and staff:
        raise InvalidInput.of("directory.link_ambiguous")
    if student:
        return IdentifierKind.STUDENT_NUMBER, student
    if staff:
        return IdentifierKind.STAFF_NUMBER, staff
    raise InvalidInput.of("directory.link_missing")


def new_patron_digests(checked: Checked, hasher: KeyedDigests, uid: str) -> Keyed:
    """The keyed digests a new patron of `checked` stores, salted with `uid` (S9); each
    value once (HKPL's password and PIN defaults are one)."""
    values = [default for _, default in checked.defaults]
    values += [value for value in (checked.phone, checked.id_number) if value]
    return uid, {value: hasher.keyed(value, salt=uid) for value in dict.fromkeys(values)}


def digest(
    checked: Checked,
    institution: str,
    hasher: KeyedDigests,
    *,
    uid: str,
    now: datetime,
    known: dict[str, str] | None = None,
) -> Digested:
    """What is stored for a checked registration: personal data and defaults as keyed
    digests salted with the patron's uid (S9); `known`: those computed already."""
    digests = dict(known) if known else {}

    def keyed(value: str) -> str:
        # Equal values have equal digests (HKPL's password and PIN defaults are one).
        known = digests.get(value)
        if known is None:
            known = digests[value] = hasher.keyed(value, salt=uid)
        return known

    credentials = tuple(
        NewCredential(
            kind=cred_kind,
            state=CredentialState.DEFAULT,
            secret_hash=keyed(default),
            default_digest=keyed(default),
            policy_from=None,
            set_at=now,
        )
        for cred_kind, default in checked.defaults
    )
    phone, id_number = checked.phone, checked.id_number
    patron = NewPatron(
        uid=uid,
        institution=institution,
        category=checked.category,
        status=PatronStatus.PENDING_REGISTRATION if checked.pending else PatronStatus.ACTIVE,
        name=checked.name,
        email=checked.email,
        phone_masked=mask_phone(phone) if phone else None,
        phone_digest=keyed(phone) if phone else None,
        id_type=checked.id_type,
        id_masked=checked.id_masked,
        id_digest=keyed(id_number) if id_number else None,
        registered_on=checked.registered_on,
        language=checked.language,
    )
    return patron, credentials


def prepare(
    registration: Registration,
    profile: Profile,
    hasher: SecretHasher,
    *,
    uid: str,
    now: datetime,
) -> Prepared:
    """Validate one registration and compute what is stored. Nothing is written."""
    checked = check(registration, profile, today=profile.day_of(now))
    patron, credentials = digest(checked, profile.id, hasher, uid=uid, now=now)
    return Prepared(
        checked.barcode, checked.lookup_key, checked.kind, patron, credentials, checked.link
    )


def add_patron(ports: Ports, registration: Registration, *, staff: str) -> Patron:
    profile = ports.profiles.get(registration.institution)
    now = ports.clock.now()
    prepared = prepare(registration, profile, ports.hasher, uid=ports.randomness.token(), now=now)
    with ports.uow() as uow:
        trail = Trail(uow, ports.clock, staff, "staff", at=now)
        patron = uow.patrons.add(prepared.patron)
        uow.patrons.add_identifier(patron.id, prepared.kind, prepared.barcode, prepared.lookup_key)
        if prepared.link is not None:
            kind, number = prepared.link
            uow.patrons.add_identifier(patron.id, kind, number, lockout_key(number))
        for credential in prepared.credentials:
            uow.credentials.add(patron.id, credential)
        trail.record(
            "patron.add",
            patron,
            {"category": patron.category, "status": patron.status.value},
            identifier=prepared.lookup_key,
        )
        uow.commit()
    return patron


# --- registry feeds (bulk provisioning, R25) -----------------------------------------


@dataclass(frozen=True)
class RowError:
    line: int
    refusal: Refused


@dataclass
class ImportReport:
    created: int = 0
    updated: int = 0
    # Known patrons whose row is the one last imported for them: nothing written.
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def refused(self) -> int:
        return len(self.errors)


Progress = Callable[[int], None]
BATCH_SIZE = 5000
# An import that adds at least this many patrons refreshes the database's planning
# statistics when it ends (`Registry.after_bulk_load`).
BULK_LOAD = 1000

# A refusal crosses between processes as its class and violations.
_Portable = tuple[type[Refused], tuple[Violation, ...]]
# Per row: the stored barcode (or why the row has none), then the checked
# registration (or why it was refused, or _UNCHANGED: a line skipped unparsed), then
# the digests a new patron of that registration stores (when the checking computed
# them); the barcode alone decides duplicates.
_UNCHANGED = "unchanged"
_RowCheck = tuple[int, str | _Portable, Checked | _Portable | str | None, Keyed | None]

RawLines = list[tuple[int, bytes]]
ParseLines = Callable[[RawLines], list[tuple[int, Registration | Refused]]]


@runtime_checkable
class RawRows(Protocol):
    """Rows that can also be handed over unparsed, so that parsing runs with the
    checks in worker processes (a registry CSV feed does this)."""

    def parser(self) -> ParseLines:
        """A picklable function parsing (line number, raw line) pairs into rows."""

    def raw_batches(self, size: int) -> Iterator[RawLines]:
        """The lines not read yet, `size` at a time."""

    def layout(self) -> str:
        """What gives a line its meaning besides its bytes (a CSV feed's header)."""


_LINE_STAMP = "registry-line/1"
# A card on record is found by the first 22 base64 characters of its line's MAC (132
# bits, HMAC-SHA256 truncated): two different lines share them with a chance of one
# in 2**132 a pair, below 10**-25 for a feed of ten million lines against as many cards.
_SHORT_MAC = 22


class LineStamp:
    """The fingerprint of a raw feed line, kept with the card it created or updated.

    A line whose fingerprint is on record is the very line that card was last written
    from, so a re-import skips it without parsing or checking it: a daily full feed
    pays only for the lines that changed (P3). The fingerprint covers the line's bytes,
    the feed's layout (its header), and the institution's rules a row's outcome
    follows from (identifier rule, categories, default rules), so that a changed rule
    writes every row again. The lines hold personal data (ID and phone numbers), so
    it is a keyed digest (HMAC under the pepper, S9); a new pepper key gives new
    fingerprints and the next import writes every row once more.
    """

    def __init__(self, digests: KeyedDigests, profile: Profile, layout: str) -> None:
        # Pickled with a first import's batches, so that the workers fingerprint the
        # lines they check: the digester, as for the rows' digests (S9).
        self._digests = digests
        self._salt = f"registry/{profile.id}"
        rules = hashlib.sha256(_import_rules(profile).encode("utf-8")).hexdigest()
        self._prefix = "\x1f".join((_LINE_STAMP, profile.id, rules, layout, ""))
        # What every fingerprint made here begins with (the digest's scheme, the pepper
        # key's id and the salt); the MAC follows the last colon (base64url has none).
        sample = digests.keyed("", salt=self._salt)
        self._head = sample[: sample.rindex(":") + 1]

    def __call__(self, raw: bytes) -> str:
        raw = raw.rstrip(b"\r\n")
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            # Such a line is refused, so never on record; a NUL keeps it apart from
            # every line that is not (they are refused for a NUL too).
            line = "\0" + raw.hex()
        return self._digests.keyed(self._prefix + line, salt=self._salt)

    def short(self, fingerprint: str) -> str:
        """The first `_SHORT_MAC` characters of a fingerprint's MAC (`on_record`)."""
        start = len(self._head)
        return fingerprint[start : start + _SHORT_MAC]

    def on_record(self, fingerprints: Iterable[tuple[str, str]]) -> dict[str, str]:
        """The cards on record by the short form of the fingerprint of the line each was
        last written from, read as the rows stream in: a re-import holds one short entry
        per card, about half the memory the whole fingerprints took at their peak (P3).
        Fingerprints made under another pepper key, which no line stamped now can
        match, are left out."""
        head, start, end = self._head, len(self._head), len(self._head) + _SHORT_MAC
        return {f[start:end]: barcode for f, barcode in fingerprints if f.startswith(head)}


def _import_rules(profile: Profile) -> str:
    """The parts of a profile that decide what a feed row becomes, as stable text
    (frozensets, whose order varies between processes, left out)."""
    parts = [repr(profile.identifiers), profile.default_category, repr(profile.kinds)]
    for name, category in sorted(profile.categories.items()):
        defaults = [
            (kind.value, settings.defaults)
            for kind, settings in sorted(category.credentials.items())
        ]
        parts.append(
            repr(
                (
                    name,
                    category.barcode_format.value,
                    category.credential_source.value,
                    defaults,
                )
            )
        )
    return "\n".join(parts)


def import_registry(
    ports: Ports,
    institution: str,
    rows: Iterable[tuple[int, Registration | Refused]],
    *,
    staff: str,
    source: str = "",
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
    workers: int | None = None,
) -> ImportReport:
    """Create or update patrons by barcode; bad rows are reported, good rows land.

    `rows` are (line number, parsed registration or the refusal of its parsing).
    Each batch is one transaction. Running the same feed twice never duplicates; a
    barcode twice in one feed keeps the first row. With `RawRows`, a line that is the
    one its card was last written from is skipped unread (`LineStamp`); other rows
    update every time.

    Rows are checked (and `RawRows` parsed) in `workers` processes while earlier
    batches are stored here (default: one worker per core; none on one core or for a
    feed of one batch). Batches are stored in feed order, so the outcome is the same
    whatever the number of workers.
    """
    profile = ports.profiles.get(institution)
    report = ImportReport()
    seen: set[str] = set()
    cores = available_cores()
    workers = workers if workers is not None else cores if cores > 1 else 0
    digester = ports.hasher.digester()
    with _no_cycle_collection(), BatchWork(workers) as work:
        in_flight: deque[_InFlight] = deque()
        for batch in _work(ports, profile, rows, batch_size):
            now = ports.clock.now()
            args = (*batch.args, profile, profile.day_of(now))
            if batch.lines >= batch_size // 10:
                # Checked and, for new patrons, digested where the batch is checked:
                # in a worker, with the current pepper key (S9), this process being
                # the import's bottleneck (P3).
                checks = work.submit(batch.call, *args, digester)
            else:  # a re-import's few changed lines: checked here, no worker started;
                # mostly known patrons, digested under their uid when stored
                checks = work.here(batch.call, *args, None)
            in_flight.append(_InFlight(batch, now, checks))
            while len(in_flight) > work.depth:
                _land(ports, profile, in_flight.popleft(), seen, report, progress)
        while in_flight:
            _land(ports, profile, in_flight.popleft(), seen, report, progress)
    with ports.uow() as uow:
        trail = Trail(uow, ports.clock, staff, "staff")
        trail.record(
            "patron.import",
            None,
            {
                "created": str(report.created),
                "updated": str(report.updated),
                "unchanged": str(report.unchanged),
                "refused": str(report.refused),
            },
            outcome="ok" if not report.errors else "partial",
            source=source,
            institution=institution,
        )
        if report.created >= BULK_LOAD:
            uow.registry.after_bulk_load()
        uow.commit()
    return report


@dataclass
class _Batch:
    size: int  # feed lines, skipped ones included
    lines: int  # rows to check
    call: Callable[..., _Checks]
    args: tuple[object, ...]  # before the profile, the date and the digester
    skipped: list[_RowCheck] = field(default_factory=list)  # unchanged lines, in order
    stamps: dict[int, str] = field(default_factory=dict)  # line number -> fingerprint


# A batch's rows as checked, and the fingerprints of its lines where the checking
# computed them (line number -> fingerprint; else they are the batch's `stamps`).
_Checks = tuple[list[_RowCheck], dict[int, str]]


class _InFlight(NamedTuple):
    batch: _Batch
    now: datetime
    checks: Future[_Checks]


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector (process-wide) for the import, and restore it.

    A feed of a million rows allocates tens of millions of objects, all freed by
    reference counting as their batch lands: the import makes no reference cycles.
    The collector's full passes over the growing heap (the set of barcodes seen holds
    a million entries) found nothing and took a fifth of the time. The import's
    worker processes run with it paused too (`BatchWork`); the few rows checked here
    are checked inside this pause.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _work(
    ports: Ports,
    profile: Profile,
    rows: Iterable[tuple[int, Registration | Refused]],
    size: int,
) -> Iterator[_Batch]:
    """The batches to check, in feed order."""
    if isinstance(rows, RawRows):
        stamp = LineStamp(ports.hasher.digester(), profile, rows.layout())
        with ports.read() as uow:
            on_record = stamp.on_record(uow.registry.fingerprints(profile.id))
        parse = rows.parser()
        if not on_record:
            # No line can be skipped (the institution's first import, or the first
            # under a new pepper key): each line is fingerprinted where it is checked,
            # off this process, the import's bottleneck (P3).
            for lines in rows.raw_batches(size):
                args = (parse, stamp, lines, _uids(ports, lines))
                yield _Batch(len(lines), len(lines), _check_lines, args)
            return
        for lines in rows.raw_batches(size):
            stamps = [stamp(raw) for _, raw in lines]
            skipped: list[_RowCheck] = []
            fresh: RawLines = []
            batch_stamps: dict[int, str] = {}
            for (line, raw), fingerprint in zip(lines, stamps, strict=True):
                # A card's entry goes once its line is met: a second line equal to it
                # is checked, then refused as a duplicate, as any repeated barcode.
                barcode = on_record.pop(stamp.short(fingerprint), None)
                if barcode is not None:
                    skipped.append((line, barcode, _UNCHANGED, None))
                else:
                    fresh.append((line, raw))
                    batch_stamps[line] = fingerprint
            unstamped = (parse, None, fresh, _uids(ports, fresh))
            yield _Batch(len(lines), len(fresh), _check_lines, unstamped, skipped, batch_stamps)
        return
    batch: list[tuple[int, Registration | _Portable]] = []
    for line, item in rows:
        batch.append((line, _portable(item) if isinstance(item, Refused) else item))
        if len(batch) >= size:
            yield _Batch(len(batch), len(batch), _check_rows, (batch, _uids(ports, batch)))
            batch = []
    if batch:
        yield _Batch(len(batch), len(batch), _check_rows, (batch, _uids(ports, batch)))


def _uids(ports: Ports, rows: Sequence[object]) -> list[str]:
    """A uid for each row, should it be a new patron (a known one keeps its own)."""
    token = ports.randomness.token
    return [token() for _ in rows]


def _portable(refusal: Refused) -> _Portable:
    return type(refusal), refusal.violations


def _restored(portable: _Portable) -> Refused:
    cls, violations = portable
    return cls(*violations)


def _check_lines(
    parse: ParseLines,
    stamp: LineStamp | None,
    lines: RawLines,
    uids: list[str],
    profile: Profile,
    today: date,
    digester: KeyedDigests | None,
) -> _Checks:
    """Parse and check raw lines (`_check_rows`); with a `stamp`, fingerprint them."""
    rows = [
        (line, _portable(item) if isinstance(item, Refused) else item)
        for line, item in parse(lines)
    ]
    checks, _ = _check_rows(rows, uids, profile, today, digester)
    return checks, {line: stamp(raw) for line, raw in lines} if stamp is not None else {}


def _check_rows(
    rows: Sequence[tuple[int, Registration | _Portable]],
    uids: list[str],
    profile: Profile,
    today: date,
    digester: KeyedDigests | None,
) -> _Checks:
    """Check rows without storage or clock (this may run in a worker); with a
    `digester`, digest each checked row as a new patron with its row's uid."""
    # A uid for every line, and blank lines give no row: which uid a row takes is no
    # matter (they are all random).
    numbered = zip(rows, uids, strict=False)
    checks = [_check_row(line, row, uid, profile, today, digester) for (line, row), uid in numbered]
    return checks, {}


def _check_row(
    line: int,
    registration: Registration | _Portable,
    uid: str,
    profile: Profile,
    today: date,
    digester: KeyedDigests | None,
) -> _RowCheck:
    if not isinstance(registration, Registration):
        return line, registration, None, None
    try:
        category, barcode, kind = _card(registration, profile)
    except Refused as refusal:
        return line, _portable(refusal), None, None
    try:
        checked = _check_card(registration, profile, category, barcode, kind, today)
    except Refused as refusal:
        return line, barcode, _portable(refusal), None
    keyed = None
    if digester is not None and checked.missing_default is None:
        keyed = new_patron_digests(checked, digester, uid)
    return line, barcode, checked, keyed


def _land(
    ports: Ports,
    profile: Profile,
    flight: _InFlight,
    seen: set[str],
    report: ImportReport,
    progress: Progress | None,
) -> None:
    batch = flight.batch
    checks, stamped = flight.checks.result()
    if batch.skipped:
        checks = list(heapq.merge(checks, batch.skipped, key=lambda check: check[0]))
    accepted = _accepted(checks, seen, report)
    _store(ports, profile, flight.now, accepted, stamped or batch.stamps, report)
    if progress is not None:
        progress(batch.size)


_Accepted = tuple[int, str, Checked | Refused, Keyed | None]


def _accepted(checks: list[_RowCheck], seen: set[str], report: ImportReport) -> list[_Accepted]:
    """Refuse what the feed alone refuses, in feed order; the rest goes to storage."""
    accepted: list[_Accepted] = []
    for line, barcode, checked, keyed in checks:
        if not isinstance(barcode, str):
            report.errors.append(RowError(line, _restored(barcode)))
            continue
        if barcode in seen:
            report.errors.append(RowError(line, Refused.of("import.duplicate_barcode")))
            continue
        seen.add(barcode)
        if checked == _UNCHANGED:
            report.unchanged += 1
            continue
        assert checked is not None
        assert not isinstance(checked, str)
        refusal_or_checked = checked if isinstance(checked, Checked) else _restored(checked)
        accepted.append((line, barcode, refusal_or_checked, keyed))
    return accepted


def _store(
    ports: Ports,
    profile: Profile,
    now: datetime,
    accepted: list[_Accepted],
    stamps: dict[int, str],
    report: ImportReport,
) -> None:
    """One transaction: what the stored data refuses, then create or update the rest."""
    if not accepted:
        return
    with ports.uow() as uow:
        known = uow.registry.existing([barcode for _, barcode, _, _ in accepted])
        numbers = [c.link[1] for _, _, c, _ in accepted if isinstance(c, Checked) and c.link]
        linked = uow.registry.existing(numbers) if numbers else {}
        seen: set[str] = set()
        rows = []
        for line, barcode, checked, keyed in accepted:
            existing = known.get(barcode)
            if existing is not None and existing.replaced:
                report.errors.append(RowError(line, Refused.of("identifier.replaced")))
                continue
            if isinstance(checked, Refused):
                report.errors.append(RowError(line, checked))
                continue
            if existing is not None and existing.institution != profile.id:
                report.errors.append(RowError(line, Refused.of("identifier.taken")))
                continue
            if existing is not None:
                updated = _as_update(checked, existing, profile)
                if isinstance(updated, Refused):
                    report.errors.append(RowError(line, updated))
                    continue
                checked = updated
            elif checked.missing_default is not None:
                report.errors.append(RowError(line, Refused.of(checked.missing_default)))
                continue
            link = None
            if checked.link is not None:
                kind, number = checked.link
                holder = linked.get(number)
                mine = existing.patron_id if existing else None
                if number in seen or (holder is not None and holder.patron_id != mine):
                    report.errors.append(RowError(line, Refused.of("identifier.taken")))
                    continue
                seen.add(number)
                link = None if holder is not None else (kind, number, lockout_key(number))
            known_digests = None
            if existing is not None:
                uid = existing.uid
            elif keyed is not None:
                uid, known_digests = keyed
            else:
                uid = ports.randomness.token()
            patron, credentials = digest(
                checked, profile.id, ports.hasher, uid=uid, now=now, known=known_digests
            )
            rows.append(
                RegistryRow(
                    line=line,
                    barcode=checked.barcode,
                    lookup_key=checked.lookup_key,
                    kind=checked.kind,
                    patron=patron,
                    credentials=credentials,
                    patron_id=existing.patron_id if existing else None,
                    given=checked.given if existing else None,
                    link=link,
                    fingerprint=stamps.get(line),
                )
            )
        if not rows:
            return
        result = uow.registry.upsert(rows)
        uow.commit()
    report.created += result.created
    report.updated += result.updated

"""Registering patrons, one at a time or from a registry feed (R15-R17, R21, R25, S9).

Personal data is validated, then kept only as far as the rules need it: the phone
and ID numbers as a mask plus a keyed digest, and each default as a keyed digest
computed once here, never recomputed from stored data (S9).
"""

from __future__ import annotations

import gc
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import NamedTuple, Protocol, runtime_checkable

from patronauth.domain.credentials import CredentialKind, CredentialState
from patronauth.domain.defaults import RegistrationData, derive
from patronauth.domain.errors import InvalidInput, Refused, Violation
from patronauth.domain.identifiers import (
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
    NewCredential,
    NewPatron,
    Ports,
    RegistryRow,
    SecretHasher,
)
from patronauth.services.workers import BatchWork, available_cores


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

    def __repr__(self) -> str:
        return f"Checked(barcode={self.barcode!r}, category={self.category!r})"


@dataclass(frozen=True)
class Prepared:
    barcode: str
    lookup_key: str
    kind: IdentifierKind
    patron: NewPatron
    credentials: tuple[NewCredential, ...]


def _optional(value: str | None) -> str | None:
    if value is None:
        return None
    stripped = value.strip()
    return stripped or None


def _name(value: str | None) -> str | None:
    name = _optional(value)
    return normalise_name(name) if name is not None else None


def _card(registration: Registration, profile: Profile) -> tuple[Category, str, IdentifierKind]:
    """The category and the stored barcode: a JULAC card number where the category says so."""
    category = profile.category(_optional(registration.category))
    if category.barcode_format is BarcodeFormat.JULAC:
        return category, parse_julac(registration.barcode).card_number, IdentifierKind.JULAC
    return category, normalise(registration.barcode, profile.identifiers), IdentifierKind.BARCODE


def check(registration: Registration, profile: Profile, *, today: date) -> Checked:
    """Validate one registration and derive its defaults; no digest, nothing written."""
    category, barcode, kind = _card(registration, profile)
    return _check_card(registration, profile, category, barcode, kind, today)


def _check_card(
    registration: Registration,
    profile: Profile,
    category: Category,
    barcode: str,
    kind: IdentifierKind,
    today: date,
) -> Checked:
    name = _name(registration.name)
    email_text = _optional(registration.email)
    email = normalise_email(email_text) if email_text else None
    phone_text = _optional(registration.phone)
    phone = normalise_phone(phone_text) if phone_text else None
    id_text = _optional(registration.id_number)
    document = parse_id_document(id_text, registration.id_type) if id_text else None
    student_text = _optional(registration.student_number)
    student = base_form(student_text) if student_text else None
    staff_text = _optional(registration.staff_number)
    staff = base_form(staff_text) if staff_text else None
    if registration.language not in LANGUAGES:
        raise InvalidInput.of("language.unknown", known=", ".join(LANGUAGES))
    registered_on = registration.registered_on or today
    if registered_on > today:
        raise InvalidInput.of("registered_on.in_future")

    data = RegistrationData(
        phone=phone, id_number=id_text, student_number=student, staff_number=staff
    )
    defaults = []
    for cred_kind in profile.kinds:
        settings = profile.credential(category.name, cred_kind)
        default = derive(settings.default_rule_for(registered_on), data)
        if default is not None:
            defaults.append((cred_kind, default))
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
        defaults=tuple(defaults),
    )


def digest(
    checked: Checked, institution: str, hasher: SecretHasher, *, uid: str, now: datetime
) -> tuple[NewPatron, tuple[NewCredential, ...]]:
    """What is stored for a checked registration: personal data and defaults as keyed
    digests salted with the patron's uid (S9)."""
    digests: dict[str, str] = {}

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
    checked = check(registration, profile, today=now.date())
    patron, credentials = digest(checked, profile.id, hasher, uid=uid, now=now)
    return Prepared(checked.barcode, checked.lookup_key, checked.kind, patron, credentials)


def add_patron(ports: Ports, registration: Registration, *, staff: str) -> Patron:
    profile = ports.profiles.get(registration.institution)
    now = ports.clock.now()
    prepared = prepare(registration, profile, ports.hasher, uid=ports.randomness.token(), now=now)
    with ports.uow() as uow:
        trail = Trail(uow, ports.clock, staff, "staff", at=now)
        patron = uow.patrons.add(prepared.patron)
        uow.patrons.add_identifier(patron.id, prepared.kind, prepared.barcode, prepared.lookup_key)
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
    errors: list[RowError] = field(default_factory=list)

    @property
    def refused(self) -> int:
        return len(self.errors)


Progress = Callable[[int], None]
BATCH_SIZE = 5000

# A refusal crosses between processes as its class and violations.
_Portable = tuple[type[Refused], tuple[Violation, ...]]
# Per row: the stored barcode (or why the row has none), then the checked
# registration (or why it was refused); the barcode alone decides duplicates.
_RowCheck = tuple[int, str | _Portable, Checked | _Portable | None]

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
    Each batch is one transaction. Running the same feed twice updates, never
    duplicates; a barcode twice in one feed keeps the first row.

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
    with _no_cycle_collection(), BatchWork(workers) as work:
        in_flight: deque[tuple[int, datetime, Future[list[_RowCheck]]]] = deque()
        for size, call, args in _work(rows, batch_size):
            now = ports.clock.now()
            in_flight.append((size, now, work.submit(call, *args, profile, now.date())))
            while len(in_flight) > work.depth:
                _land(ports, profile, *in_flight.popleft(), seen, report, progress)
        while in_flight:
            _land(ports, profile, *in_flight.popleft(), seen, report, progress)
    with ports.uow() as uow:
        trail = Trail(uow, ports.clock, staff, "staff")
        trail.record(
            "patron.import",
            None,
            {
                "created": str(report.created),
                "updated": str(report.updated),
                "refused": str(report.refused),
            },
            outcome="ok" if not report.errors else "partial",
            source=source,
            institution=institution,
        )
        uow.commit()
    return report


@contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """Pause Python's cycle collector (process-wide) for the import, and restore it.

    A feed of a million rows allocates tens of millions of objects, all freed by
    reference counting as their batch lands: the import makes no reference cycles.
    The collector's full passes over the growing heap (the set of barcodes seen holds
    a million entries) found nothing and took a fifth of the time.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _work(
    rows: Iterable[tuple[int, Registration | Refused]], size: int
) -> Iterator[tuple[int, Callable[..., list[_RowCheck]], tuple[object, ...]]]:
    """The batches as (lines, worker function, its arguments before profile and date)."""
    if isinstance(rows, RawRows):
        parse = rows.parser()
        for lines in rows.raw_batches(size):
            yield len(lines), _check_lines, (parse, lines)
        return
    batch: list[tuple[int, Registration | _Portable]] = []
    for line, item in rows:
        batch.append((line, _portable(item) if isinstance(item, Refused) else item))
        if len(batch) >= size:
            yield len(batch), _check_rows, (batch,)
            batch = []
    if batch:
        yield len(batch), _check_rows, (batch,)


def _portable(refusal: Refused) -> _Portable:
    return type(refusal), refusal.violations


def _restored(portable: _Portable) -> Refused:
    cls, violations = portable
    return cls(*violations)


def _check_lines(
    parse: ParseLines, lines: RawLines, profile: Profile, today: date
) -> list[_RowCheck]:
    return _check_rows(
        [
            (line, _portable(item) if isinstance(item, Refused) else item)
            for line, item in parse(lines)
        ],
        profile,
        today,
    )


def _check_rows(
    rows: Sequence[tuple[int, Registration | _Portable]], profile: Profile, today: date
) -> list[_RowCheck]:
    """Check rows without storage, hasher or clock (this may run in a worker)."""
    checks: list[_RowCheck] = []
    for line, registration in rows:
        if not isinstance(registration, Registration):
            checks.append((line, registration, None))
            continue
        try:
            category, barcode, kind = _card(registration, profile)
        except Refused as refusal:
            checks.append((line, _portable(refusal), None))
            continue
        try:
            checked = _check_card(registration, profile, category, barcode, kind, today)
        except Refused as refusal:
            checks.append((line, barcode, _portable(refusal)))
            continue
        checks.append((line, barcode, checked))
    return checks


def _land(
    ports: Ports,
    profile: Profile,
    size: int,
    now: datetime,
    checks: Future[list[_RowCheck]],
    seen: set[str],
    report: ImportReport,
    progress: Progress | None,
) -> None:
    _store(ports, profile, now, _accepted(checks.result(), seen, report), report)
    if progress is not None:
        progress(size)


def _accepted(
    checks: list[_RowCheck], seen: set[str], report: ImportReport
) -> list[tuple[int, str, Checked | Refused]]:
    """Refuse what the feed alone refuses, in feed order; the rest goes to storage."""
    accepted: list[tuple[int, str, Checked | Refused]] = []
    for line, barcode, checked in checks:
        if not isinstance(barcode, str):
            report.errors.append(RowError(line, _restored(barcode)))
            continue
        if barcode in seen:
            report.errors.append(RowError(line, Refused.of("import.duplicate_barcode")))
            continue
        seen.add(barcode)
        assert checked is not None
        refusal_or_checked = checked if isinstance(checked, Checked) else _restored(checked)
        accepted.append((line, barcode, refusal_or_checked))
    return accepted


def _store(
    ports: Ports,
    profile: Profile,
    now: datetime,
    accepted: list[tuple[int, str, Checked | Refused]],
    report: ImportReport,
) -> None:
    """One transaction: what the stored data refuses, then create or update the rest."""
    if not accepted:
        return
    with ports.uow() as uow:
        known = uow.registry.existing([barcode for _, barcode, _ in accepted])
        rows = []
        for line, barcode, checked in accepted:
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
            uid = existing.uid if existing else ports.randomness.token()
            patron, credentials = digest(checked, profile.id, ports.hasher, uid=uid, now=now)
            rows.append(
                RegistryRow(
                    line=line,
                    barcode=checked.barcode,
                    lookup_key=checked.lookup_key,
                    kind=checked.kind,
                    patron=patron,
                    credentials=credentials,
                    patron_id=existing.patron_id if existing else None,
                )
            )
        result = uow.registry.upsert(rows)
        uow.commit()
    report.created += result.created
    report.updated += result.updated

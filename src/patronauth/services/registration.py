"""Registering patrons, one at a time or from a registry feed (R15-R17, R21, R25, S9).

Personal data is validated, then kept only as far as the rules need it: the phone
and ID numbers as a mask plus a keyed digest, and each default as a keyed digest
computed once here, never recomputed from stored data (S9).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from patronauth.domain.credentials import CredentialState
from patronauth.domain.defaults import RegistrationData, derive
from patronauth.domain.errors import InvalidInput, Refused
from patronauth.domain.identifiers import (
    IdentifierKind,
    IdType,
    base_form,
    lockout_key,
    mask_phone,
    normalise,
    normalise_email,
    normalise_phone,
    parse_id_document,
    parse_julac,
)
from patronauth.domain.patrons import Patron, PatronStatus
from patronauth.domain.profile import LANGUAGES, BarcodeFormat, Profile
from patronauth.domain.text import has_control_characters
from patronauth.services.interfaces import (
    AuditEvent,
    NewCredential,
    NewPatron,
    Ports,
    RegistryRow,
    SecretHasher,
)

MAX_NAME_LENGTH = 200


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
    if name is None:
        return None
    if has_control_characters(name) or len(name) > MAX_NAME_LENGTH:
        raise InvalidInput.of("name.invalid", max=MAX_NAME_LENGTH)
    return " ".join(name.split())


def prepare(
    registration: Registration,
    profile: Profile,
    hasher: SecretHasher,
    *,
    uid: str,
    now: datetime,
) -> Prepared:
    """Validate one registration and compute what is stored. Nothing is written."""
    category = profile.category(_optional(registration.category))
    if category.barcode_format is BarcodeFormat.JULAC:
        card = parse_julac(registration.barcode)
        barcode, kind = card.card_number, IdentifierKind.JULAC
    else:
        barcode, kind = normalise(registration.barcode, profile.identifiers), IdentifierKind.BARCODE
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
    registered_on = registration.registered_on or now.date()
    if registered_on > now.date():
        raise InvalidInput.of("registered_on.in_future")

    data = RegistrationData(
        phone=phone, id_number=id_text, student_number=student, staff_number=staff
    )
    credentials = []
    for cred_kind in profile.kinds:
        settings = profile.credential(category.name, cred_kind)
        default = derive(settings.default_rule_for(registered_on), data)
        if default is None:
            continue
        digest = hasher.keyed(default, salt=uid)
        credentials.append(
            NewCredential(
                kind=cred_kind,
                state=CredentialState.DEFAULT,
                secret_hash=digest,
                default_digest=digest,
                policy_from=None,
                set_at=now,
            )
        )
    patron = NewPatron(
        uid=uid,
        institution=profile.id,
        category=category.name,
        status=PatronStatus.PENDING_REGISTRATION if registration.pending else PatronStatus.ACTIVE,
        name=name,
        email=email,
        phone_masked=mask_phone(phone) if phone else None,
        phone_digest=hasher.keyed(phone, salt=uid) if phone else None,
        id_type=document.type if document else None,
        id_masked=document.masked if document else None,
        id_digest=hasher.keyed(document.number, salt=uid) if document else None,
        registered_on=registered_on,
        language=registration.language,
    )
    return Prepared(barcode, lockout_key(barcode), kind, patron, tuple(credentials))


def add_patron(ports: Ports, registration: Registration, *, staff: str) -> Patron:
    profile = ports.profiles.get(registration.institution)
    now = ports.clock.now()
    prepared = prepare(registration, profile, ports.hasher, uid=ports.randomness.token(), now=now)
    with ports.uow() as uow:
        patron = uow.patrons.add(prepared.patron)
        uow.patrons.add_identifier(patron.id, prepared.kind, prepared.barcode, prepared.lookup_key)
        for credential in prepared.credentials:
            uow.credentials.add(patron.id, credential)
        uow.audit.record(
            AuditEvent(
                at=now,
                action="patron.add",
                outcome="ok",
                actor=staff,
                channel="staff",
                institution=profile.id,
                patron_id=patron.id,
                identifier=prepared.lookup_key,
                detail={"category": patron.category, "status": patron.status.value},
            )
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


def import_registry(
    ports: Ports,
    institution: str,
    rows: Iterable[tuple[int, Registration | Refused]],
    *,
    staff: str,
    source: str = "",
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
) -> ImportReport:
    """Create or update patrons by barcode; bad rows are reported, good rows land.

    `rows` are (line number, parsed registration or the refusal of its parsing).
    Each batch is one transaction. Running the same feed twice updates, never
    duplicates; a barcode twice in one feed keeps the first row.
    """
    profile = ports.profiles.get(institution)
    report = ImportReport()
    seen: set[str] = set()
    for batch in _batches(rows, batch_size):
        prepared: list[tuple[int, Registration, str]] = []
        for line, item in batch:
            if isinstance(item, Refused):
                report.errors.append(RowError(line, item))
                continue
            try:
                barcode = _barcode_of(item, profile)
            except Refused as refusal:
                report.errors.append(RowError(line, refusal))
                continue
            if barcode in seen:
                report.errors.append(RowError(line, Refused.of("import.duplicate_barcode")))
                continue
            seen.add(barcode)
            prepared.append((line, item, barcode))
        _land(ports, profile, prepared, report)
        if progress is not None:
            progress(len(batch))
    with ports.uow() as uow:
        uow.audit.record(
            AuditEvent(
                at=ports.clock.now(),
                action="patron.import",
                outcome="ok" if not report.errors else "partial",
                actor=staff,
                channel="staff",
                source=source,
                institution=institution,
                detail={
                    "created": str(report.created),
                    "updated": str(report.updated),
                    "refused": str(report.refused),
                },
            )
        )
        uow.commit()
    return report


def _barcode_of(registration: Registration, profile: Profile) -> str:
    category = profile.category(_optional(registration.category))
    if category.barcode_format is BarcodeFormat.JULAC:
        return parse_julac(registration.barcode).card_number
    return normalise(registration.barcode, profile.identifiers)


def _batches(
    rows: Iterable[tuple[int, Registration | Refused]], size: int
) -> Iterator[list[tuple[int, Registration | Refused]]]:
    batch: list[tuple[int, Registration | Refused]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _land(
    ports: Ports,
    profile: Profile,
    prepared: Sequence[tuple[int, Registration, str]],
    report: ImportReport,
) -> None:
    if not prepared:
        return
    now = ports.clock.now()
    with ports.uow() as uow:
        known = uow.registry.existing([barcode for _, _, barcode in prepared])
        rows = []
        for line, registration, barcode in prepared:
            existing = known.get(barcode)
            if existing is not None and existing.replaced:
                report.errors.append(RowError(line, Refused.of("identifier.replaced")))
                continue
            uid = existing.uid if existing else ports.randomness.token()
            try:
                item = prepare(registration, profile, ports.hasher, uid=uid, now=now)
            except Refused as refusal:
                report.errors.append(RowError(line, refusal))
                continue
            if existing is not None and existing.institution != profile.id:
                report.errors.append(RowError(line, Refused.of("identifier.taken")))
                continue
            rows.append(
                RegistryRow(
                    line=line,
                    barcode=item.barcode,
                    lookup_key=item.lookup_key,
                    kind=item.kind,
                    patron=item.patron,
                    credentials=item.credentials,
                    patron_id=existing.patron_id if existing else None,
                )
            )
        result = uow.registry.upsert(rows)
        uow.commit()
    report.created += result.created
    report.updated += result.updated

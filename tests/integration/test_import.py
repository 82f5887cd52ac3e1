"""Provisioning from a registry feed (R25, docs/registry-feed.md), over real storage.

The feed goes through the real parser and the real import use case; the tests look
at the stored rows and at what patrons can then sign in with.
"""

from __future__ import annotations

import dataclasses
import gc
import itertools
import os
import tracemalloc
import weakref
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import String, cast, func, select

from patronauth.adapters.registry_csv import parse_lines, parse_rows
from patronauth.adapters.storage import tables as t
from patronauth.bootstrap import App
from patronauth.domain.credentials import Channel, CredentialKind, Outcome
from patronauth.domain.errors import InvalidInput
from patronauth.domain.patrons import IdType
from patronauth.services.credentials import ChangeRequest, change_secret, reset_credential
from patronauth.services.registration import (
    ImportReport,
    Registration,
    check,
    import_registry,
    new_patron_digests,
)
from patronauth.services.staff import replace_card
from patronauth.services.workers import WORKER_NICENESS, BatchWork
from tests.support import STAFF, attempt, make_app, register

HEADER = "barcode,category,name,email,phone,id_number,registered_on,status"
_files = itertools.count(1)


def run_feed(app: App, tmp_path: Path, institution: str, content: bytes | str) -> ImportReport:
    """Write the feed to a file and import it the way `patronauth patron import` does."""
    path = tmp_path / f"feed-{next(_files)}.csv"
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    with path.open("rb") as handle:
        return import_registry(
            app.ports,
            institution,
            parse_rows(handle, institution),
            staff=STAFF,
            source=path.name,
        )


def csv_lines(*rows: str, header: str = HEADER) -> str:
    return "\n".join([header, *rows]) + "\n"


def errors_of(report: ImportReport) -> list[tuple[int, str]]:
    return sorted((e.line, e.refusal.code) for e in report.errors)


def count(app: App, table: Any) -> int:
    with app.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def table_counts(app: App) -> tuple[int, int, int]:
    return count(app, t.patrons), count(app, t.identifiers), count(app, t.credentials)


def patron_row(app: App, barcode: str) -> Any:
    p, i = t.patrons, t.identifiers
    with app.engine.connect() as conn:
        return conn.execute(
            select(p).join(i, i.c.patron_id == p.c.id).where(i.c.value == barcode)
        ).one()


def credential_rows(app: App, barcode: str) -> dict[str, Any]:
    c, i = t.credentials, t.identifiers
    with app.engine.connect() as conn:
        rows = conn.execute(
            select(c).join(i, i.c.patron_id == c.c.patron_id).where(i.c.value == barcode)
        ).all()
    return {row.kind: row for row in rows}


def fingerprint_of(app: App, barcode: str) -> str | None:
    i = t.identifiers
    with app.engine.connect() as conn:
        query = select(i.c.registry_fingerprint).where(i.c.value == barcode)
        fingerprint: str | None = conn.execute(query).scalar_one()
    return fingerprint


def identifier_rows(app: App) -> dict[str, tuple[str, str]]:
    i = t.identifiers
    with app.engine.connect() as conn:
        rows = conn.execute(select(i.c.value, i.c.kind, i.c.status)).all()
    return {row.value: (row.kind, row.status) for row in rows}


def import_events(app: App) -> list[Any]:
    a = t.audit_events
    with app.engine.connect() as conn:
        return list(conn.execute(select(a).where(a.c.action == "patron.import").order_by(a.c.id)))


# --- idempotency ------------------------------------------------------------------------


HKPL_FEED = csv_lines(
    "HKPL0001,reader,Chan Tai Man,tm.chan@example.org,9123 4567,A123456(3),2020-05-04,active",
    'HKPL0002,reader,"Lee, Siu Ming",,6234 5678,,2024-01-15,',
    "HKPL0003,,Wong Ka Yan,,+852 5345 6789,Z123456(1),,active",
)


def test_the_same_feed_twice_changes_nothing_and_never_duplicates(app: App, tmp_path: Path) -> None:
    first = run_feed(app, tmp_path, "hkpl", HKPL_FEED)
    assert (first.created, first.updated, first.unchanged, first.errors) == (3, 0, 0, [])
    assert table_counts(app) == (3, 3, 6)  # a password and a PIN each
    stored = {b: credential_rows(app, b) for b in ("HKPL0001", "HKPL0002", "HKPL0003")}
    patrons = {b: patron_row(app, b) for b in stored}

    second = run_feed(app, tmp_path, "hkpl", HKPL_FEED)
    assert (second.created, second.updated, second.unchanged, second.errors) == (0, 0, 3, [])
    assert table_counts(app) == (3, 3, 6)
    for barcode, before in stored.items():
        # Not written at all: the same row, down to its update time.
        assert patron_row(app, barcode) == patrons[barcode]
        after = credential_rows(app, barcode)
        for kind in ("password", "pin"):
            assert after[kind].secret_hash == before[kind].secret_hash
            assert after[kind].default_digest == before[kind].default_digest
            assert after[kind].version == before[kind].version
            assert after[kind].state == "default"

    assert attempt(app, "HKPL0001", "4567").outcome is Outcome.MUST_CHANGE
    assert attempt(app, "HKPL0003", "6789", Channel.SIP2).outcome is Outcome.OK
    events = import_events(app)
    assert [(e.outcome, e.actor, e.institution) for e in events] == [
        ("ok", STAFF, "hkpl"),
        ("ok", STAFF, "hkpl"),
    ]
    assert '"created": "0"' in events[1].detail
    assert '"updated": "0"' in events[1].detail
    assert '"unchanged": "3"' in events[1].detail


def test_stored_personal_data_is_masked_and_digested_never_in_clear(
    app: App, tmp_path: Path
) -> None:
    run_feed(app, tmp_path, "hkpl", HKPL_FEED)
    row = patron_row(app, "HKPL0001")
    assert (row.institution, row.category, row.status) == ("hkpl", "reader", "active")
    assert (row.name, row.email, row.language) == ("Chan Tai Man", "tm.chan@example.org", "en")
    assert row.registered_on == date(2020, 5, 4)
    assert row.phone_masked == "91******"
    assert (row.id_type, row.id_masked) == ("hkid", "A1******")
    assert row.phone_digest.startswith("hk:")
    assert "91234567" not in row.phone_digest
    assert row.id_digest.startswith("hk:")
    assert "A123456" not in row.id_digest
    for credential in credential_rows(app, "HKPL0001").values():
        assert credential.secret_hash == credential.default_digest
        assert credential.secret_hash.startswith("hk:")
    assert patron_row(app, "HKPL0002").name == "Lee, Siu Ming"
    # No registration date in the feed: the day of the import.
    assert patron_row(app, "HKPL0003").registered_on == date(2026, 11, 24)


def test_an_imported_patron_is_stored_like_one_registered_at_the_counter(
    app: App, tmp_path: Path
) -> None:
    register(app, "hkpl", "HKPL0001", phone="9123 4567", registered_on=date(2020, 5, 4))
    run_feed(app, tmp_path, "hkpl", csv_lines("HKPL0002,,,,9123 4567,,2020-05-04,"))
    p, c, i = t.patrons, t.credentials, t.identifiers
    as_text = [
        cast(p.c.registered_on, String),
        cast(c.c.set_at, String),
        c.c.kind,
        c.c.state,
        c.c.policy_from,
        c.c.expires_at,
        c.c.consecutive_failures,
        c.c.suspended_from,
        c.c.version,
        i.c.kind,
        i.c.status,
        i.c.replaced_at,
        p.c.category,
        p.c.status,
        p.c.language,
        p.c.phone_masked,
    ]
    query = (
        select(*as_text)
        .join(c, c.c.patron_id == p.c.id)
        .join(i, i.c.patron_id == p.c.id)
        .order_by(c.c.kind)
    )
    with app.engine.connect() as conn:
        added = conn.execute(query.where(i.c.value == "HKPL0001")).all()
        imported = conn.execute(query.where(i.c.value == "HKPL0002")).all()
    assert len(added) == 2
    assert imported == added
    for barcode in ("HKPL0001", "HKPL0002"):
        row = patron_row(app, barcode)
        assert row.created_at == row.updated_at
        assert row.created_at.tzinfo is not None
    assert attempt(app, "HKPL0002", "4567").outcome is Outcome.MUST_CHANGE


def test_polyu_defaults_from_the_id_number_survive_a_second_run(app: App, tmp_path: Path) -> None:
    feed = csv_lines(
        "21012345A,student,,,,Z123456(1),2020-09-01,",
        "21012346B,staff,,,,XY12345678,2019-01-02,",
    )
    assert run_feed(app, tmp_path, "polyu", feed).created == 2
    assert run_feed(app, tmp_path, "polyu", feed).unchanged == 2
    assert table_counts(app) == (2, 2, 2)
    assert attempt(app, "21012345A", "Z12345").outcome is Outcome.MUST_CHANGE
    assert attempt(app, "21012346B", "XY1234").outcome is Outcome.MUST_CHANGE
    assert patron_row(app, "21012346B").id_type == "passport"


# --- updates follow the data -------------------------------------------------------------


def test_a_changed_phone_moves_a_default_that_is_still_the_default(
    app: App, tmp_path: Path
) -> None:
    run_feed(app, tmp_path, "hkpl", csv_lines("HKPL0001,reader,,,9123 4567,,2020-05-04,"))
    assert attempt(app, "HKPL0001", "4567").outcome is Outcome.MUST_CHANGE
    version = credential_rows(app, "HKPL0001")["password"].version

    report = run_feed(app, tmp_path, "hkpl", csv_lines("HKPL0001,reader,,,9876 5432,,2020-05-04,"))
    assert (report.created, report.updated, report.errors) == (0, 1, [])
    assert table_counts(app) == (1, 1, 2)
    assert patron_row(app, "HKPL0001").phone_masked == "98******"
    stored = credential_rows(app, "HKPL0001")
    assert {kind: row.state for kind, row in stored.items()} == {
        "password": "default",
        "pin": "default",
    }
    assert stored["password"].version == version + 1

    assert attempt(app, "HKPL0001", "4567").outcome is Outcome.INVALID
    assert attempt(app, "HKPL0001", "4567", Channel.SIP2).outcome is Outcome.INVALID
    assert attempt(app, "HKPL0001", "5432").outcome is Outcome.MUST_CHANGE
    assert attempt(app, "HKPL0001", "5432", Channel.SIP2).outcome is Outcome.OK


def test_a_chosen_password_is_kept_when_the_phone_changes(app: App, tmp_path: Path) -> None:
    run_feed(app, tmp_path, "hkpl", csv_lines("HKPL0001,reader,,,9123 4567,,2020-05-04,"))
    change_secret(
        app.ports,
        ChangeRequest("HKPL0001", "4567", "Quiet!Stacks22", "Quiet!Stacks22", Channel.WEB),
    )
    chosen = credential_rows(app, "HKPL0001")["password"]
    assert chosen.state == "chosen"

    report = run_feed(app, tmp_path, "hkpl", csv_lines("HKPL0001,reader,,,9876 5432,,2020-05-04,"))
    assert (report.created, report.updated, report.errors) == (0, 1, [])
    stored = credential_rows(app, "HKPL0001")
    assert stored["password"].state == "chosen"
    assert stored["password"].secret_hash == chosen.secret_hash
    assert stored["password"].default_digest != chosen.default_digest
    assert attempt(app, "HKPL0001", "Quiet!Stacks22").outcome is Outcome.OK
    assert attempt(app, "HKPL0001", "5432").outcome is Outcome.INVALID
    # The PIN was never changed, so it follows the new phone.
    assert attempt(app, "HKPL0001", "5432", Channel.SIP2).outcome is Outcome.OK

    # The kept default digest is the new one: a staff reset gives the new default.
    reset_credential(app.ports, "HKPL0001", CredentialKind.PASSWORD, staff=STAFF)
    assert attempt(app, "HKPL0001", "5432").outcome is Outcome.MUST_CHANGE


def test_category_name_and_status_follow_the_feed(app: App, tmp_path: Path) -> None:
    header = "barcode,category,name,id_number,registered_on,status"
    run_feed(
        app,
        tmp_path,
        "polyu",
        csv_lines("21012345A,student,Chan Tai Man,Z123456(1),2020-09-01,pending", header=header),
    )
    assert attempt(app, "21012345A", "Z12345").outcome is Outcome.PENDING_REGISTRATION
    before = patron_row(app, "21012345A")
    run_feed(
        app,
        tmp_path,
        "polyu",
        csv_lines("21012345A,alumni,Chan Tai-man,Z123456(1),2020-09-01,active", header=header),
    )
    row = patron_row(app, "21012345A")
    assert (row.category, row.name, row.status) == ("alumni", "Chan Tai-man", "active")
    assert (row.id, row.uid, row.created_at) == (before.id, before.uid, before.created_at)
    assert row.updated_at > before.updated_at
    assert attempt(app, "21012345A", "Z12345").outcome is Outcome.MUST_CHANGE


def test_a_row_without_some_columns_changes_only_the_columns_it_gives(
    app: App, tmp_path: Path
) -> None:
    run_feed(app, tmp_path, "hkpl", HKPL_FEED)
    before = patron_row(app, "HKPL0001")
    run_feed(app, tmp_path, "hkpl", csv_lines("HKPL0001,zh_Hant", header="barcode,language"))
    run_feed(app, tmp_path, "hkpl", csv_lines("HKPL0001,,,,,", header=HEADER.replace(
        ",registered_on,status", ""
    )))  # fmt: skip
    row = patron_row(app, "HKPL0001")
    assert row.language == "zh_Hant"
    kept = ("name", "email", "phone_masked", "phone_digest", "id_masked", "id_digest")
    assert [getattr(row, c) for c in kept] == [getattr(before, c) for c in kept]
    assert (row.category, row.status, row.registered_on) == ("reader", "active", date(2020, 5, 4))
    # The default stays, and so does the e-mail reset it needs.
    assert attempt(app, "HKPL0001", "4567").outcome is Outcome.MUST_CHANGE


def test_the_registration_date_never_moves(app: App, tmp_path: Path) -> None:
    """HKCT: a re-imported row without `registered_on` must not flip the default rule."""
    header = "barcode,id_number,student_number,registered_on"
    run_feed(
        app, tmp_path, "hkct", csv_lines("16071234,A123456(3),16071234,2016-07-04", header=header)
    )
    report = run_feed(
        app, tmp_path, "hkct", csv_lines("16071234,A123456(3),16071234,", header=header)
    )
    assert (report.updated, report.errors) == (1, [])
    run_feed(
        app, tmp_path, "hkct", csv_lines("16071234,A123456(3),16071234,2024-01-01", header=header)
    )
    assert patron_row(app, "16071234").registered_on == date(2016, 7, 4)
    assert attempt(app, "16071234", "A12345").outcome is Outcome.MUST_CHANGE
    assert attempt(app, "16071234", "16071234").outcome is Outcome.INVALID
    # A known patron's row may leave out the data of the default: it stays.
    again = run_feed(
        app, tmp_path, "hkct", csv_lines("16071234,Chan Tai Man", header="barcode,name")
    )
    assert (again.updated, again.errors) == (1, [])
    assert attempt(app, "16071234", "A12345").outcome is Outcome.MUST_CHANGE
    # A new patron's row still needs it.
    new = run_feed(app, tmp_path, "hkct", csv_lines("16071299,Lee Siu Ming", header="barcode,name"))
    assert errors_of(new) == [(2, "default.missing_student_number")]


@pytest.mark.parametrize(
    ("staff_set", "feed_says", "stored"),
    [
        ("barred", "active", "barred"),
        ("active", "pending", "active"),  # staff completed the registration
        ("pending_registration", "active", "active"),  # the registry completed it
        ("barred", "", "barred"),
    ],
)
def test_a_feed_does_not_overwrite_a_status_staff_set(
    app: App, tmp_path: Path, staff_set: str, feed_says: str, stored: str
) -> None:
    header = "barcode,id_number,registered_on,status"
    run_feed(app, tmp_path, "polyu", csv_lines("21012345A,Z123456(1),2020-09-01,", header=header))
    with app.engine.begin() as conn:
        conn.execute(t.patrons.update().values(status=staff_set))
    run_feed(
        app,
        tmp_path,
        "polyu",
        csv_lines(f"21012345A,Z123456(1),2020-09-01,{feed_says}", header=header),
    )
    assert patron_row(app, "21012345A").status == stored


# --- re-imports skip the rows that have not changed -------------------------------------


def test_a_re_import_writes_only_the_rows_that_changed(app: App, tmp_path: Path) -> None:
    run_feed(app, tmp_path, "hkpl", HKPL_FEED)
    before = {b: patron_row(app, b) for b in ("HKPL0001", "HKPL0002", "HKPL0003")}
    changed = HKPL_FEED.replace("Wong Ka Yan", "Wong Ka-yan")

    report = run_feed(app, tmp_path, "hkpl", changed)
    assert (report.created, report.updated, report.unchanged, report.errors) == (0, 1, 2, [])
    assert patron_row(app, "HKPL0003").name == "Wong Ka-yan"
    assert patron_row(app, "HKPL0003").updated_at > before["HKPL0003"].updated_at
    assert [patron_row(app, b) for b in ("HKPL0001", "HKPL0002")] == [
        before["HKPL0001"],
        before["HKPL0002"],
    ]
    # Idempotent: the changed feed again is all unchanged.
    again = run_feed(app, tmp_path, "hkpl", changed)
    assert (again.created, again.updated, again.unchanged, again.errors) == (0, 0, 3, [])


def test_the_fingerprint_is_a_keyed_digest_without_personal_data(app: App, tmp_path: Path) -> None:
    run_feed(app, tmp_path, "hkpl", HKPL_FEED)
    fingerprint = fingerprint_of(app, "HKPL0001")
    assert fingerprint is not None
    assert fingerprint.startswith("hk:")
    for clear in ("91234567", "9123 4567", "4567", "A123456", "Chan", "tm.chan", "HKPL0001"):
        assert clear not in fingerprint
    changed = run_feed(app, tmp_path, "hkpl", HKPL_FEED.replace("9123 4567", "9123 4568"))
    assert (changed.updated, changed.unchanged) == (1, 2)
    assert fingerprint_of(app, "HKPL0001") not in {None, fingerprint}


def test_a_line_repeating_a_barcode_is_refused_even_after_an_unchanged_one(
    app: App, tmp_path: Path
) -> None:
    run_feed(app, tmp_path, "hkpl", HKPL_FEED)
    again = HKPL_FEED + "HKPL0001,reader,Somebody Else,,9999 0000,,2020-05-04,\n"
    report = run_feed(app, tmp_path, "hkpl", again)
    assert (report.updated, report.unchanged) == (0, 3)
    assert errors_of(report) == [(5, "import.duplicate_barcode")]
    assert patron_row(app, "HKPL0001").name == "Chan Tai Man"
    # The other way round: the changed line first wins, the old line is the duplicate.
    lines = HKPL_FEED.splitlines()
    swapped = "\n".join([lines[0], "HKPL0001,reader,Chan Tai Man,,9999 0000,,2020-05-04,",
                         *lines[1:]]) + "\n"  # fmt: skip
    report = run_feed(app, tmp_path, "hkpl", swapped)
    assert (report.updated, report.unchanged) == (1, 2)
    assert errors_of(report) == [(3, "import.duplicate_barcode")]
    assert patron_row(app, "HKPL0001").phone_masked == "99******"


def test_another_header_or_a_replaced_card_makes_the_same_line_count_again(
    app: App, tmp_path: Path
) -> None:
    run_feed(app, tmp_path, "hkpl", csv_lines("HKPL0001,Chan Tai Man", header="barcode,name"))
    # Same bytes, but the header says the second field is now the category.
    other = run_feed(
        app, tmp_path, "hkpl", csv_lines("HKPL0001,Chan Tai Man", header="barcode,category")
    )
    assert errors_of(other) == [(2, "patron.unknown_category")]
    same = run_feed(
        app, tmp_path, "hkpl", csv_lines("HKPL0001,Chan Tai Man", header="barcode,name")
    )
    assert (same.updated, same.unchanged) == (0, 1)
    replace_card(app.ports, "HKPL0001", "HKPL0009", staff=STAFF)
    after = run_feed(
        app, tmp_path, "hkpl", csv_lines("HKPL0001,Chan Tai Man", header="barcode,name")
    )
    assert errors_of(after) == [(2, "identifier.replaced")]


def test_after_a_new_pepper_key_every_line_is_written_once_more(
    app: App, env: dict[str, str], tmp_path: Path
) -> None:
    """A line's fingerprint is a keyed digest under the current pepper key: those on
    record under an older key match no line, so the first import under a new key
    writes every row (their fingerprints under the new key), and the next skips them."""
    run_feed(app, tmp_path, "hkpl", HKPL_FEED)
    old = fingerprint_of(app, "HKPL0001")
    rotated = make_app({**env, "PATRONAUTH_PEPPER": f"t2 {'ab' * 32};{env['PATRONAUTH_PEPPER']}"})
    try:
        first = run_feed(rotated, tmp_path, "hkpl", HKPL_FEED)
        assert (first.created, first.updated, first.unchanged, first.errors) == (0, 3, 0, [])
        renewed = fingerprint_of(rotated, "HKPL0001")
        assert renewed is not None
        assert renewed.startswith("hk:t2:")
        assert renewed != old
        again = run_feed(rotated, tmp_path, "hkpl", HKPL_FEED)
        assert (again.updated, again.unchanged) == (0, 3)
    finally:
        rotated.close()


def test_the_same_line_twice_in_a_re_import_is_a_duplicate(app: App, tmp_path: Path) -> None:
    run_feed(app, tmp_path, "hkpl", HKPL_FEED)
    first_line = HKPL_FEED.splitlines()[1]
    report = run_feed(app, tmp_path, "hkpl", HKPL_FEED + first_line + "\n")
    assert (report.updated, report.unchanged) == (0, 3)
    assert errors_of(report) == [(5, "import.duplicate_barcode")]


def test_a_re_import_holds_the_cards_on_record_compactly(app: App, tmp_path: Path) -> None:
    """P3: a re-import keeps one short entry per card on record (the first 132 bits of
    its line's MAC and the barcode) and lets each go once its line is met. With the
    whole fingerprints, read into a list first, a re-import of these lines peaked at
    about 430 bytes a line in Python's allocations; now about 320."""
    rows = [f"HKPL{n:05d},reader,,,9123 {n % 10000:04d},,2020-05-04," for n in range(20_000)]
    feed = csv_lines(*rows)
    run_feed(app, tmp_path, "hkpl", feed)
    tracemalloc.start()
    try:
        report = run_feed(app, tmp_path, "hkpl", feed)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (report.unchanged, report.refused) == (20_000, 0)
    assert peak / 20_000 < 380


def test_an_unchanged_row_leaves_a_staff_change_and_a_changed_row_keeps_staff_status(
    app: App, tmp_path: Path
) -> None:
    run_feed(app, tmp_path, "hkpl", HKPL_FEED)
    with app.engine.begin() as conn:
        conn.execute(t.patrons.update().values(status="barred", name="Chan Tai-man"))
    same = run_feed(app, tmp_path, "hkpl", HKPL_FEED)
    assert (same.updated, same.unchanged) == (0, 3)
    assert (patron_row(app, "HKPL0001").status, patron_row(app, "HKPL0001").name) == (
        "barred",
        "Chan Tai-man",
    )
    # A changed row writes the registry's fields, never the status staff set.
    changed = run_feed(app, tmp_path, "hkpl", HKPL_FEED.replace("tm.chan@", "taiman.chan@"))
    assert (changed.updated, changed.unchanged) == (1, 2)
    row = patron_row(app, "HKPL0001")
    assert (row.status, row.name, row.email) == (
        "barred",
        "Chan Tai Man",
        "taiman.chan@example.org",
    )


def test_a_patron_added_at_the_counter_is_written_by_the_first_feed_that_names_it(
    app: App, tmp_path: Path
) -> None:
    register(app, "hkpl", "HKPL0001", phone="9123 4567")
    assert fingerprint_of(app, "HKPL0001") is None
    first = run_feed(app, tmp_path, "hkpl", HKPL_FEED)
    assert (first.created, first.updated, first.unchanged) == (2, 1, 0)
    assert fingerprint_of(app, "HKPL0001") is not None
    assert run_feed(app, tmp_path, "hkpl", HKPL_FEED).unchanged == 3


def test_giving_a_column_empty_is_a_change_from_leaving_it_out(app: App, tmp_path: Path) -> None:
    header = "barcode,name,language"
    run_feed(app, tmp_path, "hkpl", csv_lines("HKPL0001,Chan Tai Man,zh_Hant", header=header))
    report = run_feed(app, tmp_path, "hkpl", csv_lines("HKPL0001,Chan Tai Man,", header=header))
    # The row no longer gives the language: different, so written; the language stays.
    assert (report.updated, report.unchanged) == (1, 0)
    assert patron_row(app, "HKPL0001").language == "zh_Hant"


# --- bad rows ------------------------------------------------------------------------------


def test_bad_rows_are_reported_with_their_line_numbers_and_the_good_rows_land(
    app: App, tmp_path: Path
) -> None:
    hostile = 'Robert\'); DROP TABLE patrons;-- <script>alert("x")</script>'
    quoted = '"' + hostile.replace('"', '""') + '"'
    lines: Sequence[bytes] = [
        HEADER.encode(),
        b"HKPL0001,reader,Chan Tai Man,,9123 4567,A123456(3),2020-05-04,",  # 2
        b"HKPL0002,reader,,,9123 4568,A123456(4),2020-05-04,",  # 3 wrong check digit
        b"HKPL0003,visitor,,,9123 4569,,2020-05-04,",  # 4 unknown category
        b"HKPL0004,reader,,,9123 4570,,2020-02-30,",  # 5 no such day
        b"HKPL0005,reader,,,9123 4571",  # 6 too few fields
        b"HKPL0006,reader,Ch\xe9ung,,9123 4572,,2020-05-04,",  # 7 Latin-1, not UTF-8
        b"HKPL0007,reader,Chan\x00,,9123 4573,,2020-05-04,",  # 8 NUL byte
        b"HKPL0008,reader," + b"x" * 10_000_000 + b",,9123 4574,,2020-05-04,",  # 9 10 MB
        b" hkpl 0001 ,reader,Somebody Else,,9999 0000,,2020-05-04,",  # 10 duplicate barcode
        b"HKPL0009,reader," + quoted.encode() + b",,9123 4575,,2020-05-04,",  # 11 hostile
        b"",  # 12 blank lines are skipped
        b"HKPL0010,reader,<b>Bold</b> &amp; Co,,9123 4576,,2020-05-04,",  # 13
        b"HKPL0011,reader,,,9123 4577,,2020-05-04,sleeping",  # 14 unknown status
        b"HKPL0012,reader,,,9123 4578,,2020-05-04,,extra",  # 15 too many fields
        b"HKPL0013,reader,,,12,,2020-05-04,",  # 16 not a phone number
        b"HKPL0014,reader,,,,,2020-05-04,",  # 17 no phone: registered without a default
        b"HKPL0015,reader,,not-an-address,9123 4579,,2020-05-04,",  # 18 bad e-mail
        b"HKPL0016,reader,,,9123 4580,,2099-01-01,",  # 19 registered in the future
    ]
    report = run_feed(app, tmp_path, "hkpl", b"\n".join(lines) + b"\n")

    assert errors_of(report) == [
        (3, "hkid.check_digit"),
        (4, "patron.unknown_category"),
        (5, "date.invalid"),
        (6, "import.row_shape"),
        (7, "import.not_utf8"),
        (8, "import.nul_byte"),
        (9, "import.field_too_long"),
        (10, "import.duplicate_barcode"),
        (11, "name.invalid"),
        (13, "name.invalid"),
        (14, "status.invalid"),
        (15, "import.row_shape"),
        (16, "phone.invalid"),
        (18, "email.invalid"),
        (19, "registered_on.in_future"),
    ]
    shape = {e.line: dict(e.refusal.violations[0].params) for e in report.errors}
    assert shape[6] == {"found": 5, "expected": 8}
    assert shape[15] == {"found": 9, "expected": 8}
    assert (report.created, report.updated) == (2, 0)
    assert set(identifier_rows(app)) == {"HKPL0001", "HKPL0014"}
    assert table_counts(app) == (2, 2, 2)  # HKPL0014 has no credential yet

    # The first row with a barcode wins; the duplicate changed nothing.
    assert patron_row(app, "HKPL0001").name == "Chan Tai Man"
    assert attempt(app, "HKPL0001", "4567").outcome is Outcome.MUST_CHANGE
    # SQL and HTML are never part of a name: refused, and every table is still there.
    assert attempt(app, "HKPL0001", "4567", Channel.SIP2).outcome is Outcome.OK
    assert [e.outcome for e in import_events(app)] == ["partial"]


def test_line_breaks_and_control_characters_inside_a_field_are_refused(
    app: App, tmp_path: Path
) -> None:
    feed = csv_lines(
        'HKPL0001,reader,"Chan',  # a quoted line break splits the record in two
        'Tai Man",,9123 4567,,2020-05-04,',
        "HKPL0002,reader,Chan\rTai Man,,9123 4567,,2020-05-04,",
        "HKPL0003,reader,Lee\u2028Siu Ming,,9123 4568,,2020-05-04,",
        "HKPL0004,reader,Wong\tKa Yan,,9123 4569,,2020-05-04,",
        "HKPL0005,reader,Ho Ka Yan,,9123 4570,,2020-05-04,",
    )
    report = run_feed(app, tmp_path, "hkpl", feed)
    assert errors_of(report) == [
        (2, "import.row_shape"),
        (3, "import.row_shape"),
        (4, "import.row_shape"),
        (5, "name.invalid"),
        (6, "name.invalid"),
    ]
    assert set(identifier_rows(app)) == {"HKPL0005"}


@pytest.mark.parametrize(
    ("content", "code"),
    [
        pytest.param(b"", "import.empty_file", id="empty file"),
        pytest.param(b"\n\n", "import.empty_file", id="blank header"),
        pytest.param(
            b"barcode,colour,phone\nHKPL0001,red,9123 4567\n",
            "import.unknown_column",
            id="unknown column",
        ),
        pytest.param(
            b"name,phone\nChan Tai Man,9123 4567\n", "import.missing_column", id="no barcode"
        ),
        pytest.param(
            b"barcode,n\xe4me,phone\nHKPL0001,x,9123 4567\n", "import.not_utf8", id="not utf-8"
        ),
    ],
)
def test_a_bad_header_refuses_the_whole_file_and_stores_nothing(
    app: App, tmp_path: Path, content: bytes, code: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        run_feed(app, tmp_path, "hkpl", content)
    assert refused.value.code == code
    assert table_counts(app) == (0, 0, 0)
    assert count(app, t.audit_events) == 0


def test_the_header_names_the_columns_in_any_order(app: App, tmp_path: Path) -> None:
    feed = "\ufeffPhone, BARCODE ,Language\r\n9123 4567,HKPL0001,zh_Hant\r\n"
    report = run_feed(app, tmp_path, "hkpl", feed)
    assert (report.created, report.errors) == (1, [])
    row = patron_row(app, "HKPL0001")
    assert (row.category, row.language, row.status) == ("reader", "zh_Hant", "active")
    assert attempt(app, "HKPL0001", "4567").outcome is Outcome.MUST_CHANGE


# --- status, JULAC cards, replaced cards, other institutions --------------------------------


def test_pending_patrons_are_stored_pending_and_cannot_sign_in(app: App, tmp_path: Path) -> None:
    header = "barcode,category,staff_number,student_number,registered_on,status"
    feed = csv_lines(
        "S2019001,staff,S2019001,,2019-09-02,pending",
        "21000001,student,,21000001,2021-09-01,pending_registration",
        "21000002,student,,21000002,2021-09-01,ACTIVE",
        header=header,
    )
    report = run_feed(app, tmp_path, "hkct", feed)
    assert (report.created, report.errors) == (3, [])
    assert patron_row(app, "S2019001").status == "pending_registration"
    assert patron_row(app, "21000001").status == "pending_registration"
    assert patron_row(app, "21000002").status == "active"
    result = attempt(app, "S2019001", "S2019001")
    assert result.outcome is Outcome.PENDING_REGISTRATION
    assert "2265 6918" in result.contact["en"]
    assert attempt(app, "21000002", "21000002").outcome is Outcome.MUST_CHANGE


def test_hku_barcodes_must_be_julac_card_numbers(app: App, tmp_path: Path) -> None:
    feed = csv_lines(
        "CU1234567,julac,Chan Tai Man",  # 2
        "cityu 7654321,,Lee Siu Ming",  # 3 the profile's default category is julac
        "HKU1234567,julac,",  # 4 no JULAC university has this prefix
        "CU,julac,",  # 5 prefix without a number
        "CU12,julac,",  # 6 number too short
        "SP7654321,space,Wong Ka Yan",  # 7 HKU SPACE cards are plain barcodes
        "CU 123 4567,julac,",  # 8 the same card as line 2
        header="barcode,category,name",
    )
    report = run_feed(app, tmp_path, "hku", feed)
    assert errors_of(report) == [
        (4, "julac.unknown_prefix"),
        (5, "julac.missing_number"),
        (6, "julac.invalid_number"),
        (8, "import.duplicate_barcode"),
    ]
    assert identifier_rows(app) == {
        "CU1234567": ("julac", "current"),
        "CITYU7654321": ("julac", "current"),
        "SP7654321": ("barcode", "current"),
    }
    # R23: no default exists at HKU; the patrons set their PIN up themselves.
    assert count(app, t.credentials) == 0
    assert attempt(app, "CU1234567", "CU1234567").outcome is Outcome.INVALID


def test_a_barcode_of_a_replaced_card_is_refused(app: App, tmp_path: Path) -> None:
    run_feed(app, tmp_path, "hkpl", csv_lines("HKPL0001,reader,Chan Tai Man,,9123 4567,,,"))
    replace_card(app.ports, "HKPL0001", "HKPL0099", staff=STAFF)

    report = run_feed(
        app,
        tmp_path,
        "hkpl",
        csv_lines(
            "HKPL0001,reader,Chan Tai-man,,9876 5432,,,",
            "HKPL0002,reader,Lee Siu Ming,,6234 5678,,,",
        ),
    )
    assert errors_of(report) == [(2, "identifier.replaced")]
    assert (report.created, report.updated) == (1, 0)
    assert identifier_rows(app) == {
        "HKPL0001": ("barcode", "replaced"),
        "HKPL0099": ("barcode", "current"),
        "HKPL0002": ("barcode", "current"),
    }
    assert patron_row(app, "HKPL0099").name == "Chan Tai Man"
    assert attempt(app, "HKPL0099", "4567").outcome is Outcome.MUST_CHANGE
    assert attempt(app, "HKPL0001", "4567").outcome is Outcome.INVALID

    # The new card is the one the registry updates.
    report = run_feed(
        app, tmp_path, "hkpl", csv_lines("HKPL0099,reader,Chan Tai-man,,9876 5432,,,")
    )
    assert (report.created, report.updated, report.errors) == (0, 1, [])
    assert patron_row(app, "HKPL0099").name == "Chan Tai-man"
    assert attempt(app, "HKPL0099", "5432").outcome is Outcome.MUST_CHANGE


def test_a_barcode_held_at_another_institution_is_refused(app: App, tmp_path: Path) -> None:
    run_feed(app, tmp_path, "hkpl", csv_lines("21012345A,reader,,,9123 4567,,,"))
    report = run_feed(
        app,
        tmp_path,
        "polyu",
        csv_lines("21012345A,student,Z123456(1)", header="barcode,category,id_number"),
    )
    assert errors_of(report) == [(2, "identifier.taken")]
    assert (report.created, report.updated) == (0, 0)
    row = patron_row(app, "21012345A")
    assert (row.institution, row.category) == ("hkpl", "reader")
    assert table_counts(app) == (1, 1, 2)


@pytest.mark.parametrize("workers", [0, 2])
@pytest.mark.parametrize("unparsed", [True, False], ids=["raw lines", "parsed rows"])
def test_rows_land_across_several_batches_the_same_with_or_without_workers(
    app: App, tmp_path: Path, workers: int, unparsed: bool
) -> None:
    rows = [f"HKPL{n:04d},reader,,,9123 {n:04d},,2020-05-04," for n in range(1, 13)]
    rows[2] = "HKPL0003,reader,,,9123 0003,,2020-13-04,"  # parsing refuses it
    rows[6] = "HKPL0007,reader,,,9123 0007,A123456(4),2020-05-04,"  # checking refuses it
    rows[10] = "HKPL0002,reader,,,9123 0011,,2020-05-04,"  # a duplicate in a later batch
    path = tmp_path / "batches.csv"
    path.write_text(csv_lines(*rows[:5], "", *rows[5:]), encoding="utf-8")
    seen: list[int] = []
    with path.open("rb") as handle:
        feed = parse_rows(handle, "hkpl")
        report = import_registry(
            app.ports,
            "hkpl",
            feed if unparsed else list(feed),
            staff=STAFF,
            batch_size=4,
            workers=workers,
            progress=seen.append,
        )
    assert [(e.line, e.refusal.code) for e in report.errors] == [
        (4, "date.invalid"),
        (9, "hkid.check_digit"),
        (13, "import.duplicate_barcode"),
    ]
    assert (report.created, report.updated) == (9, 0)
    assert sum(seen) == (13 if unparsed else 12)  # raw lines, or rows
    assert table_counts(app) == (9, 9, 18)
    assert gc.isenabled()
    assert attempt(app, "HKPL0012", "0012", Channel.SIP2).outcome is Outcome.OK
    assert attempt(app, "HKPL0002", "0002", Channel.SIP2).outcome is Outcome.OK


def _parse_or_fail(lines: list[tuple[int, bytes]]) -> list[tuple[int, Any]]:
    if lines[0][0] > 2:
        raise ValueError("the registry's disk went away")
    return parse_lines(["barcode", "phone"], "hkpl", lines)


class _FailingFeed:
    """Rows whose second batch fails to parse, in whichever process parses it."""

    def __init__(self, lines: list[bytes]) -> None:
        self.lines = lines

    def __iter__(self) -> Any:
        raise AssertionError("the import should hand the lines over unparsed")

    def parser(self) -> Any:
        return _parse_or_fail

    def layout(self) -> str:
        return "barcode,phone"

    def raw_batches(self, size: int) -> Any:
        numbered = list(enumerate(self.lines, start=2))
        for start in range(0, len(numbered), size):
            yield numbered[start : start + size]


@pytest.mark.parametrize("workers", [0, 2])
def test_a_failure_while_checking_stops_the_import_and_keeps_the_batches_before(
    app: App, workers: int
) -> None:
    feed = _FailingFeed([f"HKPL{n:04d},9123 {n:04d}".encode() for n in range(1, 9)])
    # A worker's exception comes back as itself, as it would inline.
    with pytest.raises(ValueError, match="disk went away"):
        import_registry(app.ports, "hkpl", feed, staff=STAFF, batch_size=3, workers=workers)
    assert set(identifier_rows(app)) == {"HKPL0001", "HKPL0002", "HKPL0003"}
    assert import_events(app) == []
    assert gc.isenabled()  # the import pauses the cycle collector, and restores it


def _analyses(app: App) -> int:
    from sqlalchemy import text

    with app.engine.connect() as conn:
        return int(
            conn.execute(
                text("SELECT analyze_count FROM pg_stat_user_tables WHERE relname = 'identifiers'")
            ).scalar_one()
        )


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_a_bulk_load_refreshes_postgresql_s_planning_statistics(app: App, tmp_path: Path) -> None:
    """Without them PostgreSQL takes the freshly filled tables to be nearly empty: a
    re-import straight after the first import joined its fingerprints in a nested
    loop (seconds for 20,000 patrons, quadratic in them)."""
    from patronauth.services.registration import BULK_LOAD

    before = _analyses(app)
    few = [f"HKPL{n:05d},9123 {n % 10000:04d}" for n in range(1, 11)]
    run_feed(app, tmp_path, "hkpl", csv_lines(*few, header="barcode,phone"))
    assert _analyses(app) == before  # a small feed leaves it to autovacuum
    many = [f"HKPL{n:05d},9123 {n % 10000:04d}" for n in range(11, 11 + BULK_LOAD)]
    report = run_feed(app, tmp_path, "hkpl", csv_lines(*many, header="barcode,phone"))
    assert report.created == BULK_LOAD
    assert _analyses(app) == before + 1


@pytest.mark.postgres
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_bulk_rows_reach_postgresql_exactly_as_given(app: App) -> None:
    """The bulk writer COPYs in PostgreSQL's binary format, each value sent as its
    column's type: every value reads back as given, NULLs, dates, times to the
    microsecond and text that the text format escapes (tab, backslash, newline)
    included, into the table and into a staging table for an update."""
    from datetime import UTC, datetime

    from patronauth.adapters.storage.registry import _PATRON_COLUMNS, _Writer

    at = datetime(2026, 12, 4, 21, 5, 7, 123456, tzinfo=UTC)
    given: dict[str, Any] = {
        "id": 900001,
        "uid": "u-900001",
        "institution": "hkpl",
        "category": "adult",
        "status": "active",
        "name": "Chan\tTai\\Man\n陳大文",
        "email": None,
        "phone_masked": "****5678",
        "phone_digest": "k1:digest",
        "id_type": None,
        "id_masked": None,
        "id_digest": None,
        "registered_on": date(1999, 12, 31),
        "language": "zh-Hant",
        "created_at": at,
        "updated_at": at,
    }
    with app.engine.begin() as conn:
        writer = _Writer(conn, t.patrons, _PATRON_COLUMNS)
        writer.insert([tuple(writer.stored(name, given[name]) for name in _PATRON_COLUMNS)])
    with app.engine.connect() as conn:
        row = conn.execute(select(t.patrons).where(t.patrons.c.id == 900001)).one()
    assert {name: getattr(row, name) for name in _PATRON_COLUMNS} == given

    renamed = {**given, "name": "A\\B\tC", "email": "a@example.org"}
    columns = ("id", "name", "email")
    with app.engine.begin() as conn:
        writer = _Writer(conn, t.patrons, columns)
        writer.update([tuple(renamed[name] for name in columns)])
    with app.engine.connect() as conn:
        row = conn.execute(select(t.patrons).where(t.patrons.c.id == 900001)).one()
    assert (row.name, row.email) == ("A\\B\tC", "a@example.org")
    assert row.registered_on == date(1999, 12, 31)  # a column the update did not name


class _CountingHasher:
    """The app's hasher, counting the keyed digests asked of it in this process."""

    def __init__(self, hasher: Any) -> None:
        self._hasher = hasher
        self.keyed_calls = 0

    def keyed(self, value: str, *, salt: str) -> str:
        self.keyed_calls += 1
        return str(self._hasher.keyed(value, salt=salt))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._hasher, name)


@pytest.mark.parametrize("workers", [0, 2])
def test_new_patrons_are_digested_where_their_rows_are_checked(
    app: App, tmp_path: Path, workers: int
) -> None:
    """P3: on a first import the importing process digests nothing: each line's
    fingerprint and a new patron's defaults, phone and ID number are digested with the
    checking, in a worker when there are workers, the patron's under the uid it is
    stored with. A re-import fingerprints the lines in the importing process (to skip
    the unchanged ones unread) and finds the same fingerprints."""
    counting = _CountingHasher(app.ports.hasher)
    ports = dataclasses.replace(app.ports, hasher=counting)
    rows = [f"HKPL{n:04d},reader,,,9123 {n:04d},A123456(3),2020-05-04," for n in range(1, 11)]
    path = tmp_path / "digested.csv"
    path.write_text(csv_lines(*rows), encoding="utf-8")
    with path.open("rb") as handle:
        report = import_registry(
            ports, "hkpl", parse_rows(handle, "hkpl"), staff=STAFF, batch_size=4, workers=workers
        )
    assert (report.created, report.refused) == (10, 0)
    assert counting.keyed_calls == 0
    hasher = app.ports.hasher
    for n in (1, 5, 10):
        stored = patron_row(app, f"HKPL{n:04d}")
        assert stored.phone_digest.split(":")[2] == stored.uid  # salted with its uid
        assert hasher.keyed_matches(stored.phone_digest, f"9123{n:04d}")
        assert hasher.keyed_matches(stored.id_digest, "A1234563")
        credentials = credential_rows(app, f"HKPL{n:04d}")
        assert hasher.keyed_matches(credentials["pin"].default_digest, f"{n:04d}")
        assert credentials["pin"].secret_hash == credentials["pin"].default_digest
    assert attempt(app, "HKPL0010", "0010", Channel.SIP2).outcome is Outcome.OK
    with path.open("rb") as handle:
        again = import_registry(
            ports, "hkpl", parse_rows(handle, "hkpl"), staff=STAFF, batch_size=4, workers=workers
        )
    assert (again.unchanged, again.updated, again.created, again.refused) == (10, 0, 0, 0)


class _Cyclic:
    """An object that refers to itself: reference counting alone never frees it."""

    me: _Cyclic | None = None


_LEFT_BEHIND: list[weakref.ref[_Cyclic]] = []  # in the worker process


def _leave_a_cycle() -> int:
    cyclic = _Cyclic()
    cyclic.me = cyclic
    _LEFT_BEHIND.append(weakref.ref(cyclic))
    return os.getpid()


def _collector_then() -> tuple[int, bool, bool]:
    """The worker, whether its cycle collector runs, whether the cycle is gone."""
    return os.getpid(), gc.isenabled(), all(ref() is None for ref in _LEFT_BEHIND)


def test_workers_run_their_calls_with_the_cycle_collector_paused() -> None:
    """P3: its passes over a batch's live rows found nothing to free and took about a
    twentieth of a worker's CPU; what a call leaves behind, a cycle included, is freed
    before the next call instead."""
    with BatchWork(1) as work:
        work.submit(int)  # the first call runs here
        worker = work.submit(_leave_a_cycle).result()
        then = work.submit(_collector_then).result()
    assert worker != os.getpid()
    assert then == (worker, False, True)
    assert gc.isenabled()  # this process: untouched


def _niceness() -> tuple[int, int]:
    return os.getpid(), os.getpriority(os.PRIO_PROCESS, 0)


def test_workers_run_at_a_lower_priority_than_the_process_that_writes() -> None:
    """P3: the importing process is a first import's bottleneck; its workers yield the
    cores to it (and to a server's sign-ins beside an import)."""
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    with BatchWork(1) as work:
        here = work.submit(_niceness).result()  # the first call runs here
        worker = work.submit(_niceness).result()
    assert here == (os.getpid(), mine)
    assert worker[0] != os.getpid()
    assert worker[1] == min(19, mine + WORKER_NICENESS)
    assert os.getpriority(os.PRIO_PROCESS, 0) == mine  # this process: untouched


def test_rows_share_equal_dates_and_sets_of_given_fields() -> None:
    """P3: a batch pickled to a worker and back then carries each of them once."""
    header = ["barcode", "phone", "registered_on"]
    lines = [
        (2, b"A1,9123 4567,2020-05-04"),
        (3, b"A2,9123 4568,2020-05-04"),
        (4, b"A3,,2020-05-04"),
    ]
    (_, first), (_, second), (_, third) = parse_lines(header, "hkpl", lines)
    assert first.given == second.given == {"barcode", "phone", "registered_on"}
    assert first.given is second.given
    assert third.given == {"barcode", "registered_on"}
    assert first.registered_on == date(2020, 5, 4)
    assert first.registered_on is second.registered_on is third.registered_on


def test_a_new_patron_s_equal_values_are_digested_once(app: App) -> None:
    """P3: HKPL's password and PIN defaults are one value (the phone's last four
    digits), digested once with the phone number and the ID number."""

    class Counting:
        def __init__(self) -> None:
            self.values: list[str] = []

        def keyed(self, value: str, *, salt: str) -> str:
            self.values.append(value)
            return f"hk:test:{salt}:{value}"

    registration = Registration(
        "hkpl", "HKPL0001", phone="9123 4567", id_number="A123456(3)", id_type=IdType.HKID
    )
    checked = check(registration, app.ports.profiles.get("hkpl"), today=date(2026, 12, 4))
    assert [kind for kind, _ in checked.defaults] == [CredentialKind.PASSWORD, CredentialKind.PIN]
    counting = Counting()
    uid, digests = new_patron_digests(checked, counting, "u1")
    assert sorted(counting.values) == ["4567", "91234567", "A1234563"]
    assert (uid, digests["4567"]) == ("u1", "hk:test:u1:4567")

"""R20: HKU students and staff sign in with their Portal UID and PIN, checked by a real
OpenLDAP server (StartTLS, generated CA); nothing of the PIN is stored here."""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest

from patronauth.bootstrap import App
from patronauth.domain.credentials import Channel, CredentialKind, Outcome
from patronauth.domain.errors import InvalidInput, Refused, Unavailable
from patronauth.domain.patrons import PatronStatus
from patronauth.services.credentials import (
    ChangeRequest,
    change_secret,
    reset_credential,
    set_up_credential,
)
from patronauth.services.interfaces import DirectoryLookup, Ports
from patronauth.services.lookup import require_patron
from patronauth.services.registration import Registration, add_patron
from tests.ldap_server import (
    PASSWORD_VARIABLE,
    PEOPLE,
    PEOPLE_ENTRIES,
    SERVICE_PASSWORD,
    PrivateSlapd,
    hku_env,
    hku_profile,
    register_people,
)
from tests.support import STAFF, attempt, make_app, register
from tests.support import test_env as deployment_env

JCHAN_PIN = PEOPLE_ENTRIES["jchan"][2]
MLEE_PIN = PEOPLE_ENTRIES["mlee"][2]


def patron_id(app: App, identifier: str) -> int:
    with app.ports.uow() as uow:
        return require_patron(uow, app.ports.profiles, identifier).patron.id


def audit_reasons(app: App) -> list[tuple[str, str]]:
    with app.ports.uow() as uow:
        events = [e.event for e in uow.audit.recent(limit=1000)]
    return [(e.outcome, e.detail.get("reason", "")) for e in reversed(events)]


# --- signing in -------------------------------------------------------------------


@pytest.mark.parametrize("channel", [Channel.WEB, Channel.APP, Channel.SIP2])
@pytest.mark.parametrize(
    ("typed", "pin", "record"),
    [
        ("jchan", JCHAN_PIN, "2000001234"),  # the Portal UID
        (" JChan ", JCHAN_PIN, "2000001234"),  # case and spaces count as one
        ("2000001234", JCHAN_PIN, "2000001234"),  # the card, as a kiosk scans it
        ("3035000001", JCHAN_PIN, "2000001234"),  # the student number
        ("mlee", MLEE_PIN, "2000005678"),  # staff
    ],
)
def test_the_directory_signs_in_by_uid_card_and_number(
    hku: App, slapd: PrivateSlapd, channel: Channel, typed: str, pin: str, record: str
) -> None:
    result = attempt(hku, typed, pin, channel, institution="hku")
    assert result.outcome is Outcome.OK
    assert result.patron_id == patron_id(hku, record)
    assert result.institution == "hku"
    assert result.kind is CredentialKind.PIN
    # Nothing of the PIN is stored: a directory category has no local credential.
    with hku.ports.uow() as uow:
        assert uow.credentials.for_patron(result.patron_id) == []


def test_without_an_institution_the_served_directories_are_asked(hku: App) -> None:
    assert attempt(hku, "jchan", JCHAN_PIN).outcome is Outcome.OK


def test_a_wrong_pin_and_an_unknown_uid_answer_alike(hku: App, slapd: PrivateSlapd) -> None:
    wrong = attempt(hku, "jchan", "Not-the-PIN-1", institution="hku")
    unknown = attempt(hku, "nobody", "Not-the-PIN-1", institution="hku")
    card = attempt(hku, "2000001234", "Not-the-PIN-1", institution="hku")
    assert wrong == unknown == card
    assert wrong.outcome is Outcome.INVALID
    assert wrong.patron_id is None
    assert slapd.binds_as("jchan") == 2  # the wrong PIN and the card's: the directory decided
    assert slapd.binds_as("nobody") == 0
    assert audit_reasons(hku)[-3:] == [
        ("invalid", "directory_refused"),
        ("invalid", "unknown"),
        ("invalid", "directory_refused"),
    ]


def test_failed_binds_count_in_the_lockout(hku: App, slapd: PrivateSlapd) -> None:
    for _ in range(5):
        assert attempt(hku, "jchan", "Not-the-PIN-1").outcome is Outcome.INVALID
    blocked = attempt(hku, "jchan", JCHAN_PIN)
    assert blocked.outcome is Outcome.BLOCKED
    assert blocked.retry_after > 0
    assert slapd.binds_as("jchan") == 5  # the sixth, with the right PIN, never reached it


def test_fifty_parallel_wrong_attempts_let_at_most_five_binds_reach_the_directory(
    hku: App, slapd: PrivateSlapd
) -> None:
    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(
            pool.map(lambda _: attempt(hku, "jchan", "Not-the-PIN-1").outcome, range(50))
        )
    assert slapd.binds_as("jchan") <= 5
    assert outcomes.count(Outcome.INVALID) == slapd.binds_as("jchan")
    assert outcomes.count(Outcome.BLOCKED) >= 45
    assert set(outcomes) <= {Outcome.INVALID, Outcome.BLOCKED}
    # The university account was never flooded: a later right PIN is still blocked here.
    assert attempt(hku, "jchan", JCHAN_PIN).outcome is Outcome.BLOCKED
    assert slapd.binds_as("jchan") <= 5


def test_a_uid_without_a_library_record_gets_the_seeds_words(hku: App, slapd: PrivateSlapd) -> None:
    result = attempt(hku, "newbie", PEOPLE_ENTRIES["newbie"][2], institution="hku")
    assert result.outcome is Outcome.NOT_PROVISIONED
    assert result.patron_id is None
    assert result.institution == "hku"
    assert result.outcome.reason == "login.not_provisioned"
    # The same with the card the directory knows and the library does not.
    by_card = attempt(hku, "2000009999", PEOPLE_ENTRIES["newbie"][2], institution="hku")
    assert by_card.outcome is Outcome.NOT_PROVISIONED
    # A wrong PIN tells nothing of it.
    wrong = attempt(hku, "newbie", "Not-the-PIN-1", institution="hku")
    assert wrong == attempt(hku, "nobody", "Not-the-PIN-1", institution="hku")


def test_the_library_records_refusals_apply(hku: App) -> None:
    student, staff = patron_id(hku, "2000001234"), patron_id(hku, "2000005678")
    with hku.ports.uow() as uow:
        uow.patrons.set_status(student, PatronStatus.BARRED)
        uow.patrons.set_status(staff, PatronStatus.PENDING_REGISTRATION)
        uow.commit()
    barred = attempt(hku, "jchan", JCHAN_PIN)
    assert barred.outcome is Outcome.BARRED
    assert barred.contact["en"]  # the library's contact text
    assert attempt(hku, "mlee", MLEE_PIN).outcome is Outcome.PENDING_REGISTRATION
    # Said only to whoever knows the PIN.
    assert attempt(hku, "mlee", "Not-the-PIN-1").outcome is Outcome.INVALID


def test_an_entry_disabled_or_gone_is_refused(hku: App, slapd: PrivateSlapd) -> None:
    gone_pin = PEOPLE_ENTRIES["gone"][2]
    assert attempt(hku, "2000002222", gone_pin).outcome is Outcome.OK
    dn = f"uid=gone,{PEOPLE}"
    slapd.modify(dn, {"description": [("MODIFY_REPLACE", ["disabled"])]})
    by_card = attempt(hku, "2000002222", gone_pin)
    by_uid = attempt(hku, "gone", gone_pin)
    assert by_card.outcome is by_uid.outcome is Outcome.INVALID
    assert by_card == attempt(hku, "nobody", gone_pin)
    assert audit_reasons(hku)[-3:] == [
        ("invalid", "directory_entry_gone"),
        ("invalid", "unknown"),
        ("invalid", "unknown"),
    ]
    slapd.modify(dn, {"description": [("MODIFY_DELETE", [])]})
    assert attempt(hku, "gone", gone_pin).outcome is Outcome.OK
    slapd.delete(dn)
    assert attempt(hku, "2000002222", gone_pin).outcome is Outcome.INVALID
    assert audit_reasons(hku)[-1] == ("invalid", "directory_entry_gone")


def test_two_entries_with_one_number_sign_nobody_in(hku: App, slapd: PrivateSlapd) -> None:
    register(hku, "hku", "2000007770", category="student", student_number="3035777777")
    result = attempt(hku, "2000007770", PEOPLE_ENTRIES["twin1"][2])
    assert result.outcome is Outcome.INVALID
    assert slapd.binds_as("twin1") == slapd.binds_as("twin2") == 0


# --- faults -----------------------------------------------------------------------


def test_a_directory_killed_and_restarted(
    hku: App, slapd: PrivateSlapd, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    assert attempt(hku, "jchan", JCHAN_PIN).outcome is Outcome.OK  # connections pooled
    slapd.kill()
    for _ in range(8):  # more than the lockout allows: none of them is counted
        with pytest.raises(Unavailable) as caught:
            attempt(hku, "jchan", "Not-the-PIN-1")
        assert caught.value.code == "directory.unavailable"
        assert caught.value.retry_after > 0
    # No fallback: a library card's record is no way around the directory either.
    with pytest.raises(Unavailable):
        attempt(hku, "2000001234", JCHAN_PIN)
    slapd.start()
    # The stale pooled connections are rebuilt; nothing was counted during the outage.
    assert attempt(hku, "jchan", JCHAN_PIN).outcome is Outcome.OK
    assert attempt(hku, "2000001234", JCHAN_PIN).outcome is Outcome.OK
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "rebuilding the pool" in logged
    assert "directory unreachable" in logged
    for secret in (JCHAN_PIN, "Not-the-PIN-1", SERVICE_PASSWORD):
        assert secret not in logged


def test_a_directory_that_stops_answering_fails_within_the_timeout(
    hku: App, slapd: PrivateSlapd
) -> None:
    assert attempt(hku, "jchan", JCHAN_PIN).outcome is Outcome.OK
    slapd.pause()
    try:
        started = time.monotonic()
        try:
            answered = attempt(hku, "jchan", JCHAN_PIN)
        except Unavailable:
            pass
        else:
            pytest.fail(f"answered while the directory was stopped: {answered}")
        # timeout = 2 s: the pooled connection times out, then a new one (connect 1 s,
        # StartTLS answer 2 s); well under what a patron would wait for.
        assert time.monotonic() - started < 8
    finally:
        slapd.resume()
    assert attempt(hku, "jchan", JCHAN_PIN).outcome is Outcome.OK


def test_a_second_url_takes_over(slapd: PrivateSlapd, sqlite_url: str, tmp_path: Path) -> None:
    from tests.servers import free_port

    dead = f"ldap://127.0.0.1:{free_port()}"
    env = deployment_env(
        sqlite_url,
        tmp_path / "var",
        PATRONAUTH_PROFILES_DIR=str(
            hku_profile(slapd, tmp_path / "profiles", urls=f'["{dead}", "{slapd.url}"]')
        ),
        **{PASSWORD_VARIABLE: SERVICE_PASSWORD},
    )
    app = make_app(env)
    try:
        register_people(app)
        assert attempt(app, "jchan", JCHAN_PIN).outcome is Outcome.OK
    finally:
        app.close()


@contextmanager
def echoing_server() -> Iterator[str]:
    """A server that sends back whatever it is sent, as a connection to a dead local
    port that the kernel joins to itself does: no LDAP message ever comes back."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def echo(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):
            while data := conn.recv(4096):
                conn.sendall(data)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=echo, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"ldap://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def test_a_server_that_answers_no_ldap_is_a_directory_down(
    slapd: PrivateSlapd, sqlite_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Not a crash of the sign-in: alone it is the directory unavailable (503 through
    the API), and with a second URL the second answers."""
    with echoing_server() as echo:
        for urls, answered in ((f'["{echo}"]', False), (f'["{echo}", "{slapd.url}"]', True)):
            folder = tmp_path / ("both" if answered else "echo")
            env = deployment_env(
                sqlite_url,
                folder / "var",
                PATRONAUTH_PROFILES_DIR=str(hku_profile(slapd, folder / "profiles", urls=urls)),
                **{PASSWORD_VARIABLE: SERVICE_PASSWORD},
            )
            app = make_app(env)
            try:
                if not answered:  # the first of the two apps over the one database
                    register_people(app)
                if answered:
                    assert attempt(app, "jchan", JCHAN_PIN).outcome is Outcome.OK
                else:
                    with caplog.at_level(logging.ERROR), pytest.raises(Unavailable) as refused:
                        attempt(app, "jchan", JCHAN_PIN)
                    assert refused.value.code == "directory.unavailable"
                    assert f"{echo}: not an LDAP answer" in caplog.text
            finally:
                app.close()


def test_a_missing_service_password_is_unavailable_not_a_fallback(
    slapd: PrivateSlapd, sqlite_url: str, tmp_path: Path
) -> None:
    env = hku_env(slapd, sqlite_url, tmp_path)
    del env[PASSWORD_VARIABLE]
    app = make_app(env)
    try:
        register_people(app)
        with pytest.raises(Unavailable):
            attempt(app, "jchan", JCHAN_PIN)
    finally:
        app.close()


def test_a_certificate_from_another_ca_is_refused(
    slapd: PrivateSlapd, sqlite_url: str, tmp_path: Path
) -> None:
    other = tmp_path / "other"
    other.mkdir()
    from tests.ldap_server import make_certificates

    make_certificates(other)
    env = deployment_env(
        sqlite_url,
        tmp_path / "var",
        PATRONAUTH_PROFILES_DIR=str(
            hku_profile(slapd, tmp_path / "profiles", ca_file=f'"{other / "ca.pem"}"')
        ),
        **{PASSWORD_VARIABLE: SERVICE_PASSWORD},
    )
    app = make_app(env)
    try:
        with pytest.raises(Unavailable):
            attempt(app, "jchan", JCHAN_PIN)
        assert slapd.binds_as("jchan") == 0
    finally:
        app.close()


# --- bad input --------------------------------------------------------------------


@pytest.mark.parametrize("value", ["*", "j*", "(", ")", "\\", "\x00", "jchan)(uid=*", "*)(|(uid=*"])
def test_filter_metacharacters_are_escaped_and_find_nobody(hku: App, value: str) -> None:
    config = hku.ports.profiles.get("hku").directory_for("student")
    assert config is not None
    for lookup in DirectoryLookup:
        assert hku.ports.directory.find(config, lookup, value) is None


@pytest.mark.parametrize("value", ["*", "jchan*", "(uid=*)", "ja\\5c", "jchan\x00"])
def test_such_identifiers_are_refused_before_the_directory(
    hku: App, slapd: PrivateSlapd, value: str
) -> None:
    before = slapd.operations()
    with pytest.raises(InvalidInput) as caught:
        attempt(hku, value, JCHAN_PIN, institution="hku")
    assert caught.value.code == "identifier.invalid_characters"
    assert slapd.operations() == before


def test_an_empty_pin_never_binds(hku: App, slapd: PrivateSlapd) -> None:
    config = hku.ports.profiles.get("hku").directory_for("student")
    assert config is not None
    entry = hku.ports.directory.find(config, DirectoryLookup.UID, "jchan")
    assert entry is not None
    # To LDAP an empty password is an anonymous bind, which "succeeds".
    assert hku.ports.directory.bind(config, entry.dn, "") is False
    with pytest.raises(InvalidInput) as caught:
        attempt(hku, "jchan", "")
    assert caught.value.code == "secret.empty"
    assert slapd.binds_as("jchan") == 0


@pytest.mark.parametrize(
    ("typed", "pin", "code"),
    [
        ("j" * 65, JCHAN_PIN, "identifier.too_long"),
        ("jchan", "x" * 129, "secret.too_long"),
        ("jchan", "x" * 10_000_000, "secret.too_long"),
    ],
)
def test_over_long_values_are_refused_before_any_network_call(
    hku: App, slapd: PrivateSlapd, typed: str, pin: str, code: str
) -> None:
    before = slapd.operations()
    with pytest.raises(InvalidInput) as caught:
        attempt(hku, typed, pin)
    assert caught.value.code == code
    config = hku.ports.profiles.get("hku").directory_for("student")
    assert config is not None
    assert hku.ports.directory.find(config, DirectoryLookup.UID, "j" * 257) is None
    assert hku.ports.directory.bind(config, f"uid=jchan,{PEOPLE}", "x" * 257) is False
    assert slapd.operations() == before


# --- no local PIN -----------------------------------------------------------------


def _no_local_change(ports: Ports) -> list[Refused]:
    refusals = []
    for call in (
        lambda: change_secret(
            ports,
            ChangeRequest("2000001234", JCHAN_PIN, "New-PIN-12345", "New-PIN-12345", Channel.WEB),
        ),
        lambda: reset_credential(ports, "2000001234", None, staff=STAFF),
        lambda: set_up_credential(
            ports,
            "3035000001",
            None,
            "New-PIN-12345",
            "New-PIN-12345",
            actor=STAFF,
            channel=Channel.STAFF,
            institution="hku",
        ),
    ):
        with pytest.raises(Refused) as caught:
            call()
        refusals.append(caught.value)
    return refusals


def test_change_reset_and_set_up_change_nothing_and_say_where(
    hku: App, slapd: PrivateSlapd
) -> None:
    refusals = _no_local_change(hku.ports)
    assert {r.code for r in refusals} == {"credential.directory_managed"}
    assert {r.violations[0].params["url"] for r in refusals} == {
        "https://its.example.org/portal-pin"
    }
    assert slapd.binds_as("jchan") == 0  # the current PIN was not even tried
    student = patron_id(hku, "2000001234")
    with hku.ports.uow() as uow:
        assert uow.credentials.for_patron(student) == []


def test_a_directory_category_needs_its_link_number(hku: App) -> None:
    with pytest.raises(InvalidInput) as caught:
        add_patron(hku.ports, Registration("hku", "2000004444", category="staff"), staff=STAFF)
    assert caught.value.code == "directory.link_missing"
    with pytest.raises(InvalidInput) as caught:
        add_patron(
            hku.ports,
            Registration(
                "hku", "2000004444", category="staff", staff_number="S1", student_number="1"
            ),
            staff=STAFF,
        )
    assert caught.value.code == "directory.link_ambiguous"


def test_other_hku_patrons_keep_their_local_pin(hku: App, slapd: PrivateSlapd) -> None:
    register(hku, "hku", "CU1234567", category="julac")
    set_up_credential(
        hku.ports, "CU1234567", None, "Julac-PIN-2024", "Julac-PIN-2024", actor=STAFF,
        channel=Channel.STAFF,
    )  # fmt: skip
    before = slapd.operations()
    assert attempt(hku, "CU1234567", "Julac-PIN-2024").outcome is Outcome.OK
    assert attempt(hku, "CU1234567", "Julac-PIN-2025").outcome is Outcome.INVALID
    assert slapd.operations() == before  # the directory was not asked


# --- the registry feed (R25) ------------------------------------------------------


def test_the_registry_feed_links_students_and_staff_to_the_directory(
    hku: App, slapd: PrivateSlapd, tmp_path: Path
) -> None:
    from tests.integration.test_import import csv_lines, errors_of, run_feed

    header = "barcode,category,name,student_number,staff_number"
    # newbie's library account arrives the day after the Portal account (seed 004).
    assert attempt(hku, "newbie", PEOPLE_ENTRIES["newbie"][2]).outcome is (Outcome.NOT_PROVISIONED)
    report = run_feed(
        hku,
        tmp_path,
        "hku",
        csv_lines(
            "2000009999,student,New Bie,3035999999,",
            "2000001234,student,Chan Tai Man,3035000001,",  # known: its number is on record
            "2000008888,staff,Someone,,3035999999",  # another record's number
            "2000007777,staff,No Number,,",
            header=header,
        ),
    )
    assert errors_of(report) == [(4, "identifier.taken"), (5, "directory.link_missing")]
    assert (report.created, report.updated) == (1, 1)
    assert attempt(hku, "newbie", PEOPLE_ENTRIES["newbie"][2]).outcome is Outcome.OK
    assert attempt(hku, "2000009999", PEOPLE_ENTRIES["newbie"][2]).outcome is Outcome.OK
    # The same feed again changes nothing and refuses nothing new.
    again = run_feed(hku, tmp_path, "hku", csv_lines("2000009999,student,New Bie,3035999999,",
                                                     header=header))  # fmt: skip
    assert (errors_of(again), again.created, again.updated, again.unchanged) == ([], 0, 0, 1)

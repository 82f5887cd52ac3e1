"""Default credentials derived from registration data (R4, R10, R16, R23)."""

from __future__ import annotations

from datetime import date

import pytest

from patronauth.adapters.profiles import ProfileStore
from patronauth.domain.credentials import CredentialKind
from patronauth.domain.defaults import DefaultRule, DefaultRuleKind, RegistrationData, derive
from patronauth.domain.errors import Refused
from patronauth.domain.identifiers import IdType

K = DefaultRuleKind
PHONE_4 = DefaultRule(K.PHONE_LAST_DIGITS, 4)
ID_PREFIX_6 = DefaultRule(K.ID_PREFIX, 6)
HKID_LETTER_DIGITS = DefaultRule(K.HKID_LETTER_DIGITS)
STUDENT_NUMBER = DefaultRule(K.STUDENT_NUMBER)
STAFF_NUMBER = DefaultRule(K.STAFF_NUMBER)
EVERYTHING = RegistrationData(
    phone="91234567",
    id_number="A123456(3)",
    student_number="20181234",
    staff_number="S2019001",
)


@pytest.mark.parametrize(
    ("rule", "data", "expected"),
    [
        # R10, PolyU's own examples.
        (ID_PREFIX_6, RegistrationData(id_number="Z123456(7)"), "Z12345"),
        (ID_PREFIX_6, RegistrationData(id_number="XY12345678"), "XY1234"),
        (ID_PREFIX_6, RegistrationData(id_number="z123456(7)"), "Z12345"),
        (ID_PREFIX_6, RegistrationData(id_number=" Z 123456 (7) "), "Z12345"),
        (ID_PREFIX_6, RegistrationData(id_number="Ｚ１２３４５６（７）"), "Z12345"),
        (ID_PREFIX_6, RegistrationData(id_number="AB987654(3)"), "AB9876"),
        (ID_PREFIX_6, RegistrationData(id_number="11010519491231002X"), "110105"),
        (ID_PREFIX_6, RegistrationData(id_number="Z12-345"), "Z12345"),
        (DefaultRule(K.ID_PREFIX, 4), RegistrationData(id_number="Z123456(7)"), "Z123"),
        # R4, HKPL.
        (PHONE_4, RegistrationData(phone="9123 4567"), "4567"),
        (PHONE_4, RegistrationData(phone="91234567"), "4567"),
        (PHONE_4, RegistrationData(phone="85291234567"), "4567"),
        (PHONE_4, RegistrationData(phone="1234"), "1234"),
        (DefaultRule(K.PHONE_LAST_DIGITS, 6), RegistrationData(phone="91234567"), "234567"),
        # R16, HKCT.
        (HKID_LETTER_DIGITS, RegistrationData(id_number="A123456(3)"), "A12345"),
        (HKID_LETTER_DIGITS, RegistrationData(id_number="a123456(3)"), "A12345"),
        (HKID_LETTER_DIGITS, RegistrationData(id_number="A 123456 (3)"), "A12345"),
        (HKID_LETTER_DIGITS, RegistrationData(id_number="AB987654(3)"), "B98765"),
        (STUDENT_NUMBER, RegistrationData(student_number="20181234"), "20181234"),
        (STUDENT_NUMBER, RegistrationData(student_number="00181234"), "00181234"),
        (STAFF_NUMBER, RegistrationData(staff_number="S2019001"), "S2019001"),
        (STAFF_NUMBER, RegistrationData(staff_number="s2019001"), "S2019001"),
        # HKPL without a phone: no default (set up by e-mail, or a temporary at the counter).
        (PHONE_4, RegistrationData(), None),
        (PHONE_4, RegistrationData(phone=""), None),
        (PHONE_4, RegistrationData(id_number="A123456(3)"), None),
        # HKCT: the HKID rule gives nothing from a passport or mainland ID number.
        (HKID_LETTER_DIGITS, RegistrationData(id_number="XY12345678"), None),
        (HKID_LETTER_DIGITS, RegistrationData(id_number="123456789"), None),
        (
            HKID_LETTER_DIGITS,
            RegistrationData(id_number="A123456(3)", id_type=IdType.PASSPORT),
            None,
        ),
        (HKID_LETTER_DIGITS, RegistrationData(id_number="11010519491231002X"), None),
        # R23, HKU: first-time users set the secret up themselves.
        (DefaultRule(K.NONE), EVERYTHING, None),
        (DefaultRule(K.NONE), RegistrationData(), None),
    ],
)
def test_derive(rule: DefaultRule, data: RegistrationData, expected: str | None) -> None:
    assert derive(rule, data) == expected


@pytest.mark.parametrize(
    ("rule", "expected"),
    [
        (PHONE_4, "4567"),
        (ID_PREFIX_6, "A12345"),
        (HKID_LETTER_DIGITS, "A12345"),
        (STUDENT_NUMBER, "20181234"),
        (STAFF_NUMBER, "S2019001"),
    ],
)
def test_each_rule_uses_only_its_own_data(rule: DefaultRule, expected: str) -> None:
    assert derive(rule, EVERYTHING) == expected


@pytest.mark.parametrize(
    ("rule", "data", "code"),
    [
        (PHONE_4, RegistrationData(phone="123"), "default.missing_phone"),
        (ID_PREFIX_6, RegistrationData(), "default.missing_id_number"),
        (ID_PREFIX_6, RegistrationData(id_number="Z12(3)"), "default.missing_id_number"),
        (ID_PREFIX_6, RegistrationData(id_number="  ( ) "), "default.missing_id_number"),
        (ID_PREFIX_6, RegistrationData(phone="91234567"), "default.missing_id_number"),
        (HKID_LETTER_DIGITS, RegistrationData(), "default.missing_hkid"),
        (
            HKID_LETTER_DIGITS,
            RegistrationData(id_number="A1234", id_type=IdType.HKID),
            "default.missing_hkid",
        ),
        (STUDENT_NUMBER, RegistrationData(), "default.missing_student_number"),
        (STUDENT_NUMBER, RegistrationData(student_number=""), "default.missing_student_number"),
        (STUDENT_NUMBER, RegistrationData(student_number="  "), "default.missing_student_number"),
        (
            STUDENT_NUMBER,
            RegistrationData(staff_number="S2019001"),
            "default.missing_student_number",
        ),
        (STAFF_NUMBER, RegistrationData(), "default.missing_staff_number"),
        (STAFF_NUMBER, RegistrationData(staff_number="\u3000"), "default.missing_staff_number"),
        (
            STAFF_NUMBER,
            RegistrationData(student_number="20181234"),
            "default.missing_staff_number",
        ),
    ],
)
def test_derive_refuses_on_missing_data(
    rule: DefaultRule, data: RegistrationData, code: str
) -> None:
    with pytest.raises(Refused) as caught:
        derive(rule, data)
    assert [v.code for v in caught.value.violations] == [code]


# --- which rule applies: by the patron's registration date and category -------------


@pytest.mark.parametrize(
    ("institution", "category", "kind", "registered_on", "rule"),
    [
        ("hkct", "student", CredentialKind.PASSWORD, date(2010, 1, 1), K.HKID_LETTER_DIGITS),
        ("hkct", "student", CredentialKind.PASSWORD, date(2018, 7, 31), K.HKID_LETTER_DIGITS),
        ("hkct", "student", CredentialKind.PASSWORD, date(2018, 8, 1), K.STUDENT_NUMBER),
        ("hkct", "student", CredentialKind.PASSWORD, date(2026, 1, 1), K.STUDENT_NUMBER),
        ("hkct", "staff", CredentialKind.PASSWORD, date(2018, 7, 31), K.HKID_LETTER_DIGITS),
        ("hkct", "staff", CredentialKind.PASSWORD, date(2018, 8, 1), K.STAFF_NUMBER),
        ("polyu", "student", CredentialKind.PIN, date(2013, 5, 31), K.NONE),
        ("polyu", "student", CredentialKind.PIN, date(2013, 6, 1), K.ID_PREFIX),
        ("polyu", "staff", CredentialKind.PIN, date(2000, 1, 1), K.NONE),
        ("polyu", "alumni", CredentialKind.PIN, date(2020, 1, 1), K.ID_PREFIX),
        ("hkpl", "reader", CredentialKind.PASSWORD, date(1990, 1, 1), K.PHONE_LAST_DIGITS),
        ("hkpl", "reader", CredentialKind.PIN, date(2026, 1, 1), K.PHONE_LAST_DIGITS),
        ("hku", "julac", CredentialKind.PIN, date(2026, 1, 1), K.NONE),
        ("hku", "alumni", CredentialKind.PIN, date(2010, 1, 1), K.NONE),
    ],
)
def test_default_rule_for_registration_date(
    profiles: ProfileStore,
    institution: str,
    category: str,
    kind: CredentialKind,
    registered_on: date,
    rule: DefaultRuleKind,
) -> None:
    settings = profiles.get(institution).credential(category, kind)
    assert settings.default_rule_for(registered_on).kind is rule


@pytest.mark.parametrize(
    ("institution", "category", "kind", "registered_on", "data", "expected"),
    [
        (
            "hkct",
            "student",
            CredentialKind.PASSWORD,
            date(2018, 7, 31),
            EVERYTHING,
            "A12345",
        ),
        (
            "hkct",
            "student",
            CredentialKind.PASSWORD,
            date(2018, 8, 1),
            EVERYTHING,
            "20181234",
        ),
        ("hkct", "staff", CredentialKind.PASSWORD, date(2018, 8, 1), EVERYTHING, "S2019001"),
        ("hkct", "staff", CredentialKind.PASSWORD, date(2018, 7, 31), EVERYTHING, "A12345"),
        (
            "polyu",
            "student",
            CredentialKind.PIN,
            date(2013, 6, 1),
            RegistrationData(id_number="Z123456(7)"),
            "Z12345",
        ),
        (
            "polyu",
            "student",
            CredentialKind.PIN,
            date(2013, 6, 1),
            RegistrationData(id_number="XY12345678"),
            "XY1234",
        ),
        (
            "polyu",
            "student",
            CredentialKind.PIN,
            date(2013, 5, 31),
            RegistrationData(id_number="Z123456(7)"),
            None,
        ),
        (
            "hkpl",
            "reader",
            CredentialKind.PASSWORD,
            date(2020, 1, 1),
            RegistrationData(phone="9123 4567"),
            "4567",
        ),
        (
            "hkpl",
            "reader",
            CredentialKind.PIN,
            date(2020, 1, 1),
            RegistrationData(phone="9123 4567"),
            "4567",
        ),
        ("hku", "julac", CredentialKind.PIN, date(2020, 1, 1), EVERYTHING, None),
    ],
)
def test_the_seed_libraries_defaults(
    profiles: ProfileStore,
    institution: str,
    category: str,
    kind: CredentialKind,
    registered_on: date,
    data: RegistrationData,
    expected: str | None,
) -> None:
    settings = profiles.get(institution).credential(category, kind)
    assert derive(settings.default_rule_for(registered_on), data) == expected


def test_hkpl_password_and_pin_share_the_default(profiles: ProfileStore) -> None:
    hkpl = profiles.get("hkpl")
    data = RegistrationData(phone="9123 4567")
    day = date(2024, 3, 1)
    password = hkpl.credential(None, CredentialKind.PASSWORD).default_rule_for(day)
    pin = hkpl.credential(None, CredentialKind.PIN).default_rule_for(day)
    assert derive(password, data) == derive(pin, data) == "4567"

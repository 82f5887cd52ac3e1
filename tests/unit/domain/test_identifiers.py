"""Identifiers, JULAC cards, identity documents and contact data (R10, R15, R16, R21, S3, S9)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from patronauth.domain.errors import InvalidInput
from patronauth.domain.identifiers import (
    JULAC_UNIVERSITIES,
    MAX_IDENTIFIER_LENGTH,
    IdDocument,
    IdentifierRule,
    IdType,
    base_form,
    guess_id_type,
    hkid_check_digit,
    lockout_key,
    mask_phone,
    normalise,
    normalise_email,
    normalise_name,
    normalise_phone,
    parse_hkid,
    parse_id_document,
    parse_julac,
    parse_mainland_id,
    parse_passport,
)

STRIP = IdentifierRule(strip_leading_zeros=True)
KEEP = IdentifierRule(strip_leading_zeros=False)


def refusal(parse: Callable[..., Any], *args: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse(*args)
    return caught.value


def codes(error: InvalidInput) -> list[str]:
    return [v.code for v in error.violations]


# --- identifiers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("HKPL0001", "HKPL0001"),
        ("hkpl0001", "HKPL0001"),
        ("HkPl0001", "HKPL0001"),
        (" HKPL 0001 ", "HKPL0001"),
        ("HKPL\u30000001", "HKPL0001"),
        ("ＨＫＰＬ０００１", "HKPL0001"),
        ("ｈｋｐｌ　０００１", "HKPL0001"),
        ("0012345", "0012345"),
        ("a.b_c@d-e", "A.B_C@D-E"),
        ("x" * MAX_IDENTIFIER_LENGTH, "X" * MAX_IDENTIFIER_LENGTH),
        ("1 " * MAX_IDENTIFIER_LENGTH, "1" * MAX_IDENTIFIER_LENGTH),
    ],
)
def test_base_form(raw: str, expected: str) -> None:
    assert base_form(raw) == expected


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "identifier.empty"),
        ("   ", "identifier.empty"),
        ("\u3000", "identifier.empty"),
        ("1" * (MAX_IDENTIFIER_LENGTH + 1), "identifier.too_long"),
        ("A" * 10_000, "identifier.too_long"),
        ("12\x0034", "identifier.invalid_characters"),
        ("\x00", "identifier.invalid_characters"),
        ("1234\n", "identifier.invalid_characters"),
        ("12\t34", "identifier.invalid_characters"),
        ("12\x7f34", "identifier.invalid_characters"),
        ("12\x8534", "identifier.invalid_characters"),
        ("12\u200b34", "identifier.invalid_characters"),
        ("12\u202e34", "identifier.invalid_characters"),
        ("12#34", "identifier.invalid_characters"),
        ("12/34", "identifier.invalid_characters"),
        ("1234';--", "identifier.invalid_characters"),
        ("<b>1234</b>", "identifier.invalid_characters"),
        ("é1234", "identifier.invalid_characters"),
        ("圖書證1234", "identifier.invalid_characters"),
    ],
)
def test_base_form_refusals(raw: str, code: str) -> None:
    assert codes(refusal(base_form, raw)) == [code]


def test_too_long_names_the_maximum() -> None:
    error = refusal(base_form, "1" * (MAX_IDENTIFIER_LENGTH + 1))
    assert error.violations[0].params == {"max": MAX_IDENTIFIER_LENGTH}


@pytest.mark.parametrize(
    ("raw", "rule", "expected"),
    [
        ("0012345", STRIP, "12345"),
        ("0012345", KEEP, "0012345"),
        (" 00 123 45 ", STRIP, "12345"),
        ("０１２３４５", STRIP, "12345"),
        ("000", STRIP, "0"),
        ("000", KEEP, "000"),
        ("0", STRIP, "0"),
        ("A00123", STRIP, "A00123"),
        ("hkpl0001", STRIP, "HKPL0001"),
        ("hkpl0001", KEEP, "HKPL0001"),
        ("1200", STRIP, "1200"),
    ],
)
def test_normalise(raw: str, rule: IdentifierRule, expected: str) -> None:
    assert normalise(raw, rule) == expected


@pytest.mark.parametrize("rule", [STRIP, KEEP])
def test_normalise_refuses_what_base_form_refuses(rule: IdentifierRule) -> None:
    assert codes(refusal(normalise, " ", rule)) == ["identifier.empty"]
    assert codes(refusal(normalise, "12\x0034", rule)) == ["identifier.invalid_characters"]


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("12345", "12345"),
        ("0012345", "12345"),
        (" 00 123 45 ", "12345"),
        ("０１２３４５", "12345"),
        ("hkpl0001", "HKPL0001"),
        ("HKPL 0001", "HKPL0001"),
        ("0HKPL0001", "HKPL0001"),
        ("000", "0"),
        ("cu1234567", "CU1234567"),
    ],
)
def test_lockout_key_counts_case_spaces_and_leading_zeros_as_one(typed: str, key: str) -> None:
    assert lockout_key(typed) == key


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "identifier.empty"),
        ("1" * 65, "identifier.too_long"),
        ("12\x0034", "identifier.invalid_characters"),
    ],
)
def test_lockout_key_refusals(raw: str, code: str) -> None:
    assert codes(refusal(lockout_key, raw)) == [code]


# --- JULAC cards (R21) --------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "prefix", "number", "university"),
    [
        ("CITYU1234567", "CITYU", "1234567", "City University of Hong Kong"),
        ("CITYU1234", "CITYU", "1234", "City University of Hong Kong"),
        ("BU12345678", "BU", "12345678", "Hong Kong Baptist University"),
        ("UST20123456", "UST", "20123456", "Hong Kong University of Science and Technology"),
        ("LU3012345", "LU", "3012345", "Lingnan University"),
        ("CU1234567", "CU", "1234567", "The Chinese University of Hong Kong"),
        ("EDU11234567", "EDU", "11234567", "The Education University of Hong Kong"),
        ("PU21012345A", "PU", "21012345A", "The Hong Kong Polytechnic University"),
        ("cu 1234567", "CU", "1234567", "The Chinese University of Hong Kong"),
        ("ＣＵ１２３４５６７", "CU", "1234567", "The Chinese University of Hong Kong"),
        ("CU123456789012", "CU", "123456789012", "The Chinese University of Hong Kong"),
    ],
)
def test_parse_julac(raw: str, prefix: str, number: str, university: str) -> None:
    card = parse_julac(raw)
    assert (card.prefix, card.number) == (prefix, number)
    assert card.university == university
    assert card.card_number == prefix + number


def test_the_seven_julac_prefixes() -> None:
    assert set(JULAC_UNIVERSITIES) == {"CITYU", "BU", "UST", "LU", "CU", "EDU", "PU"}


@pytest.mark.parametrize(
    ("raw", "code", "params"),
    [
        ("XX1234567", "julac.unknown_prefix", None),
        ("1234567", "julac.unknown_prefix", None),
        ("HKU1234567", "julac.unknown_prefix", None),
        ("CUHK1234567", "julac.invalid_number", {"prefix": "CU"}),
        ("CU", "julac.missing_number", {"prefix": "CU"}),
        ("cityu", "julac.missing_number", {"prefix": "CITYU"}),
        ("EDU", "julac.missing_number", {"prefix": "EDU"}),
        ("CUABC1234", "julac.invalid_number", {"prefix": "CU"}),
        ("CU123", "julac.invalid_number", {"prefix": "CU"}),
        ("CU1234567890123", "julac.invalid_number", {"prefix": "CU"}),
        ("CU1234.567", "julac.invalid_number", {"prefix": "CU"}),
        ("PUA1234567", "julac.invalid_number", {"prefix": "PU"}),
        ("", "identifier.empty", None),
        ("CU12\x0034567", "identifier.invalid_characters", None),
    ],
)
def test_parse_julac_refusals(raw: str, code: str, params: dict[str, str] | None) -> None:
    error = refusal(parse_julac, raw)
    assert codes(error) == [code]
    if params is not None:
        assert error.violations[0].params == params


def test_unknown_prefix_lists_the_prefixes() -> None:
    error = refusal(parse_julac, "XX1234567")
    assert error.violations[0].params == {"prefixes": "CITYU, BU, UST, LU, CU, EDU, PU"}


# --- HKID (R10, R16) ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("letters", "digits", "check"),
    [
        ("Z", "123456", "1"),
        ("A", "123456", "3"),
        ("G", "123456", "A"),
        ("K", "000000", "0"),
        ("C", "668668", "9"),
        ("AB", "987654", "3"),
        ("XA", "123456", "8"),
        ("WX", "111111", "4"),
    ],
)
def test_hkid_check_digit(letters: str, digits: str, check: str) -> None:
    assert hkid_check_digit(letters, digits) == check


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("Z123456(1)", "Z1234561"),
        ("A123456(3)", "A1234563"),
        ("A1234563", "A1234563"),
        ("a123456(3)", "A1234563"),
        (" A 123456 (3) ", "A1234563"),
        ("Ａ１２３４５６（３）", "A1234563"),
        ("G123456(A)", "G123456A"),
        ("g123456(a)", "G123456A"),
        ("G123456A", "G123456A"),
        ("K000000(0)", "K0000000"),
        ("AB987654(3)", "AB9876543"),
        ("AB9876543", "AB9876543"),
        ("XA123456(8)", "XA1234568"),
    ],
)
def test_parse_hkid(raw: str, number: str) -> None:
    assert parse_hkid(raw) == IdDocument(IdType.HKID, number)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("Z123456(7)", "hkid.check_digit"),
        ("Z1234567", "hkid.check_digit"),
        ("A123456(4)", "hkid.check_digit"),
        ("G123456(0)", "hkid.check_digit"),
        ("A123456(A)", "hkid.check_digit"),
        ("AB987654(4)", "hkid.check_digit"),
        ("", "hkid.invalid_format"),
        ("123456(7)", "hkid.invalid_format"),
        ("ABC123456(7)", "hkid.invalid_format"),
        ("A12345(6)", "hkid.invalid_format"),
        ("A1234567(8)", "hkid.invalid_format"),
        ("A123456", "hkid.invalid_format"),
        ("A123456()", "hkid.invalid_format"),
        ("A123456(B)", "hkid.invalid_format"),
        ("A123456(33)", "hkid.invalid_format"),
        ("A123456(3)X", "hkid.invalid_format"),
        ("A123456((3))", "hkid.invalid_format"),
        ("A123456[3]", "hkid.invalid_format"),
        ("A123456(3", "hkid.invalid_format"),
        ("A1234563)", "hkid.invalid_format"),
        ("1A23456(3)", "hkid.invalid_format"),
        ("A12E456(3)", "hkid.invalid_format"),
    ],
)
def test_parse_hkid_refusals(raw: str, code: str) -> None:
    assert codes(refusal(parse_hkid, raw)) == [code]


# --- mainland identity cards and passports (R10) ------------------------------------


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("11010519491231002X", "11010519491231002X"),
        ("11010519491231002x", "11010519491231002X"),
        ("440524188001010014", "440524188001010014"),
        ("110101199001010007", "110101199001010007"),
        ("310115199003071239", "310115199003071239"),
        (" 4405 2418 8001 0100 14 ", "440524188001010014"),
    ],
)
def test_parse_mainland_id(raw: str, number: str) -> None:
    assert parse_mainland_id(raw) == IdDocument(IdType.MAINLAND, number)


@pytest.mark.parametrize(
    "number",
    [
        # One for each of the eleven check characters, 1 0 X 9 8 7 6 5 4 3 2.
        "440305199901000181",
        "440305199901000050",
        "44030519990100000X",
        "440305199901000069",
        "440305199901000018",
        "440305199901000077",
        "440305199901000026",
        "440305199901000085",
        "440305199901000034",
        "440305199901000093",
        "440305199901000042",
    ],
)
def test_every_mainland_check_character(number: str) -> None:
    assert parse_mainland_id(number).number == number
    for wrong in "0123456789X":
        if wrong != number[-1]:
            error = refusal(parse_mainland_id, number[:-1] + wrong)
            assert codes(error) == ["mainland_id.check_digit"]


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("110105194912310021", "mainland_id.check_digit"),
        ("440524188001010015", "mainland_id.check_digit"),
        ("44052418800101001X", "mainland_id.check_digit"),
        ("4405241880010100", "mainland_id.invalid_format"),
        ("44052418800101001", "mainland_id.invalid_format"),
        ("4405241880010100141", "mainland_id.invalid_format"),
        ("44052418800101001A", "mainland_id.invalid_format"),
        ("X40524188001010014", "mainland_id.invalid_format"),
        ("", "mainland_id.invalid_format"),
    ],
)
def test_parse_mainland_id_refusals(raw: str, code: str) -> None:
    assert codes(refusal(parse_mainland_id, raw)) == [code]


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        ("XY12345678", "XY12345678"),
        ("E12345678", "E12345678"),
        ("k1234567", "K1234567"),
        ("12345", "12345"),
        ("A" * 19 + "1", "A" * 19 + "1"),
        ("XY 1234 5678", "XY12345678"),
    ],
)
def test_parse_passport(raw: str, number: str) -> None:
    assert parse_passport(raw) == IdDocument(IdType.PASSPORT, number)


@pytest.mark.parametrize(
    "raw",
    ["", "ABCDEFGH", "X123", "1234", "A" * 20 + "1", "XY-123456", "XY123456!", "護照12345"],
)
def test_parse_passport_refusals(raw: str) -> None:
    assert codes(refusal(parse_passport, raw)) == ["passport.invalid_format"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Z123456(7)", IdType.HKID),
        ("A1234563", IdType.HKID),
        ("a123456(3)", IdType.HKID),
        ("AB987654(3)", IdType.HKID),
        ("Z123456", IdType.HKID),
        ("11010519491231002X", IdType.MAINLAND),
        ("440524188001010014", IdType.MAINLAND),
        ("440524188001010015", IdType.MAINLAND),
        ("XY12345678", IdType.PASSPORT),
        ("E12345678", IdType.PASSPORT),
        ("12345678", IdType.PASSPORT),
        ("4405241880010100141", IdType.PASSPORT),
    ],
)
def test_guess_id_type(raw: str, expected: IdType) -> None:
    assert guess_id_type(raw) is expected


@pytest.mark.parametrize(
    ("raw", "id_type", "expected"),
    [
        ("Z123456(1)", None, IdDocument(IdType.HKID, "Z1234561")),
        ("XY12345678", None, IdDocument(IdType.PASSPORT, "XY12345678")),
        ("11010519491231002X", None, IdDocument(IdType.MAINLAND, "11010519491231002X")),
        # The registry's stated type wins over the guess.
        ("K1234567", IdType.PASSPORT, IdDocument(IdType.PASSPORT, "K1234567")),
        ("440524188001010014", IdType.PASSPORT, IdDocument(IdType.PASSPORT, "440524188001010014")),
    ],
)
def test_parse_id_document(raw: str, id_type: IdType | None, expected: IdDocument) -> None:
    assert parse_id_document(raw, id_type) == expected


@pytest.mark.parametrize(
    ("raw", "id_type", "code"),
    [
        ("Z123456(7)", None, "hkid.check_digit"),
        ("440524188001010015", None, "mainland_id.check_digit"),
        ("XY-12345678", None, "passport.invalid_format"),
        ("XY12345678", IdType.HKID, "hkid.invalid_format"),
        ("XY12345678", IdType.MAINLAND, "mainland_id.invalid_format"),
        ("Z123456(1)\x00", None, "id_number.invalid_characters"),
        ("Z123\n456(1)", IdType.HKID, "id_number.invalid_characters"),
    ],
)
def test_parse_id_document_refusals(raw: str, id_type: IdType | None, code: str) -> None:
    assert codes(refusal(parse_id_document, raw, id_type)) == [code]


# --- masks (S9) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("document", "masked"),
    [
        (IdDocument(IdType.HKID, "Z1234561"), "Z1******"),
        (IdDocument(IdType.HKID, "AB9876543"), "AB*******"),
        (IdDocument(IdType.PASSPORT, "XY12345678"), "XY********"),
        (IdDocument(IdType.PASSPORT, "12345"), "12***"),
        (IdDocument(IdType.MAINLAND, "11010519491231002X"), "11" + "*" * 16),
    ],
)
def test_document_mask_shows_two_characters(document: IdDocument, masked: str) -> None:
    assert document.masked == masked
    assert len([ch for ch in document.masked if ch != "*"]) <= 2


@pytest.mark.parametrize(
    ("digits", "masked"),
    [
        ("91234567", "91******"),
        ("22656918", "22******"),
        ("85291234567", "85*********"),
    ],
)
def test_phone_mask_shows_two_digits_and_never_the_default(digits: str, masked: str) -> None:
    assert mask_phone(digits) == masked
    assert len([ch for ch in masked if ch != "*"]) <= 2
    assert digits[-4:] not in masked


# --- contact data -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("9123 4567", "91234567"),
        ("91234567", "91234567"),
        (" 9123-4567 ", "91234567"),
        ("2265 6918", "22656918"),
        ("2265-6918", "22656918"),
        # Hong Kong's country code is dropped: one number however written.
        ("+852 9123 4567", "91234567"),
        ("+852-9123-4567", "91234567"),
        ("+85291234567", "91234567"),
        ("852 9123 4567", "91234567"),
        ("(852) 2265 6918", "22656918"),
        ("９１２３ ４５６７", "91234567"),
        ("+86 138 0013 8000", "8613800138000"),
        ("123456789012345", "123456789012345"),
    ],
)
def test_normalise_phone(raw: str, digits: str) -> None:
    assert normalise_phone(raw) == digits


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "1234567",
        "9123 456",
        "1234567890123456",
        "9123\x004567",
        "9123 4567\n",
        "abcd efgh",
        "9123 4567 ext 1",
        "٩١٢٣٤٥٦٧",
        "++85291234567",
        "9123 4567+",
        "tel:91234567",
    ],
)
def test_normalise_phone_refusals(raw: str) -> None:
    assert codes(refusal(normalise_phone, raw)) == ["phone.invalid"]


@pytest.mark.parametrize(
    ("raw", "email"),
    [
        ("patron@example.com", "patron@example.com"),
        (" Patron@Example.COM ", "patron@example.com"),
        ("chan.tai.man+lib@mail.hku.hk", "chan.tai.man+lib@mail.hku.hk"),
        ("a" * 64 + "@example.com", "a" * 64 + "@example.com"),
        ("lib@HKCT.EDU.HK", "lib@hkct.edu.hk"),
    ],
)
def test_normalise_email(raw: str, email: str) -> None:
    assert normalise_email(raw) == email


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "patron",
        "patron@",
        "@example.com",
        "patron@example",
        "pat ron@example.com",
        "a@b@example.com",
        "<patron@example.com>",
        '"patron"@example.com',
        "o'brien@example.com",
        "patron@exa,mple.com",
        "patron;drop@example.com",
        "back\\slash@example.com",
        "pat\x00ron@example.com",
        "pat\nron@example.com",
        "a" * 65 + "@example.com",
        "a@" + "b" * 250 + ".com",
    ],
)
def test_normalise_email_refusals(raw: str) -> None:
    assert codes(refusal(normalise_email, raw)) == ["email.invalid"]


# --- names ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("Chan Tai Man", "Chan Tai Man"),
        ("  Chan   Tai  Man ", "Chan Tai Man"),
        ("O'Brien, Mary-Jane", "O'Brien, Mary-Jane"),
        ("陳大文", "陳大文"),
        ("Zoe\u0308 Mu\u0308ller", "Zoë Müller"),  # NFD in, NFC out
        ("Lee (Siu Ming)", "Lee (Siu Ming)"),
        ("x" * 200, "x" * 200),
    ],
)
def test_normalise_name(raw: str, name: str) -> None:
    assert normalise_name(raw) == name


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "x" * 201,
        "Robert'); DROP TABLE patrons;--",
        "<script>alert(1)</script>",
        "Chan\tTai Man",
        "Chan\x00",
        "Lee\u2028Siu Ming",
        'Wong "Ka Yan"',
        "Ho=Ka",
        "R2-D2",
    ],
)
def test_normalise_name_refusals(raw: str) -> None:
    assert codes(refusal(normalise_name, raw)) == ["name.invalid"]

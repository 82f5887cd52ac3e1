"""Credential policies: one stable reason code per broken rule (R2, R3, R9, R11, R22, S2, S6)."""

from __future__ import annotations

from datetime import date

import pytest

from patronauth.adapters.blocklists import shipped
from patronauth.adapters.profiles import ProfileStore
from patronauth.domain.credentials import CredentialKind
from patronauth.domain.policies import (
    HARD_MAX_LENGTH,
    MIN_CONTEXT_WORD,
    Blocklist,
    CharClass,
    Charset,
    ContextKind,
    CredentialPolicy,
    HiddenWord,
    SecretContext,
    check,
    normalise_secret,
    trivial_rules,
)

CURRENT = date(2026, 1, 1)
IN_2021 = date(2021, 6, 1)
PIN = CredentialKind.PIN
PASSWORD = CredentialKind.PASSWORD


def codes(
    secret: str,
    policy: CredentialPolicy,
    *,
    context: SecretContext | None = None,
    blocklists: dict[str, Blocklist] | None = None,
) -> list[str]:
    return [v.code for v in check(secret, policy, context=context, blocklists=blocklists)]


def policy_of(
    profiles: ProfileStore, institution: str, kind: CredentialKind, day: date = CURRENT
) -> CredentialPolicy:
    return profiles.get(institution).credential(None, kind).policy_on(day)


# --- R11: PolyU's trivial PINs ------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "rules"),
    [
        ("aaa", ["trivial.repeated_char"]),
        ("aaaa", ["trivial.repeated_char"]),
        ("aaaaaaaa", ["trivial.repeated_char"]),
        ("abab", ["trivial.repeated_group"]),
        ("abcabc", ["trivial.repeated_group"]),
        ("abcdabcd", ["trivial.repeated_group"]),
        ("ababab", ["trivial.repeated_group"]),
        ("1212", ["trivial.repeated_group"]),
        ("AaA", ["trivial.repeated_char"]),
        ("aBAb", ["trivial.repeated_group"]),
        ("ABab", ["trivial.repeated_group"]),
        ("AbcaBC", ["trivial.repeated_group"]),
        ("12aaa9", ["trivial.repeated_char"]),
        ("x1abab", ["trivial.repeated_group"]),
        ("9abcdabcd", ["trivial.repeated_group"]),
        ("aaabab", ["trivial.repeated_char", "trivial.repeated_group"]),
        ("1234abcd", []),
        ("Z12345", []),
        ("aabbcc", []),
        ("aa", []),
        ("aba", []),
        ("abcab", []),
        ("abcdeabcde", []),
        ("", []),
    ],
)
def test_trivial_rules(secret: str, rules: list[str]) -> None:
    assert trivial_rules(secret) == rules


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ("aaa", ["pin.too_short", "pin.trivial.repeated_char"]),
        ("aaaa", ["pin.too_short", "pin.trivial.repeated_char"]),
        ("abab", ["pin.too_short", "pin.trivial.repeated_group"]),
        ("abcabc", ["pin.trivial.repeated_group"]),
        ("abcdabcd", ["pin.trivial.repeated_group"]),
        ("1x2AAa", ["pin.trivial.repeated_char"]),
        ("AbCabc", ["pin.trivial.repeated_group"]),
        ("12ABab", ["pin.trivial.repeated_group"]),
        ("1234abcd", []),
        ("Z12345", []),
        ("q7w3e9r1", []),
        ("1234abcde", ["pin.too_long"]),
        ("12345", ["pin.too_short"]),
        ("1234ab!", ["pin.not_alphanumeric"]),
        ("1234 abc", ["pin.not_alphanumeric"]),
        ("圖書館ab12", ["pin.not_alphanumeric"]),
        ("１２３４ab", ["pin.not_alphanumeric"]),
    ],
)
def test_polyu_pin(profiles: ProfileStore, secret: str, expected: list[str]) -> None:
    assert codes(secret, policy_of(profiles, "polyu", PIN)) == expected


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ("1234abcd", []),  # the seed's own example, although it is a common password
        ("123456", ["pin.common"]),
        ("abcabc", ["pin.trivial.repeated_group"]),
    ],
)
def test_polyu_pin_with_the_shipped_blocklists(
    profiles: ProfileStore, secret: str, expected: list[str]
) -> None:
    policy = policy_of(profiles, "polyu", PIN)
    assert codes(secret, policy, blocklists=shipped()) == expected


# --- R3: HKPL's online password, two rules with their dates -------------------------


@pytest.mark.parametrize(
    ("secret", "on_current_rule", "on_2021_rule"),
    [
        ("Abcdefg1", ["password.missing_special"], []),
        ("Abcdefg1!", [], []),
        ("Zq7!wertyu", [], []),
        (
            "abcdefg1",
            ["password.missing_special", "password.missing_upper"],
            ["password.missing_upper"],
        ),
        (
            "ABCDEFG1",
            ["password.missing_lower", "password.missing_special"],
            ["password.missing_lower"],
        ),
        (
            "Abcdefgh",
            ["password.missing_digit", "password.missing_special"],
            ["password.missing_digit"],
        ),
        (
            "abcdefgh",
            ["password.missing_digit", "password.missing_special", "password.missing_upper"],
            ["password.missing_digit", "password.missing_upper"],
        ),
        ("Ab1!", ["password.too_short"], ["password.too_short"]),
        ("Abcdef1", ["password.too_short", "password.missing_special"], ["password.too_short"]),
        ("", ["password.empty"], ["password.empty"]),
        ("Abcdefg1\x00", ["password.control_character"], ["password.control_character"]),
        ("Aa1!" + "x" * 125, ["password.too_long"], ["password.too_long"]),
        ("Aa1!" + "x" * 124, [], []),
    ],
)
def test_hkpl_password(
    profiles: ProfileStore, secret: str, on_current_rule: list[str], on_2021_rule: list[str]
) -> None:
    assert codes(secret, policy_of(profiles, "hkpl", PASSWORD, CURRENT)) == on_current_rule
    assert codes(secret, policy_of(profiles, "hkpl", PASSWORD, IN_2021)) == on_2021_rule


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2021, 6, 1), []),
        (date(2021, 12, 31), []),
        (date(2022, 1, 1), ["password.missing_special"]),
        (date(2026, 1, 1), ["password.missing_special"]),
    ],
)
def test_hkpl_password_rule_changes_on_its_date(
    profiles: ProfileStore, day: date, expected: list[str]
) -> None:
    assert codes("Abcdefg1", policy_of(profiles, "hkpl", PASSWORD, day)) == expected


# --- R2: HKPL's PIN -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ("1234", []),
        ("4567", []),
        ("0000", []),
        ("1234567890123456", []),
        ("123", ["pin.too_short"]),
        ("12345678901234567", ["pin.too_long"]),
        ("12a4", ["pin.not_digits"]),
        ("12 34", ["pin.not_digits"]),
        ("12.5", ["pin.not_digits"]),
        ("-1234", ["pin.not_digits"]),
        ("１２３４", ["pin.not_digits"]),
        ("٣٤٥٦", ["pin.not_digits"]),
        ("abc", ["pin.too_short", "pin.not_digits"]),
        ("", ["pin.empty"]),
        ("12\n34", ["pin.control_character"]),
    ],
)
def test_hkpl_pin(profiles: ProfileStore, secret: str, expected: list[str]) -> None:
    assert codes(secret, policy_of(profiles, "hkpl", PIN)) == expected


# --- R22: HKU's PIN -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ("abcdefghi1", []),
        ("ABCDEFGHI1", []),
        ("abcdefghi$", []),
        ("123456789#", []),
        ("a1$" * 6 + "xy", []),
        ("abcdefghij", ["pin.too_few_categories"]),
        ("1234567890", ["pin.too_few_categories"]),
        ("!@#$%^&*()", ["pin.too_few_categories"]),
        ("ab1", ["pin.too_short"]),
        ("abc", ["pin.too_short", "pin.too_few_categories"]),
        ("abc123def456ghi789jkl", ["pin.too_long"]),
        # R22: letters are A-Z and a-z, digits 0-9.
        ("密碼密碼密碼密碼密碼", ["pin.not_ascii", "pin.too_few_categories"]),
        ("密碼密碼密碼密碼密1", ["pin.not_ascii"]),
        ("Bibliothèque2026", ["pin.not_ascii"]),
        ("Stacks&Shelves９", ["pin.not_ascii"]),
    ],
)
def test_hku_pin(profiles: ProfileStore, secret: str, expected: list[str]) -> None:
    assert codes(secret, policy_of(profiles, "hku", PIN)) == expected


def test_too_few_categories_names_the_numbers(profiles: ProfileStore) -> None:
    (violation,) = check("abcdefghij", policy_of(profiles, "hku", PIN))
    assert violation.params == {"need": 2, "of": 3}


def test_length_violations_name_the_limits(profiles: ProfileStore) -> None:
    policy = policy_of(profiles, "hku", PIN)
    assert [v.params for v in check("ab1", policy)] == [{"min": 10}]
    assert [v.params for v in check("ab1" * 7, policy)] == [{"max": 20}]


# --- S2: length in code points, normalisation ---------------------------------------

FOUR_TO_EIGHT = CredentialPolicy(kind=PASSWORD, min_length=4, max_length=8)


@pytest.mark.parametrize(
    ("secret", "expected"),
    [
        ("密碼密碼", []),
        ("密碼", ["password.too_short"]),
        ("密碼密碼密碼密碼", []),
        ("密碼密碼密碼密碼密", ["password.too_long"]),
        ("😀😀😀😀", []),
        ("😀😀😀", ["password.too_short"]),
        ("\u00e9" * 8, []),
        # Not yet NFC: sixteen code points.
        ("e\u0301" * 8, ["password.too_long"]),
        ("e\u0301", ["password.too_short"]),
    ],
)
def test_length_is_counted_in_code_points(secret: str, expected: list[str]) -> None:
    assert codes(secret, FOUR_TO_EIGHT) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("e\u0301" * 8, []),
        ("e\u0301" * 9, ["password.too_long"]),
        ("e\u0301e\u0301", ["password.too_short"]),
        ("\u212b\u212b\u212b\u212b", []),
    ],
)
def test_secrets_are_checked_after_nfc(raw: str, expected: list[str]) -> None:
    assert codes(normalise_secret(raw), FOUR_TO_EIGHT) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("e\u0301", "\u00e9"),
        ("\u212b", "\u00c5"),
        ("ｆｕｌｌ", "ｆｕｌｌ"),
        ("  spaced  ", "  spaced  "),
        ("x" * 1000, "x" * 1000),
    ],
)
def test_normalise_secret_is_nfc_and_never_truncates(raw: str, expected: str) -> None:
    assert normalise_secret(raw) == expected


def test_the_hard_maximum_applies_whatever_the_policy() -> None:
    lax = CredentialPolicy(kind=PASSWORD, min_length=1, max_length=10_000)
    assert codes("x" * HARD_MAX_LENGTH, lax) == []
    assert codes("x" * (HARD_MAX_LENGTH + 1), lax) == ["password.too_long"]
    assert codes("x" * 10 * 1024 * 1024, lax) == ["password.too_long"]


# --- empty and control characters, for either kind ----------------------------------


@pytest.mark.parametrize("kind", list(CredentialKind))
@pytest.mark.parametrize(
    ("secret", "rule"),
    [
        ("", "empty"),
        ("12\x0034", "control_character"),
        ("\x00", "control_character"),
        ("1234\n", "control_character"),
        ("\t1234", "control_character"),
        ("12\r34", "control_character"),
        ("12\x1b34", "control_character"),
        ("12\u200b34", "control_character"),
        ("1234\u2028", "control_character"),
        ("12\ue00034", "control_character"),
    ],
)
def test_empty_and_control_characters(kind: CredentialKind, secret: str, rule: str) -> None:
    policy = CredentialPolicy(kind=kind, min_length=4, max_length=16, charset=Charset.DIGITS)
    assert codes(secret, policy) == [f"{kind.value}.{rule}"]


# --- S6: blocklists -----------------------------------------------------------------

HOUSE_RULES = CredentialPolicy(
    kind=PASSWORD, min_length=4, max_length=64, blocklists=("house", "breached")
)


@pytest.mark.parametrize(
    ("secret", "lists", "expected"),
    [
        ("Library1", {"house": lambda s: s == "Library1"}, ["password.common"]),
        ("Library2", {"house": lambda s: s == "Library1"}, []),
        ("hunter22", {"breached": lambda s: s.startswith("hunter")}, ["password.common"]),
        # Two lists matching still give one reason.
        ("Library1", {"house": lambda s: True, "breached": lambda s: True}, ["password.common"]),
        # A list the policy does not name is not consulted.
        ("Library1", {"other": lambda s: True}, []),
    ],
)
def test_blocklists_by_name(secret: str, lists: dict[str, Blocklist], expected: list[str]) -> None:
    assert codes(secret, HOUSE_RULES, blocklists=lists) == expected


def test_blocklists_see_the_secret_as_typed() -> None:
    seen: list[str] = []

    def listed(secret: str) -> bool:
        seen.append(secret)
        return False

    assert codes("MiXeD 密碼 1", HOUSE_RULES, blocklists={"house": listed}) == []
    assert seen == ["MiXeD 密碼 1"]


@pytest.mark.parametrize(
    ("institution", "kind", "secret", "expected"),
    [
        ("hkpl", PIN, "1234", ["pin.common"]),
        ("hkpl", PIN, "123456", ["pin.common"]),
        ("hkpl", PIN, "5839", []),
        ("hkct", PASSWORD, "password1", ["password.common"]),
        ("hkct", PASSWORD, "Password1", []),
        ("hkct", PASSWORD, "qwertyuiop", ["password.common"]),
        ("hkct", PASSWORD, "Quiet-River-42", []),
    ],
)
def test_shipped_blocklists(
    profiles: ProfileStore,
    institution: str,
    kind: CredentialKind,
    secret: str,
    expected: list[str],
) -> None:
    policy = policy_of(profiles, institution, kind)
    assert codes(secret, policy, blocklists=shipped()) == expected


# --- S6: context words --------------------------------------------------------------


def hidden(value: str) -> HiddenWord:
    """Stands in for a keyed digest: only the exact value matches."""
    return HiddenWord(len(value), lambda s: s.upper() == value)


CONTEXT = SecretContext(
    words={ContextKind.BARCODE: ["HKPL0001"], ContextKind.NAME: ["CHAN", "Tai", "Man"]},
    hidden={ContextKind.PHONE: hidden("91234567"), ContextKind.ID_NUMBER: hidden("Z1234561")},
)
ANY_PASSWORD = CredentialPolicy(kind=PASSWORD, min_length=8, max_length=64)
ANY_PIN = CredentialPolicy(kind=PIN, min_length=4, max_length=64)


@pytest.mark.parametrize("policy", [ANY_PASSWORD, ANY_PIN], ids=["password", "pin"])
@pytest.mark.parametrize(
    ("secret", "rules"),
    [
        ("xxhkpl0001yy", ["contains_barcode"]),
        ("HKPL0001", ["contains_barcode"]),
        ("MyChanPass", ["contains_name"]),
        ("mychanpass", ["contains_name"]),
        ("TaiMan99!", []),
        ("tel91234567", ["contains_phone"]),
        ("91234567", ["contains_phone"]),
        ("x9123456y", []),
        ("z1234561abc", ["contains_id_number"]),
        ("HKPL0001chan", ["contains_barcode", "contains_name"]),
        ("chan91234567Z1234561", ["contains_name", "contains_phone", "contains_id_number"]),
        ("Quiet-River-42", []),
    ],
)
def test_context_words(policy: CredentialPolicy, secret: str, rules: list[str]) -> None:
    expected = [f"{policy.kind.value}.{rule}" for rule in rules]
    assert codes(secret, policy, context=CONTEXT) == expected


def test_context_is_ignored_where_the_policy_says_so() -> None:
    lax = CredentialPolicy(kind=PASSWORD, min_length=8, max_length=64, reject_context=False)
    assert codes("xxhkpl0001yy", lax, context=CONTEXT) == []
    assert codes("tel91234567", lax, context=CONTEXT) == []


def test_short_context_words_are_not_checked() -> None:
    short = "x" * (MIN_CONTEXT_WORD - 1)
    context = SecretContext(
        words={ContextKind.NAME: [short]},
        hidden={ContextKind.PHONE: HiddenWord(MIN_CONTEXT_WORD - 1, lambda s: True)},
    )
    assert codes(f"abc{short}defgh", ANY_PASSWORD, context=context) == []


def test_hidden_words_are_tried_on_every_substring_of_their_length() -> None:
    seen: list[str] = []

    def matches(candidate: str) -> bool:
        seen.append(candidate)
        return False

    context = SecretContext(hidden={ContextKind.PHONE: HiddenWord(8, matches)})
    assert codes("abcdefghij", ANY_PASSWORD, context=context) == []
    assert seen == ["abcdefgh", "bcdefghi", "cdefghij"]


def test_hkpl_pin_must_not_contain_the_phone_number(profiles: ProfileStore) -> None:
    policy = policy_of(profiles, "hkpl", PIN)
    context = SecretContext(hidden={ContextKind.PHONE: hidden("91234567")})
    assert codes("091234567", policy, context=context) == ["pin.contains_phone"]
    assert codes("4567", policy, context=context) == []


# --- composition rules in general ---------------------------------------------------


@pytest.mark.parametrize(
    ("require_all", "secret", "expected"),
    [
        ({CharClass.UPPER}, "abcdefgh", ["password.missing_upper"]),
        ({CharClass.UPPER}, "abcdEfgh", []),
        ({CharClass.LOWER}, "ABCDEFGH", ["password.missing_lower"]),
        ({CharClass.LETTER}, "12345678", ["password.missing_letter"]),
        ({CharClass.LETTER}, "1234567密", []),
        ({CharClass.DIGIT}, "abcdefgh", ["password.missing_digit"]),
        ({CharClass.SPECIAL}, "abcdefgh", ["password.missing_special"]),
        # A space is not a special character.
        ({CharClass.SPECIAL}, "abcd efgh", ["password.missing_special"]),
        ({CharClass.SPECIAL}, "abcd-efgh", []),
        ({CharClass.SPECIAL}, "abcd€efgh", []),
    ],
)
def test_required_classes(require_all: set[CharClass], secret: str, expected: list[str]) -> None:
    policy = CredentialPolicy(
        kind=PASSWORD, min_length=8, max_length=64, require_all=frozenset(require_all)
    )
    assert codes(secret, policy) == expected

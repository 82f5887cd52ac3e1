"""Profiles: the shipped rule sets parse, broken ones are refused with the offending path."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import date
from typing import Any

import pytest

from patronauth.adapters.profiles import ProfileStore, shipped_texts
from patronauth.domain.credentials import Channel, CredentialKind
from patronauth.domain.defaults import DefaultRule, DefaultRuleKind
from patronauth.domain.errors import ProfileError, Refused
from patronauth.domain.identifiers import IdentifierRule
from patronauth.domain.lockout import LockoutRule
from patronauth.domain.policies import CharClass, Charset
from patronauth.domain.profile import (
    BarcodeFormat,
    ForcedChange,
    SelfServiceReset,
    change_due,
    parse_profile,
)

PIN = CredentialKind.PIN
PASSWORD = CredentialKind.PASSWORD
SEED_LIBRARIES = {"hkpl", "polyu", "hkct", "hku"}


# --- the shipped profiles -----------------------------------------------------------


def test_every_shipped_profile_parses() -> None:
    names = set(shipped_texts())
    assert names >= SEED_LIBRARIES
    store = ProfileStore.load(only=names)
    assert {name: profile.id for name, profile in store.all().items()} == {n: n for n in names}


@pytest.mark.parametrize(
    ("institution", "channels"),
    [
        (
            "hkpl",
            {
                Channel.WEB: PASSWORD,
                Channel.APP: PASSWORD,
                Channel.SIP2: PIN,
                Channel.TELEPHONE: PIN,
                Channel.PROXY: PASSWORD,
            },
        ),
        (
            "polyu",
            {
                Channel.WEB: PIN,
                Channel.APP: PIN,
                Channel.SIP2: PIN,
                Channel.TELEPHONE: PIN,
                Channel.PROXY: PIN,
            },
        ),
        (
            "hku",
            {
                Channel.WEB: PIN,
                Channel.APP: PIN,
                Channel.SIP2: PIN,
                Channel.TELEPHONE: PIN,
                Channel.PROXY: PIN,
            },
        ),
        (
            "hkct",
            {
                Channel.WEB: PASSWORD,
                Channel.APP: PASSWORD,
                Channel.SIP2: PASSWORD,
                Channel.PROXY: PASSWORD,
            },
        ),
    ],
)
def test_channels_map_to_credential_kinds(
    profiles: ProfileStore, institution: str, channels: dict[Channel, CredentialKind]
) -> None:
    profile = profiles.get(institution)
    assert dict(profile.channels) == channels
    for channel, kind in channels.items():
        assert profile.kind_for(channel) is kind


@pytest.mark.parametrize(
    ("institution", "kinds"),
    [("hkpl", (PASSWORD, PIN)), ("polyu", (PIN,)), ("hku", (PIN,)), ("hkct", (PASSWORD,))],
)
def test_kinds(profiles: ProfileStore, institution: str, kinds: tuple[CredentialKind, ...]) -> None:
    assert profiles.get(institution).kinds == kinds


def test_an_unmapped_channel_uses_the_first_kind(profiles: ProfileStore) -> None:
    assert profiles.get("hkct").kind_for(Channel.TELEPHONE) is PASSWORD


@pytest.mark.parametrize("institution", sorted(SEED_LIBRARIES))
def test_the_seed_libraries_lock_out_after_five_failures_in_a_minute(
    profiles: ProfileStore, institution: str
) -> None:
    assert profiles.get(institution).lockout == LockoutRule(
        max_failures=5, window_seconds=60.0, block_seconds=60.0, block_max_seconds=3600.0
    )


@pytest.mark.parametrize(
    ("institution", "category", "kind", "accepted", "reset", "cap", "first_time_setup"),
    [
        ("hkpl", "reader", PASSWORD, set(), SelfServiceReset.EMAIL_TEMPORARY, 30, False),
        (
            "hkpl",
            "reader",
            PIN,
            {Channel.SIP2, Channel.TELEPHONE},
            SelfServiceReset.NONE,
            10,
            False,
        ),
        ("polyu", "student", PIN, set(), SelfServiceReset.REVERT_TO_DEFAULT, 10, False),
        ("hkct", "student", PASSWORD, set(), SelfServiceReset.NONE, 30, False),
        ("hkct", "staff", PASSWORD, set(), SelfServiceReset.NONE, 30, False),
        ("hku", "julac", PIN, set(), SelfServiceReset.NONE, 10, True),
        ("hku", "alumni", PIN, set(), SelfServiceReset.NONE, 10, True),
    ],
)
def test_credential_settings(
    profiles: ProfileStore,
    institution: str,
    category: str,
    kind: CredentialKind,
    accepted: set[Channel],
    reset: SelfServiceReset,
    cap: int,
    first_time_setup: bool,
) -> None:
    settings = profiles.get(institution).credential(category, kind)
    assert settings.kind is kind
    assert settings.default_accepted_on == accepted
    assert settings.self_service_reset is reset
    assert settings.consecutive_failure_cap == cap
    assert settings.first_time_setup is first_time_setup
    assert settings.temporary_lifetime_hours == 24


@pytest.mark.parametrize(
    ("institution", "kind", "min_length", "max_length", "charset"),
    [
        ("hkpl", PIN, 4, 16, Charset.DIGITS),
        ("hkpl", PASSWORD, 8, 128, Charset.ANY),
        ("polyu", PIN, 6, 8, Charset.ALPHANUMERIC),
        ("hku", PIN, 10, 20, Charset.ASCII),
        ("hkct", PASSWORD, 8, 64, Charset.ANY),
    ],
)
def test_current_policies(
    profiles: ProfileStore,
    institution: str,
    kind: CredentialKind,
    min_length: int,
    max_length: int,
    charset: Charset,
) -> None:
    policy = profiles.get(institution).credential(None, kind).policy_on(date(2026, 1, 1))
    assert (policy.min_length, policy.max_length, policy.charset) == (
        min_length,
        max_length,
        charset,
    )


@pytest.mark.parametrize(
    ("day", "require_all", "effective_from"),
    [
        (date(2021, 12, 31), {"upper", "lower", "digit"}, None),
        (date(2022, 1, 1), {"upper", "lower", "digit", "special"}, date(2022, 1, 1)),
    ],
)
def test_hkpl_password_policies_are_dated(
    profiles: ProfileStore, day: date, require_all: set[str], effective_from: date | None
) -> None:
    policy = profiles.get("hkpl").credential(None, PASSWORD).policy_on(day)
    assert policy.require_all == {CharClass(c) for c in require_all}
    assert policy.effective_from == effective_from


def test_no_policy_in_force_is_refused(profiles: ProfileStore) -> None:
    settings = profiles.get("hkpl").credential(None, PASSWORD)
    only_current = replace(settings, policies=(settings.policy_on(date(2022, 1, 1)),))
    with pytest.raises(Refused) as caught:
        only_current.policy_on(date(2021, 6, 1))
    assert caught.value.code == "policy.none_in_force"
    assert caught.value.violations[0].params == {"day": "2021-06-01"}


@pytest.mark.parametrize(
    ("institution", "category", "barcode_format"),
    [
        ("hku", "julac", BarcodeFormat.JULAC),
        ("hku", "space", BarcodeFormat.ANY),
        ("hku", "alumni", BarcodeFormat.ANY),
        ("hku", "friends", BarcodeFormat.ANY),
        ("hkpl", "reader", BarcodeFormat.ANY),
    ],
)
def test_barcode_formats(
    profiles: ProfileStore, institution: str, category: str, barcode_format: BarcodeFormat
) -> None:
    assert profiles.get(institution).category(category).barcode_format is barcode_format


@pytest.mark.parametrize(
    ("institution", "kind", "language", "label"),
    [
        ("hkpl", "password", "en", "online password"),
        ("hkpl", "password", "zh_Hant", "網上密碼"),
        ("hkpl", "pin", "en", "PIN"),
        ("polyu", "pin", "en", "PIN"),
        ("hkct", "password", "en", "password"),
        # A kind the library does not use keeps its plain name.
        ("polyu", "password", "en", "password"),
    ],
)
def test_credential_labels(
    profiles: ProfileStore, institution: str, kind: str, language: str, label: str
) -> None:
    assert profiles.get(institution).credential_label(kind, language) == label


def test_hkct_contact_text(profiles: ProfileStore) -> None:
    contact = profiles.get("hkct").contact
    for language in ("en", "zh_Hant"):
        assert "2265 6918" in contact[language]
        assert "lib@hkct.edu.hk" in contact[language]


def test_categories(profiles: ProfileStore) -> None:
    hku = profiles.get("hku")
    assert hku.category(None).name == "julac"
    assert set(hku.categories) == {"student", "staff", "julac", "space", "alumni", "friends"}
    with pytest.raises(Refused) as caught:
        hku.category("visitor")
    assert caught.value.code == "patron.unknown_category"
    assert caught.value.violations[0].params == {
        "category": "visitor",
        "known": "student, staff, julac, space, alumni, friends",
    }


def test_a_kind_the_library_does_not_use(profiles: ProfileStore) -> None:
    with pytest.raises(Refused) as caught:
        profiles.get("polyu").credential(None, PASSWORD)
    assert caught.value.code == "credential.kind_not_used"
    assert caught.value.violations[0].params == {"kind": "password", "institution": "polyu"}


def test_category_overrides_are_merged_over_the_institution(profiles: ProfileStore) -> None:
    hkct = profiles.get("hkct")
    student = hkct.credential("student", PASSWORD)
    staff = hkct.credential("staff", PASSWORD)
    assert [d.kind for d in student.defaults] == [
        DefaultRuleKind.HKID_LETTER_DIGITS,
        DefaultRuleKind.STUDENT_NUMBER,
    ]
    assert [d.kind for d in staff.defaults] == [
        DefaultRuleKind.HKID_LETTER_DIGITS,
        DefaultRuleKind.STAFF_NUMBER,
    ]
    # Everything the staff category does not mention comes from the institution.
    assert staff.policies == student.policies
    assert staff.label == student.label
    assert staff.consecutive_failure_cap == student.consecutive_failure_cap == 30
    assert staff.self_service_reset is student.self_service_reset


# --- parse_profile -------------------------------------------------------------------


def town() -> dict[str, Any]:
    """A small valid profile, as a TOML file's contents."""
    return copy.deepcopy(
        {
            "id": "town",
            "default_category": "reader",
            "name": {"en": "Town Library", "zh_Hant": "市鎮圖書館"},
            "contact": {"en": "Ask at the counter.", "zh_Hant": "請到櫃檯查詢。"},
            "channels": {"web": "pin", "sip2": "pin"},
            "credentials": {
                "pin": {
                    "label": {"en": "PIN", "zh_Hant": "個人密碼"},
                    "consecutive_failure_cap": 10,
                    "policies": [{"min_length": 4, "max_length": 16, "charset": "digits"}],
                    "defaults": [{"rule": "phone_last_digits", "length": 4}],
                }
            },
            "categories": {
                "reader": {"label": {"en": "Reader", "zh_Hant": "讀者"}},
                "child": {"label": {"en": "Child", "zh_Hant": "兒童"}},
            },
        }
    )


DELETE = object()


def edited(*edits: tuple[str, Any]) -> dict[str, Any]:
    """`town()` with values set (or deleted) at dotted paths; list indexes are numbers."""
    data = town()
    for path, value in edits:
        *parents, last = path.split(".")
        node: Any = data
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
        if isinstance(node, list):
            node[int(last)] = value
        elif value is DELETE:
            del node[last]
        else:
            node[last] = value
    return data


def test_the_small_profile_parses_with_defaults_filled_in() -> None:
    profile = parse_profile(town())
    assert profile.id == "town"
    assert profile.timezone == "Asia/Hong_Kong"
    assert profile.identifiers == IdentifierRule(strip_leading_zeros=False)
    assert profile.lockout == LockoutRule()
    assert profile.forced_changes == ()
    assert profile.default_category == "reader"
    settings = profile.credential("child", PIN)
    (policy,) = settings.policies
    assert (policy.min_length, policy.max_length, policy.charset) == (4, 16, Charset.DIGITS)
    assert policy.reject_trivial is False
    assert policy.reject_context is True
    assert policy.blocklists == ()
    assert settings.defaults == (DefaultRule(DefaultRuleKind.PHONE_LAST_DIGITS, 4),)
    assert settings.default_accepted_on == frozenset()
    assert settings.self_service_reset is SelfServiceReset.NONE
    assert settings.temporary_lifetime_hours == 24


def test_dates_may_be_toml_dates_or_iso_strings() -> None:
    data = edited(
        (
            "credentials.pin.policies",
            [
                {"min_length": 4, "effective_until": "2021-12-31"},
                {"min_length": 6, "effective_from": date(2022, 1, 1)},
            ],
        ),
    )
    settings = parse_profile(data).credential(None, PIN)
    assert settings.policy_on(date(2021, 12, 31)).min_length == 4
    assert settings.policy_on(date(2022, 1, 1)).min_length == 6


def test_a_category_override_changes_only_what_it_names() -> None:
    data = edited(("categories.child.credentials", {"pin": {"consecutive_failure_cap": 3}}))
    profile = parse_profile(data)
    child = profile.credential("child", PIN)
    reader = profile.credential("reader", PIN)
    assert child.consecutive_failure_cap == 3
    assert reader.consecutive_failure_cap == 10
    assert child.policies == reader.policies
    assert child.defaults == reader.defaults


def test_a_category_override_replaces_a_list_whole() -> None:
    data = edited(
        ("categories.child.credentials", {"pin": {"defaults": [{"rule": "none"}]}}),
    )
    profile = parse_profile(data)
    assert profile.credential("child", PIN).defaults == (DefaultRule(DefaultRuleKind.NONE),)
    assert profile.credential("reader", PIN).defaults == (
        DefaultRule(DefaultRuleKind.PHONE_LAST_DIGITS, 4),
    )


BASE = "categories.reader.credentials.pin"
CHARSETS = "any, digits, alphanumeric, ascii"
CHANNELS = "web, app, sip2, telephone, staff, proxy"


@pytest.mark.parametrize(
    ("edits", "message"),
    [
        (
            [("credentials.pin.policies.0.min_length", DELETE)],
            f"{BASE}.policies[0].min_length: missing",
        ),
        (
            [("credentials.pin.policies.0.min_length", "six")],
            f"{BASE}.policies[0].min_length: expected int, got str",
        ),
        (
            [("credentials.pin.policies.0.min_length", True)],
            f"{BASE}.policies[0].min_length: expected an integer",
        ),
        (
            [("credentials.pin.policies.0.min_length", 0)],
            f"{BASE}.policies[0]: need 1 <= min_length <= max_length <= 128",
        ),
        (
            [("credentials.pin.policies.0.max_length", 200)],
            f"{BASE}.policies[0]: need 1 <= min_length <= max_length <= 128",
        ),
        (
            [("credentials.pin.policies.0.min_length", 17)],
            f"{BASE}.policies[0]: need 1 <= min_length <= max_length <= 128",
        ),
        (
            [("credentials.pin.policies.0.charset", "hex")],
            f"{BASE}.policies[0].charset: unknown value 'hex' (allowed: {CHARSETS})",
        ),
        (
            [("credentials.pin.policies.0.require_all", ["upper", "symbols"])],
            f"{BASE}.policies[0].require_all: unknown value 'symbols' "
            "(allowed: upper, lower, letter, digit, special)",
        ),
        (
            [
                ("credentials.pin.policies.0.categories", ["letter", "digit"]),
                ("credentials.pin.policies.0.require_categories", 3),
            ],
            f"{BASE}.policies[0].require_categories: more than the categories listed",
        ),
        (
            [("credentials.pin.policies.0.effective_from", "2022-13-01")],
            f"{BASE}.policies[0].effective_from: expected a date (YYYY-MM-DD)",
        ),
        (
            [("credentials.pin.policies.0.effective_until", 20221231)],
            f"{BASE}.policies[0].effective_until: expected a date (YYYY-MM-DD)",
        ),
        (
            [("credentials.pin.policies", [])],
            f"{BASE}.policies: at least one policy is needed",
        ),
        (
            [("credentials.pin.policies", ["digits"])],
            f"{BASE}.policies[0]: expected a table",
        ),
        (
            [
                (
                    "credentials.pin.policies",
                    [
                        {"min_length": 4, "effective_until": date(2022, 1, 1)},
                        {"min_length": 6, "effective_from": date(2022, 1, 1)},
                    ],
                )
            ],
            f"{BASE}.policies: effective periods overlap",
        ),
        (
            [("credentials.pin.policies", [{"min_length": 4}, {"min_length": 6}])],
            f"{BASE}.policies: effective periods overlap",
        ),
        (
            [
                (
                    "credentials.pin.defaults",
                    [
                        {"rule": "phone_last_digits", "length": 4},
                        {"rule": "none", "effective_from": date(2020, 1, 1)},
                    ],
                )
            ],
            f"{BASE}.defaults: effective periods overlap",
        ),
        (
            [("credentials.pin.defaults.0.rule", "birthday")],
            f"{BASE}.defaults[0].rule: unknown value 'birthday' (allowed: none, "
            "phone_last_digits, id_prefix, hkid_letter_digits, student_number, staff_number)",
        ),
        (
            [("credentials.pin.defaults.0.length", DELETE)],
            f"{BASE}.defaults[0].length: this rule needs a length",
        ),
        (
            [("credentials.pin.defaults.0", {"rule": "id_prefix", "length": 0})],
            f"{BASE}.defaults[0].length: this rule needs a length",
        ),
        (
            [("credentials.pin.consecutive_failure_cap", 0)],
            f"{BASE}.consecutive_failure_cap: must be at least 1",
        ),
        (
            [("credentials.pin.consecutive_failure_cap", DELETE)],
            f"{BASE}.consecutive_failure_cap: missing",
        ),
        (
            [("credentials.pin.default_accepted_on", ["sip2", "fax"])],
            f"{BASE}.default_accepted_on: unknown value 'fax' (allowed: {CHANNELS})",
        ),
        (
            [("credentials.pin.self_service_reset", "sms")],
            f"{BASE}.self_service_reset: unknown value 'sms' "
            "(allowed: none, email_temporary, revert_to_default)",
        ),
        (
            [("credentials.pin.first_time_setup", "yes")],
            f"{BASE}.first_time_setup: expected bool, got str",
        ),
        (
            [("credentials.pin.label.zh_Hant", DELETE)],
            f"{BASE}.label.zh_Hant: missing",
        ),
        (
            [("credentials.pin", DELETE)],
            f"{BASE}: missing",
        ),
        (
            [("categories.reader.credentials", {"pin": {"consecutive_failure_cap": -1}})],
            f"{BASE}.consecutive_failure_cap: must be at least 1",
        ),
        (
            [("channels.web", "passphrase")],
            "channels.web: unknown value 'passphrase' (allowed: password, pin)",
        ),
        (
            [("channels.fax", "pin")],
            f"channels.fax: unknown value 'fax' (allowed: {CHANNELS})",
        ),
        ([("channels", {})], "channels: map at least one channel to a credential kind"),
        ([("id", DELETE)], "id: missing"),
        ([("id", 7)], "id: expected str, got int"),
        ([("name", DELETE)], "name: missing"),
        ([("contact.zh_Hant", DELETE)], "contact.zh_Hant: missing"),
        ([("categories", {})], "categories: at least one category is needed"),
        (
            [("categories.reader.label", DELETE)],
            "categories.reader.label: missing",
        ),
        (
            [("categories.reader.barcode_format", "qr")],
            "categories.reader.barcode_format: unknown value 'qr' (allowed: any, julac)",
        ),
        ([("default_category", "nobody")], "default_category: 'nobody' is not a category"),
        ([("forced_changes", [{"categories": ["reader"]}])], "forced_changes[0].go_live: missing"),
        (
            [("forced_changes", [{"go_live": date(2017, 7, 17), "categories": ["ghost"]}])],
            "forced_changes[0].categories: unknown category",
        ),
        ([("lockout", {"max_failures": 0})], "lockout: limits must be positive"),
        ([("lockout", {"block_seconds": -60})], "lockout: limits must be positive"),
        (
            [("lockout", {"window_seconds": "60"})],
            "lockout.window_seconds: expected float, got str",
        ),
        (
            [("identifiers", {"strip_leading_zeros": "yes"})],
            "identifiers.strip_leading_zeros: expected bool, got str",
        ),
    ],
)
def test_parse_profile_errors_name_the_path(edits: list[tuple[str, Any]], message: str) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile(edited(*edits))
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("edits", "check"),
    [
        ([("lockout", {"window_seconds": 30})], lambda p: p.lockout.window_seconds == 30.0),
        (
            [("identifiers", {"strip_leading_zeros": True})],
            lambda p: p.identifiers.strip_leading_zeros,
        ),
        ([("timezone", "Asia/Macau")], lambda p: p.timezone == "Asia/Macau"),
        (
            [("forced_changes", [{"go_live": "2017-07-17"}])],
            lambda p: p.forced_changes == (ForcedChange(date(2017, 7, 17)),),
        ),
    ],
)
def test_optional_tables(edits: list[tuple[str, Any]], check: Any) -> None:
    assert check(parse_profile(edited(*edits)))


# --- change_due (R3, R26) ------------------------------------------------------------

GO_LIVE = date(2017, 7, 17)


@pytest.mark.parametrize(
    ("category", "set_on", "today", "due"),
    [
        ("julac", date(2017, 7, 16), date(2017, 7, 17), True),
        ("julac", date(2010, 1, 1), date(2026, 1, 1), True),
        ("space", date(2017, 7, 16), date(2017, 7, 20), True),
        ("alumni", date(2017, 7, 16), date(2017, 7, 20), True),
        ("friends", date(2017, 7, 16), date(2017, 7, 20), True),
        # Not before the go-live date.
        ("julac", date(2017, 7, 10), date(2017, 7, 16), False),
        # Changed on or after the go-live date: the new PIN is in force.
        ("julac", date(2017, 7, 17), date(2026, 1, 1), False),
        ("julac", date(2020, 5, 5), date(2026, 1, 1), False),
    ],
)
def test_hku_go_live_forces_a_change(
    profiles: ProfileStore, category: str, set_on: date, today: date, due: bool
) -> None:
    hku = profiles.get("hku")
    assert hku.forced_changes == (
        ForcedChange(GO_LIVE, frozenset({"julac", "space", "alumni", "friends"})),
    )
    settings = hku.credential(category, PIN)
    found = change_due(
        hku.forced_changes, category, settings, set_on=set_on, policy_from=None, today=today
    )
    assert found is due


@pytest.mark.parametrize(
    ("forced", "category", "due"),
    [
        (ForcedChange(GO_LIVE, frozenset({"julac"})), "julac", True),
        (ForcedChange(GO_LIVE, frozenset({"julac"})), "alumni", False),
        (ForcedChange(GO_LIVE, frozenset()), "julac", False),
        (ForcedChange(GO_LIVE, None), "alumni", True),
        (ForcedChange(GO_LIVE, None), "anyone", True),
    ],
)
def test_forced_changes_cover_only_their_categories(
    profiles: ProfileStore, forced: ForcedChange, category: str, due: bool
) -> None:
    settings = profiles.get("hku").credential("julac", PIN)
    found = change_due(
        [forced],
        category,
        settings,
        set_on=date(2017, 7, 1),
        policy_from=None,
        today=date(2017, 8, 1),
    )
    assert found is due
    assert forced.covers(category) is due


@pytest.mark.parametrize(
    ("upgrade", "policy_from", "today", "due"),
    [
        # Chosen under the 2021 rule (which has no start date), asked on the current rule.
        (True, None, date(2026, 1, 1), True),
        (True, date(2022, 1, 1), date(2026, 1, 1), False),
        (True, None, date(2021, 6, 1), False),
        (True, None, date(2022, 1, 1), True),
        # HKPL's profile: an old-rule password keeps working (R3).
        (False, None, date(2026, 1, 1), False),
    ],
)
def test_force_change_on_policy_upgrade(
    profiles: ProfileStore, upgrade: bool, policy_from: date | None, today: date, due: bool
) -> None:
    shipped = profiles.get("hkpl").credential(None, PASSWORD)
    assert shipped.force_change_on_policy_upgrade is False
    settings = replace(shipped, force_change_on_policy_upgrade=upgrade)
    found = change_due(
        (), "reader", settings, set_on=date(2021, 6, 1), policy_from=policy_from, today=today
    )
    assert found is due


@pytest.mark.parametrize(
    ("policy_from", "due"),
    [
        (None, True),
        (date(2020, 1, 1), True),
        (date(2022, 1, 1), False),
        (date(2023, 1, 1), False),
    ],
)
def test_a_secret_from_an_older_dated_policy_must_change(
    profiles: ProfileStore, policy_from: date | None, due: bool
) -> None:
    shipped = profiles.get("hkpl").credential(None, PASSWORD)
    old, current = shipped.policies
    dated_old = replace(old, effective_from=date(2020, 1, 1))
    settings = replace(shipped, policies=(dated_old, current), force_change_on_policy_upgrade=True)
    found = change_due(
        (),
        "reader",
        settings,
        set_on=date(2021, 6, 1),
        policy_from=policy_from,
        today=date(2026, 1, 1),
    )
    assert found is due


def test_without_forced_changes_or_upgrades_nothing_is_due(profiles: ProfileStore) -> None:
    polyu = profiles.get("polyu")
    settings = polyu.credential(None, PIN)
    found = change_due(
        polyu.forced_changes,
        "student",
        settings,
        set_on=date(2000, 1, 1),
        policy_from=None,
        today=date(2026, 1, 1),
    )
    assert found is False


# --- the campus directory (R20) ------------------------------------------------------

DIRECTORY = {
    "urls": ["ldap://ldap1.example.org", "ldap://ldap2.example.org"],
    "tls": "starttls",
    "bind_dn": "cn=patronauth,dc=example,dc=org",
    "bind_password_env": "PATRONAUTH_DIRECTORY_PASSWORD_TOWN",
    "base_dn": "ou=people,dc=example,dc=org",
    "uid_filter": "(uid={value})",
    "link_attribute": "employeeNumber",
}
IN_DIRECTORY = ("categories.child.credential_source", "directory")


def directory(**changes: Any) -> tuple[str, Any]:
    return ("directory", {**DIRECTORY, **changes})


def test_a_directory_category_and_its_overrides() -> None:
    profile = parse_profile(
        edited(
            directory(),
            IN_DIRECTORY,
            ("categories.child.directory", {"base_dn": "ou=children,dc=example,dc=org"}),
        )
    )
    child = profile.directory_for("child")
    assert child is not None
    assert child.base_dn == "ou=children,dc=example,dc=org"
    assert child.urls == tuple(DIRECTORY["urls"])
    assert (child.connect_timeout, child.timeout, child.barcode_filter) == (3.0, 5.0, None)
    assert profile.directory_for("reader") is None
    assert profile.category("child").in_directory
    assert profile.directories == (child,)


def test_a_directory_without_urls_is_not_asked() -> None:
    profile = parse_profile(edited(directory(urls=[]), IN_DIRECTORY))
    config = profile.directory_for("child")
    assert config is not None
    assert not config.configured
    assert profile.directories == ()


@pytest.mark.parametrize(
    ("edits", "message"),
    [
        ([IN_DIRECTORY], "categories.child.credential_source: no [directory] table"),
        (
            [directory(), ("categories.reader.directory", {"base_dn": "x"})],
            "categories.reader.directory: the credential source is local",
        ),
        (
            [directory(urls=["ldaps://ldap1.example.org"]), IN_DIRECTORY],
            "categories.child.directory.urls: with tls = 'starttls' every URL starts with ldap://",
        ),
        (
            [directory(tls="ldaps"), IN_DIRECTORY],
            "categories.child.directory.urls: with tls = 'ldaps' every URL starts with ldaps://",
        ),
        (
            [directory(tls="none"), IN_DIRECTORY],
            "categories.child.directory.tls: unknown value 'none' (allowed: starttls, ldaps)",
        ),
        (
            [directory(uid_filter="uid={value}"), IN_DIRECTORY],
            "categories.child.directory.uid_filter: a parenthesised LDAP filter with one {value}",
        ),
        (
            [directory(uid_filter="(|(uid={value})(mail={value}))"), IN_DIRECTORY],
            "categories.child.directory.uid_filter: a parenthesised LDAP filter with one {value}",
        ),
        (
            [directory(enabled_filter="!(disabled=TRUE)"), IN_DIRECTORY],
            "categories.child.directory.enabled_filter: a parenthesised LDAP filter",
        ),
        (
            [directory(bind_password_env="HOME"), IN_DIRECTORY],
            "categories.child.directory.bind_password_env: a PATRONAUTH_DIRECTORY_... variable",
        ),
        (
            [directory(link_attribute="employee number"), IN_DIRECTORY],
            "categories.child.directory.link_attribute: an LDAP attribute name",
        ),
        (
            [directory(timeout=0), IN_DIRECTORY],
            "categories.child.directory: timeouts and pool_size must be positive",
        ),
        (
            [directory(), IN_DIRECTORY, ("forced_changes", [{"go_live": "2017-07-17"}])],
            "forced_changes[0].categories: a directory category has no local secret",
        ),
    ],
)
def test_directory_errors_name_the_path(edits: list[tuple[str, Any]], message: str) -> None:
    with pytest.raises(ProfileError) as caught:
        parse_profile(edited(*edits))
    assert str(caught.value) == message

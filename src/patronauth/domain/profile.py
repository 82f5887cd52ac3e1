"""An institution's rule set, parsed from plain data (a TOML file's contents).

A profile names the credential kinds it uses, maps channels to them, and gives per
kind: the effective-dated policies, the default rules (dated by registration), the
reset methods and the consecutive-failure cap. Categories override any of that with
partial tables that are merged over the institution's, as in Koha's per-category
model. `parse_profile` checks everything and names the offending path on error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from patronauth.domain.circulation import CirculationRules
from patronauth.domain.credentials import Channel, CredentialKind
from patronauth.domain.dating import overlapping, version_on
from patronauth.domain.defaults import DefaultRule, DefaultRuleKind
from patronauth.domain.errors import InvalidInput, ProfileError, Refused
from patronauth.domain.identifiers import IdentifierRule
from patronauth.domain.lockout import LockoutRule
from patronauth.domain.policies import HARD_MAX_LENGTH, CharClass, Charset, CredentialPolicy

LANGUAGES = ("en", "zh_Hant")


class SelfServiceReset(StrEnum):
    NONE = "none"  # only staff reset (R18, R24)
    EMAIL_TEMPORARY = "email_temporary"  # a temporary secret by e-mail (R7)
    REVERT_TO_DEFAULT = "revert_to_default"  # back to the default (R14)


class BarcodeFormat(StrEnum):
    ANY = "any"
    JULAC = "julac"  # <university prefix><number> (R21)


class CredentialSource(StrEnum):
    LOCAL = "local"  # PatronAuth holds the secret's hash
    DIRECTORY = "directory"  # the campus directory decides by a bind; nothing is stored (R20)


class DirectoryTls(StrEnum):
    STARTTLS = "starttls"  # ldap:// upgraded with StartTLS before anything is sent
    LDAPS = "ldaps"  # ldaps://, TLS from the first byte


Text = Mapping[str, str]  # language -> text

SPOKEN_LANGUAGES = ("yue", "cmn", "en")  # the telephone line's: Cantonese, Putonghua, English


class KeyedLetters(StrEnum):
    """How a caller keys the letters of a card number on a telephone keypad."""

    POSITION = "position"  # star, then the letter's place in the alphabet in two digits
    DIGITS = "digits"  # the digits alone: the profile's prefixes are tried, then none


@dataclass(frozen=True)
class TelephoneLine:
    default_language: str = "yue"  # what a caller hears when no language is chosen
    letters: KeyedLetters = KeyedLetters.POSITION
    prefixes: tuple[str, ...] = ()  # KeyedLetters.DIGITS: the letters a card may start with


@dataclass(frozen=True)
class DirectoryConfig:
    """Where a category's secrets live (R20): an LDAP directory searched with a service
    account and bound to as the patron's entry. Never holds a secret itself: the
    service account's password comes from the environment variable it names."""

    urls: tuple[str, ...]  # tried in order (failover); empty: not configured here
    tls: DirectoryTls
    ca_file: str | None
    bind_dn: str
    bind_password_env: str
    base_dn: str
    uid_filter: str  # "{value}" stands for the escaped UID
    barcode_filter: str | None  # the same for a scanned card barcode
    link_attribute: str  # the student or staff number that names the library record
    enabled_filter: str | None = None  # what enabled entries match; the others are gone
    connect_timeout: float = 3.0
    timeout: float = 5.0
    pool_size: int = 4
    name: Text = field(default_factory=dict)  # "HKU Portal"
    pin_url: str = ""  # where the Portal PIN is changed (the university's IT services)

    @property
    def configured(self) -> bool:
        return bool(self.urls)


@dataclass(frozen=True)
class CredentialSettings:
    kind: CredentialKind
    label: Text
    policies: tuple[CredentialPolicy, ...]
    defaults: tuple[DefaultRule, ...]
    default_accepted_on: frozenset[Channel]
    consecutive_failure_cap: int
    self_service_reset: SelfServiceReset
    first_time_setup: bool
    force_change_on_policy_upgrade: bool
    temporary_lifetime_hours: int
    # A first change made with the default is confirmed by a one-time code e-mailed to
    # the registered address (for defaults others may know, such as a card number).
    confirm_default_change_by_email: bool = False

    def policy_on(self, day: date) -> CredentialPolicy:
        policy = version_on(self.policies, day)
        if policy is None:
            raise Refused.of("policy.none_in_force", day=day.isoformat())
        return policy

    def default_rule_for(self, registered_on: date) -> DefaultRule:
        rule = version_on(self.defaults, registered_on)
        return rule or DefaultRule(DefaultRuleKind.NONE)


@dataclass(frozen=True)
class ForcedChange:
    """R26: credentials last set before `go_live` must be changed at the next sign-in."""

    go_live: date
    categories: frozenset[str] | None = None  # None: every category

    def covers(self, category: str) -> bool:
        return self.categories is None or category in self.categories


@dataclass(frozen=True)
class Category:
    name: str
    label: Text
    barcode_format: BarcodeFormat
    credentials: Mapping[CredentialKind, CredentialSettings]
    circulation: CirculationRules
    credential_source: CredentialSource = CredentialSource.LOCAL
    directory: DirectoryConfig | None = None  # set exactly when the source is the directory

    @property
    def in_directory(self) -> bool:
        return self.credential_source is CredentialSource.DIRECTORY


@dataclass(frozen=True)
class Profile:
    id: str
    name: Text
    timezone: str
    contact: Text
    identifiers: IdentifierRule
    channels: Mapping[Channel, CredentialKind]
    lockout: LockoutRule
    default_category: str
    categories: Mapping[str, Category]
    forced_changes: tuple[ForcedChange, ...]
    libraries: Mapping[str, Text]  # pickup libraries: code -> name
    currency: str = "HK$"  # the display symbol; `currency_code` is its ISO 4217 code
    requests: frozenset[str] = frozenset()  # PolyU: recommendation, interlibrary_loan
    telephone: TelephoneLine = TelephoneLine()
    # Seed 001: libraries whose loans accrue no overdue fine (HKPL's mobile libraries).
    mobile_libraries: frozenset[str] = frozenset()

    @property
    def currency_code(self) -> str:
        return iso_currency(self.currency)

    @property
    def telephone_offered(self) -> bool:
        return Channel.TELEPHONE in self.channels

    def local(self, moment: datetime) -> datetime:
        """`moment` (aware) on the library's clock."""
        return moment.astimezone(ZoneInfo(self.timezone))

    def day_of(self, moment: datetime) -> date:
        """The library's date at `moment`: every effective date (registration, go-live,
        policy versions, the fine calendar, due dates) is a date in its time zone."""
        return self.local(moment).date()

    def rules(self, category: str | None) -> CirculationRules:
        return self.category(category).circulation

    @property
    def kinds(self) -> tuple[CredentialKind, ...]:
        return tuple(sorted(set(self.channels.values())))

    def category(self, name: str | None) -> Category:
        key = self.default_category if name is None else name
        try:
            return self.categories[key]
        except KeyError:
            raise Refused.of(
                "patron.unknown_category", category=key, known=", ".join(self.categories)
            ) from None

    def credential(self, category: str | None, kind: CredentialKind) -> CredentialSettings:
        settings = self.category(category).credentials.get(kind)
        if settings is None:
            raise Refused.of("credential.kind_not_used", kind=kind.value, institution=self.id)
        return settings

    def credential_label(self, kind: str, language: str) -> str:
        """The institution's own word for a credential ("online password", "PIN")."""
        settings = self.categories[self.default_category].credentials.get(CredentialKind(kind))
        return settings.label.get(language, kind) if settings else kind

    def kind_for(self, channel: Channel) -> CredentialKind:
        return self.channels.get(channel, self.kinds[0])

    def sign_in_kind(self, channel: Channel, requested: CredentialKind | None) -> CredentialKind:
        """R1: the credential a sign-in on `channel` takes. A request may name only the
        credential the profile maps to that channel, and only on a channel it offers."""
        kind = self.channels.get(channel)
        if kind is None:
            raise InvalidInput.of("channel.not_offered", channel=channel.value)
        if requested is not None and requested is not kind:
            raise InvalidInput.of(
                "credential.not_for_channel", credential=requested.value, channel=channel.value
            )
        return kind

    def directory_for(self, category: str | None) -> DirectoryConfig | None:
        """The directory holding this category's secrets; None when PatronAuth holds them."""
        return self.category(category).directory

    @property
    def directories(self) -> tuple[DirectoryConfig, ...]:
        """The configured directories of the directory categories, each once, in order."""
        found: list[DirectoryConfig] = []
        for category in self.categories.values():
            config = category.directory
            if config is not None and config.configured and config not in found:
                found.append(config)
        return tuple(found)


def change_due(
    forced_changes: Sequence[ForcedChange],
    category: str,
    settings: CredentialSettings,
    *,
    set_on: date,
    policy_from: date | None,
    today: date,
) -> bool:
    """Whether a secret set on `set_on` must be changed at this sign-in (R3, R26)."""
    for forced in forced_changes:
        if forced.covers(category) and set_on < forced.go_live <= today:
            return True
    if settings.force_change_on_policy_upgrade:
        current = settings.policy_on(today)
        return current.effective_from is not None and (
            policy_from is None or policy_from < current.effective_from
        )
    return False


# --- parsing -------------------------------------------------------------------------


class _Reader:
    """Typed access to nested plain data, naming the path in every error."""

    def __init__(self, data: Mapping[str, Any], path: str) -> None:
        self.data = data
        self.path = path

    def _fail(self, key: str, why: str) -> ProfileError:
        return ProfileError(f"{self.path}.{key}: {why}" if self.path else f"{key}: {why}")

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str, kind: type, default: Any = ...) -> Any:
        if key not in self.data:
            if default is ...:
                raise self._fail(key, "missing")
            return default
        value = self.data[key]
        if kind is int and isinstance(value, bool):
            raise self._fail(key, "expected an integer")
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind):
            raise self._fail(key, f"expected {kind.__name__}, got {type(value).__name__}")
        return value

    def date(self, key: str) -> date | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value)
            except ValueError:
                pass
        raise self._fail(key, "expected a date (YYYY-MM-DD)")

    def text(self, key: str) -> Text:
        table = self.child(key)
        texts = {lang: table.get(lang, str) for lang in LANGUAGES}
        return texts

    def child(self, key: str) -> _Reader:
        return _Reader(self.get(key, dict), f"{self.path}.{key}" if self.path else key)

    def items(self, key: str) -> list[_Reader]:
        values = self.get(key, list, [])
        name = f"{self.path}.{key}" if self.path else key
        readers = []
        for i, value in enumerate(values):
            if not isinstance(value, dict):
                raise ProfileError(f"{name}[{i}]: expected a table")
            readers.append(_Reader(value, f"{name}[{i}]"))
        return readers

    def enum(self, key: str, kind: type[StrEnum], default: Any = ...) -> Any:
        raw = self.get(key, str, default)
        if not isinstance(raw, str):
            return raw
        try:
            return kind(raw)
        except ValueError:
            allowed = ", ".join(m.value for m in kind)
            raise self._fail(key, f"unknown value {raw!r} (allowed: {allowed})") from None

    def enums(self, key: str, kind: type[StrEnum]) -> list[Any]:
        values = self.get(key, list, [])
        out = []
        for value in values:
            try:
                out.append(kind(value))
            except ValueError:
                allowed = ", ".join(m.value for m in kind)
                raise self._fail(key, f"unknown value {value!r} (allowed: {allowed})") from None
        return out


def _merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _policy(r: _Reader, kind: CredentialKind) -> CredentialPolicy:
    categories = tuple(r.enums("categories", CharClass))
    need = r.get("require_categories", int, 0)
    if need > len(categories):
        raise ProfileError(f"{r.path}.require_categories: more than the categories listed")
    policy = CredentialPolicy(
        kind=kind,
        min_length=r.get("min_length", int),
        max_length=r.get("max_length", int, HARD_MAX_LENGTH),
        charset=r.enum("charset", Charset, Charset.ANY),
        require_all=frozenset(r.enums("require_all", CharClass)),
        require_categories=need,
        categories=categories,
        reject_trivial=r.get("reject_trivial", bool, False),
        blocklists=tuple(r.get("blocklists", list, [])),
        reject_context=r.get("reject_context", bool, True),
        effective_from=r.date("effective_from"),
        effective_until=r.date("effective_until"),
    )
    if not 1 <= policy.min_length <= policy.max_length <= HARD_MAX_LENGTH:
        raise ProfileError(f"{r.path}: need 1 <= min_length <= max_length <= {HARD_MAX_LENGTH}")
    return policy


def _default_rule(r: _Reader) -> DefaultRule:
    kind = r.enum("rule", DefaultRuleKind)
    length = r.get("length", int, 0)
    if kind in {DefaultRuleKind.PHONE_LAST_DIGITS, DefaultRuleKind.ID_PREFIX} and length < 1:
        raise ProfileError(f"{r.path}.length: this rule needs a length")
    return DefaultRule(kind, length, r.date("effective_from"), r.date("effective_until"))


def _credential(r: _Reader, kind: CredentialKind) -> CredentialSettings:
    policies = tuple(_policy(p, kind) for p in r.items("policies"))
    if not policies:
        raise ProfileError(f"{r.path}.policies: at least one policy is needed")
    defaults = tuple(_default_rule(d) for d in r.items("defaults"))
    for name, dated in (("policies", policies), ("defaults", defaults)):
        if overlapping(dated):
            raise ProfileError(f"{r.path}.{name}: effective periods overlap")
    cap = r.get("consecutive_failure_cap", int)
    if cap < 1:
        raise ProfileError(f"{r.path}.consecutive_failure_cap: must be at least 1")
    return CredentialSettings(
        kind=kind,
        label=r.text("label"),
        policies=policies,
        defaults=defaults,
        default_accepted_on=frozenset(r.enums("default_accepted_on", Channel)),
        consecutive_failure_cap=cap,
        self_service_reset=r.enum("self_service_reset", SelfServiceReset, SelfServiceReset.NONE),
        first_time_setup=r.get("first_time_setup", bool, False),
        force_change_on_policy_upgrade=r.get("force_change_on_policy_upgrade", bool, False),
        temporary_lifetime_hours=r.get("temporary_lifetime_hours", int, 24),
        confirm_default_change_by_email=r.get("confirm_default_change_by_email", bool, False),
    )


def _circulation(r: _Reader) -> CirculationRules:
    defaults = CirculationRules()
    rules = CirculationRules(
        **{name: r.get(name, type(value), value) for name, value in vars(defaults).items()}
    )
    for name, value in vars(rules).items():
        if isinstance(value, int) and not isinstance(value, bool) and value < 0:
            raise ProfileError(f"{r.path}.{name}: must not be negative")
    if rules.loan_days < 1:
        raise ProfileError(f"{r.path}.loan_days: must be at least 1")
    return rules


_ATTRIBUTE = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
_SECRET_VARIABLE = re.compile(r"PATRONAUTH_DIRECTORY_[A-Z0-9_]+")
_URL_SCHEMES = {DirectoryTls.STARTTLS: "ldap://", DirectoryTls.LDAPS: "ldaps://"}


def _filter(r: _Reader, key: str, value: str | None) -> str | None:
    if value is None:
        return None
    if value.count("{value}") != 1 or not (value.startswith("(") and value.endswith(")")):
        raise ProfileError(f"{r.path}.{key}: a parenthesised LDAP filter with one {{value}}")
    return value


def _enabled(r: _Reader) -> str | None:
    value: str | None = r.get("enabled_filter", str, None)
    if value is not None and not (value.startswith("(") and value.endswith(")")):
        raise ProfileError(f"{r.path}.enabled_filter: a parenthesised LDAP filter")
    return value


def _directory(r: _Reader) -> DirectoryConfig:
    tls = r.enum("tls", DirectoryTls, DirectoryTls.STARTTLS)
    urls = tuple(r.get("urls", list, []))
    for url in urls:
        # The PIN crosses the network only inside TLS: no plain ldap:// without StartTLS.
        if not isinstance(url, str) or not url.lower().startswith(_URL_SCHEMES[tls]):
            raise ProfileError(f"{r.path}.urls: with tls = {tls.value!r} every URL starts with "
                               f"{_URL_SCHEMES[tls]}")  # fmt: skip
    secret_env = r.get("bind_password_env", str)
    if not _SECRET_VARIABLE.fullmatch(secret_env):
        raise ProfileError(f"{r.path}.bind_password_env: a PATRONAUTH_DIRECTORY_... variable")
    link = r.get("link_attribute", str)
    if not _ATTRIBUTE.fullmatch(link):
        raise ProfileError(f"{r.path}.link_attribute: an LDAP attribute name")
    config = DirectoryConfig(
        urls=urls,
        tls=tls,
        ca_file=r.get("ca_file", str, None),
        bind_dn=r.get("bind_dn", str),
        bind_password_env=secret_env,
        base_dn=r.get("base_dn", str),
        uid_filter=_filter(r, "uid_filter", r.get("uid_filter", str)) or "",
        barcode_filter=_filter(r, "barcode_filter", r.get("barcode_filter", str, None)),
        link_attribute=link,
        enabled_filter=_enabled(r),
        connect_timeout=r.get("connect_timeout", float, 3.0),
        timeout=r.get("timeout", float, 5.0),
        pool_size=r.get("pool_size", int, 4),
        name=r.text("name") if r.has("name") else {},
        pin_url=r.get("pin_url", str, ""),
    )
    if config.connect_timeout <= 0 or config.timeout <= 0 or config.pool_size < 1:
        raise ProfileError(f"{r.path}: timeouts and pool_size must be positive")
    return config


def _lockout(r: _Reader) -> LockoutRule:
    rule = LockoutRule(
        max_failures=r.get("max_failures", int, 5),
        window_seconds=r.get("window_seconds", float, 60.0),
        block_seconds=r.get("block_seconds", float, 60.0),
        block_max_seconds=r.get("block_max_seconds", float, 3600.0),
        escalation_seconds=r.get("escalation_seconds", float, 86400.0),
    )
    if rule.max_failures < 1 or rule.window_seconds <= 0 or rule.block_seconds <= 0:
        raise ProfileError(f"{r.path}: limits must be positive")
    return rule


def _telephone(r: _Reader) -> TelephoneLine:
    language = r.get("default_language", str, "yue")
    if language not in SPOKEN_LANGUAGES:
        raise ProfileError(f"{r.path}.default_language: one of {', '.join(SPOKEN_LANGUAGES)}")
    prefixes = r.get("prefixes", list, [])
    if not all(isinstance(p, str) and p.isalpha() and p.isascii() for p in prefixes):
        raise ProfileError(f"{r.path}.prefixes: letters A to Z only")
    return TelephoneLine(
        default_language=language,
        letters=r.enum("letters", KeyedLetters, KeyedLetters.POSITION),
        # The longest first, so that CITYU is tried before CU could match less.
        prefixes=tuple(sorted((p.upper() for p in prefixes), key=len, reverse=True)),
    )


def parse_profile(data: Mapping[str, Any]) -> Profile:
    root = _Reader(data, "")
    profile_id = root.get("id", str)
    channels_r = root.child("channels")
    channels = {}
    for name in channels_r.data:
        channel = _Reader({name: name}, "channels").enum(name, Channel)
        channels[channel] = channels_r.enum(name, CredentialKind)
    if not channels:
        raise ProfileError("channels: map at least one channel to a credential kind")
    base_credentials = root.get("credentials", dict)
    base_circulation = root.get("circulation", dict, {})
    base_directory = root.get("directory", dict, None)
    categories_r = root.child("categories")
    categories: dict[str, Category] = {}
    for name in categories_r.data:
        cat = categories_r.child(name)
        merged = _merge(base_credentials, cat.get("credentials", dict, {}))
        creds_r = _Reader(merged, f"categories.{name}.credentials")
        credentials = {}
        for kind in set(channels.values()):
            credentials[kind] = _credential(creds_r.child(kind.value), kind)
        circulation = _merge(
            {k: v for k, v in base_circulation.items() if not isinstance(v, dict)},
            cat.get("circulation", dict, {}),
        )
        source = cat.enum("credential_source", CredentialSource, CredentialSource.LOCAL)
        directory = None
        if source is CredentialSource.DIRECTORY:
            if base_directory is None:
                raise ProfileError(f"categories.{name}.credential_source: no [directory] table")
            table = _merge(base_directory, cat.get("directory", dict, {}))
            directory = _directory(_Reader(table, f"categories.{name}.directory"))
        elif cat.has("directory"):
            raise ProfileError(f"categories.{name}.directory: the credential source is local")
        categories[name] = Category(
            name=name,
            label=cat.text("label"),
            barcode_format=cat.enum("barcode_format", BarcodeFormat, BarcodeFormat.ANY),
            credentials=credentials,
            circulation=_circulation(_Reader(circulation, f"categories.{name}.circulation")),
            credential_source=source,
            directory=directory,
        )
    if not categories:
        raise ProfileError("categories: at least one category is needed")
    default_category = root.get("default_category", str)
    if default_category not in categories:
        raise ProfileError(f"default_category: {default_category!r} is not a category")
    forced = []
    for item in root.items("forced_changes"):
        go_live = item.date("go_live")
        if go_live is None:
            raise ProfileError(f"{item.path}.go_live: missing")
        names = item.get("categories", list, None)
        if names is not None and not set(names) <= set(categories):
            raise ProfileError(f"{item.path}.categories: unknown category")
        covered = set(categories) if names is None else set(names)
        if any(categories[c].in_directory for c in covered):
            # Nothing here can make a patron change a secret the directory holds.
            raise ProfileError(f"{item.path}.categories: a directory category has no local secret")
        forced.append(ForcedChange(go_live, frozenset(names) if names is not None else None))
    identifiers = (
        root.child("identifiers") if root.has("identifiers") else _Reader({}, "identifiers")
    )
    lending = _Reader(base_circulation, "circulation")
    libraries_r = lending.child("libraries") if lending.has("libraries") else None
    libraries = {code: libraries_r.text(code) for code in libraries_r.data} if libraries_r else {}
    requests = set(lending.get("requests", list, []))
    if not requests <= {"recommendation", "interlibrary_loan"}:
        raise ProfileError("circulation.requests: recommendation and interlibrary_loan only")
    mobile = set(lending.get("mobile_libraries", list, []))
    if not mobile <= set(libraries):
        raise ProfileError("circulation.mobile_libraries: only libraries of circulation.libraries")
    timezone = root.get("timezone", str, "Asia/Hong_Kong")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ProfileError(f"timezone: unknown time zone {timezone!r}") from None
    return Profile(
        id=profile_id,
        name=root.text("name"),
        timezone=timezone,
        contact=root.text("contact"),
        identifiers=IdentifierRule(
            strip_leading_zeros=identifiers.get("strip_leading_zeros", bool, False),
            student_number_digits=identifiers.get("student_number_digits", int, 0),
        ),
        channels=channels,
        lockout=_lockout(root.child("lockout")) if root.has("lockout") else LockoutRule(),
        default_category=default_category,
        categories=categories,
        forced_changes=tuple(forced),
        libraries=libraries,
        currency=lending.get("currency", str, "HK$"),
        requests=frozenset(requests),
        mobile_libraries=frozenset(mobile),
        telephone=_telephone(root.child("telephone")) if root.has("telephone") else TelephoneLine(),
    )


_CURRENCY_CODES = {"HK$": "HKD", "MOP$": "MOP", "US$": "USD", "RMB": "CNY", "¥": "CNY"}


def iso_currency(symbol: str) -> str:
    """The ISO 4217 code of a display currency ("HK$" -> "HKD"), "" when unknown."""
    if len(symbol) == 3 and symbol.isascii() and symbol.isalpha() and symbol.isupper():
        return symbol
    return _CURRENCY_CODES.get(symbol, "")

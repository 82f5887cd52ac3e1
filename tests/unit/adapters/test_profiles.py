"""Profiles are data: a deployer changes or adds one without touching code."""

from __future__ import annotations

from pathlib import Path

import pytest

from patronauth.adapters.profiles import ProfileStore, shipped_texts
from patronauth.domain.credentials import Channel, CredentialKind
from patronauth.domain.errors import ProfileError, Refused

SHIPPED = {"hkpl", "polyu", "hkct", "hku"}


def test_the_four_seed_libraries_are_served_by_default_and_the_example_is_not() -> None:
    store = ProfileStore.load()
    assert set(store.all()) == SHIPPED
    with pytest.raises(Refused) as refused:
        store.get("example")
    assert refused.value.code == "institution.unknown"


def test_the_example_profile_is_valid_and_can_be_served() -> None:
    store = ProfileStore.load(only=["example"])
    example = store.get("example")
    assert example.kind_for(Channel.SIP2) is CredentialKind.PIN
    assert example.credential("staff", CredentialKind.PIN).consecutive_failure_cap == 5
    assert example.credential("reader", CredentialKind.PIN).consecutive_failure_cap == 10


def test_a_deployer_folder_overrides_a_shipped_rule(tmp_path: Path) -> None:
    text, _ = shipped_texts()["hkpl"]
    changed = text.replace("min_length = 4\nmax_length = 16", "min_length = 6\nmax_length = 16")
    assert changed != text
    (tmp_path / "hkpl.toml").write_text(changed, encoding="utf-8")
    store = ProfileStore.load(tmp_path)
    policy = store.get("hkpl").credential(None, CredentialKind.PIN).policies[0]
    assert policy.min_length == 6
    assert store.get("polyu").credential(None, CredentialKind.PIN).policies[0].min_length == 6


def test_a_new_library_is_added_by_copying_the_example(tmp_path: Path) -> None:
    text, _ = shipped_texts()["example"]
    (tmp_path / "citylib.toml").write_text(text.replace('id = "example"', 'id = "citylib"'))
    store = ProfileStore.load(tmp_path, only=["citylib", "hkpl"])
    assert set(store.all()) == {"citylib", "hkpl"}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("min_length = 4", "min_length = 0"), "min_length <= max_length"),
        (('charset = "digits"', 'charset = "emoji"'), "unknown value 'emoji'"),
        (("consecutive_failure_cap = 10", "consecutive_failure_cap = 0"), "at least 1"),
        (('id = "hkpl"', 'id = "other"'), "file name must be the profile id"),
        (("[channels]", "[channels\n"), "hkpl.toml"),
        (("effective_until = 2021-12-31", "effective_until = 2022-06-30"), "overlap"),
        (('blocklists = ["common-pins"]', 'blocklists = ["common-pin"]'), "unknown blocklist"),
    ],
)
def test_a_broken_profile_names_the_file_and_the_problem(
    tmp_path: Path, edit: tuple[str, str], message: str
) -> None:
    text, _ = shipped_texts()["hkpl"]
    assert edit[0] in text
    (tmp_path / "hkpl.toml").write_text(text.replace(edit[0], edit[1], 1), encoding="utf-8")
    with pytest.raises(ProfileError, match=message) as error:
        ProfileStore.load(tmp_path)
    assert "hkpl.toml" in str(error.value)


def test_asking_for_a_profile_nobody_shipped_is_refused() -> None:
    with pytest.raises(ProfileError, match="no profile for: nowhere"):
        ProfileStore.load(only=["nowhere"])

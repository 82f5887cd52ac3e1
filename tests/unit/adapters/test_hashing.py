"""S1, S2, S9: argon2id over a pepper, keyed digests, key files."""

from __future__ import annotations

import base64
import hashlib
import hmac
import pickle
import stat
from pathlib import Path

import pytest

from patronauth.adapters.hashing import Argon2Hasher, Argon2Parameters, Keyring, KeyringError

CHEAP = Argon2Parameters(time_cost=1, memory_kib=1024)
RING = Keyring.parse("k1 " + "11" * 32, origin="test")


@pytest.fixture
def hasher() -> Argon2Hasher:
    return Argon2Hasher(RING, CHEAP)


def test_a_hash_records_scheme_key_and_parameters_and_verifies(hasher: Argon2Hasher) -> None:
    stored = hasher.hash("Lib#Reader2026")
    assert stored.startswith("a2:k1:$argon2id$v=19$m=1024,t=1,p=1$")
    assert hasher.verify(stored, "Lib#Reader2026").ok
    assert not hasher.verify(stored, "Lib#Reader2027").ok
    assert hasher.verify(stored, "Lib#Reader2026").rehashed is None


def test_the_pepper_makes_a_stolen_hash_useless_without_the_key(hasher: Argon2Hasher) -> None:
    stored = hasher.hash("4567")
    other = Argon2Hasher(Keyring.parse("k1 " + "22" * 32, origin="test"), CHEAP)
    assert not other.verify(stored, "4567").ok


def test_each_verification_costs_exactly_one_argon2_computation(hasher: Argon2Hasher) -> None:
    stored = hasher.hash("Lib#Reader2026")
    keyed = hasher.keyed("4567", salt="patron-uid")
    cases = [
        (stored, "wrong"),
        (stored, "Lib#Reader2026"),
        (keyed, "wrong"),
        (keyed, "4567"),  # success: the one computation is the upgrade to argon2
        ("a2:unknown-key:whatever", "4567"),
    ]
    for record, secret in cases:
        before = hasher.computations
        hasher.verify(record, secret)
        assert hasher.computations - before == 1, (record[:5], secret)
    before = hasher.computations
    hasher.dummy_verify("anything")
    assert hasher.computations - before == 1


def test_a_keyed_default_verifies_and_asks_to_be_upgraded(hasher: Argon2Hasher) -> None:
    keyed = hasher.keyed("4567", salt="patron-uid")
    assert keyed.startswith("hk:k1:patron-uid:")
    assert "4567" not in keyed
    verification = hasher.verify(keyed, "4567")
    assert verification.ok
    assert verification.rehashed is not None
    assert hasher.verify(verification.rehashed, "4567").ok


def test_keyed_digests_depend_on_the_salt_and_match_in_constant_time(hasher: Argon2Hasher) -> None:
    one = hasher.keyed("91234567", salt="a")
    assert one != hasher.keyed("91234567", salt="b")
    assert hasher.keyed_matches(one, "91234567")
    assert not hasher.keyed_matches(one, "91234568")
    assert not hasher.keyed_matches(hasher.hash("91234567"), "91234567")


def test_a_keyed_digest_is_the_hmac_of_salt_and_value_under_the_current_key(
    hasher: Argon2Hasher,
) -> None:
    # The stored form of every default, phone and ID number: it must never drift.
    mac = hmac.new(bytes.fromhex("11" * 32), b"keyed\0uid-1\0" + "陳4567".encode(), hashlib.sha256)
    expected = base64.urlsafe_b64encode(mac.digest()).rstrip(b"=").decode()
    assert hasher.keyed("陳4567", salt="uid-1") == f"hk:k1:uid-1:{expected}"


def test_the_digester_for_workers_digests_as_the_hasher_and_pickles_without_showing_the_key(
    hasher: Argon2Hasher,
) -> None:
    rotated = Argon2Hasher(Keyring.parse(f"k2 {'33' * 32}\nk1 {'11' * 32}", origin="t"), CHEAP)
    for each in (hasher, rotated):
        digester = each.digester()
        sent = pickle.loads(pickle.dumps(digester))  # noqa: S301 (as a worker receives it)
        for value, salt in [("4567", "uid-1"), ("91234567", "uid-2"), ("", "s")]:
            assert sent.keyed(value, salt=salt) == each.keyed(value, salt=salt)
            assert digester.keyed(value, salt=salt) == each.keyed(value, salt=salt)
    assert rotated.digester().keyed("4567", salt="u").startswith("hk:k2:u:")
    assert "33" * 4 not in repr(rotated.digester())
    # Only the current key travels: an old key's digests cannot be made from it.
    sent_bytes = pickle.dumps(rotated.digester())
    assert bytes.fromhex("33" * 32) in sent_bytes
    assert bytes.fromhex("11" * 32) not in sent_bytes


def test_stronger_parameters_or_a_new_current_key_mark_the_hash_outdated(
    hasher: Argon2Hasher,
) -> None:
    stored = hasher.hash("Lib#Reader2026")
    stronger = Argon2Hasher(RING, Argon2Parameters(time_cost=2, memory_kib=1024))
    verification = stronger.verify(stored, "Lib#Reader2026")
    assert verification.ok
    assert verification.rehashed is not None
    assert ",t=2," in verification.rehashed
    rotated = Argon2Hasher(Keyring.parse(f"k2 {'33' * 32}\nk1 {'11' * 32}", origin="t"), CHEAP)
    upgraded = rotated.verify(stored, "Lib#Reader2026").rehashed
    assert upgraded is not None
    assert upgraded.startswith("a2:k2:")


def test_init_creates_a_private_key_file_once(tmp_path: Path) -> None:
    path = tmp_path / "var" / "pepper.key"
    assert Keyring.create(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = path.read_text()
    assert not Keyring.create(path)
    assert path.read_text() == first
    ring = Keyring.load(path)
    assert len(ring.current) == 32


def test_a_key_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "pepper.key"
    path.write_text("k1 " + "11" * 32 + "\n")
    path.chmod(0o644)
    with pytest.raises(KeyringError, match="must not be readable"):
        Keyring.load(path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "no key"),
        ("k1", "expected"),
        ("k1 zz", "not hexadecimal"),
        ("k1 0011", "16\\+ bytes"),
        ("k:1 " + "11" * 32, "without ':'"),
    ],
)
def test_bad_key_material_is_refused_with_the_reason(text: str, problem: str) -> None:
    with pytest.raises(KeyringError, match=problem):
        Keyring.parse(text, origin="PATRONAUTH_PEPPER")

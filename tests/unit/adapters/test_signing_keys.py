"""The OpenID Connect signing keys: each key is imported (and checked) once per version
of the file, not once per token signed; a rotation is seen without a restart."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from joserfc.jwk import RSAKey

from patronauth.adapters import signing_keys
from patronauth.adapters.signing_keys import SigningKeyFile

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)


def test_a_key_is_imported_once_per_version_of_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "signing-keys.json"
    assert SigningKeyFile.create(path, NOW)
    imports: list[str] = []
    real = RSAKey.import_key

    def counted(value: object, *args: object, **kwargs: object) -> object:
        if isinstance(value, dict):
            imports.append(str(value["kid"]))
        return real(value, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(signing_keys.RSAKey, "import_key", counted)
    keys = SigningKeyFile(path)
    first = keys.signing_key()
    for _ in range(5):
        assert keys.signing_key() is first
    assert [k["kid"] for k in keys.published(NOW)] == [first.kid]
    assert imports == [first.kid]

    new_kid = SigningKeyFile(path).rotate(NOW, keep_seconds=600)
    assert keys.signing_key().kid == new_kid  # the running reader sees the rotation
    assert {k["kid"] for k in keys.published(NOW)} == {first.kid, new_kid}
    assert keys.signing_key().kid == new_kid
    assert sorted(imports[1:]) == sorted([new_kid, first.kid])  # once each, new version

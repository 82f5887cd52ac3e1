"""The shipped profiles, parsed once for the domain tests that use the seed libraries' rules."""

from __future__ import annotations

import pytest

from patronauth.adapters.profiles import ProfileStore


@pytest.fixture(scope="session")
def profiles() -> ProfileStore:
    return ProfileStore.load()

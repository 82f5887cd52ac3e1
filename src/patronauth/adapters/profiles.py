"""Profiles as data: the shipped TOML files, overridable by the deployer's own folder."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from importlib import resources
from pathlib import Path

from patronauth.adapters.blocklists import BLOCKLISTS
from patronauth.domain.errors import ProfileError, Refused
from patronauth.domain.profile import Profile, parse_profile

SHIPPED_EXAMPLE = "example"


def _parse(text: str, origin: str) -> Profile:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ProfileError(f"{origin}: {error}") from None
    try:
        profile = parse_profile(data)
    except ProfileError as error:
        raise ProfileError(f"{origin}: {error}") from None
    if f"{profile.id}.toml" != Path(origin).name:
        raise ProfileError(f"{origin}: the file name must be the profile id ({profile.id}.toml)")
    _check_blocklists(profile, origin)
    return profile


def _check_blocklists(profile: Profile, origin: str) -> None:
    """A misspelt list name would silently switch a check off: refuse it."""
    known = set(BLOCKLISTS)
    for category in profile.categories.values():
        for settings in category.credentials.values():
            for policy in settings.policies:
                unknown = set(policy.blocklists) - known
                if unknown:
                    raise ProfileError(
                        f"{origin}: unknown blocklist {', '.join(sorted(unknown))} "
                        f"(known: {', '.join(sorted(known))})"
                    )


def shipped_texts() -> dict[str, tuple[str, str]]:
    """id -> (TOML text, origin) of the profiles in the package."""
    folder = resources.files("patronauth.profiles")
    texts = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".toml"):
            texts[entry.name.removesuffix(".toml")] = (entry.read_text("utf-8"), entry.name)
    return texts


class ProfileStore:
    def __init__(self, profiles: Mapping[str, Profile]) -> None:
        self._profiles = dict(profiles)

    @classmethod
    def load(
        cls, override_dir: Path | None = None, only: Iterable[str] | None = None
    ) -> ProfileStore:
        """Shipped profiles (but the example), replaced or extended by `override_dir`."""
        texts = shipped_texts()
        if override_dir is not None:
            if not override_dir.is_dir():
                raise ProfileError(f"{override_dir}: not a folder of profiles")
            for path in sorted(override_dir.glob("*.toml")):
                texts[path.stem] = (path.read_text("utf-8"), str(path))
        wanted = set(only) if only else set(texts) - {SHIPPED_EXAMPLE}
        missing = wanted - set(texts)
        if missing:
            raise ProfileError(f"no profile for: {', '.join(sorted(missing))}")
        return cls({name: _parse(*texts[name]) for name in sorted(wanted)})

    def get(self, institution: str) -> Profile:
        try:
            return self._profiles[institution]
        except KeyError:
            raise Refused.of(
                "institution.unknown", institution=institution, known=", ".join(self._profiles)
            ) from None

    def all(self) -> Mapping[str, Profile]:
        return dict(self._profiles)

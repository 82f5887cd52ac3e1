from __future__ import annotations

import secrets


class SystemRandomness:
    def secret(self, alphabet: str, length: int) -> str:
        return "".join(secrets.choice(alphabet) for _ in range(length))

    def token(self) -> str:
        return secrets.token_urlsafe(16)

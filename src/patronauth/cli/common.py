"""What every staff command shares: the app, stdin secrets, output, exit codes.

Exit status: 0 success, 1 a refusal (with its reason codes), 2 bad usage or setup.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, NoReturn, ParamSpec, TypeVar

import click
from sqlalchemy.exc import OperationalError

from patronauth.adapters import i18n
from patronauth.adapters.config import ConfigError, Settings
from patronauth.adapters.hashing import KeyringError
from patronauth.bootstrap import App, build
from patronauth.domain.errors import ProfileError, Refused
from patronauth.domain.policies import HARD_MAX_LENGTH
from patronauth.services.authenticate import AuthResult

EXIT_REFUSED = 1
EXIT_USAGE = 2

P = ParamSpec("P")
R = TypeVar("R")


class Context:
    """Per invocation: settings, the app (built on first use), language, output mode."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.json = False
        self._app: App | None = None
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = Settings.from_env()
        return self._settings

    @property
    def app(self) -> App:
        if self._app is None:
            self._app = build(self.settings)
        return self._app

    @property
    def staff(self) -> str:
        return f"staff:{self.settings.staff}"

    def close(self) -> None:
        if self._app is not None:
            self._app.close()

    def message(self, code: str, **params: str | int) -> str:
        return i18n.message(code, self.language, **params)


def ctx() -> Context:
    obj = click.get_current_context().find_object(Context)
    assert obj is not None
    return obj


def emit(data: Mapping[str, Any], text: str | None = None) -> None:
    """A result: JSON with --json, else the text lines."""
    if ctx().json:
        click.echo(json.dumps(data, ensure_ascii=False, default=str, sort_keys=True))
    elif text is not None:
        click.echo(text)


def auth_params(result: AuthResult) -> dict[str, str | int]:
    """What the sign-in messages need: seconds, the library's word for the credential, contact."""
    c = ctx()
    params: dict[str, str | int] = {"seconds": result.retry_after}
    kind = result.kind.value if result.kind else ""
    if result.institution and kind:
        profile = c.app.ports.profiles.get(result.institution)
        params["credential"] = profile.credential_label(kind, c.language)
    else:
        params["credential"] = i18n.credential_name(kind, c.language) if kind else ""
    params["contact"] = result.contact.get(c.language, "")
    return params


def refuse(refusal: Refused, **extra: str | int) -> NoReturn:
    c = ctx()
    items = [
        {"code": v.code, "message": i18n.render(v, c.language, **extra)} for v in refusal.violations
    ]
    if c.json:
        click.echo(
            json.dumps(
                {"error": refusal.code, "message": items[0]["message"], "violations": items},
                ensure_ascii=False,
            )
        )
    else:
        for item in items:
            click.echo(f"{item['code']}: {item['message']}", err=True)
    sys.exit(EXIT_REFUSED)


def command(func: Callable[P, R]) -> Callable[P, R]:
    """Adds --json and maps refusals and setup errors to their exit codes."""

    @click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        c = ctx()
        c.json = bool(kwargs.pop("as_json", False))
        try:
            return func(*args, **kwargs)
        except Refused as refusal:
            refuse(refusal)
        except (ConfigError, ProfileError, KeyringError) as error:
            click.echo(f"configuration: {error}", err=True)
            sys.exit(EXIT_USAGE)
        except OperationalError as error:
            reason = str(error.orig).splitlines()[0] if error.orig else "unreachable"
            click.echo(f"database unavailable: {reason}", err=True)
            sys.exit(EXIT_REFUSED)

    return wrapper


_LINE_LIMIT = HARD_MAX_LENGTH * 4 + 2


def read_secrets(count: int, prompts: list[str]) -> list[str]:
    """`count` secrets from stdin, one per line (prompted without echo on a terminal)."""
    if sys.stdin.isatty():
        import getpass

        return [getpass.getpass(prompt) for prompt in prompts[:count]]
    secrets = []
    for _ in range(count):
        raw = sys.stdin.buffer.readline(_LINE_LIMIT)
        if not raw:
            raise click.UsageError(f"expected {count} line(s) on standard input")
        if not raw.endswith(b"\n") and len(raw) >= _LINE_LIMIT:
            raise Refused.of("secret.too_long", max=HARD_MAX_LENGTH)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise Refused.of("secret.not_utf8") from None
        secrets.append(text.removesuffix("\n").removesuffix("\r"))
    return secrets


def parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter("write dates as YYYY-MM-DD", param_hint=option) from None


def run_guarded(main: Callable[[], Any]) -> NoReturn:
    """Run click in non-standalone mode so usage errors exit 2 and refusals 1."""
    try:
        result = main()
    except click.exceptions.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(EXIT_REFUSED)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    sys.exit(result if isinstance(result, int) else 0)

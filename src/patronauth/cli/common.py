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
from redis.exceptions import RedisError

from patronauth.bootstrap import App, ConfigError, KeyringError, Settings, build
from patronauth.domain.errors import (
    ProfileError,
    Refused,
    SchemaMissing,
    StorageUnavailable,
    Violation,
)
from patronauth.domain.policies import HARD_MAX_LENGTH
from patronauth.presentation import i18n
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
            try:
                self._app = build(self.settings)
            except OSError as error:
                raise ConfigError(str(error)) from None
        return self._app

    @property
    def staff(self) -> str:
        """The actor of staff commands: `staff:<PATRONAUTH_STAFF>`, or `os:<user>` when
        only the operating-system user is known (the trail says which it was)."""
        prefix = "os" if self.settings.staff_from_os else "staff"
        return f"{prefix}:{self.settings.staff}"

    def close(self) -> None:
        if self._app is not None:
            self._app.close()

    def message(self, code: str, **params: str | int) -> str:
        return i18n.message(code, self.language, **params)


REASON_HELP = (
    "Why (required). Recorded in the action's audit record with who ran the command: "
    "PATRONAUTH_STAFF, else the operating-system user (as os:<user>)."
)


def _reason(context: click.Context, param: click.Parameter, value: str | None) -> str:
    """Asked for at a terminal; anywhere else (a script, a pipe) its absence is an error."""
    if value is not None:
        return value
    if sys.stdin.isatty():
        return str(click.prompt("Reason (recorded in the audit trail with who ran this)", err=True))
    raise click.MissingParameter(ctx=context, param=param)


def reason_option(func: Callable[P, R]) -> Callable[P, R]:
    """`--reason`, required on every staff action of the command line."""
    return click.option("--reason", callback=_reason, help=REASON_HELP)(func)


def recorded_as() -> None:
    """Say, beside the result, whom the audit record names (an operator using a shared
    account learns that the operating-system user is what the trail keeps)."""
    c = ctx()
    if not c.json:
        click.echo(f"recorded as {c.staff}, with the reason given", err=True)


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
    return i18n.outcome_params(
        result.kind.value if result.kind else None,
        result.institution,
        result.retry_after,
        result.contact,
        c.app.ports.profiles.all(),
        c.language,
    )


_ECHO_LIMIT = 40


def render(violation: Violation, **extra: str | int) -> str:
    """The message of a violation in the invocation's language. The violation's values may
    repeat what was typed: a refusal must not replay terminal escapes, NUL bytes or
    megabytes of it. `extra` is the service's own text (a library's contact details)."""
    params: dict[str, str | int] = {
        name: i18n.printable(value, _ECHO_LIMIT) if isinstance(value, str) else value
        for name, value in violation.params.items()
    }
    return i18n.message(violation.code, ctx().language, **{**params, **extra})


def refuse(refusal: Refused, **extra: str | int) -> NoReturn:
    c = ctx()
    items: list[dict[str, str]] = [
        {"code": v.code, "message": render(v, **extra)} | ({"field": v.field} if v.field else {})
        for v in refusal.violations
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

    @click.option(
        "--json",
        "as_json",
        is_flag=True,
        help='Print the result as JSON; a refusal as {"error", "message", "violations"}.',
    )
    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        c = ctx()
        c.json = bool(kwargs.pop("as_json", False))
        try:
            _check_parameters(kwargs)
            return func(*args, **kwargs)
        except Refused as refusal:
            refuse(refusal)
        except (ConfigError, ProfileError, KeyringError) as error:
            click.echo(f"configuration: {error}", err=True)
            sys.exit(EXIT_USAGE)
        except SchemaMissing:
            click.echo("database: no PatronAuth tables; run `patronauth init` first", err=True)
            sys.exit(EXIT_USAGE)
        except StorageUnavailable as error:
            # Nothing was written: the unit of work rolled back what it had begun.
            reason = error.detail or "unreachable"
            problem = c.message("service.database_unavailable")
            if c.json:
                body = {"error": "service.database_unavailable", "message": problem}
                click.echo(json.dumps({**body, "detail": reason}, ensure_ascii=False))
            else:
                click.echo(f"service.database_unavailable: {problem} ({reason})", err=True)
            sys.exit(EXIT_REFUSED)
        except RedisError as error:
            click.echo(f"attempt counter unavailable (Redis): {error}", err=True)
            sys.exit(EXIT_REFUSED)

    return wrapper


def _check_parameters(values: Mapping[str, object]) -> None:
    """What every command refuses before it starts work.

    An option given blank is a slip (an unset shell variable), not "the default"; text
    that was not UTF-8 reaches Python as lone surrogates; and `--institution`, wherever
    it is given, must name a library of this deployment.
    """
    for param in click.get_current_context().command.params:
        value = values.get(param.name or "")
        texts = [v for v in (value if isinstance(value, tuple) else (value,)) if isinstance(v, str)]
        if isinstance(param, click.Option) and any(not text.strip() for text in texts):
            raise click.BadParameter("must not be empty; leave the option out instead", param=param)
        if any("\ud800" <= ch <= "\udfff" for text in texts for ch in text):
            name = param.opts[0] if isinstance(param, click.Option) else param.human_readable_name
            raise Refused.of("argument.not_utf8", name=name)
    institution = values.get("institution")
    if isinstance(institution, str):
        ctx().app.ports.profiles.get(institution)


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

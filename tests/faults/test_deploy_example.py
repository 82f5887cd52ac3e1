"""The `deploy/` example holds together: its environment file is a valid configuration
naming every setting, its units start real CLI commands, its nginx front matches the
trusted proxies, and the two-node tests run with its settings."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click

import patronauth.adapters.config as config_module
from patronauth.adapters.config import Settings
from patronauth.cli.main import cli
from tests.nodes import DEPLOY, ENV_FILE, node_env, read_env_file

UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
NGINX = DEPLOY / "nginx" / "patronauth.conf"
SIP2_STREAM = DEPLOY / "nginx" / "sip2-stream.conf"
README = DEPLOY / "README.md"
NOT_IN_THE_FILE = {"PATRONAUTH_PEPPER"}  # a secret: the example keeps it in its own file


def test_the_environment_file_is_a_production_configuration() -> None:
    settings = Settings.from_env(read_env_file())
    assert settings.database_url.startswith("postgresql+psycopg://")
    assert settings.redis_url is not None
    assert settings.counter == "redis"
    assert settings.cookie_secure is True
    assert settings.trusted_proxies == frozenset({"127.0.0.1"})
    assert settings.argon2_memory_kib >= 19456  # OWASP's minimum for argon2id
    assert settings.pepper is None  # read from PATRONAUTH_PEPPER_FILE


def test_the_environment_file_names_every_setting() -> None:
    source = Path(config_module.__file__).parent.parent  # the patronauth package
    read = {
        name
        for path in source.rglob("*.py")
        for name in re.findall(r'"(PATRONAUTH_[A-Z0-9_]+)"', path.read_text(encoding="utf-8"))
    }
    text = ENV_FILE.read_text()
    assert read - NOT_IN_THE_FILE
    assert {name for name in read - NOT_IN_THE_FILE if name not in text} == set()


def _exec_starts() -> list[tuple[str, list[str]]]:
    starts = []
    for unit in UNITS:
        for line in unit.read_text().splitlines():
            if line.startswith("ExecStart="):
                starts.append((unit.name, shlex.split(line.removeprefix("ExecStart="))))
    return starts


def test_the_units_start_commands_the_cli_has() -> None:
    starts = _exec_starts()
    assert {unit for unit, _ in starts} == {u.name for u in UNITS}
    for unit, words in starts:
        assert words[0].endswith("/patronauth"), unit
        args = [w.replace("%i", "1") for w in words[1:]]
        context = cli.make_context("patronauth", list(args), resilient_parsing=False)
        name, command, rest = cli.resolve_command(context, args)
        assert command is not None, unit
        assert isinstance(command, click.Command)
        command.make_context(name or "", rest, parent=context)  # the options parse
    for unit in UNITS:
        assert "EnvironmentFile=/etc/patronauth/patronauth.env" in unit.read_text()
    node = next(u for u in UNITS if "@" in u.name).read_text()
    # nodes on one host never share the folder of their workers' metrics
    assert "Environment=PROMETHEUS_MULTIPROC_DIR=/run/patronauth-%i/metrics" in node


def test_nginx_reaches_the_nodes_from_a_trusted_address_and_names_the_client() -> None:
    conf = NGINX.read_text()
    settings = Settings.from_env(read_env_file())
    upstreams = re.findall(r"^\s*server (\S+):(\d+)", conf, flags=re.MULTILINE)
    assert len(upstreams) >= 2
    for host, _port in upstreams:
        assert host in settings.trusted_proxies  # nginx connects from loopback to loopback
    # nginx overwrites the header with the address it saw, never passing a client's own
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in conf
    node = next(u for u in UNITS if "@" in u.name).read_text()
    assert "--host 127.0.0.1" in node  # the nodes are reachable only through nginx
    # the nodes the README starts are the ones nginx sends to, for HTTP and for SIP2
    started = re.search(r"systemctl enable --now ((?:patronauth@\d+ ?)+)", README.read_text())
    assert started is not None
    numbers = re.findall(r"patronauth@(\d+)", started.group(1))
    http = re.search(r"--port (\d*)%i", node)
    sip2 = re.search(r"--sip2-port (\d*)%i", node)
    assert http is not None
    assert sip2 is not None
    assert {port for _, port in upstreams} == {http.group(1) + n for n in numbers}
    stream = re.findall(r"^\s*server 127.0.0.1:(\d+)", SIP2_STREAM.read_text(), re.MULTILINE)
    assert set(stream) == {sip2.group(1) + n for n in numbers}


def test_the_two_node_tests_change_only_locations_secrets_mail_and_hash_cost(
    tmp_path: Path,
) -> None:
    env, changed = node_env("postgresql+psycopg://t@127.0.0.1/t", "redis://127.0.0.1/0", tmp_path)
    example = read_env_file()
    assert {k: v for k, v in env.items() if k not in changed} == {
        k: v for k, v in example.items() if k not in changed
    }
    assert changed == {
        "PATRONAUTH_DATABASE_URL",
        "PATRONAUTH_REDIS_URL",
        "PATRONAUTH_VAR_DIR",
        "PATRONAUTH_PEPPER_FILE",
        "PATRONAUTH_PEPPER",
        "PATRONAUTH_OUTBOX_DIR",
        "PATRONAUTH_SMTP_URL",
        "PATRONAUTH_ARGON2_TIME_COST",
        "PATRONAUTH_ARGON2_MEMORY_KIB",
        "PATRONAUTH_STAFF",
        "PATRONAUTH_METRICS_TOKEN",
    }
    Settings.from_env(env)

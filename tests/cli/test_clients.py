"""`patronauth client ...` and `patronauth oidc rotate-key`: services as data. The
secret is printed once and stored only as a keyed digest; bad input is refused with
reason codes and nothing stored."""

from __future__ import annotations

import json
import stat
from pathlib import Path

from sqlalchemy import select

from patronauth.adapters.storage.engine import make_engine
from patronauth.adapters.storage.tables import sign_on_clients
from tests.cli.conftest import Cli

CATALOGUE = ("--name", "Discovery", "--protocol", "oidc", "--institution", "hkpl")


def _stored(cli: Cli) -> list[dict[str, object]]:
    engine = make_engine(cli.database_url)
    try:
        with engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(select(sign_on_clients))]
    finally:
        engine.dispose()


def test_add_prints_the_secret_once_and_stores_only_a_digest(cli_any: Cli) -> None:
    cli = cli_any
    run = cli.ok(
        "client", "add", "--reason", "at the counter",
        *CATALOGUE, "--redirect-uri", "https://discovery.example.org/cb",
        "--logout-uri", "https://discovery.example.org/logout", "--trusted", "--json",
        shows_secret=True,
    )  # fmt: skip
    added = run.json()
    secret = added["client_secret"]
    assert len(secret) >= 20
    assert added["protocol"] == "oidc"
    assert added["trusted"]
    assert not added["public"]
    [row] = _stored(cli)
    assert row["client_id"] == added["client_id"]
    assert secret not in json.dumps(row, default=str)
    assert str(row["secret_digest"]).startswith("hk:")
    listed = cli.ok("client", "list", "--json")
    assert secret not in listed.out
    assert listed.json()["clients"][0]["redirect_uris"] == ["https://discovery.example.org/cb"]
    rotated = cli.ok(
        "client",
        "rotate-secret",
        "--reason",
        "at the counter",
        added["client_id"],
        "--json",
        shows_secret=True,
    )
    assert rotated.json()["client_secret"] != secret
    [after] = _stored(cli)
    assert after["secret_digest"] != row["secret_digest"]
    cli.ok("client", "disable", "--reason", "at the counter", added["client_id"])
    assert cli.refused(
        "client", "disable", "--reason", "at the counter", added["client_id"]
    ).reasons == ["client.already_disabled"]
    assert not cli.ok("client", "list", "--json").json()["clients"][0]["enabled"]
    actions = [e["action"] for e in cli.audit()]
    assert {"client.add", "client.rotate_secret", "client.disable"} <= set(actions)


def test_public_and_cas_clients_have_no_secret(cli: Cli) -> None:
    public = cli.ok(
        "client", "add", "--reason", "at the counter",
        *CATALOGUE, "--redirect-uri", "http://127.0.0.1:9/cb", "--public",
        "--json",
    ).json()  # fmt: skip
    assert public["client_secret"] is None
    assert public["public"]
    cas = cli.ok(
        "client", "add", "--reason", "at the counter",
        "--name", "Primo", "--protocol", "cas", "--institution", "hku",
        "--redirect-uri", "https://primo.example.org/cas", "--json",
    ).json()  # fmt: skip
    assert cas["client_secret"] is None
    assert cli.refused(
        "client", "rotate-secret", "--reason", "at the counter", cas["client_id"]
    ).reasons == ["client.no_secret"]


def test_bad_input_is_refused_and_nothing_stored(cli: Cli) -> None:
    cases = [
        (("--redirect-uri", "http://discovery.example.org/cb"), "client.uri_invalid"),
        (("--redirect-uri", "https://discovery.example.org/cb#x"), "client.uri_invalid"),
        (("--redirect-uri", "/cb"), "client.uri_invalid"),
        ((), "client.redirect_uri_missing"),
    ]
    for extra, code in cases:
        assert cli.refused(
            "client", "add", "--reason", "at the counter", *CATALOGUE, *extra
        ).reasons == [code], extra
    proxy = ("--name", "EZproxy", "--protocol", "proxy", "--institution", "hkpl")
    assert cli.refused("client", "add", "--reason", "at the counter", *proxy).reasons == [
        "client.allow_from_missing"
    ]
    assert cli.refused(
        "client", "add", "--reason", "at the counter", *proxy, "--allow-from", "10.0.0.300"
    ).reasons == ["client.network_invalid"]
    assert cli.refused(
        "client", "add", "--reason", "at the counter",
        "--name", "<b>x</b>", "--protocol", "oidc", "--institution", "hkpl",
        "--redirect-uri", "https://a.example.org/cb",
    ).reasons == ["client.name_invalid"]  # fmt: skip
    assert cli.refused(
        "client", "add", "--reason", "at the counter",
        "--name", "X", "--protocol", "oidc", "--institution", "nowhere",
        "--redirect-uri", "https://a.example.org/cb",
    ).reasons == ["institution.unknown"]  # fmt: skip
    assert cli.refused(
        "client", "disable", "--reason", "at the counter", "no-such-client"
    ).reasons == ["client.not_found"]
    assert _stored(cli) == []


def test_init_creates_signing_keys_beside_the_pepper_and_rotation_keeps_the_old_key(
    cli: Cli, tmp_path: Path
) -> None:
    run = cli.ok("init", "--json").json()
    assert run["signing_keys_created"] is True
    keys = tmp_path / "var" / "oidc-keys.json"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600
    assert cli.ok("init", "--json").json()["signing_keys_created"] is False
    first = json.loads(keys.read_text())["keys"][0]["jwk"]["kid"]
    kid = cli.ok("oidc", "rotate-key", "--json").json()["kid"]
    stored = json.loads(keys.read_text())["keys"]
    assert [k["jwk"]["kid"] for k in stored] == [first, kid]
    assert stored[0]["until"] is not None
    assert stored[1]["until"] is None
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600

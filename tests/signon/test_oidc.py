"""The OpenID Connect endpoints in process, for what needs no browser: discovery,
JWKS, and the refusals of the token, userinfo and authorize endpoints (unknown
clients, wrong secrets, oversized or malformed requests, unregistered redirect URIs);
and the sign-in page resumes only this site's sign-on endpoints (no open redirect)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from patronauth.asgi import create
from patronauth.bootstrap import App, ensure_signing_keys
from patronauth.domain.credentials import Channel, CredentialKind
from patronauth.domain.identifiers import lockout_key
from patronauth.domain.signon import SignOnProtocol
from patronauth.services.credentials import ChangeRequest, change_secret
from patronauth.services.signon import add_client, disable_client, save_tokens
from tests.support import STAFF, clock_of, register

pytestmark = pytest.mark.anyio
REDIRECT = "https://discovery.example.org/cb"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def client_ids(app: App) -> tuple[str, str]:
    assert ensure_signing_keys(app.settings)
    added = add_client(
        app.ports,
        name="Discovery",
        protocol=SignOnProtocol.OIDC,
        institution="hkpl",
        redirect_uri=(REDIRECT,),
        trusted=True,
        staff=STAFF,
    )
    assert added.secret is not None
    return added.client.client_id, added.secret


@pytest.fixture
async def http(app: App) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create(app))
    async with httpx.AsyncClient(transport=transport, base_url="http://library.test") as c:
        yield c


async def test_discovery_and_jwks(app: App, http: httpx.AsyncClient, client_ids: object) -> None:
    config = (await http.get("/.well-known/openid-configuration")).json()
    issuer = app.settings.public_url + "/oidc"
    assert config["issuer"] == issuer
    assert config["token_endpoint"] == f"{issuer}/token"
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert config["subject_types_supported"] == ["pairwise"]
    assert "library" in config["scopes_supported"]
    keys = (await http.get("/oidc/jwks")).json()["keys"]
    assert [k["kty"] for k in keys] == ["RSA"]
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(keys[0]), "private parts published"


async def test_token_endpoint_refusals(
    http: httpx.AsyncClient, client_ids: tuple[str, str]
) -> None:
    client_id, secret = client_ids
    form = {"grant_type": "authorization_code", "code": "x" * 40, "redirect_uri": REDIRECT}
    unknown = await http.post("/oidc/token", data=form, auth=("nosuchclient0000", "x"))
    assert unknown.status_code == 401
    assert unknown.json()["error"] == "invalid_client"
    wrong = await http.post("/oidc/token", data=form, auth=(client_id, "not-the-secret"))
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    no_code = await http.post("/oidc/token", data=form, auth=(client_id, secret))
    assert no_code.status_code == 400
    assert no_code.json()["error"] == "invalid_grant"
    # A confidential client cannot pass itself off as public.
    public = await http.post("/oidc/token", data={**form, "client_id": client_id})
    assert public.status_code in {400, 401}
    assert public.json()["error"] == "invalid_client"
    big = await http.post(
        "/oidc/token",
        content=b"code=" + b"x" * 20000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert big.status_code == 413
    assert (await http.post("/oidc/token", json=form)).status_code == 415
    for answer in (unknown, wrong, no_code):
        assert "access_token" not in answer.text
        assert secret not in answer.text


async def test_userinfo_needs_a_live_access_token(http: httpx.AsyncClient) -> None:
    for headers in ({}, {"authorization": "Bearer nope"}, {"authorization": "Basic x"}):
        answer = await http.get("/oidc/userinfo", headers=headers)
        assert answer.status_code == 401
        assert answer.json() == {"error": "invalid_token"}


async def test_authorize_refusals(http: httpx.AsyncClient, client_ids: tuple[str, str]) -> None:
    client_id, _ = client_ids
    base = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT,
        "scope": "openid",
        "state": "s1",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        "code_challenge_method": "S256",
    }
    elsewhere = await http.get("/oidc/authorize", params={**base, "redirect_uri": REDIRECT + "x"})
    assert elsewhere.status_code == 400
    assert "location" not in elsewhere.headers
    assert "not registered" in elsewhere.text
    unknown = await http.get("/oidc/authorize", params={**base, "client_id": "nosuchclient0000"})
    assert unknown.status_code == 400
    assert "location" not in unknown.headers
    twice = await http.get(f"/oidc/authorize?client_id={client_id}&client_id={client_id}")
    assert twice.status_code == 400
    assert "location" not in twice.headers
    assert (
        await http.get("/oidc/authorize", params={**base, "nonce": "n" * 5000})
    ).status_code == 414
    # Errors the service may hear about go back to its registered redirect URI.
    silent = await http.get("/oidc/authorize", params={**base, "prompt": "none"})
    assert silent.status_code == 302
    sent = parse_qs(urlsplit(silent.headers["location"]).query)
    assert sent == {"error": ["login_required"], "state": ["s1"]}
    plain = await http.get("/oidc/authorize", params={**base, "code_challenge_method": "plain"})
    assert plain.status_code == 302
    assert parse_qs(urlsplit(plain.headers["location"]).query)["error"] == ["invalid_request"]
    # Nobody signed in: to the library's sign-in page, to come back here afterwards.
    answer = await http.get("/oidc/authorize", params=base)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/hkpl/sign-in?next=%2Foidc%2Fauthorize%3F")


@pytest.mark.parametrize(
    "target",
    ["https://evil.example.org/", "//evil.example.org/x", "/hkpl/account", "/oidc/token?x=1"],
)
async def test_the_sign_in_page_resumes_only_sign_on_endpoints(
    http: httpx.AsyncClient, target: str
) -> None:
    page = await http.get("/hkpl/sign-in", params={"next": target})
    assert page.status_code == 200
    assert f'name="next" value="{target}"' not in page.text
    kept = await http.get("/hkpl/sign-in", params={"next": "/oidc/authorize?client_id=a"})
    assert 'name="next" value="/oidc/authorize?client_id=a"' in kept.text


async def test_tokens_end_when_the_patron_changes_a_secret_or_the_service_is_disabled(
    app: App, http: httpx.AsyncClient, client_ids: tuple[str, str]
) -> None:
    register(app, "hkpl", "HKPL0001", name="Chan Tai Man", phone="9123 4567")
    with app.ports.uow() as uow:
        [(patron, _)] = uow.patrons.find(lockout_key("HKPL0001"))
        client = uow.sign_on.client(client_ids[0])
    assert client is not None
    first, second = "a" * 43, "b" * 43
    for token in (first, second):
        save_tokens(
            app.ports, client.client, patron.id, "openid library",
            access=token, refresh=None, expires_in=3600, code_id=None, session_id=None,
        )  # fmt: skip
    bearer = {"authorization": f"Bearer {first}"}
    info = await http.get("/oidc/userinfo", headers=bearer)
    assert info.status_code == 200
    assert info.json()["library"]["status"] == "active"
    clock_of(app).advance(5)
    chosen = "Lantern-2026-Ok!"
    change_secret(
        app.ports,
        ChangeRequest("HKPL0001", "4567", chosen, chosen, Channel.WEB, CredentialKind.PASSWORD),
    )
    assert (await http.get("/oidc/userinfo", headers=bearer)).status_code == 401
    clock_of(app).advance(5)
    third = "c" * 43
    save_tokens(
        app.ports, client.client, patron.id, "openid",
        access=third, refresh=None, expires_in=3600, code_id=None, session_id=None,
    )  # fmt: skip
    assert (
        await http.get("/oidc/userinfo", headers={"authorization": f"Bearer {third}"})
    ).status_code == 200
    disable_client(app.ports, client_ids[0], staff=STAFF)
    assert (
        await http.get("/oidc/userinfo", headers={"authorization": f"Bearer {third}"})
    ).status_code == 401

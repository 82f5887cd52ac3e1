"""OpenID Connect against a real `patronauth serve`: a relying party written here with
PyJWT and httpx (not the provider's library) completes the code flow with PKCE in
Chromium, validates the ID token (signature, iss, aud, nonce, expiry) and reads
userinfo; after a key rotation old and new tokens still validate. Bad input gets
OAuth errors or an error page, and nothing is issued."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import jwt
import pytest

from tests.e2e.conftest import Server, free_port, shot

PORT = free_port()
REDIRECT = f"http://127.0.0.1:{PORT}/callback"
CARD, PASSWORD = "HKPL0002", "Reading#2026"


@dataclass
class RelyingParty:
    """A relying party following OpenID Connect Core 1.0 by hand."""

    server: Server
    client_id: str
    secret: str | None
    issuer: str = ""
    config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.config = httpx.get(f"{self.server.url}/.well-known/openid-configuration").json()
        self.issuer = self.config["issuer"]

    def start(self, **extra: str) -> tuple[str, dict[str, str]]:
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
        state = {"state": secrets.token_urlsafe(16), "nonce": secrets.token_urlsafe(16)}
        query = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT,
            "scope": "openid profile email library",
            "code_challenge": challenge.decode().rstrip("="),
            "code_challenge_method": "S256",
            **state,
            **extra,
        }
        return f"{self.config['authorization_endpoint']}?{urlencode(query)}", {
            **state,
            "verifier": verifier,
        }

    def token(self, code: str, verifier: str | None) -> httpx.Response:
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
        if verifier is not None:
            form["code_verifier"] = verifier
        auth = (self.client_id, self.secret) if self.secret else None
        if auth is None:
            form["client_id"] = self.client_id
        return httpx.post(self.config["token_endpoint"], data=form, auth=auth)

    def validate(self, id_token: str, nonce: str) -> dict[str, Any]:
        keys = jwt.PyJWKClient(self.config["jwks_uri"], cache_keys=False)
        key = keys.get_signing_key_from_jwt(id_token)
        claims: dict[str, Any] = jwt.decode(
            id_token,
            key.key,
            algorithms=["RS256"],
            audience=self.client_id,
            issuer=self.issuer,
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
        )
        assert claims["nonce"] == nonce
        return claims


def add_client(server: Server, *extra: str) -> tuple[str, str | None]:
    run = server.patronauth(
        "client", "add", "--reason", "set up", "--name", "Discovery", "--protocol", "oidc",
        "--institution", "hkpl",
        "--redirect-uri", REDIRECT, "--json", *extra,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    return data["client_id"], data["client_secret"]


class Callback:
    """The relying party's redirect URI: a real HTTP server on loopback that records
    where the browser arrived."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.hits: list[str] = []  # every path asked for, front-channel logouts too
        seen, hits = self.urls, self.hits

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                hits.append(self.path)
                if self.path.startswith("/callback"):
                    seen.append(f"http://127.0.0.1:{PORT}{self.path}")
                body = b"<p>back at the service</p>"
                self.send_response(200)
                self.send_header("content-type", "text/html")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                return None

        self.http = ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
        threading.Thread(target=self.http.serve_forever, daemon=True).start()

    def params(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(self.urls[-1]).query).items()}


@pytest.fixture(scope="module")
def callback() -> Iterator[Callback]:
    done = Callback()
    yield done
    done.http.shutdown()
    done.http.server_close()


def sign_in(page: Any) -> None:
    page.get_by_label("Library card number").fill(CARD)
    page.locator("#secret").fill(PASSWORD)
    page.locator("form.form button[type=submit]").click()


@pytest.fixture
def trusted(server: Server) -> RelyingParty:
    client_id, secret = add_client(server, "--trusted")
    return RelyingParty(server, client_id, secret)


def test_code_flow_with_pkce_id_token_userinfo_and_key_rotation(
    page: Any, server: Server, trusted: RelyingParty, callback: Callback
) -> None:
    rp = trusted
    back = callback
    url, expect = rp.start()
    page.goto(url)
    assert "/hkpl/sign-in" in page.url
    shot(page, "sign-on-01-sign-in")
    sign_in(page)
    page.wait_for_function("() => true")
    page.wait_for_url(f"{REDIRECT}*")
    got = back.params()
    assert got.get("state") == expect["state"], back.urls
    answer = rp.token(got["code"], expect["verifier"])
    assert answer.status_code == 200, answer.text
    tokens = answer.json()
    assert tokens["token_type"].lower() == "bearer"
    assert tokens["refresh_token"]
    claims = rp.validate(tokens["id_token"], expect["nonce"])
    assert claims["name"] == "Lee Siu Ming"
    assert claims["library"]["status"] == "active"
    info = httpx.get(
        rp.config["userinfo_endpoint"],
        headers={"authorization": f"Bearer {tokens['access_token']}"},
    ).json()
    assert info["sub"] == claims["sub"]
    assert info["email"] == "lee.siuming@example.org"
    assert info["library"] == {
        "institution": "hkpl",
        "category": "reader",
        "status": "active",
        "fines_over_threshold": False,
    }
    assert len(info["sub"]) == 64
    assert CARD.lower() not in info["sub"].lower()

    # Signed in to My Account: the next service sign-in asks for nothing.
    url, again = rp.start()
    page.goto(url)
    page.wait_for_url(f"{REDIRECT}*")
    second = rp.token(back.params()["code"], again["verifier"]).json()

    old_kid = jwt.get_unverified_header(second["id_token"])["kid"]
    rotated = server.patronauth("oidc", "rotate-key", "--json")
    assert rotated.returncode == 0, rotated.stderr
    new_kid = json.loads(rotated.stdout)["kid"]
    url, third = rp.start()
    page.goto(url)
    page.wait_for_url(f"{REDIRECT}*")
    newer = rp.token(back.params()["code"], third["verifier"]).json()
    assert jwt.get_unverified_header(newer["id_token"])["kid"] == new_kid != old_kid
    rp.validate(second["id_token"], again["nonce"])  # the old key is still published
    rp.validate(newer["id_token"], third["nonce"])

    # The refresh token is rotated on use; the old one no longer works.
    form = {"grant_type": "refresh_token", "refresh_token": newer["refresh_token"]}
    refreshed = httpx.post(rp.config["token_endpoint"], data=form, auth=(rp.client_id, rp.secret))
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["refresh_token"] != newer["refresh_token"]
    replay = httpx.post(rp.config["token_endpoint"], data=form, auth=(rp.client_id, rp.secret))
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"

    # prompt=login asks again.
    url, _ = rp.start(prompt="login")
    page.goto(url)
    assert "/hkpl/sign-in" in page.url

    page.goto("/hkpl/sign-in")
    sign_in(page)
    page.goto("/hkpl/account")
    assert "Discovery" in page.locator("#services-title + table").inner_text()


def test_bad_input_gets_errors_and_nothing_is_issued(
    page: Any, server: Server, trusted: RelyingParty, callback: Callback
) -> None:
    rp = trusted
    back = callback
    # A redirect URI not registered: an error page, no redirect.
    url, _ = rp.start(redirect_uri="http://127.0.0.1:18089/elsewhere")
    answer = httpx.get(url)
    assert answer.status_code == 400
    assert "location" not in answer.headers
    assert "not registered" in answer.text
    # An unknown client: an error page too.
    unknown = httpx.get(url.replace(rp.client_id, "nosuchclient0000"))
    assert unknown.status_code == 400
    assert "location" not in unknown.headers
    # Oversized parameters.
    big, _ = rp.start(state="x" * 5000)
    assert httpx.get(big).status_code == 414

    url, expect = rp.start()
    page.goto(url)
    sign_in(page)
    page.wait_for_url(f"{REDIRECT}*")
    code = back.params()["code"]
    # A wrong verifier, then the right one: the code was spent on the first try.
    wrong = rp.token(code, secrets.token_urlsafe(48))
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    assert rp.token(code, expect["verifier"]).json()["error"] == "invalid_grant"

    url, expect = rp.start()
    page.goto(url)
    page.wait_for_url(f"{REDIRECT}*")
    code = back.params()["code"]
    missing = rp.token(code, None)
    assert missing.status_code == 400
    assert missing.json()["error"] in {
        "invalid_request",
        "invalid_grant",
    }

    # A code used twice: refused, and the tokens issued from it are revoked.
    url, expect = rp.start()
    page.goto(url)
    page.wait_for_url(f"{REDIRECT}*")
    code = back.params()["code"]
    first = rp.token(code, expect["verifier"]).json()
    assert rp.token(code, expect["verifier"]).json()["error"] == "invalid_grant"
    userinfo = rp.config["userinfo_endpoint"]
    bearer = {"authorization": f"Bearer {first['access_token']}"}
    assert httpx.get(userinfo, headers=bearer).status_code == 401

    # alg=none and a tampered token are not accepted as the provider's.
    header, payload, signature = first["id_token"].split(".")
    none = base64.urlsafe_b64encode(b'{"alg":"none"}').decode().rstrip("=") + f".{payload}."
    forged = json.loads(base64.urlsafe_b64decode(payload + "=="))
    forged["sub"] = "someone-else"
    tampered = ".".join(
        [
            header,
            base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("="),
            signature,
        ]
    )
    for bad in (none, tampered):
        with pytest.raises(jwt.PyJWTError):
            rp.validate(bad, expect["nonce"])
        logout = httpx.get(f"{server.url}/oidc/logout", params={"id_token_hint": bad})
        assert logout.status_code == 400
    # The audit trail names the service and holds no code, token or secret.
    audit = server.patronauth("audit", "--json", "--limit", "10000")
    assert audit.returncode == 0, audit.stderr
    assert '"service": "Discovery"' in audit.stdout
    for value in (code, first["access_token"], first["refresh_token"], rp.secret, PASSWORD):
        assert value is not None
        assert value not in audit.stdout
    # A public client must use PKCE S256.
    public_id, _ = add_client(server, "--public", "--trusted")
    public = RelyingParty(server, public_id, None)
    url, _ = public.start(code_challenge_method="plain")
    page.goto(url)
    page.wait_for_url(f"{REDIRECT}*")
    assert back.params()["error"] == "invalid_request"
    # With S256 it signs in, and gets no refresh token (a public client keeps none).
    url, expect = public.start()
    page.goto(url)
    page.wait_for_url(f"{REDIRECT}*")
    tokens = public.token(back.params()["code"], expect["verifier"])
    assert tokens.status_code == 200, tokens.text
    assert "refresh_token" not in tokens.json()
    public.validate(tokens.json()["id_token"], expect["nonce"])


def test_consent_page_for_a_service_that_is_not_trusted(
    page: Any, server: Server, callback: Callback
) -> None:
    client_id, secret = add_client(server)
    rp = RelyingParty(server, client_id, secret)
    back = callback
    url, expect = rp.start()
    page.goto(url)
    if "/sign-in" in page.url:
        sign_in(page)
    page.wait_for_selector("text=asks to know who you are")
    shot(page, "sign-on-02-consent")
    assert "your e-mail address" in page.content()
    page.get_by_role("button", name="Continue", exact=True).click()
    page.wait_for_url(f"{REDIRECT}*")
    tokens = rp.token(back.params()["code"], expect["verifier"]).json()
    rp.validate(tokens["id_token"], expect["nonce"])


def test_a_cas_client_library_validates_a_ticket_and_reads_the_attributes(
    page: Any, server: Server, callback: Callback
) -> None:
    from cas import CASClient

    run = server.patronauth(
        "client", "add", "--reason", "set up", "--name", "Primo", "--protocol", "cas",
        "--institution", "hkpl",
        "--redirect-uri", REDIRECT,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    page.goto("/cas/login?" + urlencode({"service": REDIRECT}))
    if "/sign-in" in page.url:
        sign_in(page)
    page.wait_for_url(f"{REDIRECT}*")
    ticket = callback.params()["ticket"]
    assert ticket.startswith("ST-")
    client = CASClient(version=3, service_url=REDIRECT, server_url=f"{server.url}/cas/")
    user, attributes, _ = client.verify_ticket(ticket)
    assert user is not None
    assert len(user) == 64
    assert attributes["name"] == "Lee Siu Ming"
    assert (attributes["institution"], attributes["status"]) == ("hkpl", "active")
    assert client.verify_ticket(ticket)[0] is None  # a ticket works once

    page.goto("/cas/login?" + urlencode({"service": REDIRECT}))
    page.wait_for_url(f"{REDIRECT}*")
    other = CASClient(version=3, service_url=REDIRECT + "?x", server_url=f"{server.url}/cas/")
    assert other.verify_ticket(callback.params()["ticket"])[0] is None

    page.goto("/cas/logout")
    assert "You have signed out" in page.content()
    page.goto("/cas/login?" + urlencode({"service": REDIRECT}))
    assert "/hkpl/sign-in" in page.url


def test_a_default_password_goes_through_the_change_step_then_on_to_the_service(
    page: Any, server: Server, callback: Callback
) -> None:
    added = server.patronauth(
        "patron", "add", "--institution", "hkpl", "--barcode", "HKPL0777", "--name", "Ho Ka Yan",
        "--phone", "9000 7777",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    client_id, secret = add_client(
        server, "--trusted", "--logout-uri", f"http://127.0.0.1:{PORT}/fc"
    )
    rp = RelyingParty(server, client_id, secret)
    page.goto("/hkpl/sign-out")
    if page.locator("form.form button[type=submit]").count():
        page.locator("form.form button[type=submit]").click()
    url, expect = rp.start()
    page.goto(url)
    page.get_by_label("Library card number").fill("HKPL0777")
    page.locator("#secret").fill("7777")
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url("**/hkpl/change-required?next=*")
    shot(page, "sign-on-03-change-first")
    page.locator("#current").fill("7777")
    page.locator("#new").fill("Harbour-Lights-26")
    page.locator("#confirm").fill("Harbour-Lights-26")
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url(f"{REDIRECT}*")
    tokens = rp.token(callback.params()["code"], expect["verifier"]).json()
    claims = rp.validate(tokens["id_token"], expect["nonce"])
    assert claims["name"] == "Ho Ka Yan"

    # Signing out of My Account ends the sign-on: front-channel logout, tokens revoked.
    page.goto("/hkpl/sign-out")
    page.locator("form.form button[type=submit]").click()
    page.wait_for_selector("text=You have signed out")
    page.wait_for_timeout(500)
    assert any(hit.startswith("/fc?iss=") for hit in callback.hits), callback.hits
    bearer = {"authorization": f"Bearer {tokens['access_token']}"}
    assert httpx.get(rp.config["userinfo_endpoint"], headers=bearer).status_code == 401

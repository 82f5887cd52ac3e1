"""The sign-on figure: OpenID Connect authorization-code-flow completions per second
through the HTTP stack, against the hash limit measured in the same run.

`patronauth serve --workers N` on loopback (as for P1 through HTTP), one OpenID Connect
client registered by the `client add` use case (confidential, trusted: the library's
own discovery layer, so no consent page). Each completion is one patron in a new
browser (no cookies), as a relying party and its user would do it:

1. `GET /{library}/sign-in?next=/oidc/authorize?...` (PKCE S256, state, nonce): the
   sign-in page and its CSRF cookie, 200;
2. `POST /{library}/sign-in` with the card, the password, the CSRF token and `next`:
   the one sign-in (one argon2 verification), a web session, 200 with the page that
   continues to the authorize request it was given;
3. `GET /oidc/authorize?...` with the new session: 302 to the registered redirect URI
   with a code and the same `state`;
4. `POST /oidc/token` (client_secret_basic, the code, the PKCE verifier): 200 with an
   ID token, whose RS256 signature (against the JWKS), `iss`, `aud` and `nonce` the
   client checks.

Any other answer at any step makes the figure invalid (the run stops with the
answers counted), as the other figures do.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import html
import os
import re
import resource
import secrets
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from bench import apps, hashing
from bench.apps import PASSWORD, STAFF
from bench.http import Server
from bench.report import Figure
from patronauth.adapters.config import Settings
from patronauth.bootstrap import build, ensure_signing_keys
from patronauth.domain.signon import SignOnProtocol
from patronauth.services.signon import add_client

# Each completion costs one argon2 verification (the sign-in) plus four HTTP requests,
# a session, a code and two tokens stored, and an RS256 signature: 0.8 x the hash limit
# leaves a fifth of the cores for that work (P1 through HTTP, one request and no
# signature, is held to 0.9).
SIGNON_RATIO = 0.8
LIBRARY = "hkpl"
REDIRECT = "https://discovery.library.test/oidc/callback"
CSRF_FIELD = re.compile(r'name="csrftoken" value="([^"]*)"')
CONTINUE = re.compile(r'http-equiv="refresh" content="0;url=([^"]*)"')


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class Invalid(Exception):
    """An answer other than the one the flow expects at a step."""

    def __init__(self, step: str, status: int) -> None:
        super().__init__(f"{step} {status}")
        self.step = step
        self.status = status


@dataclass
class Relying:
    """What the relying party knows: its registration and the provider's keys."""

    base: str
    client_id: str
    secret: str
    issuer: str
    keys: KeySet


@dataclass
class SignOnRun:
    workers: int
    concurrency: int
    elapsed: float = 0.0
    completions: int = 0
    answers: Counter[str] = field(default_factory=Counter)  # "step status": count
    latencies: list[float] = field(default_factory=list)
    client_cpu_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.completions / self.elapsed if self.elapsed else 0.0

    @property
    def failed(self) -> dict[str, int]:
        return {k: v for k, v in self.answers.items() if k.startswith("INVALID")}

    def details(self) -> dict[str, Any]:
        ordered = sorted(self.latencies) or [0.0]
        cores = os.cpu_count() or 1
        return {
            "server_workers": self.workers,
            "client_concurrency": self.concurrency,
            "seconds": round(self.elapsed, 3),
            "completions": self.completions,
            "answers": dict(sorted(self.answers.items())),
            "completion_p50_ms": round(statistics.median(ordered) * 1000, 2),
            "completion_p99_ms": round(ordered[int(0.99 * (len(ordered) - 1))] * 1000, 2),
            "client_cpu_share_of_cores": round(self.client_cpu_seconds / (self.elapsed * cores), 3)
            if self.elapsed
            else None,
        }


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _expect(answers: Counter[str], step: str, response: httpx.Response, status: int) -> None:
    answers[f"{step} {response.status_code}"] += 1
    if response.status_code != status:
        raise Invalid(step, response.status_code)


class _NoJar(DefaultCookiePolicy):
    """The shared connection pool keeps no cookies: each completion carries its own."""

    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False


def _jar(browser: dict[str, str], response: httpx.Response) -> dict[str, str]:
    browser.update(response.cookies.items())
    return {"cookie": "; ".join(f"{k}={v}" for k, v in browser.items())} if browser else {}


def browsers(
    base: str, concurrency: int, transport: httpx.AsyncBaseTransport | None = None
) -> httpx.AsyncClient:
    """The connection pool the simulated browsers share; it keeps no cookies."""
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    jar = CookieJar(policy=_NoJar())  # not wrapped in httpx.Cookies: that copies the jar
    return httpx.AsyncClient(
        base_url=base, limits=limits, timeout=30, cookies=jar, transport=transport
    )


async def complete(
    client: httpx.AsyncClient, rp: Relying, barcode: str, answers: Counter[str]
) -> None:
    """One authorization code flow, start to ID token, by a browser without cookies."""
    verifier = _b64(secrets.token_bytes(32))
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    authorize = "/oidc/authorize?" + urlencode(
        {
            "response_type": "code",
            "client_id": rp.client_id,
            "redirect_uri": REDIRECT,
            "scope": "openid library",
            "state": state,
            "nonce": nonce,
            "code_challenge": _b64(hashlib.sha256(verifier.encode("ascii")).digest()),
            "code_challenge_method": "S256",
        }
    )
    browser: dict[str, str] = {}
    form = await client.get(f"/{LIBRARY}/sign-in", params={"next": authorize})
    _expect(answers, "sign-in page", form, 200)
    token = CSRF_FIELD.search(form.text)
    if token is None or f'name="next" value="{html.escape(authorize)}"' not in form.text:
        raise Invalid("sign-in page", form.status_code)
    signed = await client.post(
        f"/{LIBRARY}/sign-in",
        data={
            "csrftoken": html.unescape(token.group(1)),
            "next": authorize,
            "identifier": barcode,
            "secret": PASSWORD,
        },
        headers=_jar(browser, form),
    )
    _expect(answers, "sign-in", signed, 200)
    onward = CONTINUE.search(signed.text)
    if onward is None or html.unescape(onward.group(1)) != authorize:
        raise Invalid("sign-in", signed.status_code)
    redirected = await client.get(authorize, headers=_jar(browser, signed))
    _expect(answers, "authorize", redirected, 302)
    location = urlsplit(redirected.headers.get("location", ""))
    sent = parse_qs(location.query)
    if (
        f"{location.scheme}://{location.netloc}{location.path}" != REDIRECT
        or sent.get("state") != [state]
        or len(sent.get("code", [])) != 1
    ):
        raise Invalid("authorize", redirected.status_code)
    # The relying party's own back channel: no browser cookies.
    exchanged = await client.post(
        "/oidc/token",
        data={
            "grant_type": "authorization_code",
            "code": sent["code"][0],
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        auth=(rp.client_id, rp.secret),
    )
    _expect(answers, "token", exchanged, 200)
    try:
        claims = jwt.decode(exchanged.json()["id_token"], rp.keys, algorithms=["RS256"]).claims
    except (JoseError, KeyError, ValueError) as error:
        raise Invalid("id token", exchanged.status_code) from error
    if (
        claims.get("iss") != rp.issuer
        or claims.get("aud") != rp.client_id
        or claims.get("nonce") != nonce
        or not claims.get("sub")
        or int(claims.get("exp", 0)) <= time.time()
    ):
        raise Invalid("id token", exchanged.status_code)
    answers["id token ok"] += 1


async def _drive(
    rp: Relying, barcodes: list[str], *, concurrency: int, seconds: float, max_completions: int
) -> SignOnRun:
    run = SignOnRun(0, concurrency)
    issued = 0
    stop = time.perf_counter() + seconds
    client = browsers(rp.base, concurrency)

    async def one_user() -> None:
        nonlocal issued
        while time.perf_counter() < stop and issued < max_completions:
            issued += 1
            began = time.perf_counter()
            try:
                await complete(client, rp, barcodes[issued % len(barcodes)], run.answers)
            except Invalid as bad:
                run.answers[f"INVALID at {bad.step}: {bad.status}"] += 1
                continue
            except httpx.HTTPError as error:
                run.answers[f"INVALID: {type(error).__name__}"] += 1
                continue
            run.latencies.append(time.perf_counter() - began)
            run.completions += 1

    async with client:
        started = time.perf_counter()
        await asyncio.gather(*(one_user() for _ in range(concurrency)))
        run.elapsed = time.perf_counter() - started
    if len(client.cookies.jar):
        raise RuntimeError("sign-on: the shared client kept cookies; completions were not new")
    return run


def run_completions(
    rp: Relying, barcodes: list[str], *, workers: int, concurrency: int, seconds: float,
    max_completions: int,
) -> SignOnRun:  # fmt: skip
    """Warm up, then complete code flows for `seconds`; every step must answer as the
    flow expects, or the figure is invalid."""
    warm = asyncio.run(_drive(rp, barcodes, concurrency=2, seconds=1, max_completions=10))
    if warm.failed:
        raise RuntimeError(f"sign-on: the warm-up's code flows failed: {warm.failed}")
    before = resource.getrusage(resource.RUSAGE_SELF)
    run = asyncio.run(
        _drive(
            rp, barcodes, concurrency=concurrency, seconds=seconds, max_completions=max_completions
        )
    )
    after = resource.getrusage(resource.RUSAGE_SELF)
    run.workers = workers
    run.client_cpu_seconds = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if run.failed or not run.completions:
        raise RuntimeError(f"sign-on: INVALID, not every code flow completed: {dict(run.answers)}")
    return run


def signon_figure(
    label: str,
    database_url: str,
    var: Path,
    redis_url: str | None,
    *,
    limit: float,
    workers: int,
    seconds: float,
) -> Figure:
    env = apps.environment(database_url, var / f"{label}-signon", redis_url)
    # Plain HTTP on loopback: the cookies cannot be `Secure`.
    env["PATRONAUTH_COOKIE_SECURE"] = "false"
    setup = build(Settings.from_env(env))
    try:
        say(f"sign-on {label}: signing keys, the service and patrons")
        ensure_signing_keys(setup.settings)  # what `patronauth init` does
        added = add_client(  # what `patronauth client add` does
            setup.ports,
            name="Discovery layer (bench)",
            protocol=SignOnProtocol.OIDC,
            institution=LIBRARY,
            redirect_uri=(REDIRECT,),
            trusted=True,
            staff=STAFF,
        )
        barcodes = apps.patrons_with_passwords(setup, 64, workers)
        alone = hashing.alone_just_before(setup.ports.hasher, threads=workers)
    finally:
        setup.close()
    if added.secret is None:
        raise RuntimeError("sign-on: the confidential client got no secret")
    # One client address signs everybody in here: the per-source throttle is lifted.
    env |= {
        "PATRONAUTH_THROTTLE_PER_SOURCE": "1000000 per minute",
        "PATRONAUTH_THROTTLE_OVERALL": "1000000 per second",
    }
    server = Server(env, workers, var / f"{label}-signon-serve.log")
    try:
        server.wait_ready()
        config = httpx.get(f"{server.url}/.well-known/openid-configuration", timeout=10).json()
        published = httpx.get(f"{server.url}/oidc/jwks", timeout=10).json()
        rp = Relying(
            server.url,
            added.client.client_id,
            added.secret,
            config["issuer"],
            KeySet.import_key_set(published),
        )
        concurrency = 4 * workers
        say(
            f"sign-on {label}: {concurrency} users completing code flows against "
            f"{workers} workers for {seconds:.0f} s"
        )
        run = run_completions(
            rp, barcodes, workers=workers, concurrency=concurrency, seconds=seconds,
            max_completions=20_000,
        )  # fmt: skip
    finally:
        server.stop()
    ratio = run.rate / limit
    counter = "redis" if redis_url else "sql"
    return Figure(
        f"signon_oidc_{label}",
        f"sign-on: OIDC code flows completed ({label}, {counter} counter, {workers} workers)",
        run.rate,
        "flows/s",
        target=f">= {SIGNON_RATIO:.2f} x hash limit",
        ratio=ratio,
        ratio_means="completions / hash limit (higher is better)",
        met=ratio >= SIGNON_RATIO,
        method="`patronauth serve --workers N` on loopback; a trusted confidential client "
        "registered by the `client add` use case; each completion a new cookie jar: the "
        "sign-in page (200), the sign-in form posted with next=/oidc/authorize (PKCE S256, "
        "state, nonce; 200), the authorize request (302 with code and state), "
        "POST /oidc/token with the verifier (200), the ID token's signature, iss, aud, "
        "nonce and exp checked; any other answer makes the figure invalid. The "
        "asynchronous client runs in the bench process, on the same cores",
        details={**run.details(), **hashing.over_alone(run.rate, alone)},
    )

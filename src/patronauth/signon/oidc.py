"""The OpenID Connect provider at /oidc/, built on Authlib (its OAuth 2.0 grants, PKCE,
the OpenID Connect code flow and its JOSE library for the ID tokens).

Authorization code flow only, PKCE S256 (required of public clients), exact redirect
URIs, refresh tokens for confidential clients only and rotated on use. The patron
signs in through the web sign-in page (the one sign-in, a web session); a patron who
has a My Account session is not asked again unless `prompt=login`. Codes and tokens
are random values stored as SHA-256 digests (`services.signon`).
"""

from __future__ import annotations

import hashlib
import hmac
import time
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from authlib.oauth2 import AuthorizationServer, OAuth2Error, OAuth2Request
from authlib.oauth2.rfc6749 import ClientMixin, InvalidRequestError, grants
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from patronauth.bootstrap import App, keyring
from patronauth.domain.patrons import Patron
from patronauth.domain.sessions import Scope, Session
from patronauth.domain.signon import Client, SignOnProtocol, granted_scopes
from patronauth.services.interfaces import AuthorizationCode, IssuedToken, StoredClient
from patronauth.services.signon import (
    CODE_SECONDS,
    end_sign_on,
    find_client,
    get_client,
    issue_code,
    live_token,
    patron_of,
    redeem_code,
    revoke_token,
    save_tokens,
    secret_matches,
    user_claims,
)
from patronauth.signon.http import BadForm, read_form
from patronauth.signon.pages import Pages

MAX_QUERY_LENGTH = 4096
_CLIENTS_OF_REQUEST: ContextVar[dict[str, OidcClient | None] | None] = ContextVar(
    "oidc_clients_of_request", default=None
)
ALGORITHM = "RS256"
NO_STORE = {"cache-control": "no-store", "pragma": "no-cache"}


# --- Authlib's models over the domain's records ------------------------------------------


class OidcClient(ClientMixin):  # type: ignore[misc]
    def __init__(self, app: App, stored: StoredClient) -> None:
        self.app = app
        self.stored = stored  # as read for this request
        self.client = stored.client

    def get_client_id(self) -> str:
        return self.client.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None  # the redirect URI is always required and matched exactly

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(granted_scopes(scope or ""))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return self.client.allows_redirect(redirect_uri)

    def check_client_secret(self, client_secret: str) -> bool:
        return secret_matches(self.app.ports, self.stored, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.client.public:
            return method == "none"
        return method in {"client_secret_basic", "client_secret_post"}

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        if grant_type == "refresh_token":
            return not self.client.public
        return grant_type == "authorization_code"


@dataclass(frozen=True)
class Subject:
    """The signed-in patron of an authorization: who, from which session, since when."""

    patron: Patron
    client: Client
    session_id: int | None
    auth_time: datetime
    source: str = ""  # the browser's address, for the audit of an authorization


class Code:
    """AuthorizationCodeMixin over a stored code."""

    def __init__(self, stored: AuthorizationCode) -> None:
        self.stored = stored

    def get_redirect_uri(self) -> str:
        return self.stored.redirect_uri

    def get_scope(self) -> str:
        return self.stored.scope

    def get_nonce(self) -> str | None:
        return self.stored.nonce

    def get_auth_time(self) -> int:
        return int(self.stored.auth_time.timestamp())

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class Refresh:
    """TokenMixin over a stored refresh token."""

    def __init__(self, stored: IssuedToken) -> None:
        self.stored = stored

    def check_client(self, client: OidcClient) -> bool:
        return client.client.client_id == self.stored.client_id

    def get_scope(self) -> str:
        return self.stored.scope

    def get_expires_in(self) -> int:
        return 0

    def is_expired(self) -> bool:
        return False  # `live_token` found it unexpired

    def is_revoked(self) -> bool:
        return self.stored.revoked


class FormRequest(OAuth2Request):  # type: ignore[misc]
    def __init__(self, method: str, uri: str, fields: dict[str, str], headers: Any) -> None:
        super().__init__(method, uri, headers=headers)
        self.payload = BasicOAuth2Payload(fields)
        self._fields = fields

    @property
    def args(self) -> dict[str, str]:
        return self._fields

    @property
    def form(self) -> dict[str, str]:
        return self._fields


# --- the grants -------------------------------------------------------------------------


class Pkce(CodeChallenge):  # type: ignore[misc]
    """Only S256; and public clients must use it (the code alone proves nothing)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]  # noqa: RUF012 (Authlib's own attribute)

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        public = grant.request.client.client.public
        if (public or data.get("code_challenge")) and data.get("code_challenge_method") != "S256":
            raise InvalidRequestError(
                "PKCE with code_challenge_method=S256 is required",
                redirect_uri=redirect_uri,
                state=data.get("state"),
            )
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code: Code) -> str | None:
        return authorization_code.stored.code_challenge

    def get_authorization_code_challenge_method(self, authorization_code: Code) -> str | None:
        return authorization_code.stored.code_challenge_method


def _server(app: App, issuer: str) -> AuthorizationServer:
    ports = app.ports
    keys = ports.signing_keys
    seconds = app.settings.oidc_token_seconds

    class CodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
        TOKEN_ENDPOINT_AUTH_METHODS = [  # noqa: RUF012 (Authlib's own attribute)
            "client_secret_basic",
            "client_secret_post",
            "none",
        ]

        def save_authorization_code(self, code: str, request: Any) -> None:
            subject: Subject = request.user
            data = request.payload.data
            now = ports.clock.now()
            # The code and the sign-on it completes (audit, My Account) are one write.
            issue_code(
                ports,
                code,
                AuthorizationCode(
                    id=0,
                    client_id=request.client.client.client_id,
                    patron_id=subject.patron.id,
                    redirect_uri=data["redirect_uri"],
                    scope=request.client.get_allowed_scope(data.get("scope", "")),
                    nonce=data.get("nonce"),
                    code_challenge=data.get("code_challenge"),
                    code_challenge_method=data.get("code_challenge_method"),
                    session_id=subject.session_id,
                    auth_time=subject.auth_time,
                    expires_at=now + timedelta(seconds=CODE_SECONDS),
                    used_at=None,
                ),
                subject.client,
                subject.patron,
                source=subject.source,
            )

        def query_authorization_code(self, code: str, client: OidcClient) -> Code | None:
            found = redeem_code(ports, code, client.client.client_id)
            return Code(found) if found else None

        def delete_authorization_code(self, authorization_code: Code) -> None:
            return None  # used up when it was redeemed

        def authenticate_user(self, authorization_code: Code) -> Subject:
            stored = authorization_code.stored
            # The client this request authenticated, which the code was redeemed for.
            client = self.request.client.client
            assert client.client_id == stored.client_id
            return Subject(
                patron_of(ports, stored.patron_id), client, stored.session_id, stored.auth_time
            )

    class RefreshGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
        INCLUDE_NEW_REFRESH_TOKEN = True
        TOKEN_ENDPOINT_AUTH_METHODS = [  # noqa: RUF012 (Authlib's own attribute)
            "client_secret_basic",
            "client_secret_post",
        ]

        def authenticate_refresh_token(self, refresh_token: str) -> Refresh | None:
            found = live_token(ports, refresh_token, "refresh")
            return Refresh(found) if found else None

        def authenticate_user(self, refresh_token: Refresh) -> Subject:
            stored = refresh_token.stored
            client = get_client(ports, stored.client_id)
            assert client is not None  # it was just authenticated
            return Subject(
                patron_of(ports, stored.patron_id), client, stored.session_id, ports.clock.now()
            )

        def revoke_old_credential(self, refresh_token: Refresh) -> None:
            if not revoke_token(ports, refresh_token.stored):
                raise InvalidRequestError("refresh token used already")

    class IdToken(OpenIDCode):  # type: ignore[misc]
        def exists_nonce(self, nonce: str, request: Any) -> bool:
            return False  # the relying party checks the nonce it sent

        def resolve_client_private_key(self, client: OidcClient) -> object:
            assert keys is not None
            return keys.signing_key()

        def get_client_algorithm(self, client: OidcClient) -> str:
            return ALGORITHM

        def get_encode_header(self, client: OidcClient) -> dict[str, str]:
            assert keys is not None
            key: Any = keys.signing_key()
            return {"alg": ALGORITHM, "kid": str(key.kid), "typ": "JWT"}

        def get_client_claims(self, client: OidcClient) -> dict[str, object]:
            return {
                "iss": issuer,
                "aud": client.client.client_id,
                "exp": int(time.time()) + seconds,
            }

        def generate_user_info(self, user: Subject, scope: str) -> UserInfo:
            assert keys is not None
            return UserInfo(user_claims(ports, keys.pairwise_salt, user.client, user.patron, scope))

    class Server(AuthorizationServer):  # type: ignore[misc]
        def query_client(self, client_id: str) -> OidcClient | None:
            seen = _CLIENTS_OF_REQUEST.get()
            if seen is not None and client_id in seen:
                return seen[client_id]
            found = find_client(ports, client_id or "")
            client = None
            if found is not None and found.client.protocol is SignOnProtocol.OIDC:
                client = OidcClient(app, found)
            if seen is not None:
                seen[client_id] = client
            return client

        def save_token(self, token: dict[str, Any], request: Any) -> None:
            subject: Subject = request.user
            code = request.authorization_code
            refresh = request.refresh_token
            save_tokens(
                ports,
                request.client.client,
                subject.patron.id,
                token.get("scope", ""),
                access=token["access_token"],
                refresh=token.get("refresh_token"),
                expires_in=seconds,
                code_id=code.stored.id if code else (refresh.stored.code_id if refresh else None),
                session_id=subject.session_id,
            )

        def create_oauth2_request(self, request: Any) -> Any:
            return request  # built from the Starlette request by the endpoint

        def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
            return None

        def handle_response(self, status: int, body: Any, headers: Any) -> Response:
            if isinstance(body, dict):
                return JSONResponse(body, status_code=status, headers={**dict(headers), **NO_STORE})
            return Response(body, status_code=status, headers={**dict(headers), **NO_STORE})

    def generate(
        grant_type: str,
        client: OidcClient,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        token: dict[str, Any] = {
            "token_type": "Bearer",
            "access_token": ports.randomness.token() + ports.randomness.token(),
            "expires_in": seconds,
            "scope": scope or "",
        }
        if include_refresh_token and not client.client.public:
            token["refresh_token"] = ports.randomness.token() + ports.randomness.token()
        return token

    server = Server()
    server.register_token_generator("default", generate)
    server.register_grant(CodeGrant, [Pkce(required=True), IdToken(require_nonce=False)])
    server.register_grant(RefreshGrant)
    return server


# --- the endpoints ------------------------------------------------------------------------


def routes(app: App) -> list[BaseRoute]:
    issuer = app.settings.public_url + "/oidc"
    server = _server(app, issuer)
    pages = Pages(app)
    consent_key = keyring(app.settings).derive("oidc-consent")
    ports = app.ports

    def discovery(_: Request) -> JSONResponse:
        return JSONResponse(
            {
                "issuer": issuer,
                "authorization_endpoint": f"{issuer}/authorize",
                "token_endpoint": f"{issuer}/token",
                "userinfo_endpoint": f"{issuer}/userinfo",
                "jwks_uri": f"{issuer}/jwks",
                "end_session_endpoint": f"{issuer}/logout",
                "response_types_supported": ["code"],
                "grant_types_supported": ["authorization_code", "refresh_token"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": [ALGORITHM],
                "scopes_supported": ["openid", "profile", "email", "library"],
                "claims_supported": ["sub", "name", "email", "library", "nonce", "auth_time"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                    "none",
                ],
                "code_challenge_methods_supported": ["S256"],
                "prompt_values_supported": ["login", "consent"],
                "frontchannel_logout_supported": True,
            }
        )

    def jwks(_: Request) -> JSONResponse:
        if ports.signing_keys is None:
            return JSONResponse({"keys": []})
        keys = ports.signing_keys.published(ports.clock.now())
        return JSONResponse({"keys": keys}, headers={"cache-control": "max-age=300"})

    def _uri(request: Request) -> str:
        return app.settings.public_url + request.url.path

    def _error_page(request: Request, error: OAuth2Error | str, status: int = 400) -> Response:
        text = error if isinstance(error, str) else error.error
        return pages.error(request, "oidc.bad_request", status, error=text)

    def _signature(session: Session, query: str) -> str:
        message = f"{session.id}\0{query}".encode()
        return hmac.new(consent_key, message, hashlib.sha256).hexdigest()

    def authorize_sync(request: Request, fields: dict[str, str], consent: str | None) -> Response:
        # Authlib validates an authorization request twice (for the consent decision,
        # then for the answer): the client is read once per request.
        clients = _CLIENTS_OF_REQUEST.set({})
        try:
            return _authorize(request, fields, consent)
        finally:
            _CLIENTS_OF_REQUEST.reset(clients)

    def _authorize(request: Request, fields: dict[str, str], consent: str | None) -> Response:
        if ports.signing_keys is None:
            return pages.error(request, "oidc.not_set_up", 503)
        oauth = FormRequest("GET", _uri(request), fields, request.headers)
        try:
            grant = server.get_consent_grant(request=oauth, end_user=None)
        except OAuth2Error as error:
            if error.redirect_uri:
                return server.handle_error_response(oauth, error)  # type: ignore[no-any-return]
            if error.error == "invalid_client":
                return pages.error(request, "oidc.unknown_client", 400)
            if "redirect" in (error.description or "").lower():
                return pages.error(request, "oidc.redirect_uri_unregistered", 400)
            return _error_page(request, error)
        client: Client = grant.request.client.client
        query = urlencode(fields)
        resume = f"/oidc/authorize?{query}"
        session = pages.session(request)
        prompts = set(fields.get("prompt", "").split())
        if "none" in prompts and session is None:
            return server.handle_error_response(  # type: ignore[no-any-return]
                oauth,
                _login_required(fields),
            )
        if session is not None and "login" in prompts:
            pages.close_session(request)
            session = None
        if session is None:
            again = (
                {k: v for k, v in fields.items() if k != "prompt"} if "login" in prompts else fields
            )
            return pages.sign_in(client.institution, "/oidc/authorize?" + urlencode(again))
        patron = patron_of(ports, session.patron_id)
        if patron.institution != client.institution:
            pages.close_session(request)
            return pages.sign_in(client.institution, resume)
        if session.scope is Scope.CHANGE:
            return pages.change_first(client.institution, resume)
        if not client.trusted and consent != _signature(session, query):
            return pages.consent(
                request,
                client,
                patron,
                granted_scopes(fields.get("scope", "")),
                fields,
                _signature(session, query),
            )
        subject = Subject(patron, client, session.id, session.started_at, pages.source(request))
        answer = server.create_authorization_response(
            request=oauth, grant_user=subject, grant=grant
        )
        if consent is not None and answer.status_code == 302:
            # A form's redirect to another site would be held to the page's form-action.
            return pages.continue_to(request, answer.headers["location"])
        return answer  # type: ignore[no-any-return]

    async def authorize(request: Request) -> Response:
        if len(request.url.query) > MAX_QUERY_LENGTH:
            return _error_page(request, "request too large", 414)
        fields: dict[str, str] = {}
        for name, value in request.query_params.multi_items():
            if name in fields:
                return _error_page(request, f"{name} given twice")
            fields[name] = value
        consent = None
        if request.method == "POST":
            try:
                posted = await read_form(request)
            except BadForm as bad:
                return _error_page(request, bad.reason, bad.status)
            if posted.get("decision") != "allow":
                return await run_in_threadpool(_denied, request, fields)
            consent = posted.get("consent", "")
        return await run_in_threadpool(authorize_sync, request, fields, consent)

    def _denied(request: Request, fields: dict[str, str]) -> Response:
        oauth = FormRequest("GET", _uri(request), fields, request.headers)
        try:
            grant = server.get_consent_grant(request=oauth, end_user=None)
        except OAuth2Error as error:
            return _error_page(request, error)
        answer = server.create_authorization_response(request=oauth, grant_user=None, grant=grant)
        return pages.continue_to(request, answer.headers.get("location", "/"))

    async def token(request: Request) -> Response:
        try:
            fields = await read_form(request)
        except BadForm as bad:
            return JSONResponse(
                {"error": "invalid_request", "error_description": bad.reason},
                status_code=bad.status,
                headers=NO_STORE,
            )
        oauth = FormRequest("POST", _uri(request), fields, request.headers)
        answer: Response = await run_in_threadpool(server.create_token_response, oauth)
        return answer

    def userinfo_sync(request: Request) -> Response:
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        found = live_token(ports, value.strip(), "access") if scheme.lower() == "bearer" else None
        client = get_client(ports, found.client_id) if found else None
        if found is None or client is None or ports.signing_keys is None:
            return JSONResponse(
                {"error": "invalid_token"},
                status_code=401,
                headers={"www-authenticate": 'Bearer error="invalid_token"', **NO_STORE},
            )
        patron = patron_of(ports, found.patron_id)
        claims = user_claims(ports, ports.signing_keys.pairwise_salt, client, patron, found.scope)
        return JSONResponse(claims, headers=NO_STORE)

    async def userinfo(request: Request) -> Response:
        return await run_in_threadpool(userinfo_sync, request)

    def logout_sync(request: Request) -> Response:
        """RP-initiated logout: the sign-on session ends, the services it was used for
        are told through their front-channel logout URIs, then back to the service."""
        params = request.query_params
        target = None
        client = None
        hint = params.get("id_token_hint", "")
        if hint and ports.signing_keys is not None and len(hint) < 8192:
            published: Any = ports.signing_keys.published(ports.clock.now())
            keyset = KeySet.import_key_set({"keys": published})
            try:
                token = jwt.decode(hint, keyset, algorithms=[ALGORITHM])
                client = get_client(ports, str(token.claims.get("aud", "")))
            except (JoseError, ValueError):
                return _error_page(request, "invalid id_token_hint")
        if client is None and params.get("client_id"):
            client = get_client(ports, params.get("client_id", ""))
        wanted = params.get("post_logout_redirect_uri")
        if wanted and client is not None and client.allows_redirect(wanted):
            state = params.get("state")
            target = wanted + (
                ("&" if "?" in wanted else "?") + urlencode({"state": state}) if state else ""
            )
        session = pages.session(request)
        told: list[Client] = []
        if session is not None:
            told = end_sign_on(ports, session.id)
            pages.close_session(request)
        frames = [
            uri + ("&" if "?" in uri else "?") + urlencode({"iss": issuer})
            for c in told
            for uri in c.logout_uris
        ]
        return pages.signed_out(request, frames, target)

    async def logout(request: Request) -> Response:
        if len(request.url.query) > MAX_QUERY_LENGTH:
            return _error_page(request, "request too large", 414)
        return await run_in_threadpool(logout_sync, request)

    return [
        Route("/.well-known/openid-configuration", discovery, methods=["GET"]),
        Route("/oidc/.well-known/openid-configuration", discovery, methods=["GET"]),
        Route("/oidc/jwks", jwks, methods=["GET"]),
        Route("/oidc/authorize", authorize, methods=["GET", "POST"]),
        Route("/oidc/token", token, methods=["POST"]),
        Route("/oidc/userinfo", userinfo, methods=["GET", "POST"]),
        Route("/oidc/logout", logout, methods=["GET"]),
    ]


def _login_required(fields: dict[str, str]) -> OAuth2Error:
    from authlib.oidc.core.errors import LoginRequiredError

    error = LoginRequiredError(redirect_uri=fields.get("redirect_uri"))
    error.state = fields.get("state")
    return error

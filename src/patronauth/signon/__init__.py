"""Sign-on for the library's services (R19): the protocols other systems speak.

proxy.py    the e-resource proxy's external check (EZproxy `::External`)
oidc.py     the OpenID Connect provider at /oidc/ (Authlib)
cas.py      the CAS 3.0 server at /cas/
http.py     reading bounded form bodies, plain answers

Each module parses a request, calls the use cases of `services.signon` (and the one
sign-in through the web sign-in page), and renders the protocol's answer.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from patronauth.bootstrap import App
from patronauth.signon import cas, oidc, proxy


def routes(app: App) -> list[BaseRoute]:
    return [*proxy.routes(app), *oidc.routes(app), *cas.routes(app)]

"""The review server's guard: a per-run secret, a session cookie, CSRF tokens and strict response headers.

The secret lives only in this process and in the URL printed at start. A request with ``?token=SECRET``
gets an HttpOnly, SameSite=Strict cookie holding a value derived from the secret (never the secret
itself) and is redirected to the same address without the token, so it leaves neither the address bar
nor the history. Every other request needs that cookie; state-changing requests also carry a CSRF token
(another derived value) and, when the browser sends one, a same-origin ``Origin``.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from urllib.parse import urlencode

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "mastlens_review"
MAX_BODY_BYTES = 256 * 1024
SAFE_METHODS = ("GET", "HEAD")
# No inline script or style, no other origin, no plugins, no framing, forms post only here.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),  # no-referrer would make form posts send Origin: null
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"cross-origin-resource-policy", b"same-origin"),
]

access_log = logging.getLogger("mastlens.review.access")


class Secret:
    """The per-run secret and the values derived from it."""

    def __init__(self, value: str | None = None):
        self.value = value or secrets.token_urlsafe(32)
        self.session = self._derive("session")
        self.csrf = self._derive("csrf")

    def _derive(self, purpose: str) -> str:
        return hmac.new(self.value.encode(), purpose.encode(), hashlib.sha256).hexdigest()

    def check_token(self, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(candidate.encode(), self.value.encode())

    def check_session(self, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(candidate.encode(), self.session.encode())

    def check_csrf(self, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(str(candidate).encode(), self.csrf.encode())

    def url(self, host: str, port: int, path: str = "/") -> str:
        shown = f"[{host}]" if ":" in host else host
        return f"http://{shown}:{port}{path}?{urlencode({'token': self.value})}"


def forbidden(message: str) -> Response:
    return HTMLResponse(f"<!doctype html><title>403</title><h1>403 Forbidden</h1><p>{message}</p>", status_code=403)


class GuardMiddleware:
    """Refuse every request without the run's cookie (or token), add the security headers to every
    response, and log requests without their query string (the token never reaches a log)."""

    def __init__(self, app: ASGIApp, secret: Secret):
        self.app = app
        self.secret = secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 0}

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        try:
            response = self._refusal(Request(scope))
            if response is None:
                await self.app(scope, receive, send_with_headers)
            else:
                await response(scope, receive, send_with_headers)
        finally:
            access_log.info("%s %s %s %.1fms", scope["method"], scope["path"], status["code"],
                            1000 * (time.perf_counter() - started))

    def _refusal(self, request: Request) -> Response | None:
        """None when the request may go on; otherwise the response that refuses (or redirects) it."""
        token = request.query_params.get("token")
        if token is not None:
            if not self.secret.check_token(token) or request.method not in SAFE_METHODS:
                return forbidden("The token in this address is not this server's. Use the address "
                                 "<code>mastlens review</code> printed when it started.")
            rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
            target = URL(path=request.url.path, query=urlencode(rest))
            redirect = RedirectResponse(str(target), status_code=303)
            redirect.set_cookie(COOKIE, self.secret.session, httponly=True, samesite="strict", path="/")
            return redirect
        if not self.secret.check_session(request.cookies.get(COOKIE)):
            return forbidden("No valid session. Open the address <code>mastlens review</code> printed "
                             "(it carries this run's token).")
        if request.method not in SAFE_METHODS:
            origin = request.headers.get("origin")
            host = request.headers.get("host", "")
            if origin is not None and origin not in (f"http://{host}", f"https://{host}"):
                return forbidden("Cross-origin request refused.")
        return None

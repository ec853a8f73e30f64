"""Console sessions, CSRF tokens, the guard every console route uses, proxies we trust, and security headers.

A session is a row in staff.db (``StaffStore.open_session``); the signed cookie only
carries its random id, so logging out or a password reset ends every copy of the
cookie (security review M1). The cookie is ``Secure`` whenever the request came over
HTTPS, directly or through a trusted proxy's ``X-Forwarded-Proto``.

Staff accounts, passwords and the failed-login slow-down are not here: they live with
the other handoff pieces in bot/handoff/staff.py (``StaffStore``).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from bot import messages
from bot.handoff.staff import Staff

Handler = Callable[[Request], Awaitable[Response]]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def current_account(request: Request) -> Staff | None:
    """The logged-in account of this request (its server-side session checked once per request)."""
    if "account" not in request.state._state:
        session_id = request.session.get("sid")
        account = request.app.state.deps.staff.session_staff(session_id) if isinstance(session_id, str) else None
        request.state.account = account
    return request.state.account


def current_staff(request: Request) -> str | None:
    account = current_account(request)
    return account.username if account else None


def start_session(request: Request, username: str) -> None:
    """A fresh session for ``username``: nothing of the pre-login session is kept (no fixation)."""
    request.session.clear()
    request.session["sid"] = request.app.state.deps.staff.open_session(username)
    request.state.account = None
    request.state._state.pop("account", None)


def end_session(request: Request) -> None:
    session_id = request.session.get("sid")
    if isinstance(session_id, str):
        request.app.state.deps.staff.end_session(session_id)
    request.session.clear()


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


async def check_csrf(request: Request) -> dict[str, str]:
    """The posted form, after checking its CSRF token against the session (403 otherwise)."""
    form = await request.form()
    sent = str(form.get("csrf") or "")
    expected = request.session.get("csrf") or ""
    if not sent or not expected or not hmac.compare_digest(sent, expected):
        raise HTTPException(403, messages.CSRF_FAILED)
    return {k: str(v) for k, v in form.items()}


def staff_only(handler: Handler) -> Handler:
    """Anonymous GETs go to the login page; anything else is refused with 401."""

    async def guarded(request: Request) -> Response:
        if current_staff(request) is None:
            if request.method == "GET":
                return RedirectResponse("/console/login", status_code=303)
            raise HTTPException(401, messages.LOGIN_REQUIRED)
        return await handler(request)

    guarded.__name__ = handler.__name__
    guarded.__doc__ = handler.__doc__
    return guarded


def parse_networks(text: str) -> tuple[Network, ...]:
    """Comma-separated addresses or CIDR blocks (BOT_TRUSTED_PROXIES)."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in text.split(",") if part.strip())


def _trusted(address: str, networks: Iterable[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def forwarded_client(peer: str, forwarded_for: str | None, networks: tuple[Network, ...]) -> str:
    """The client's address: the peer, unless the peer is a trusted proxy; then the right-most
    ``X-Forwarded-For`` entry that is not itself a trusted proxy (entries to its left are the client's to write)."""
    if not networks or not _trusted(peer, networks) or not forwarded_for:
        return peer
    for hop in reversed([part.strip() for part in forwarded_for.split(",") if part.strip()]):
        if not _trusted(hop, networks):
            return hop
    return peer


class TrustedProxies:
    """ASGI middleware: client address and scheme from ``X-Forwarded-For``/``-Proto`` of trusted proxies only.

    Uvicorn runs with ``--no-proxy-headers``: its default believes any loopback client's header,
    which let one address pose as many and walk around the per-address login limit (review H3).
    """

    def __init__(self, app: Any, networks: tuple[Network, ...]) -> None:
        self.app, self.networks = app, networks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket") and self.networks and scope.get("client"):
            peer, port = scope["client"]
            if _trusted(peer, self.networks):
                headers = {
                    k.decode("latin-1"): v.decode("latin-1")
                    for k, v in scope["headers"]
                    if k in (b"x-forwarded-for", b"x-forwarded-proto")
                }
                scope = dict(
                    scope, client=(forwarded_client(peer, headers.get("x-forwarded-for"), self.networks), port)
                )
                proto = headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
                if proto in ("http", "https"):
                    scope["scheme"] = proto if scope["type"] == "http" else {"http": "ws", "https": "wss"}[proto]
        await self.app(scope, receive, send)


class Sessions:
    """Starlette's signed-cookie session, with ``Secure`` on every request that came over HTTPS
    (or always, with ``always_secure``)."""

    # app positional-only, as Starlette passes it: no option can be named app.
    def __init__(self, app: ASGIApp, /, always_secure: bool = False, **options: Any) -> None:
        self.secure = SessionMiddleware(app, https_only=True, **options)
        self.plain = self.secure if always_secure else SessionMiddleware(app, https_only=False, **options)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = self.secure if scope.get("scheme") in ("https", "wss") else self.plain
        await target(scope, receive, send)


# Every page: no framing (the chat page sets its own frame-ancestors for embedding sites),
# scripts and styles from our own origin only (no inline code), no MIME sniffing, no referrer abroad.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}


class SecurityHeaders:
    """ASGI middleware adding CSP, frame, nosniff and referrer headers to every response that lacks them."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.decode("latin-1").lower() for k, _ in headers}
                own_csp = "content-security-policy" in present
                for name, value in SECURITY_HEADERS.items():
                    if name not in present and not (name == "x-frame-options" and own_csp):
                        headers.append((name.encode(), value.encode()))
                if not own_csp:
                    headers.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)

"""Console sessions: who is logged in, CSRF tokens, and the guard every console route uses."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

Handler = Callable[[Request], Awaitable[Response]]


def current_staff(request: Request) -> str | None:
    return request.session.get("staff")


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
        raise HTTPException(403, "表單已過期或來源不明（CSRF 驗證失敗），請重新整理頁面後再試。")
    return {k: str(v) for k, v in form.items()}


def staff_only(handler: Handler) -> Handler:
    """Anonymous GETs go to the login page; anything else is refused with 401."""

    async def guarded(request: Request) -> Response:
        if current_staff(request) is None:
            if request.method == "GET":
                return RedirectResponse("/console/login", status_code=303)
            raise HTTPException(401, "請先登入。")
        return await handler(request)

    guarded.__name__ = handler.__name__
    guarded.__doc__ = handler.__doc__
    return guarded

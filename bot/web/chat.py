"""The web chat: the page at /chat, its history endpoint, and the embed script.

The page talks to Rasa's socket.io channel directly (``BOT_CHAT_SOCKET_URL``); the
web app only serves the page and reads past messages from Rasa's tracker, since
that API needs the token the browser must never see.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from bot import messages
from bot.categories import Channel
from bot.channels.web_format import history, valid_session_id
from bot.web.deps import STATIC, deps
from bot.web.security import CONTENT_SECURITY_POLICY


def frame_ancestors(origins: tuple[str, ...]) -> str:
    """CSP: which sites may show the chat in an iframe (the embed snippet)."""
    return "frame-ancestors 'self' " + " ".join(origins)


def chat_policy(origins: tuple[str, ...], socket_url: str) -> str:
    """The chat page's whole CSP: the console's (bot.web.security) plus Rasa's socket and the embedding sites."""
    socket = socket_url.rstrip("/")
    websocket = "ws" + socket[4:] if socket.startswith("http") else socket
    base = CONTENT_SECURITY_POLICY.replace("connect-src 'self'", f"connect-src 'self' {socket} {websocket}")
    return base.replace("frame-ancestors 'none'", frame_ancestors(origins))


async def page(request: Request) -> Response:
    settings = deps(request).settings
    # Not deps.render: the chat page has no console session, CSRF token or staff name.
    response = deps(request).templates.TemplateResponse(
        request,
        "chat/page.html",
        {"socket_url": settings.chat_socket_url, "embedded": request.query_params.get("embed") == "1"},
    )
    response.headers["Content-Security-Policy"] = chat_policy(settings.chat_allowed_origins, settings.chat_socket_url)
    return response


async def history_json(request: Request) -> Response:
    """GET /chat/history?session=<32 hex> → {"messages": [...]}; unknown sessions have none."""
    session = request.query_params.get("session", "")
    if not valid_session_id(session):
        raise HTTPException(400, messages.BAD_SESSION)
    events = await deps(request).rasa.events(session)
    if not from_web_chat(events):
        events = []  # a REST or LINE conversation is not the web chat's to show
    return JSONResponse({"session": session, "messages": history(events)}, headers={"Cache-Control": "no-store"})


def from_web_chat(events: list[dict]) -> bool:
    """True unless a user message of the conversation came in on another channel."""
    return all(e.get("input_channel") in (None, Channel.SOCKETIO.value) for e in events if e.get("event") == "user")


async def embed_js(request: Request) -> Response:
    """The snippet other sites include: a floating button that opens /chat in an iframe."""
    return FileResponse(
        STATIC / "chat" / "embed.js",
        media_type="application/javascript; charset=utf-8",
        headers={"Cache-Control": "public, max-age=300"},
    )

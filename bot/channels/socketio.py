"""Socket.IO channel for the web chat (`/chat` on the web app), registered in credentials.yml.

Rasa's ``SocketIOInput`` accepts every origin (``cors_allowed_origins=[]`` turns the
check off), takes any session id, passes empty or huge text to the NLU, and its
``send_custom_json`` crashes on our card payloads (it spreads the dict into
``emit``'s keyword arguments). This one:

- accepts browsers only from ``BOT_CHAT_ORIGINS`` (Engine.IO refuses others with 400);
- keeps a conversation per session id (``session_persistence``): a 32-hex id from the
  page's localStorage, or a new one; each socket joins its session's room, so replies,
  staff messages sent later through Rasa's ``output_channel=latest`` and every tab of
  the same session receive them;
- checks text with the shared input guard (a polite zh-TW reply, never the NLU);
- emits one ``bot_uttered`` event per bot message: ``text``, ``quick_replies``
  (Rasa's shape), ``custom`` (scheme cards), ``staff`` (who wrote a staff reply) and
  ``timestamp``.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncServer

from bot import messages
from bot.categories import Channel
from bot.channels.input_guard import check_text, metadata_problem
from bot.channels.rate_limit import RateLimiter
from bot.channels.web_format import bot_message, has_content, valid_session_id
from bot.settings import Settings

logger = logging.getLogger(__name__)


def session_id_from(data: Any) -> str | None:
    """The session id a client asked for, if it has our format (32 lower-case hex digits)."""
    value = data.get("session_id") if isinstance(data, dict) else None
    return value if valid_session_id(value) else None


def client_manager(settings: Settings) -> Any:
    """Redis pub/sub between Rasa servers (BOT_CHAT_REDIS_URL), or ``None`` for one server.

    An emit to a session's room then reaches the server that holds the browser's socket,
    whichever server the console's call landed on. The channel name carries the Redis key
    prefix, so two deployments sharing a Redis do not hear each other.
    """
    if not settings.chat_redis_url:
        return None
    from socketio import AsyncRedisManager

    options = {"password": settings.redis_password} if settings.redis_password else None
    return AsyncRedisManager(
        settings.chat_redis_url, channel=f"{settings.redis_key_prefix}_chat", redis_options=options
    )


class HotlineSocketIOOutput(OutputChannel):
    @classmethod
    def name(cls) -> str:
        return Channel.SOCKETIO.value

    def __init__(self, sio: AsyncServer, bot_message_evt: str) -> None:
        self.sio, self.bot_message_evt = sio, bot_message_evt

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        """Emit the whole message as one event to the session's room (every tab of it)."""
        payload = bot_message(message)
        if has_content(payload):
            await self.sio.emit(self.bot_message_evt, payload, room=recipient_id)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text, **kwargs})


class HotlineSocketIOInput(SocketIOInput):
    """Rasa's socket.io channel with origin checks, session ids and input checks."""

    def __init__(self, *args: Any, settings: Settings | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = settings or Settings.from_env(os.environ)
        self.allowed_origins = list(self.settings.chat_allowed_origins)
        self.max_message_chars = self.settings.max_message_chars
        self.limiter = RateLimiter.from_settings(Channel.SOCKETIO.value, self.settings)

    @classmethod
    def name(cls) -> str:
        return Channel.SOCKETIO.value

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> HotlineSocketIOInput:
        credentials = credentials or {}
        return cls(
            credentials.get("user_message_evt", "user_uttered"),
            credentials.get("bot_message_evt", "bot_uttered"),
            credentials.get("namespace"),
            bool(credentials.get("session_persistence", True)),
            credentials.get("socketio_path", "/socket.io"),
        )

    def get_output_channel(self) -> OutputChannel | None:
        return HotlineSocketIOOutput(self.sio, self.bot_message_evt) if self.sio else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> SocketBlueprint:
        # An empty list would switch the origin check off; "nothing allowed" must stay nothing.
        sio = AsyncServer(
            async_mode="sanic", cors_allowed_origins=self.allowed_origins, client_manager=client_manager(self.settings)
        )
        # Rasa's SocketIOInput types socketio_path Optional; its own SocketBlueprint takes a str.
        socketio_webhook = SocketBlueprint(sio, self.socketio_path, "socketio_webhook", __name__)  # type: ignore[arg-type]
        self.sio = sio
        output = HotlineSocketIOOutput(sio, self.bot_message_evt)

        @socketio_webhook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", **self.limiter.summary()})

        def address_of(sid: str) -> str | None:
            request = (sio.get_environ(sid, namespace=self.namespace) or {}).get("sanic.request")
            return str(getattr(request, "remote_addr", "") or getattr(request, "ip", "") or "") or None

        @sio.on("session_request", namespace=self.namespace)
        async def session_request(sid: str, data: Any) -> None:
            session_id = session_id_from(data) or uuid.uuid4().hex
            await sio.enter_room(sid, session_id, namespace=self.namespace)
            await sio.save_session(sid, {"session_id": session_id}, namespace=self.namespace)
            await sio.emit("session_confirm", session_id, room=sid, namespace=self.namespace)

        @sio.on(self.user_message_evt, namespace=self.namespace)
        async def handle_message(sid: str, data: Any) -> None:
            session = await sio.get_session(sid, namespace=self.namespace)
            session_id = session.get("session_id")
            if not session_id or session_id_from(data) != session_id:
                logger.info("socket.io message from %s without its confirmed session; ignored", sid)
                await sio.emit(
                    "session_invalid", {"reason": "session_request first"}, room=sid, namespace=self.namespace
                )
                return
            limited = await self.limiter.check(session_id, address_of(sid))
            if limited:  # a polite reply, without the NLU or the tracker
                await output.send_response(session_id, {"text": messages.RATE_LIMITED})
                return
            raw = data.get("message") if isinstance(data, dict) else None
            checked = check_text(raw if isinstance(raw, str) else "", self.max_message_chars)
            if checked.reply:
                await output.send_response(session_id, {"text": checked.reply})
                return
            metadata = data.get(self.metadata_key)
            metadata = metadata if isinstance(metadata, dict) else None
            problem = metadata_problem(metadata)
            if problem:  # a crafted client: the page itself sends no metadata
                await sio.emit(
                    "message_refused",
                    {"code": problem.code, "reason": problem.reason},
                    room=sid,
                    namespace=self.namespace,
                )
                return
            try:
                await on_new_message(
                    UserMessage(checked.text, output, session_id, input_channel=self.name(), metadata=metadata)
                )
            except Exception:  # noqa: BLE001 - the boundary: log without user text, answer politely
                logger.exception("socket.io message in session %s failed", session_id)
                await output.send_response(session_id, {"text": messages.TECHNICAL_PROBLEM})

        return socketio_webhook

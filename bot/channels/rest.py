"""REST channel at /webhooks/rest/webhook with strict input checks.

Rasa's RestInput answers 500 on a JSON list or a missing field and logs the user's
text on failure. This one keeps the same path and reply shape, answers bad requests
with 400 and a zh-TW reason, bad text with a polite reply, and never logs user text.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import messages
from bot.categories import Channel
from bot.channels.input_guard import check_text, metadata_problem
from bot.channels.rate_limit import RateLimiter
from bot.channels.replay import BadMessageId, earlier_replies, message_id_of
from bot.settings import Settings

logger = logging.getLogger(__name__)


class BadRequest(ValueError):
    def __init__(self, code: str, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.code, self.reason, self.status = code, reason, status


def json_object(body: bytes) -> dict[str, Any]:
    """The request body as a JSON object; raises ``BadRequest`` otherwise."""
    try:
        data = json.loads(body or b"")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest("invalid_json", messages.INVALID_JSON) from exc
    except RecursionError as exc:  # JSON nested thousands deep: a 400, not a 500 (security review L5)
        raise BadRequest("json_too_deep", messages.JSON_TOO_DEEP) from exc
    if not isinstance(data, dict):
        raise BadRequest("not_an_object", messages.NOT_AN_OBJECT)
    return data


def request_fields(data: dict[str, Any]) -> tuple[str, str, dict[str, Any] | None]:
    """(sender, message, metadata) of a parsed request; raises ``BadRequest``."""
    sender = data.get("sender")
    if not isinstance(sender, str) or not 0 < len(sender.strip()) <= 128:
        raise BadRequest("bad_sender", messages.BAD_SENDER)
    text = data.get("message", "")
    if not isinstance(text, str):
        raise BadRequest("bad_message", messages.BAD_MESSAGE)
    metadata = data.get("metadata")
    if metadata is not None and not isinstance(metadata, dict):
        raise BadRequest("bad_metadata", messages.BAD_METADATA)
    problem = metadata_problem(metadata)
    if problem:
        raise BadRequest(problem.code, problem.reason, problem.status)
    return sender.strip(), text, metadata


def conversation_id(sender: str, key: str = "") -> str:
    """The id a sender's conversation is stored under: the sender id itself, unless it is personal data.

    An SMS or IVR gateway may use the caller's phone number as the sender id; that id is a
    structural key of every tracker and ops row and is shown in /ops, so it is replaced by a
    keyed hash (``h-`` + 32 hex digits, key BOT_RASA_TOKEN) before anything stores it
    (security review M4). The REST reply still names the caller's own id.
    """
    from bot.privacy.masking import mask_text

    if mask_text(sender) == sender:
        return sender
    digest = hashlib.blake2b(sender.encode("utf-8"), key=key.encode("utf-8")[:64], digest_size=16)
    return "h-" + digest.hexdigest()


def client_address(request: Request) -> str:
    """The caller's address: Sanic's forwarded address (SANIC_PROXIES_COUNT behind nginx) or the peer's."""
    return str(getattr(request, "remote_addr", "") or request.ip or "-")


class HotlineRestInput(RestInput):
    """Rasa REST channel with our input checks (registered in credentials.yml)."""

    def __init__(self, max_message_chars: int | None = None) -> None:
        settings = Settings.from_env(os.environ)
        self.max_message_chars = max_message_chars or settings.max_message_chars
        self.limiter = RateLimiter.from_settings(Channel.REST.value, settings)
        self.hash_key = os.environ.get("BOT_RASA_TOKEN", "")

    @classmethod
    def name(cls) -> str:
        return Channel.REST.value

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> HotlineRestInput:
        return cls()

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok", **self.limiter.summary()})

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                data = json_object(request.body)
                sender, raw, metadata = request_fields(data)
                message_id = message_id_of(data)
            except BadRequest as exc:
                return response.json({"error": {"code": exc.code, "message": exc.reason}}, status=exc.status)
            except BadMessageId as exc:
                return response.json({"error": {"code": "bad_message_id", "message": exc.reason}}, status=400)
            caller, sender = sender, conversation_id(sender, self.hash_key)
            address = client_address(request)
            limited = await self.limiter.check(sender, address)
            if limited:
                return response.json(
                    [{"recipient_id": caller, "text": messages.RATE_LIMITED}],
                    status=429,
                    headers={"Retry-After": str(limited.retry_after)},
                )
            if message_id:
                try:
                    earlier = await earlier_replies(request.app.ctx.agent, sender, message_id)
                except Exception:  # noqa: BLE001 - tracker store unreachable: a retriable error, not a 500
                    logger.exception("looking up message %s of sender %s failed", message_id, sender)
                    return response.json([{"recipient_id": caller, "text": messages.TECHNICAL_PROBLEM}], status=503)
                if earlier is not None:
                    return response.json(_addressed(earlier, caller))
            checked = check_text(raw, self.max_message_chars)
            if checked.reply:
                return response.json([{"recipient_id": caller, "text": checked.reply}])
            collector = CollectingOutputChannel()
            try:
                await on_new_message(
                    UserMessage(
                        checked.text,
                        collector,
                        sender,
                        input_channel=self.name(),
                        metadata=metadata,
                        message_id=message_id,
                    )
                )
            except Exception:  # noqa: BLE001 - the boundary: log without user text, answer politely
                # Rasa stores the turn last, so replies collected before an error (a tracker store
                # that could not commit) may be of a turn nothing holds: answering them with 200 would
                # acknowledge a turn the conversation lost. A 503 says "try again"; a retry with the
                # same message_id gets the stored replies if the turn was stored after all.
                logger.exception("REST message from sender %s failed", sender)
                return response.json(
                    [{"recipient_id": caller, "text": messages.TECHNICAL_PROBLEM}],
                    status=503,
                    headers={"Retry-After": "1"},
                )
            return response.json(_addressed(collector.messages, caller))

        return webhook


def _addressed(replies: list[dict[str, Any]], caller: str) -> list[dict[str, Any]]:
    """Replies named with the caller's own sender id (the stored one may be a hash)."""
    return [{**reply, "recipient_id": caller} for reply in replies]

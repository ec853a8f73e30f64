"""LINE webhook deliveries: signature check and typed events. Pure functions.

LINE signs the raw body: ``X-Line-Signature`` is base64(HMAC-SHA256(channel secret,
body)). A missing signature is 401, a wrong one 403, and only a signed body is parsed
(400 when it is not the JSON LINE sends). The conversation is the chat: a user's
one-to-one chat has the user id, a group its group id, a multi-person chat its room
id; LINE's ids start with U, C and R, so a push can always address the conversation.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from dataclasses import dataclass
from enum import Enum
from typing import Any

from bot import messages

logger = logging.getLogger(__name__)

MEDIA_TYPES = frozenset({"image", "video", "audio", "file", "location", "sticker"})
_SOURCE_ID_KEYS = {"user": "userId", "group": "groupId", "room": "roomId"}


class Rejected(ValueError):
    """A delivery we refuse, with the HTTP status, a code and a zh-TW reason."""

    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.code, self.reason = status, code, reason


class Kind(Enum):
    TEXT = "text"
    POSTBACK = "postback"
    UNSEND = "unsend"  # the user took a message back: its text must go from every store
    MEDIA = "media"  # stickers, images, audio, video, files, locations: we read text only
    FOLLOW = "follow"
    UNFOLLOW = "unfollow"
    JOIN = "join"
    LEAVE = "leave"
    OTHER = "other"


_SIMPLE_KINDS = {
    "follow": Kind.FOLLOW,
    "unfollow": Kind.UNFOLLOW,
    "join": Kind.JOIN,
    "leave": Kind.LEAVE,
    "unsend": Kind.UNSEND,
}


@dataclass(frozen=True, slots=True)
class LineEvent:
    kind: Kind
    event_id: str
    conversation_id: str
    source_type: str  # user, group or room
    user_id: str | None
    reply_token: str | None = None
    text: str = ""  # the message text, or the postback data
    media: str = ""  # the message type of a MEDIA event
    mentions_bot: bool = False
    redelivery: bool = False
    timestamp: int = 0
    message_id: str = ""  # LINE's id of the message (text and media), or of the message an unsend takes back

    @property
    def one_to_one(self) -> bool:
        return self.source_type == "user"


def signature(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


# Postback data the bot creates carries a tag: ``<payload>|<16 hex of HMAC(channel secret)>``. Data
# without a valid tag was not made by this bot (a forged delivery cannot be signed, but a client can
# send any postback of an old or crafted message): it is ignored (security review, LINE findings).
POSTBACK_TAG = "|"
_TAG_HEX = 16


def postback_tag(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), b"postback\0" + payload.encode("utf-8"), hashlib.sha256).hexdigest()[:_TAG_HEX]


def sign_postback(secret: str, payload: str) -> str:
    return f"{payload}{POSTBACK_TAG}{postback_tag(secret, payload)}"


def verified_postback(secret: str, data: str) -> str | None:
    """The payload of postback data this bot made, or ``None``."""
    payload, sep, tag = data.rpartition(POSTBACK_TAG)
    if not sep or len(tag) != _TAG_HEX or not secret:
        return None
    return (
        payload if hmac.compare_digest(tag.encode("utf-8", "replace"), postback_tag(secret, payload).encode()) else None
    )


# Deliveries older than this are not answered: a captured signed body replayed later (after 10,000
# other ids or a restart) was handled again (review L8). LINE redelivers for a while; an hour covers it.
MAX_AGE_MS = 60 * 60 * 1000
MAX_SKEW_MS = 5 * 60 * 1000


def stale(timestamp_ms: int, now_ms: int) -> bool:
    return not now_ms - MAX_AGE_MS <= timestamp_ms <= now_ms + MAX_SKEW_MS


def verify(secret: str, header: str | None, body: bytes) -> None:
    """Raises:
    Rejected: 503 without a secret, 401 without a signature, 403 for a wrong one.
    """
    if not secret:
        raise Rejected(503, "line_not_configured", messages.LINE_NOT_CONFIGURED)
    if not header:
        raise Rejected(401, "missing_signature", messages.LINE_MISSING_SIGNATURE)
    if not hmac.compare_digest(signature(secret, body).encode(), header.strip().encode("utf-8", "replace")):
        raise Rejected(403, "bad_signature", messages.LINE_BAD_SIGNATURE)


def parse_delivery(body: bytes) -> list[LineEvent]:
    """The events of a signed delivery, in LINE's order; events we cannot read are skipped.

    Raises:
        Rejected: 400 when the body is not a JSON object with an ``events`` list.
    """
    try:
        data = json.loads(body or b"")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise Rejected(400, "invalid_json", messages.INVALID_JSON) from exc
    except RecursionError as exc:  # a signed body nested thousands deep: 400, not 500 (review L5)
        raise Rejected(400, "json_too_deep", messages.JSON_TOO_DEEP) from exc
    if not isinstance(data, dict) or not isinstance(data.get("events"), list):
        raise Rejected(400, "bad_delivery", messages.LINE_BAD_DELIVERY)
    events = []
    for raw in data["events"]:
        event = parse_event(raw) if isinstance(raw, dict) else None
        if event is None:
            logger.warning(
                "LINE event skipped: not one we can read (type %s)",
                raw.get("type") if isinstance(raw, dict) else type(raw).__name__,
            )
        else:
            events.append(event)
    return events


def _source(raw: dict[str, Any]) -> tuple[str, str, str | None] | None:
    source = raw.get("source")
    if not isinstance(source, dict):
        return None
    kind = source.get("type")
    key = _SOURCE_ID_KEYS.get(str(kind))
    conversation = source.get(key) if key else None
    if not isinstance(conversation, str) or not conversation:
        return None
    user = source.get("userId")
    return str(kind), conversation, user if isinstance(user, str) else None


def parse_event(raw: dict[str, Any]) -> LineEvent | None:
    """One webhook event object as a :class:`LineEvent`; ``None`` when it is not an event at all.

    ``source`` is optional in LINE's spec (e.g. for some channel events): such an event is
    read as ``OTHER`` with no conversation, not refused as unreadable; a source without its
    chat id is malformed and skipped.
    """
    if not isinstance(raw.get("type"), str):
        return None
    source = _source(raw)
    if source is None:
        if "source" in raw:  # a source without its chat id: malformed
            return None
        source = ("none", "", None)
    source_type, conversation, user = source
    kind, text, media, mentioned = _content(raw)
    if raw.get("mode") == "standby" or not conversation:  # another module answers, or no chat to answer in
        kind = Kind.OTHER
    reply_token = raw.get("replyToken")
    context = raw.get("deliveryContext")
    timestamp = found if isinstance(found := raw.get("timestamp"), int) else 0
    event_id = raw.get("webhookEventId")
    message = found if isinstance(found := raw.get("message"), dict) else {}
    if not isinstance(event_id, str) or not event_id:
        event_id = f"{raw.get('type')}:{conversation}:{timestamp}:{message.get('id', '')}"
    unsend = found if isinstance(found := raw.get("unsend"), dict) else {}
    message_id = unsend.get("messageId") if kind is Kind.UNSEND else message.get("id")
    return LineEvent(
        kind=kind,
        event_id=event_id,
        conversation_id=conversation,
        source_type=source_type,
        user_id=user,
        reply_token=reply_token if isinstance(reply_token, str) and reply_token else None,
        text=text,
        media=media,
        mentions_bot=mentioned,
        redelivery=bool(isinstance(context, dict) and context.get("isRedelivery")),
        timestamp=timestamp,
        message_id=message_id if isinstance(message_id, str) else "",
    )


def _content(raw: dict[str, Any]) -> tuple[Kind, str, str, bool]:
    """(kind, text, media type, mentions the bot) of an event."""
    kind = raw.get("type")
    if kind == "message":
        message = raw.get("message")
        if not isinstance(message, dict):
            return Kind.OTHER, "", "", False
        if message.get("type") == "text" and isinstance(message.get("text"), str):
            text, mentioned = _without_self_mention(message["text"], message.get("mention"))
            return Kind.TEXT, text, "", mentioned
        media = str(message.get("type", ""))
        return (Kind.MEDIA if media in MEDIA_TYPES else Kind.OTHER), "", media, False
    if kind == "postback":
        postback = raw.get("postback")
        data = postback.get("data") if isinstance(postback, dict) else None
        return (Kind.POSTBACK, data, "", False) if isinstance(data, str) else (Kind.OTHER, "", "", False)
    return _SIMPLE_KINDS.get(str(kind), Kind.OTHER), "", "", False


def _without_self_mention(text: str, mention: Any) -> tuple[str, bool]:
    """The text with the @-mentions of this bot removed, and whether there was one.

    Offsets are taken as UTF-16 code units, as LINE counts text (and as the apps'
    strings are); they differ from Python's only after an emoji outside the BMP.
    """
    mentionees = mention.get("mentionees") if isinstance(mention, dict) else None
    spans = sorted(
        (
            (m["index"], m["length"])
            for m in mentionees or []
            if isinstance(m, dict)
            and m.get("isSelf") is True
            and isinstance(m.get("index"), int)
            and isinstance(m.get("length"), int)
        ),
        reverse=True,
    )
    units = text.encode("utf-16-le", "surrogatepass")
    for index, length in spans:
        units = units[: 2 * index] + units[2 * (index + length) :]
    if not spans:
        return text, False
    return units.decode("utf-16-le", "replace").strip(), True

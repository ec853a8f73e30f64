"""Signed webhook deliveries as the LINE platform sends them, for the tests."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
import uuid
from typing import Any

from bot.channels.line_events import signature
from tests.line.fake_line import FakeLine


def event(
    fake: FakeLine,
    kind: str,
    chat: str,
    *,
    user: str | None = None,
    source: str = "user",
    expired: bool = False,
    event_id: str | None = None,
    redelivery: bool = False,
    reply: bool = True,
    **fields: Any,
) -> dict[str, Any]:
    """One webhook event object from ``chat`` (a user id, or a group/room id with ``source``)."""
    key = {"user": "userId", "group": "groupId", "room": "roomId"}[source]
    origin = {"type": source, key: chat}
    if source != "user" and user:
        origin["userId"] = user
    built = {
        "type": kind,
        "mode": "active",
        "timestamp": int(time.time() * 1000),
        "source": origin,
        "webhookEventId": event_id or uuid.uuid4().hex.upper()[:26],
        "deliveryContext": {"isRedelivery": redelivery},
        **SPEC_DETAILS.get(kind, {}),
        **fields,
    }
    if reply:
        built["replyToken"] = fake.reply_token(chat, expired=expired)
    return built


# What LINE's spec requires of each event type besides the common fields (line/line-openapi
# webhook.yml, commit 023cc24a: the `required` lists of FollowEvent, MemberJoinedEvent, …), with
# values shaped like the reference's examples.
SPEC_DETAILS: dict[str, dict[str, Any]] = {
    "follow": {"follow": {"isUnblocked": False}},
    "memberJoined": {"joined": {"members": [{"type": "user", "userId": "U" + "4" * 32}]}},
    "memberLeft": {"left": {"members": [{"type": "user", "userId": "U" + "4" * 32}]}},
    "videoPlayComplete": {"videoPlayComplete": {"trackingId": "track-id"}},
    "beacon": {"beacon": {"hwid": "d41d8cd98f", "type": "enter"}},
    "accountLink": {"link": {"result": "ok", "nonce": "xxxxxxxxxxxxxxx"}},
    "membership": {"membership": {"type": "joined", "membershipId": 3189}},
}
COMMON_REQUIRED = ("type", "timestamp", "mode", "webhookEventId", "deliveryContext")
EVENT_REQUIRED = {
    "message": ("message",),
    "unsend": ("unsend",),
    "follow": ("replyToken", "follow"),
    "unfollow": (),
    "join": ("replyToken",),
    "leave": (),
    "memberJoined": ("replyToken", "joined"),
    "memberLeft": ("left",),
    "postback": ("postback",),
    "videoPlayComplete": ("replyToken", "videoPlayComplete"),
    "beacon": ("replyToken", "beacon"),
    "accountLink": ("link",),
    "membership": ("replyToken", "membership"),
}
MESSAGE_REQUIRED = {
    "text": ("text", "quoteToken"),
    "image": ("contentProvider", "quoteToken"),
    "video": ("contentProvider", "quoteToken"),
    "audio": ("contentProvider",),
    "file": ("fileName", "fileSize"),
    "location": ("latitude", "longitude"),
    "sticker": ("packageId", "stickerId", "stickerResourceType", "quoteToken"),
}
REPLYABLE = {
    "message",
    "follow",
    "join",
    "memberJoined",
    "postback",
    "videoPlayComplete",
    "beacon",
    "accountLink",
    "membership",
}


def spec_problems(built: dict[str, Any]) -> list[str]:
    """Fields LINE's spec requires that ``built`` lacks."""
    missing = [f for f in (*COMMON_REQUIRED, *EVENT_REQUIRED.get(built.get("type"), ())) if f not in built]
    if "isRedelivery" not in (built.get("deliveryContext") or {}):
        missing.append("deliveryContext.isRedelivery")
    if built.get("type") == "message":
        message = built.get("message") or {}
        missing += [
            f"message.{f}" for f in ("id", "type", *MESSAGE_REQUIRED.get(message.get("type"), ())) if f not in message
        ]
    if built.get("type") == "follow" and "isUnblocked" not in (built.get("follow") or {}):
        missing.append("follow.isUnblocked")
    return missing


def text(fake: FakeLine, chat: str, words: str, *, mention_self: bool = False, **options: Any) -> dict[str, Any]:
    message: dict[str, Any] = {
        "id": uuid.uuid4().hex[:18],
        "type": "text",
        "text": words,
        "quoteToken": uuid.uuid4().hex,
    }
    if mention_self:
        message["text"] = "@智能客服 " + words
        message["mention"] = {"mentionees": [{"index": 0, "length": 5, "type": "user", "isSelf": True}]}
    return event(fake, "message", chat, message=message, **options)


def media(fake: FakeLine, chat: str, kind: str, **options: Any) -> dict[str, Any]:
    extra = {
        "sticker": {
            "packageId": "446",
            "stickerId": "1988",
            "stickerResourceType": "STATIC",
            "keywords": ["happy", "smile"],
        },
        "location": {"title": "公司", "address": "臺北市中正區", "latitude": 25.04, "longitude": 121.51},
        "file": {"fileName": "報價單.pdf", "fileSize": 2048},
    }.get(kind, {"contentProvider": {"type": "line"}})
    if kind in ("image", "video", "sticker"):
        extra["quoteToken"] = uuid.uuid4().hex
    if kind in ("video", "audio"):
        extra["duration"] = 60000
    return event(fake, "message", chat, message={"id": uuid.uuid4().hex[:18], "type": kind, **extra}, **options)


def postback(fake: FakeLine, chat: str, data: str, **options: Any) -> dict[str, Any]:
    return event(fake, "postback", chat, postback={"data": data}, **options)


def body_of(*events: dict[str, Any]) -> bytes:
    return json.dumps({"destination": "U" + "0" * 32, "events": list(events)}, ensure_ascii=False).encode()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", **headers}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def deliver(url: str, secret: str, *events: dict[str, Any]) -> tuple[int, Any]:
    """POST a delivery signed as LINE signs it."""
    body = body_of(*events)
    return post(url, body, {"X-Line-Signature": signature(secret, body)})

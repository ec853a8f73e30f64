"""A small REST client for the running bot, as a web page or LINE bridge would use it."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.loads(reply.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def say(base: str, sender: str, text: str) -> list[dict[str, Any]]:
    status, replies = post(
        f"{base}/webhooks/rest/webhook", json.dumps({"sender": sender, "message": text}, ensure_ascii=False).encode()
    )
    assert status == 200, replies
    return replies


def texts(replies: list[dict[str, Any]]) -> str:
    return "\n".join(r.get("text", "") for r in replies)


def button_payloads(replies: list[dict[str, Any]]) -> list[str]:
    return [b["payload"] for r in replies for b in r.get("buttons", [])]

"""JSON API for other systems: triage, and pick-up of staff replies for REST clients.

Bearer token from BOT_API_TOKEN; 401 without it. Errors are ``{"error": {"code", "message"}}``.
"""

from __future__ import annotations

import hmac
import json

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bot import messages
from bot.triage import MAX_TRIAGE_LINES, triage_results
from bot.web.deps import deps
from bot.web.rasa_client import HttpParser


def _authorise(request: Request) -> None:
    expected = deps(request).settings.api_token or ""
    sent = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    if not expected or not sent or not hmac.compare_digest(sent, expected):
        raise HTTPException(401, messages.API_TOKEN_REQUIRED)


async def api_triage(request: Request) -> Response:
    """POST {"text": "..."} or {"items": [{"id": ..., "text": "..."}]} → triage results."""
    _authorise(request)
    try:
        body = json.loads(await request.body() or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise HTTPException(400, messages.INVALID_JSON) from exc
    if isinstance(body, dict) and isinstance(body.get("text"), str):
        items = [{"id": body.get("id"), "text": body["text"]}]
    elif isinstance(body, dict) and isinstance(body.get("items"), list):
        items = body["items"]
    else:
        raise HTTPException(400, messages.TRIAGE_BODY)
    if not 1 <= len(items) <= MAX_TRIAGE_LINES:
        raise HTTPException(400, messages.triage_items(MAX_TRIAGE_LINES))
    if not all(
        isinstance(i, dict) and isinstance(i.get("text"), str) and 0 < len(i["text"].strip()) <= 5000 for i in items
    ):
        raise HTTPException(400, messages.TRIAGE_ITEM_TEXT)
    results = await triage_results(HttpParser(deps(request).rasa), deps(request).kb, [i["text"] for i in items])
    for item, result in zip(items, results):
        result["id"] = item.get("id")
    return JSONResponse({"results": results})


async def api_pickup(request: Request) -> Response:
    """Staff replies and bot messages waiting for a REST conversation; each is returned once."""
    _authorise(request)
    conversation_id = request.path_params["conversation_id"]
    if not 0 < len(conversation_id) <= 128:
        raise HTTPException(400, messages.BAD_CONVERSATION_ID)
    entries = deps(request).tickets.take_undelivered(conversation_id)
    return JSONResponse(
        {
            "messages": [
                {
                    "recipient_id": conversation_id,
                    "text": e.text,
                    "from": "staff" if e.author != "bot" else "bot",
                    "buttons": list(e.buttons),
                    "at": e.at,
                }
                for e in entries
            ]
        }
    )

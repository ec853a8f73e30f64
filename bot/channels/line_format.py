"""Rasa's bot messages as LINE message objects, within LINE's limits. Pure functions.

Buttons become quick replies when LINE can show them: on the last message of a
turn (LINE shows quick replies only there), at most 13, labels of at most 20
characters. Scheme choices, and buttons LINE could not show as quick replies,
become a Flex bubble (a card whose buttons stay tappable), with an alt text for
notifications and old clients. A button's payload travels as postback data, and its
title is shown in the chat as what the user "said". An answer followed by its
source footer (``bot.kb.answers.footer``) becomes one scheme card: the scheme's name
as the title, the answer, the source in small print, and a button that dials the
number to call (LINE links numbers in plain text, not in Flex text).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from bot import messages as texts
from bot.channels.line_api import MAX_MESSAGES, Message
from bot.kb.answers import SOURCE_LABEL

logger = logging.getLogger(__name__)

# LINE counts text in UTF-16 code units (an emoji is two) and action labels in characters.
TEXT_MAX = 5000
QUICK_REPLY_MAX = 13
QUICK_LABEL_MAX = 20
FLEX_LABEL_MAX = 20
ALT_TEXT_MAX = 400
POSTBACK_DATA_MAX = 300
_INTENT_PAYLOAD = re.compile(r"^/\w+(\{.*\})?$", re.DOTALL)
_TITLE = re.compile(r"^【([^】]{1,60})】")
_PHONE = re.compile(r"洽詢：.*?((?:\(0\d{1,2}\)|0\d{1,3})[\d-]{5,}\d)(?:\s*#\s*(\d+))?")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _cut(text: str, limit: int) -> int:
    """How many characters of ``text`` fit in ``limit`` UTF-16 code units."""
    used = 0
    for index, char in enumerate(text):
        used += 2 if ord(char) > 0xFFFF else 1
        if used > limit:
            return index
    return len(text)


def clip(text: str, limit: int) -> str:
    """``text`` shortened with "…" to at most ``limit`` UTF-16 code units."""
    return text if utf16_len(text) <= limit else text[: _cut(text, limit - 1)] + "…"


def is_scheme_choice(payload: str) -> bool:
    """A button payload that picks a scheme (``/intent{"scheme": …}``), shown as a card, not a quick reply."""
    match = _INTENT_PAYLOAD.match(payload)
    if not match or not match.group(1):
        return False
    try:
        entities = json.loads(match.group(1))
    except ValueError:
        return False
    return isinstance(entities, dict) and "scheme" in entities


def _action(title: str, payload: str, label_max: int) -> dict[str, Any]:
    label = clip(title, label_max)
    if len(payload) <= POSTBACK_DATA_MAX:
        return {"type": "postback", "label": label, "data": payload, "displayText": clip(title, 300)}
    return {"type": "message", "label": label, "text": clip(title, 300)}  # too long for postback data


def _buttons(message: dict[str, Any]) -> list[tuple[str, str]]:
    pairs = []
    for button in (message.get("buttons") or []) + (message.get("quick_replies") or []):
        if not isinstance(button, dict):
            continue
        title, payload = str(button.get("title") or "").strip(), str(button.get("payload") or "").strip()
        if title and payload:
            pairs.append((title, payload))
    return pairs


def text_messages(text: str) -> list[Message]:
    """One text message per 5,000 UTF-16 code units (LINE's limit)."""
    parts = []
    while text:
        cut = _cut(text, TEXT_MAX)
        parts.append({"type": "text", "text": text[:cut]})
        text = text[cut:]
    return parts


def quick_reply_message(text: str, buttons: list[tuple[str, str]]) -> Message:
    items = [{"type": "action", "action": _action(title, payload, QUICK_LABEL_MAX)} for title, payload in buttons]
    return {"type": "text", "text": clip(text, TEXT_MAX), "quickReply": {"items": items}}


def buttons_card(text: str, buttons: list[tuple[str, str]]) -> Message:
    """A Flex bubble: the text, then one button per choice; the alt text lists the choices."""
    footer = [
        {
            "type": "button",
            "style": "secondary",
            "height": "sm",
            "margin": "sm",
            "action": _action(title, payload, FLEX_LABEL_MAX),
        }
        for title, payload in buttons
    ]
    alt = clip(f"{text}\n" + "、".join(title for title, _ in buttons), ALT_TEXT_MAX)
    return {
        "type": "flex",
        "altText": alt,
        "contents": {
            "type": "bubble",
            "body": {
                "type": "box",
                "layout": "vertical",
                "contents": [{"type": "text", "text": clip(text, 2000), "wrap": True}],
            },
            "footer": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": footer},
        },
    }


def _phone_button(source: str) -> list[dict[str, Any]]:
    match = _PHONE.search(source)
    if not match:
        return []
    digits = re.sub(r"\D", "", match.group(1)) + (
        f",{match.group(2)}" if match.group(2) else ""
    )  # "," dials the extension
    return [
        {
            "type": "button",
            "style": "primary",
            "height": "sm",
            "margin": "md",
            "action": {"type": "uri", "label": clip(f"撥打 {match.group(1)}", FLEX_LABEL_MAX), "uri": f"tel:{digits}"},
        }
    ]


def scheme_card(answer: str, source: str) -> Message:
    """An answer and its source footer as one Flex bubble; the alt text keeps both."""
    title = _TITLE.match(answer)
    body_text = answer[title.end() :].strip() if title else answer
    bubble: dict[str, Any] = {"type": "bubble"}
    if title:
        bubble["header"] = {
            "type": "box",
            "layout": "vertical",
            "contents": [{"type": "text", "text": title.group(1), "weight": "bold", "size": "lg", "wrap": True}],
        }
    bubble["body"] = {
        "type": "box",
        "layout": "vertical",
        "contents": [{"type": "text", "text": clip(body_text or answer, 2000), "wrap": True}],
    }
    bubble["footer"] = {
        "type": "box",
        "layout": "vertical",
        "spacing": "sm",
        "contents": [
            {"type": "text", "text": clip(source, 2000), "size": "xs", "color": "#777777", "wrap": True},
            *_phone_button(source),
        ],
    }
    return {"type": "flex", "altText": clip(f"{answer}\n{source}", ALT_TEXT_MAX), "contents": bubble}


def _plain_rasa(message: Any) -> str | None:
    """The text of a Rasa message that is text only, else None."""
    if not isinstance(message, dict) or any(message.get(k) for k in ("buttons", "quick_replies", "image", "custom")):
        return None
    text = str(message.get("text") or "").strip()
    return text or None


def _fits_quick_reply(buttons: list[tuple[str, str]]) -> bool:
    return len(buttons) <= QUICK_REPLY_MAX and all(len(title) <= QUICK_LABEL_MAX for title, _ in buttons)


def convert(message: dict[str, Any], last: bool) -> list[Message]:
    """One Rasa bot message (as a CollectingOutputChannel holds it) as LINE messages."""
    text = str(message.get("text") or "").strip()
    buttons = _buttons(message)
    out: list[Message] = []
    if buttons:
        text = text or texts.LINE_CHOOSE
        if last and _fits_quick_reply(buttons) and not any(is_scheme_choice(p) for _, p in buttons):
            out.append(quick_reply_message(text, buttons))
        else:
            out.append(buttons_card(text, buttons))
    elif text:
        out.extend(text_messages(text))
    image = message.get("image")
    if isinstance(image, str) and image.startswith("https://"):
        out.append({"type": "image", "originalContentUrl": image, "previewImageUrl": image})
    out.extend(_custom(message.get("custom")))
    return out


def _custom(custom: Any) -> list[Message]:
    """A custom payload: ``{"line": <message or list>}`` passes through; ``{"text": …}`` becomes text."""
    if not isinstance(custom, dict):
        return []
    raw = custom.get("line")
    if raw is not None:
        items = raw if isinstance(raw, list) else [raw]
        return [item for item in items if isinstance(item, dict) and isinstance(item.get("type"), str)]
    if isinstance(custom.get("text"), str) and custom["text"].strip():
        return text_messages(custom["text"].strip())
    logger.info("custom payload without a LINE form skipped (keys: %s)", sorted(custom)[:5])
    return []


def to_line(bot_messages: list[dict[str, Any]]) -> list[Message]:
    """All the bot's messages for one turn, in order; quick replies only on the last one."""
    out: list[Message] = []
    index = 0
    while index < len(bot_messages):
        message = bot_messages[index]
        answer = _plain_rasa(message)
        source = _plain_rasa(bot_messages[index + 1]) if index + 1 < len(bot_messages) else None
        if answer and source and source.startswith(SOURCE_LABEL) and not answer.startswith(SOURCE_LABEL):
            out.append(scheme_card(answer, source))
            index += 2
            continue
        if isinstance(message, dict):
            out.extend(convert(message, last=index == len(bot_messages) - 1))
        index += 1
    return out


def _plain(message: Message) -> bool:
    return message.get("type") == "text" and "quickReply" not in message


def merge_texts(messages: list[Message], limit: int = MAX_MESSAGES) -> list[Message]:
    """Join neighbouring plain texts (blank line between) until at most ``limit`` remain, if they fit."""
    merged = [dict(m) for m in messages]
    index = 0
    while len(merged) > limit and index < len(merged) - 1:
        first, second = merged[index], merged[index + 1]
        if _plain(first) and _plain(second) and utf16_len(first["text"]) + 2 + utf16_len(second["text"]) <= TEXT_MAX:
            merged[index : index + 2] = [{"type": "text", "text": f"{first['text']}\n\n{second['text']}"}]
        else:
            index += 1
    return merged


def batches(messages: list[Message]) -> list[list[Message]]:
    """Messages in calls of at most five: the first for the reply, any others for pushes."""
    merged = merge_texts(messages)
    return [merged[i : i + MAX_MESSAGES] for i in range(0, len(merged), MAX_MESSAGES)]

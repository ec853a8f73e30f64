"""A fake LINE platform: the Messaging API endpoints the bot calls, with LINE's checks.

It runs on a free loopback port in a thread, records every call, and answers as LINE
does: 401 without the right bearer token, 400 with details for a message LINE would
refuse, 400 "Invalid reply token" for a token that is unknown, expired or used already,
409 for a push whose X-Line-Retry-Key was accepted before, and 202 with ``{}`` for the
loading animation. The limits are LINE's published ones (Messaging API reference,
"Message objects", "Action objects > Specifications of the label", "Flex Message"):

- at most five messages; text 1-5,000 characters; altText of Flex and template
  messages 1-1,500 characters;
- quick reply: 1-13 items, each an action with a label of 1-20 characters; Flex button
  labels 1-40; postback data 1-300, displayText 1-300; message-action text 1-300;
- labels and alt texts are counted in user-perceived characters (grapheme clusters,
  so an emoji with a skin tone is one), text in UTF-16 units as LINE's clients do;
- Flex: a bubble or a carousel of 1-12 bubbles; a bubble's blocks (header, hero, body,
  footer) are components; boxes have a layout and contents; component types are LINE's;
  a bubble's JSON is at most 30 KB and a carousel's at most 50 KB. Faults (429 with Retry-After, 5xx, "accepted but answered 500") are injected
per endpoint. Tests wait on a condition for the calls they expect; nothing sleeps.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

REPLY, PUSH, LOADING = "/v2/bot/message/reply", "/v2/bot/message/push", "/v2/bot/chat/loading/start"
CHAT_ID = re.compile(r"^[UCR][0-9a-f]{32}$")
USER_ID = re.compile(r"^U[0-9a-f]{32}$")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def graphemes(text: str) -> int:
    """User-perceived characters: 「👍🏽」 and 「é」 written as e + accent are one each."""
    import regex

    return len(regex.findall(r"\X", text))


FLEX_COMPONENTS = frozenset({"box", "button", "image", "video", "icon", "text", "span", "separator", "filler"})
FLEX_LAYOUTS = frozenset({"horizontal", "vertical", "baseline"})
BUBBLE_BLOCKS = ("header", "hero", "body", "footer")
MAX_BUBBLE_BYTES, MAX_CAROUSEL_BYTES, MAX_BUBBLES = 30 * 1024, 50 * 1024, 12


def json_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def new_id(prefix: str = "U") -> str:
    return prefix + uuid.uuid4().hex


@dataclass
class Call:
    path: str
    body: Any
    headers: dict[str, str]
    status: int
    accepted: bool  # LINE took the messages (they reach the user)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return list(self.body.get("messages") or []) if isinstance(self.body, dict) else []

    @property
    def to(self) -> str | None:
        return self.body.get("to") if isinstance(self.body, dict) else None


@dataclass
class Fault:
    status: int
    times: int = 1
    retry_after: str | None = None
    accept: bool = False  # process the call, then answer with the error (an ambiguous failure)
    message: str = "fault injected"


def _action_problems(action: Any, where: str, label_max: int = 20) -> list[tuple[str, str]]:
    if not isinstance(action, dict):
        return [(where, "must be an object")]
    problems = []
    label = action.get("label")
    if not isinstance(label, str) or not 0 < graphemes(label) <= label_max:
        problems.append((f"{where}.label", f"must be 1-{label_max} characters"))
    kind = action.get("type")
    if kind == "postback":
        data = action.get("data")
        if not isinstance(data, str) or not 0 < len(data) <= 300:
            problems.append((f"{where}.data", "must be 1-300 characters"))
        if "displayText" in action and not 0 < graphemes(str(action["displayText"])) <= 300:
            problems.append((f"{where}.displayText", "must be 1-300 characters"))
    elif kind == "message":
        if not isinstance(action.get("text"), str) or not 0 < graphemes(action["text"]) <= 300:
            problems.append((f"{where}.text", "must be 1-300 characters"))
    elif kind == "uri":
        if not re.match(r"^(https?://|tel:|line://)", str(action.get("uri", ""))) or len(action["uri"]) > 1000:
            problems.append((f"{where}.uri", "must be an http, https, tel or line URI of 1-1000 characters"))
    else:
        problems.append((f"{where}.type", "unsupported action"))
    return problems


def _component_problems(node: Any, where: str) -> list[tuple[str, str]]:
    """One Flex component (and what it contains) as LINE checks it."""
    if not isinstance(node, dict) or node.get("type") not in FLEX_COMPONENTS:
        return [(where, "must be a Flex component (box, button, image, video, icon, text, span, separator, filler)")]
    problems: list[tuple[str, str]] = []
    kind = node["type"]
    if kind == "box":
        if node.get("layout") not in FLEX_LAYOUTS:
            problems.append((f"{where}.layout", "must be horizontal, vertical or baseline"))
        contents = node.get("contents")
        if not isinstance(contents, list):
            problems.append((f"{where}.contents", "must be an array"))
        for index, child in enumerate(contents if isinstance(contents, list) else []):
            problems += _component_problems(child, f"{where}.contents[{index}]")
    elif kind == "button":
        problems += _action_problems(node.get("action"), f"{where}.action", label_max=40)
    elif kind == "text":
        spans = node.get("contents")
        if not str(node.get("text") or "") and not (isinstance(spans, list) and spans):
            problems.append((f"{where}.text", "must not be empty"))
        for index, span in enumerate(spans if isinstance(spans, list) else []):
            if not isinstance(span, dict) or span.get("type") != "span":
                problems.append((f"{where}.contents[{index}]", "must be a span"))
    elif kind in ("image", "icon") and not str(node.get("url", "")).startswith("https://"):
        problems.append((f"{where}.url", "must be an https URL"))
    if "action" in node and kind != "button":
        problems += _action_problems(node["action"], f"{where}.action", label_max=40)
    return problems


def _bubble_problems(bubble: Any, where: str) -> list[tuple[str, str]]:
    if not isinstance(bubble, dict) or bubble.get("type") != "bubble":
        return [(where, "must be a bubble")]
    problems = [
        item
        for block in BUBBLE_BLOCKS
        if block in bubble
        for item in _component_problems(bubble[block], f"{where}.{block}")
    ]
    if not any(block in bubble for block in BUBBLE_BLOCKS):
        problems.append((where, "must have a header, hero, body or footer"))
    if json_size(bubble) > MAX_BUBBLE_BYTES:
        problems.append((where, f"size must be at most {MAX_BUBBLE_BYTES // 1024} KB"))
    return problems


def _flex_problems(contents: Any, where: str) -> list[tuple[str, str]]:
    """A Flex container: a bubble, or a carousel of 1-12 bubbles (50 KB at most)."""
    if isinstance(contents, dict) and contents.get("type") == "carousel":
        bubbles = contents.get("contents")
        if not isinstance(bubbles, list) or not 1 <= len(bubbles) <= MAX_BUBBLES:
            return [(f"{where}.contents", f"must be 1-{MAX_BUBBLES} bubbles")]
        problems = [p for i, b in enumerate(bubbles) for p in _bubble_problems(b, f"{where}.contents[{i}]")]
        if json_size(contents) > MAX_CAROUSEL_BYTES:
            problems.append((where, f"size must be at most {MAX_CAROUSEL_BYTES // 1024} KB"))
        return problems
    return _bubble_problems(contents, where)


def message_problems(messages: Any) -> list[tuple[str, str]]:
    """What LINE would refuse in a ``messages`` array, as (property, message) pairs."""
    if not isinstance(messages, list) or not 1 <= len(messages) <= 5:
        return [("messages", "must be an array of 1-5 messages")]
    problems: list[tuple[str, str]] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            problems.append((where, "must be an object"))
            continue
        kind = message.get("type")
        if kind == "text":
            text = message.get("text")
            if not isinstance(text, str) or not 0 < utf16_len(text) <= 5000:
                problems.append((f"{where}.text", "must be 1-5000 characters"))
        elif kind in ("flex", "template"):
            alt = message.get("altText")
            if not isinstance(alt, str) or not 0 < graphemes(alt) <= 1500:
                problems.append((f"{where}.altText", "must be 1-1500 characters"))
            if kind == "flex":
                problems += _flex_problems(message.get("contents"), f"{where}.contents")
        elif kind == "image":
            for key in ("originalContentUrl", "previewImageUrl"):
                if not str(message.get(key, "")).startswith("https://"):
                    problems.append((f"{where}.{key}", "must be an https URL"))
        elif kind != "sticker":
            problems.append((f"{where}.type", "unsupported message type"))
        quick = message.get("quickReply")
        if quick is not None:
            items = quick.get("items") if isinstance(quick, dict) else None
            if not isinstance(items, list) or not 1 <= len(items) <= 13:
                problems.append((f"{where}.quickReply.items", "must be 1-13 items"))
            for number, item in enumerate(items or []):
                if not isinstance(item, dict) or item.get("type") != "action":
                    problems.append((f"{where}.quickReply.items[{number}]", "must be an action item"))
                else:
                    problems += _action_problems(item.get("action"), f"{where}.quickReply.items[{number}].action")
    return problems


@dataclass
class FakeLine:
    access_token: str
    calls: list[Call] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)  # reply token -> fresh | used | expired
    retry_keys: set[str] = field(default_factory=set)
    faults: dict[str, list[Fault]] = field(default_factory=dict)
    refused: list[Call] = field(default_factory=list)  # calls LINE would refuse for their shape
    token_chats: dict[str, str] = field(default_factory=dict)  # reply token -> the chat it was issued in
    url: str = ""

    def __post_init__(self) -> None:
        self._changed = threading.Condition()

    # --- set-up for tests -------------------------------------------------------------
    def bot_env(self, secret: str) -> dict[str, str]:
        """The variables that point the bot's LINE channel at this fake."""
        return {
            "BOT_LINE_CHANNEL_SECRET": secret,
            "BOT_LINE_ACCESS_TOKEN": self.access_token,
            "BOT_LINE_API_URL": self.url,
        }

    def reply_token(self, chat: str, expired: bool = False) -> str:
        """A token LINE would put in an event from ``chat``."""
        token = uuid.uuid4().hex
        with self._changed:
            self.tokens[token] = "expired" if expired else "fresh"
            self.token_chats[token] = chat
        return token

    def fail(
        self,
        path: str,
        status: int,
        times: int = 1,
        retry_after: str | None = None,
        accept: bool = False,
        message: str = "fault injected",
    ) -> None:
        with self._changed:
            self.faults.setdefault(path, []).append(Fault(status, times, retry_after, accept, message))

    # --- what tests read ---------------------------------------------------------------
    def delivered(self, to: str | None = None) -> list[Call]:
        """Accepted reply and push calls, in order; for one chat when ``to`` is given."""
        with self._changed:
            calls = [c for c in self.calls if c.accepted and c.path in (REPLY, PUSH)]
        return [c for c in calls if to is None or self.chat_of(c) == to]

    def chat_of(self, call: Call) -> str | None:
        if call.path == PUSH:
            return call.to
        return self.token_chats.get(call.body.get("replyToken")) if isinstance(call.body, dict) else None

    def wait_for(self, done: Callable[[], bool], timeout: float = 60.0) -> bool:
        with self._changed:
            return self._changed.wait_for(done, timeout)

    # --- the server ----------------------------------------------------------------------
    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, dict[str, Any], dict[str, str]]:
        if headers.get("authorization") != f"Bearer {self.access_token}":
            return self._record(path, None, headers, 401, {"message": "Authentication failed."})
        try:
            body = json.loads(raw or b"")
        except ValueError:
            return self._record(path, None, headers, 400, {"message": "The request body has 1 error(s)"})
        with self._changed:
            queue = self.faults.get(path) or []
            fault = queue[0] if queue else None
            if fault:
                fault.times -= 1
                if fault.times <= 0:
                    queue.pop(0)
        if fault and not fault.accept:
            extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return self._record(path, body, headers, fault.status, {"message": fault.message}, extra)
        status, answer = self._answer(path, headers, body)
        if fault and status in (200, 202):  # accepted, but the caller sees an error
            return self._record(path, body, headers, fault.status, {"message": "fault injected"}, accepted=True)
        return self._record(path, body, headers, status, answer, accepted=status == 200 and path != LOADING)

    def _answer(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(body, dict):
            return 400, {"message": "The request body has 1 error(s)"}
        if path == LOADING:
            seconds = body.get("loadingSeconds", 20)
            if not USER_ID.match(str(body.get("chatId"))) or seconds not in range(5, 61, 5):
                return 400, {"message": "The request body has 1 error(s)"}
            return 202, {}  # "Status code 202 and an empty JSON object" (Display a loading animation)
        problems = message_problems(body.get("messages"))
        if path == REPLY:
            with self._changed:
                state = self.tokens.get(str(body.get("replyToken")))
                if state == "fresh" and not problems:
                    self.tokens[str(body["replyToken"])] = "used"
            if state != "fresh":
                return 400, {"message": "Invalid reply token"}
        elif path == PUSH:
            if not CHAT_ID.match(str(body.get("to"))):
                problems.append(("to", "must be a user, group or room id"))
            key = headers.get("x-line-retry-key")
            with self._changed:
                if key and key in self.retry_keys:
                    return 409, {"message": "The retry key is already accepted"}
                if key and not problems:
                    self.retry_keys.add(key)
        else:
            return 404, {"message": "Not found"}
        if problems:
            return 400, {
                "message": f"The request body has {len(problems)} error(s)",
                "details": [{"property": p, "message": m} for p, m in problems],
            }
        return 200, {"sentMessages": [{"id": uuid.uuid4().hex[:18]} for _ in body["messages"]]}

    def _record(
        self,
        path: str,
        body: Any,
        headers: dict[str, str],
        status: int,
        answer: dict[str, Any],
        extra: dict[str, str] | None = None,
        accepted: bool = False,
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        call = Call(path, body, headers, status, accepted)
        with self._changed:
            self.calls.append(call)
            if status == 400 and "details" in answer:
                self.refused.append(call)
            self._changed.notify_all()
        return status, answer, extra or {}


def serve(fake: FakeLine, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, answer, extra = fake.handle(self.path, headers, raw)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in extra.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    fake.url = f"http://127.0.0.1:{port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server

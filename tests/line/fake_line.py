"""A fake LINE platform: the Messaging API endpoints the bot calls, with LINE's checks.

It runs on a free loopback port in a thread, records every call, and answers as LINE
does: 401 without the right bearer token, 400 with details for a message LINE would
refuse (more than five messages, text over 5,000 UTF-16 units, more than 13 quick
reply items, labels over 20 characters, Flex without alt text or with one over 400,
postback data over 300), 400 "Invalid reply token" for a token that is unknown,
expired or used already, and 409 for a push whose X-Line-Retry-Key was accepted
before. Faults (429 with Retry-After, 5xx, "accepted but answered 500") are injected
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
    if not isinstance(label, str) or not 0 < len(label) <= label_max:
        problems.append((f"{where}.label", f"must be 1-{label_max} characters"))
    kind = action.get("type")
    if kind == "postback":
        data = action.get("data")
        if not isinstance(data, str) or not 0 < len(data) <= 300:
            problems.append((f"{where}.data", "must be 1-300 characters"))
        if "displayText" in action and not 0 < len(str(action["displayText"])) <= 300:
            problems.append((f"{where}.displayText", "must be 1-300 characters"))
    elif kind == "message":
        if not isinstance(action.get("text"), str) or not 0 < len(action["text"]) <= 300:
            problems.append((f"{where}.text", "must be 1-300 characters"))
    elif kind == "uri":
        if not re.match(r"^(https?://|tel:|line://)", str(action.get("uri", ""))) or len(action["uri"]) > 1000:
            problems.append((f"{where}.uri", "must be an http, https, tel or line URI of 1-1000 characters"))
    else:
        problems.append((f"{where}.type", "unsupported action"))
    return problems


def _flex_problems(node: Any, where: str) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if isinstance(node, dict):
        if node.get("type") == "button":
            problems += _action_problems(node.get("action"), f"{where}.action")
        if node.get("type") == "text" and not str(node.get("text") or ""):
            problems.append((f"{where}.text", "must not be empty"))
        for key, value in node.items():
            if isinstance(value, (dict, list)):
                problems += _flex_problems(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            problems += _flex_problems(value, f"{where}[{index}]")
    return problems


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
        elif kind == "flex":
            alt = message.get("altText")
            if not isinstance(alt, str) or not 0 < utf16_len(alt) <= 400:
                problems.append((f"{where}.altText", "must be 1-400 characters"))
            contents = message.get("contents")
            if not isinstance(contents, dict) or contents.get("type") not in ("bubble", "carousel"):
                problems.append((f"{where}.contents", "must be a bubble or carousel"))
            problems += _flex_problems(contents, f"{where}.contents")
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
        return {"BOT_LINE_CHANNEL_SECRET": secret, "BOT_LINE_ACCESS_TOKEN": self.access_token,
                "BOT_LINE_API_URL": self.url}

    def reply_token(self, chat: str, expired: bool = False) -> str:
        """A token LINE would put in an event from ``chat``."""
        token = uuid.uuid4().hex
        with self._changed:
            self.tokens[token] = "expired" if expired else "fresh"
            self.token_chats[token] = chat
        return token

    def fail(self, path: str, status: int, times: int = 1, retry_after: str | None = None,
             accept: bool = False, message: str = "fault injected") -> None:
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
        if fault and status == 200:  # accepted, but the caller sees an error
            return self._record(path, body, headers, fault.status, {"message": "fault injected"}, accepted=True)
        return self._record(path, body, headers, status, answer, accepted=status == 200 and path != LOADING)

    def _answer(self, path: str, headers: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(body, dict):
            return 400, {"message": "The request body has 1 error(s)"}
        if path == LOADING:
            seconds = body.get("loadingSeconds", 20)
            if not USER_ID.match(str(body.get("chatId"))) or seconds not in range(5, 61, 5):
                return 400, {"message": "The request body has 1 error(s)"}
            return 200, {}
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
            return 400, {"message": f"The request body has {len(problems)} error(s)",
                         "details": [{"property": p, "message": m} for p, m in problems]}
        return 200, {"sentMessages": [{"id": uuid.uuid4().hex[:18]} for _ in body["messages"]]}

    def _record(self, path: str, body: Any, headers: dict[str, str], status: int, answer: dict[str, Any],
                extra: dict[str, str] | None = None, accepted: bool = False
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

"""LINE channel for Rasa at /webhooks/line/webhook (registered in credentials.yml).

The webhook verifies the signature, drops events it has seen (LINE redelivers),
queues the rest and answers 200 at once: LINE retries slow deliveries, and a reply
token lasts only a short while. Each conversation has its own queue and worker, so a
burst from one user is answered in order, one event at a time, while other users
are served in parallel. All the bot's messages for an event go out in one reply
call; more than five, or a spent reply token, go by push. Console staff replies
and handoff notices reach LINE through :class:`LinePushOutput` (Rasa's
``output_channel=latest`` on ``/conversations/{id}/tracker/events`` and ``/execute``).

Groups and multi-person chats are one conversation each (the group or room id).
There the bot answers only text that @-mentions it and its own buttons; it says
nothing to stickers or photos, which are usually meant for the other people.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextlib import closing
from functools import partial
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import messages
from bot.categories import Channel
from bot.channels.input_guard import check_text
from bot.channels.line_api import DEFAULT_API_URL, HttpLineApi, LineApi, LineApiError, Message, ReplyTokenInvalid
from bot.channels.line_events import (
    Kind,
    LineEvent,
    Rejected,
    parse_delivery,
    sign_postback,
    stale,
    verified_postback,
    verify,
)
from bot.channels.line_format import POSTBACK_DATA_MAX, batches, text_messages, to_line
from bot.channels.rate_limit import RateLimiter
from bot.channels.replay import earlier_replies
from bot.settings import Settings

logger = logging.getLogger(__name__)

MAX_BODY = 1_000_000  # LINE's deliveries are a few kilobytes
GREETING = "/chitchat_greet"  # a new friend gets the greeting with topic quick replies
LOADING_WAIT = 2.0  # seconds we wait for the loading animation call before answering
SHUTDOWN_WAIT = 10.0  # seconds Rasa's shutdown waits for queued events


class RecentIds:
    """The last ``size`` webhook event ids, to drop redeliveries of events already queued."""

    def __init__(self, size: int = 10_000) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, event_id: str) -> bool:
        """Remember ``event_id``; False when it was already there."""
        if event_id in self._ids:
            return False
        self._ids[event_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True


class ConversationQueues:
    """One FIFO queue per conversation with a worker task that ends when the queue is empty.

    Bounded (security review M6): at most ``per_conversation`` waiting events per chat and
    ``conversations`` chats with work; :meth:`put` refuses more (the caller drops the event).
    """

    def __init__(self, per_conversation: int = 20, conversations: int = 5000) -> None:
        self.per_conversation, self.conversations = per_conversation, conversations
        self._queues: dict[str, asyncio.Queue[Callable[[], Awaitable[None]]]] = {}
        self._workers: set[asyncio.Task[None]] = set()

    def put(self, conversation_id: str, job: Callable[[], Awaitable[None]]) -> bool:
        """Queue ``job``; False (not queued) when the conversation's queue or the table is full."""
        queue = self._queues.get(conversation_id)
        if queue is None:
            if len(self._queues) >= self.conversations:
                return False
            queue = self._queues[conversation_id] = asyncio.Queue(self.per_conversation)
            worker = asyncio.get_running_loop().create_task(self._work(conversation_id, queue))
            self._workers.add(worker)
            worker.add_done_callback(self._workers.discard)
        try:
            queue.put_nowait(job)
        except asyncio.QueueFull:
            return False
        return True

    async def _work(self, conversation_id: str, queue: asyncio.Queue[Callable[[], Awaitable[None]]]) -> None:
        while True:
            try:
                job = queue.get_nowait()
            except asyncio.QueueEmpty:
                del self._queues[conversation_id]  # no await since the check: no job can slip in
                return
            try:
                await job()
            except Exception:  # noqa: BLE001 - one failed event must not stop the conversation's queue
                logger.exception("LINE event in conversation %s failed", conversation_id)

    async def drain(self) -> None:
        """Wait until every queued event has been handled (for shutdown and tests)."""
        while self._workers:
            await asyncio.gather(*list(self._workers), return_exceptions=True)


def signed_actions(node: Any, secret: str) -> Any:
    """``node`` with every postback action's data tagged as this bot's (line_events.sign_postback).

    Data that would pass LINE's 300-character limit with its tag becomes a message action
    (the user then sends the button's title as text).
    """
    if isinstance(node, list):
        return [signed_actions(item, secret) for item in node]
    if not isinstance(node, dict):
        return node
    if node.get("type") == "postback" and isinstance(node.get("data"), str):
        data = sign_postback(secret, node["data"])
        if len(data) <= POSTBACK_DATA_MAX:
            return {**node, "data": data}
        return {
            "type": "message",
            "label": node.get("label", ""),
            "text": node.get("displayText") or node.get("label", ""),
        }
    return {key: signed_actions(value, secret) for key, value in node.items()}


class Delivery:
    """Sends one event's messages: one reply call, pushes for the overflow or a spent token."""

    def __init__(self, api: LineApi, secret: str = "") -> None:
        self.api, self.secret = api, secret

    async def send(self, to: str, reply_token: str | None, line_messages: list[Message]) -> None:
        if self.secret:
            line_messages = signed_actions(line_messages, self.secret)
        groups = batches(line_messages)
        if not groups:
            return
        first, rest = groups[0], groups[1:]
        try:
            if reply_token:
                await self._reply_or_push(to, reply_token, first)
            else:
                await self.api.push(to, first)
            for group in rest:
                await self.api.push(to, group)
        except LineApiError as exc:
            logger.error("LINE could not take the answer for %s: %s", to, exc)

    async def _reply_or_push(self, to: str, reply_token: str, group: list[Message]) -> None:
        try:
            outcome = await self.api.reply(reply_token, group)
        except ReplyTokenInvalid:
            logger.info("LINE reply token expired or used for %s; pushing instead", to)
            await self.api.push(to, group)
            return
        if outcome.uncertain:
            logger.warning("LINE reply for %s may or may not have arrived; not pushing it again", to)


class LinePushOutput(OutputChannel):
    """Pushes messages to a LINE chat: staff replies and notices sent outside a user's turn."""

    def __init__(self, api: LineApi, secret: str = "") -> None:
        self.delivery = Delivery(api, secret)

    @classmethod
    def name(cls) -> str:
        return Channel.LINE.value

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        await self.delivery.send(recipient_id, None, to_line([message]))


class LineInput(InputChannel):
    """The LINE webhook; configured by ``channel_secret``, ``access_token`` and ``api_url`` credentials."""

    def __init__(
        self,
        channel_secret: str,
        access_token: str,
        api_url: str = DEFAULT_API_URL,
        max_message_chars: int = 5000,
        api: LineApi | None = None,
    ) -> None:
        self.channel_secret = channel_secret or ""
        self._access_token = access_token or ""
        self.max_message_chars = max_message_chars
        self.api: LineApi = api or HttpLineApi(self._access_token, api_url or DEFAULT_API_URL)
        self.delivery = Delivery(self.api, self.channel_secret)
        self.seen = RecentIds()
        self.queues = ConversationQueues()
        self.limiter = RateLimiter.from_settings(Channel.LINE.value, Settings.from_env(os.environ))
        self.dropped = 0
        self.agent: Any = None  # Rasa's, taken from the app on the first delivery

    def __repr__(self) -> str:
        return f"LineInput(configured={self.configured})"

    @classmethod
    def name(cls) -> str:
        return Channel.LINE.value

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> LineInput:
        """Values from credentials.yml (``${BOT_LINE_…}``), else from the environment."""
        credentials = credentials or {}
        settings = Settings.from_env(os.environ)
        return cls(
            str(credentials.get("channel_secret") or settings.line_channel_secret or ""),
            str(credentials.get("access_token") or settings.line_access_token or ""),
            str(credentials.get("api_url") or settings.line_api_url),
            settings.max_message_chars,
        )

    @property
    def configured(self) -> bool:
        return bool(self.channel_secret and self._access_token)

    def get_output_channel(self) -> OutputChannel | None:
        return LinePushOutput(self.api, self.channel_secret) if self.configured else None

    def accept(self, signature: str | None, body: bytes) -> list[LineEvent]:
        """The new events of a delivery, after the checks.

        Raises:
            Rejected: with the HTTP status and a reason.
        """
        if len(body) > MAX_BODY:
            raise Rejected(413, "too_large", messages.LINE_TOO_LARGE)
        verify(self.channel_secret, signature, body)
        if not self._access_token:
            raise Rejected(503, "line_not_configured", messages.LINE_NOT_CONFIGURED)
        fresh = []
        now_ms = int(time.time() * 1000)
        for event in parse_delivery(body):
            if stale(event.timestamp, now_ms):
                logger.warning(
                    "LINE event %s refused: its timestamp is not recent (a replayed delivery?)", event.event_id
                )
            elif self.seen.add(event.event_id):
                fresh.append(event)
            else:
                logger.info("LINE event %s already received (redelivery %s); skipped", event.event_id, event.redelivery)
        return fresh

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        webhook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @webhook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json(
                {"status": "ok", "configured": self.configured, "dropped": self.dropped, **self.limiter.summary()}
            )

        @webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                events = self.accept(request.headers.get("X-Line-Signature"), request.body or b"")
            except Rejected as exc:
                logger.warning("LINE delivery refused: %s", exc.code)
                return response.json({"error": {"code": exc.code, "message": exc.reason}}, status=exc.status)
            self.agent = self.agent or getattr(request.app.ctx, "agent", None)
            for event in events:
                # LINE's platform is the only peer: the limit is per chat. Over it, a polite reply without the NLU.
                limited = event.kind in (Kind.TEXT, Kind.POSTBACK) and await self.limiter.check(
                    event.conversation_id, None
                )
                job = (
                    partial(self._answer, event, text_messages(messages.RATE_LIMITED))
                    if limited
                    else partial(self.handle, event, on_new_message)
                )
                if not self.queues.put(event.conversation_id, job):
                    self.dropped += 1
                    logger.warning(
                        "LINE event %s dropped: the queue of %s is full", event.event_id, event.conversation_id
                    )
            return response.json({"status": "ok"})

        @webhook.listener("before_server_stop")
        async def finish(*_: Any) -> None:
            """Answer what is queued (LINE will not redeliver events it got a 200 for), then close."""
            try:
                await asyncio.wait_for(self.queues.drain(), SHUTDOWN_WAIT)
            except asyncio.TimeoutError:
                logger.warning("LINE events still queued at shutdown were dropped")
            if isinstance(self.api, HttpLineApi):
                await self.api.close()

        return webhook

    async def handle(self, event: LineEvent, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """Answer one event (called by its conversation's worker, in order)."""
        # A redelivery, or an event old enough to be a replay after a restart (review L8): is it in the tracker?
        old = event.timestamp and time.time() * 1000 - event.timestamp > 60_000
        if (event.redelivery or old) and await self._in_tracker(event):
            logger.info("LINE event %s redelivered but already in the conversation; skipped", event.event_id)
            return
        if event.kind is Kind.TEXT:
            if not event.one_to_one and not event.mentions_bot:
                return
            checked = check_text(event.text, self.max_message_chars)
            if checked.reply:
                await self._answer(event, text_messages(checked.reply))
            else:
                await self._converse(event, checked.text or "", on_new_message)
        elif event.kind is Kind.POSTBACK:
            payload = verified_postback(self.channel_secret, event.text)
            if payload is None:  # not a button this bot made: never fed to the NLU as if it were
                logger.warning("LINE postback in %s without this bot's tag; ignored", event.conversation_id)
            elif 0 < len(payload.strip()) <= POSTBACK_DATA_MAX:
                await self._converse(event, payload.strip(), on_new_message)
        elif event.kind is Kind.UNSEND:
            await self._forget(event)
        elif event.kind is Kind.FOLLOW:
            await self._converse(event, GREETING, on_new_message)
        elif event.kind is Kind.JOIN:
            await self._answer(event, text_messages(messages.LINE_GROUP_HINT))
        elif event.kind is Kind.MEDIA and event.one_to_one:
            await self._answer(event, text_messages(messages.LINE_TEXT_ONLY))
        elif event.kind in (Kind.UNFOLLOW, Kind.LEAVE):
            logger.info("LINE %s: %s %s", event.kind.value, event.source_type, event.conversation_id)

    async def _forget(self, event: LineEvent) -> None:
        """The user took a message back: its text leaves the tracker, the ops database and tickets' transcripts."""
        from bot.channels.line_unsend import forget_in_ops, forget_in_tickets, forget_in_tracker
        from bot.handoff.tickets_sql import open_ticket_store
        from bot.scaled.profile import ops_db_url

        if not event.message_id:
            return
        try:
            settings = Settings.from_env(os.environ)
            store = getattr(self.agent, "tracker_store", None)
            tracked = forget_in_tracker(store, event.conversation_id, event.message_id) if store is not None else []
            ops = forget_in_ops(ops_db_url(settings), event.conversation_id, event.message_id)
            with closing(open_ticket_store(settings)) as tickets:
                lines = forget_in_tickets(tickets, event.conversation_id, tracked + ops)
            logger.info(
                "LINE unsend in %s: %d tracker events, %d ops events and %d ticket lines scrubbed",
                event.conversation_id,
                len(tracked),
                len(ops),
                lines,
            )
        except Exception:  # noqa: BLE001 - logged; the next unsend or a purge tries again
            logger.exception("LINE unsend in %s could not be applied", event.conversation_id)

    async def _in_tracker(self, event: LineEvent) -> bool:
        """Whether the conversation already holds this event (a message id equal to its webhook event id).

        Covers a redelivery this process has not seen: handled before a restart, or by
        another Rasa server sharing the tracker store, when LINE missed our 200.
        """
        if getattr(self.agent, "tracker_store", None) is None:
            return False
        try:
            return await earlier_replies(self.agent, event.conversation_id, event.event_id) is not None
        except Exception:  # noqa: BLE001 - a failed look-up must not drop the event
            logger.exception("LINE redelivery check failed for %s", event.conversation_id)
            return False

    async def _answer(self, event: LineEvent, line_messages: list[Message]) -> None:
        await self.delivery.send(event.conversation_id, event.reply_token, line_messages)

    async def _converse(
        self, event: LineEvent, text: str, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> None:
        if event.one_to_one:
            try:
                await asyncio.wait_for(self.api.show_loading(event.conversation_id), LOADING_WAIT)
            except asyncio.TimeoutError:
                pass
        collector = CollectingOutputChannel()
        try:
            await on_new_message(
                UserMessage(
                    text,
                    collector,
                    event.conversation_id,
                    input_channel=self.name(),
                    message_id=event.event_id,
                    metadata={
                        "line": {
                            "source": event.source_type,
                            **({"message_id": event.message_id} if event.message_id else {}),
                        }
                    },
                )
            )
        except Exception:  # noqa: BLE001 - the boundary: log without user text, answer politely
            # Replies collected before the error may be of a turn that was never stored (see the
            # REST channel): the user is asked to send it again instead of shown them.
            logger.exception("LINE event %s in %s failed", event.event_id, event.conversation_id)
            collector.messages[:] = [{"text": messages.TECHNICAL_PROBLEM}]
        await self._answer(event, to_line(collector.messages))

"""The web app's view of the Rasa server, over its HTTP API (token from the environment)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

import httpx

from bot.nlu.parser import Parse, parse_from_rasa

logger = logging.getLogger(__name__)


# Rasa sends appended bot events out on the conversation's latest input channel.
LIVE_DELIVERY = {"execute_side_effects": "true", "output_channel": "latest"}


class RasaUnavailable(RuntimeError):
    """The Rasa server did not answer (down, or refused our token)."""


class RasaClient:
    def __init__(self, base_url: str, token: str | None, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token or ""
        self.timeout = timeout

    async def _call(self, method: str, path: str, body: Any = None, params: dict[str, str] | None = None) -> Any:
        url = f"{self.base_url}{path}"
        try:
            async with httpx.AsyncClient(timeout=self.timeout) as client:
                reply = await client.request(method, url, params={"token": self.token, **(params or {})}, json=body)
        except httpx.HTTPError as exc:
            raise RasaUnavailable(f"{method} {path}: {type(exc).__name__}") from exc
        if reply.status_code >= 400:
            raise RasaUnavailable(f"{method} {path}: HTTP {reply.status_code}")
        return reply.json()

    def _conversation(self, conversation_id: str) -> str:
        return f"/conversations/{quote(conversation_id, safe='')}"

    async def events(self, conversation_id: str) -> list[dict[str, Any]]:
        tracker = await self._call("GET", self._conversation(conversation_id) + "/tracker")
        return list(tracker.get("events") or [])

    async def relay_staff_message(self, conversation_id: str, text: str, author: str) -> None:
        """Add a staff reply to the conversation and send it out on the user's own channel.

        ``execute_side_effects`` makes Rasa hand the appended bot event to the output
        channel of the conversation's latest input channel (``output_channel=latest``):
        the socket.io room of a web chat session, a LINE push. It works while the
        conversation is paused, since appending events asks no policy. REST has no
        push, so REST users pick the reply up from the ticket outbox instead.
        """
        await self._call(
            "POST",
            self._conversation(conversation_id) + "/tracker/events",
            [{"event": "bot", "text": text, "metadata": {"staff": author}}],
            LIVE_DELIVERY,
        )

    async def resume_and_ask_rating(self, conversation_id: str) -> list[dict[str, Any]]:
        """Resume the paused conversation and run the rating question; returns the bot's messages.

        The question also goes out on the user's latest channel (web chat, LINE). For
        REST, Rasa's collecting channel returns it here and the console queues it.
        """
        await self._call("POST", self._conversation(conversation_id) + "/tracker/events", [{"event": "resume"}])
        result = await self._call(
            "POST",
            self._conversation(conversation_id) + "/execute",
            {"name": "action_ask_rating"},
            {"output_channel": "latest"},
        )
        # /execute does not end with action_listen; without it the next user turn matches no rule.
        await self._call(
            "POST",
            self._conversation(conversation_id) + "/tracker/events",
            [{"event": "action", "name": "action_listen"}],
        )
        return list(result.get("messages") or [])

    async def parse(self, text: str) -> Parse:
        return parse_from_rasa(text, await self._call("POST", "/model/parse", {"text": text}))


class HttpParser:
    """A :class:`RasaClient` as the async parser triage calls (``aparse``, :func:`bot.triage.triage_results`)."""

    def __init__(self, rasa: RasaClient) -> None:
        self.rasa = rasa

    async def aparse(self, text: str) -> Parse:
        return await self.rasa.parse(text)

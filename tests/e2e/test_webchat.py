"""The web chat's socket.io channel against the real Rasa server: origins, sessions, input checks, staff relay."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest
import socketio

from bot import messages
from bot.web.rasa_client import RasaClient

WAIT = 60  # seconds: an answer goes through NLU and the action server


def handshake(stack, origin: str) -> httpx.Response:
    return httpx.get(
        f"{stack.rasa_url}/socket.io/",
        params={"EIO": "4", "transport": "polling"},
        headers={"Origin": origin},
        timeout=30,
    )


def test_socket_refuses_pages_from_origins_not_allowed(stack):
    refused = handshake(stack, "http://evil.example")
    assert refused.status_code == 400 and "not an accepted origin" in refused.text
    allowed = handshake(stack, stack.web_url)
    assert allowed.status_code == 200 and allowed.headers["access-control-allow-origin"] == stack.web_url


class ChatUser:
    """A socket.io client as the page is: session request, then messages; collects what arrives."""

    def __init__(self, stack) -> None:  # type: ignore[no-untyped-def]
        self.stack = stack
        self.sio = socketio.AsyncClient(reconnection=False)
        self.received: asyncio.Queue = asyncio.Queue()
        self.confirmed: asyncio.Queue = asyncio.Queue()
        self.sio.on("bot_uttered", self.received.put_nowait)
        self.sio.on("session_confirm", self.confirmed.put_nowait)
        self.sio.on("session_invalid", lambda data: self.received.put_nowait({"session_invalid": data}))

    async def join(self, session_id: object = None) -> str:
        # Long-polling: the websocket transport of this python-engineio needs a newer aiohttp than Rasa pins.
        await self.sio.connect(
            self.stack.rasa_url, headers={"Origin": self.stack.web_url}, transports=["polling"], wait_timeout=30
        )
        await self.sio.emit("session_request", {"session_id": session_id})
        self.session = await asyncio.wait_for(self.confirmed.get(), WAIT)
        return self.session

    async def say(self, text: object, session_id: str | None = None) -> dict:
        await self.sio.emit("user_uttered", {"message": text, "session_id": session_id or self.session})
        return await self.next()

    async def next(self) -> dict:
        return await asyncio.wait_for(self.received.get(), WAIT)

    async def close(self) -> None:
        # abort: a polite disconnect waits for the pending long-poll (up to the 25 s ping interval).
        await self.sio.eio.disconnect(abort=True)


@pytest.mark.parametrize("asked", [None, "", "abc", "../other-user", "0123456789ABCDEF0123456789ABCDEF", 42])
def test_a_session_id_not_of_our_format_gets_a_new_session(stack, asked):
    async def scenario() -> str:
        user = ChatUser(stack)
        try:
            return await user.join(asked)
        finally:
            await user.close()

    given = asyncio.run(scenario())
    assert re.fullmatch(r"[0-9a-f]{32}", given) and given != asked


def test_bad_text_gets_a_polite_reply_and_unconfirmed_sessions_are_ignored(stack):
    async def scenario() -> list[dict]:
        user = ChatUser(stack)
        await user.join()
        try:
            return [
                await user.say("   \u0000 "),
                await user.say("好" * 6000),
                await user.say("😀😀"),
                await user.say(None),
                await user.say("你好", session_id="f" * 32),
            ]
        finally:
            await user.close()

    empty, huge, emoji, missing, foreign = asyncio.run(scenario())
    assert empty["text"] == messages.EMPTY_MESSAGE and missing["text"] == messages.EMPTY_MESSAGE
    assert huge["text"] == messages.too_long(5000)
    assert emoji["text"] == messages.NO_TEXT
    assert "session_invalid" in foreign  # one socket cannot speak for another session


def test_answer_history_and_staff_relay_reach_every_tab_of_the_session(stack):
    async def scenario() -> tuple[list[dict], dict, dict, asyncio.Queue, str]:
        tab1, tab2, stranger = ChatUser(stack), ChatUser(stack), ChatUser(stack)
        session = await tab1.join()
        await tab2.join(session)
        await stranger.join()
        try:
            answer = [await tab1.say("青創貸款最多可以借多少")]
            while not answer[-1].get("custom"):
                answer.append(await tab1.next())
            await RasaClient(stack.rasa_url, stack.token).relay_staff_message(session, "您好，我是客服小林。", "lin")
            staff1 = await tab1.next()
            while not staff1.get("staff"):
                staff1 = await tab1.next()
            staff2 = await tab2.next()
            while not staff2.get("staff"):
                staff2 = await tab2.next()
            return answer, staff1, staff2, stranger.received, session
        finally:
            for user in (tab1, tab2, stranger):
                await user.close()

    answer, staff1, staff2, stranger_got, session = asyncio.run(scenario())
    assert "青年創業及啟動金貸款" in answer[0]["text"]
    card = answer[-1]["custom"]
    assert card["type"] == "scheme_card" and card["title"] == "青年創業及啟動金貸款" and card["phone"]
    assert staff1 == staff2 and staff1["text"] == "您好，我是客服小林。" and staff1["staff"] is True
    assert stranger_got.empty()  # another session hears nothing

    history = httpx.get(f"{stack.web_url}/chat/history", params={"session": session}, timeout=30).json()["messages"]
    assert history[0] == {"who": "user", "text": "青創貸款最多可以借多少", "timestamp": history[0]["timestamp"]}
    assert any(m.get("custom", {}).get("type") == "scheme_card" for m in history)
    assert history[-1]["text"] == "您好，我是客服小林。" and history[-1]["staff"] is True


def test_history_shows_no_conversation_of_another_channel(stack):
    from tests.e2e.client import say

    rest_user = "a" * 32  # a REST sender id that happens to look like a web chat session
    say(stack.rasa_url, rest_user, "青創貸款最多可以借多少")
    reply = httpx.get(f"{stack.web_url}/chat/history", params={"session": rest_user}, timeout=30)
    assert reply.status_code == 200 and reply.json()["messages"] == []

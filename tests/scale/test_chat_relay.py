"""Several Rasa servers: a staff reply sent through one reaches a web chat socket held by another."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from bot.web.rasa_client import RasaClient
from tests.e2e.test_webchat import ChatUser


def test_staff_reply_through_another_server_reaches_the_web_chat(cluster):
    a, b = cluster.rasa_urls
    browser_side = SimpleNamespace(rasa_url=a, web_url=f"http://127.0.0.1:{cluster.settings.web_port}")

    async def scenario() -> dict:
        user = ChatUser(browser_side)
        session = await user.join()
        try:
            await user.say("你好")  # through server a: the conversation's latest channel is now socket.io
            await RasaClient(b, cluster.settings.rasa_token).relay_staff_message(session, "您好，我是客服小林。", "lin")
            got = await user.next()
            while not got.get("staff"):
                got = await user.next()
            return got
        finally:
            await user.close()

    got = asyncio.run(scenario())
    assert got["text"] == "您好，我是客服小林。" and got["staff"] is True

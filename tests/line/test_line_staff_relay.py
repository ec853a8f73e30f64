"""A console staff reply reaches a LINE user by push, through the same call the console makes."""

from __future__ import annotations

import asyncio

from bot.web.rasa_client import RasaClient
from tests.line.fake_line import PUSH, new_id
from tests.line.test_line_webhook import all_text, answers
from tests.line.webhook import deliver, text


def test_staff_reply_from_the_console_is_pushed_to_the_line_user(line_stack):
    fake, user, stack = line_stack.fake, new_id(), line_stack.stack
    assert deliver(line_stack.webhook, line_stack.secret, text(fake, user, "你好"))[0] == 200
    answers(fake, user)
    asyncio.run(RasaClient(stack.rasa_url, stack.token).relay_staff_message(user, "您好，我是客服小林。", "lin"))
    calls = answers(fake, user, 2)
    assert calls[1].path == PUSH and calls[1].to == user and all_text(calls[1:]) == "您好，我是客服小林。"

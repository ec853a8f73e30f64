"""The Messaging API client and the delivery rules against the fake LINE platform."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Iterator

import pytest

from bot import supervisor
from bot.channels.line import Delivery
from bot.channels.line_api import HttpLineApi, LineApiError, ReplyTokenInvalid
from tests.line.fake_line import PUSH, REPLY, FakeLine, new_id, serve


@pytest.fixture
def fake() -> Iterator[FakeLine]:
    line = FakeLine(access_token="token-" + os.urandom(8).hex())
    server = serve(line, supervisor.free_port())
    yield line
    server.shutdown()


class Waits:
    """Records the backoff delays instead of sleeping them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


def run(coroutine):  # type: ignore[no-untyped-def]
    return asyncio.run(coroutine)


def api_for(fake: FakeLine, waits: Waits | None = None, token: str | None = None) -> HttpLineApi:
    return HttpLineApi(token or fake.access_token, fake.url, sleep=waits or Waits())


def texts(count: int) -> list[dict]:
    return [{"type": "text", "text": f"第{i}則"} for i in range(count)]


def test_rate_limits_and_server_errors_are_retried_with_backoff_honouring_retry_after(fake):
    waits, user = Waits(), new_id()
    fake.fail(PUSH, 429, retry_after="3")
    fake.fail(PUSH, 502, times=2)
    run(api_for(fake, waits).push(user, texts(1)))
    assert [c.status for c in fake.calls] == [429, 502, 502, 200]
    assert waits.delays == [3.0, 1.0, 2.0]
    assert len(fake.delivered(user)) == 1


def test_a_push_accepted_before_an_error_is_not_delivered_twice(fake):
    user = new_id()
    fake.fail(PUSH, 500, accept=True)  # LINE took it but the answer was lost
    run(api_for(fake).push(user, texts(1)))
    assert [c.status for c in fake.calls] == [500, 409]
    assert len(fake.delivered(user)) == 1
    assert len({c.headers["x-line-retry-key"] for c in fake.calls}) == 1


def test_giving_up_raises_without_the_token_in_message_or_logs(fake, caplog):
    fake.fail(PUSH, 503, times=10)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(LineApiError) as caught:
        run(api_for(fake).push(new_id(), texts(1)))
    assert caught.value.status == 503 and len(fake.calls) == 4
    assert fake.access_token not in caplog.text + str(caught.value) and "attempt 4/4" not in caplog.text


def test_a_spent_monthly_quota_is_not_retried(fake):
    fake.fail(PUSH, 429, times=5, message="You have reached your monthly limit.")
    with pytest.raises(LineApiError) as caught:
        run(api_for(fake).push(new_id(), texts(1)))
    assert caught.value.status == 429 and "monthly limit" in caught.value.detail and len(fake.calls) == 1


def test_a_wrong_access_token_is_refused_like_line_does(fake):
    with pytest.raises(LineApiError) as caught:
        run(api_for(fake, token="wrong").push(new_id(), texts(1)))
    assert caught.value.status == 401


def test_a_used_or_expired_reply_token_is_reported_for_a_push(fake):
    user = new_id()
    token = fake.reply_token(user)

    async def scenario() -> None:
        api = api_for(fake)
        await api.reply(token, texts(1))
        with pytest.raises(ReplyTokenInvalid):
            await api.reply(token, texts(1))
        with pytest.raises(ReplyTokenInvalid):
            await api.reply(fake.reply_token(user, expired=True), texts(1))

    run(scenario())
    assert len(fake.delivered(user)) == 1


def test_a_reply_that_probably_arrived_is_not_pushed_again(fake):
    user = new_id()
    fake.fail(REPLY, 500, accept=True)
    run(Delivery(api_for(fake)).send(user, fake.reply_token(user), texts(2)))
    assert [c.status for c in fake.calls] == [500, 400]  # the retry finds the token used
    assert len(fake.delivered(user)) == 1


def test_delivery_replies_once_and_pushes_the_overflow_in_order(fake):
    user = new_id()
    cards = [
        {
            "type": "flex",
            "altText": f"卡{i}",
            "contents": {
                "type": "bubble",
                "body": {"type": "box", "layout": "vertical", "contents": [{"type": "text", "text": f"卡{i}"}]},
            },
        }
        for i in range(12)
    ]
    run(Delivery(api_for(fake)).send(user, fake.reply_token(user), cards))
    calls = fake.delivered(user)
    assert [(c.path, len(c.messages)) for c in calls] == [(REPLY, 5), (PUSH, 5), (PUSH, 2)]
    assert [m["altText"] for c in calls for m in c.messages] == [f"卡{i}" for i in range(12)]
    assert fake.refused == []


def test_delivery_pushes_when_the_reply_token_expired(fake):
    user = new_id()
    run(Delivery(api_for(fake)).send(user, fake.reply_token(user, expired=True), texts(2)))
    assert [(c.path, c.status) for c in fake.calls] == [(REPLY, 400), (PUSH, 200)]
    assert fake.delivered(user)[0].messages == texts(2)


def test_loading_animation_is_best_effort(fake):
    user = new_id()

    async def scenario() -> None:
        api = api_for(fake)
        await api.show_loading(user, seconds=23)
        fake.fail("/v2/bot/chat/loading/start", 500)
        await api.show_loading(user)  # one attempt, no exception

    run(scenario())
    assert [(c.body["loadingSeconds"], c.status) for c in fake.calls] == [(20, 202), (20, 500)]

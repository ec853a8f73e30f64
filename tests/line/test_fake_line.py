"""The fake LINE platform checks what LINE publishes (security review: it departed from the spec in 12 of 15 probes)."""

from __future__ import annotations

import json

import pytest

from tests.line.fake_line import LOADING, FakeLine, message_problems, new_id


def bubble(*, label: str = "查看", body: dict | None = None) -> dict:
    return {
        "type": "bubble",
        "body": body or {"type": "box", "layout": "vertical", "contents": [{"type": "text", "text": "青創貸款"}]},
        "footer": {
            "type": "box",
            "layout": "vertical",
            "contents": [{"type": "button", "action": {"type": "postback", "label": label, "data": "/x"}}],
        },
    }


def flex(contents: dict, alt: str = "青創貸款") -> list[dict]:
    return [{"type": "flex", "altText": alt, "contents": contents}]


def quick(label: str) -> list[dict]:
    return [
        {
            "type": "text",
            "text": "請選擇",
            "quickReply": {"items": [{"type": "action", "action": {"type": "postback", "label": label, "data": "/x"}}]},
        }
    ]


@pytest.mark.parametrize(
    ("messages", "ok"),
    [
        (flex(bubble(), alt="字" * 1500), True),  # altText: max 1500 (the fake said 400)
        (flex(bubble(), alt="字" * 1501), False),
        (quick("👍🏽" * 20), True),  # 20 user-perceived characters, 40 code points
        (quick("👍🏽" * 21), False),
        (flex(bubble(label="按" * 40)), True),  # Flex button labels: max 40
        (flex(bubble(label="按" * 41)), False),
        (flex({"type": "carousel", "contents": [bubble()] * 12}), True),
        (flex({"type": "carousel", "contents": [bubble()] * 13}), False),
        (flex(bubble(body={"type": "box", "contents": []})), False),  # a box needs its layout
        (flex(bubble(body={"type": "box", "layout": "vertical", "contents": [{"type": "marquee"}]})), False),
        (flex({"type": "bubble"}), False),  # no block at all
        (
            flex(
                bubble(
                    body={"type": "box", "layout": "vertical", "contents": [{"type": "text", "text": "字" * 100}] * 110}
                )
            ),
            False,
        ),  # over 30 KB
        ([{"type": "template", "altText": "確認", "template": {}}], True),
    ],
)
def test_messages_are_checked_against_lines_published_limits(messages, ok):
    assert (message_problems(messages) == []) is ok, message_problems(messages)


def test_the_loading_animation_answers_202_with_an_empty_object():
    fake = FakeLine(access_token="t")
    status, body, _ = fake.handle(
        LOADING, {"authorization": "Bearer t"}, json.dumps({"chatId": new_id(), "loadingSeconds": 20}).encode()
    )
    assert (status, body) == (202, {})

"""Property-based fuzzing (Hypothesis) of the code that reads raw user input: the input guard,
numerals, masking and the LINE event parser (security review C1, H1, M4, LINE findings, L5).

Strings are built to hurt: runs of digits, separators, Chinese numerals, e-mail shapes,
emoji, RTL marks and control characters, repeated up to the 5,000 characters a message may
have. Each call must finish within 50 ms of CPU time (a call over it is timed again up to
three times; the cubic regex of C1 took seconds), must not
raise, and must keep its contract (masking idempotent, no identifier left in its own
placeholder's place, the guard's text within the limit, LINE events well-typed).

`make fuzz` runs many examples within a bounded time (FUZZ_EXAMPLES, about 50 s); the
normal test run uses a few (the same properties, quickly). Figures go to reports/fuzz.txt.
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.channels.input_guard import check_text, metadata_problem
from bot.channels.line_events import Rejected, parse_delivery
from bot.nlu.numerals import find_numbers
from bot.privacy.masking import _EMAIL, _ID, _MOBILE, fold_width, mask_text, mask_value, national_id_valid

MAX_CHARS = 5000
BUDGET = 0.050
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
FIGURES: dict[str, list[float]] = defaultdict(list)
REPORT = Path(__file__).resolve().parents[2] / "reports" / "fuzz.txt"

UNITS = [
    "1",
    "12",
    "0912",
    "1,",
    "1.",
    "1,2",
    "0933.271.845 ",
    "0966/271/845",
    "0911—271—845",
    "0 9 ",
    "09",
    "三",
    "一二",
    "零九八八",
    "三十",
    "一萬二",
    "3千5百萬",
    "1.5億",
    "12個人",
    "500萬元",
    "萬",
    "人",
    "a@b.cc ",
    "a@",
    "@b.",
    "x.y@例子.台灣 ",
    "..@..",
    "+886",
    "(02)",
    "02-",
    "分機",
    "#",
    "F281467332",
    "F 281 ",
    "A1234",
    "統編",
    "身分證",
    "電話",
    "帳號",
    "中正路",
    "1段",
    "5巷",
    "3號",
    "樓之",
    "😀",
    "👍🏽",
    "\u200f",
    "\u202e",
    "\u200b",
    "\ufeff",
    "\x00",
    "\x07",
    "\u3000",
    "０９",
    "１，",
    "＠",
    " ",
    "\n",
    "-",
    "/",
    "　",
    "。",
    "貸款",
    "青創",
    "/loan_ask",
    '{"a":',
    "}",
    "]",
    "\\",
    "'",
    '"',
]


# The test's own reading of numbers (not the module's): dots, slashes and dashes of every width as "-",
# Chinese digits as digits, so a phone written 0933.271.845 or 零九八八二七一八四五 is still seen as one.
SEPARATORS_AS_DASHES = {
    **{ord(c): "-" for c in "./\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u30fb\u00b7"},
    **{ord(c): str(i) for i, c in enumerate("零一二三四五六七八九")},
}


@st.composite
def adversarial(draw: Any) -> str:
    """A string of up to 5,000 characters: a repeated unit (or two alternating), with noise around it."""
    unit = draw(st.sampled_from(UNITS)) + draw(st.sampled_from(["", *UNITS]))
    prefix = draw(st.text(max_size=30))
    suffix = draw(st.sampled_from(["", "人", "萬", "元", "號", "@x.tw", "abc人", *UNITS]))
    room = MAX_CHARS - len(prefix) - len(suffix)
    repeat = draw(st.integers(min_value=1, max_value=max(1, room // max(1, len(unit)))))
    return (prefix + unit * repeat + suffix)[:MAX_CHARS]


def timed(name: str, call: Callable[[], Any]) -> Any:
    """Run ``call``, counting the CPU time of this thread (other processes on a busy machine do not count)."""
    started = time.thread_time()
    result = call()
    seconds = time.thread_time() - started
    for _ in range(3):  # a slow call must stay slow, not just have met a cold cache or a page fault
        if seconds <= BUDGET:
            break
        started = time.thread_time()
        result = call()
        seconds = min(seconds, time.thread_time() - started)
    FIGURES[name].append(seconds)
    assert seconds <= BUDGET, f"{name} took {seconds * 1000:.0f} ms"
    return result


FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=EXAMPLES <= 25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)


@FUZZ
@given(adversarial())
def test_the_input_guard(text):
    checked = timed("input_guard.check_text", lambda: check_text(text, MAX_CHARS))
    assert (checked.text is None) != (checked.reply is None)
    if checked.text is not None:
        assert 0 < len(checked.text) <= MAX_CHARS and "\x00" not in checked.text


@FUZZ
@given(adversarial())
def test_numerals(text):
    for mention in timed("numerals.find_numbers", lambda: find_numbers(text)):
        assert mention.value is not None


@FUZZ
@given(adversarial())
def test_masking(text):
    masked = timed("masking.mask_text", lambda: mask_text(text))
    shadow = fold_width(masked).translate(SEPARATORS_AS_DASHES)
    assert not _MOBILE.search(shadow) and not _EMAIL.search(fold_width(masked))  # nothing of these kinds is left
    assert not any(national_id_valid(m.group()) for m in _ID.finditer(shadow))
    short = mask_text(text[:40])  # a message-sized piece: masking it again changes nothing
    assert mask_text(short) == short
    assert isinstance(mask_value({"a": [text, {"b": text}]})["a"][0], str)


@st.composite
def line_events(draw: Any) -> dict[str, Any]:
    words = draw(adversarial())
    kind = draw(
        st.sampled_from(
            [
                "message",
                "postback",
                "follow",
                "unfollow",
                "join",
                "leave",
                "unsend",
                "memberJoined",
                "beacon",
                "videoPlayComplete",
                "accountLink",
                7,
                None,
            ]
        )
    )
    source = draw(
        st.sampled_from(
            [
                {"type": "user", "userId": "U" + "a" * 32},
                {"type": "group", "groupId": "C1"},
                {"type": "room"},
                None,
                "user",
                {"type": 3},
            ]
        )
    )
    event: dict[str, Any] = {
        "type": kind,
        "timestamp": draw(st.one_of(st.integers(), st.text(max_size=5))),
        "webhookEventId": draw(st.one_of(st.text(max_size=30), st.none())),
        "replyToken": draw(st.one_of(st.text(max_size=40), st.none(), st.integers())),
        "deliveryContext": draw(st.sampled_from([{"isRedelivery": True}, {}, None, []])),
        "message": draw(
            st.sampled_from(
                [
                    {"type": "text", "id": "1", "text": words},
                    {
                        "type": "text",
                        "text": words,
                        "mention": {"mentionees": [{"index": 0, "length": 3, "isSelf": True}, {"index": "x"}]},
                    },
                    {"type": "sticker"},
                    {"type": "image"},
                    None,
                    [],
                    {"type": 5},
                ]
            )
        ),
        "postback": {"data": words},
        "unsend": {"messageId": words[:20]},
    }
    if source is not None:
        event["source"] = source
    return event


@FUZZ
@given(st.lists(line_events(), max_size=5), st.sampled_from(["", "x", "[", '{"events": 1}', "null"]))
def test_the_line_event_parser(events, junk):
    body = json.dumps({"destination": "U0", "events": events}, ensure_ascii=False).encode()
    for payload in (body, junk.encode(), body[: len(body) // 2]):
        try:
            parsed = timed("line_events.parse_delivery", partial(parse_delivery, payload))
        except Rejected as refused:
            assert refused.status == 400 and refused.reason
            continue
        for event in parsed:
            assert isinstance(event.conversation_id, str) and isinstance(event.text, str)
            assert event.reply_token is None or isinstance(event.reply_token, str)


@FUZZ
@given(
    st.recursive(
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=50)),
        lambda children: st.one_of(
            st.lists(children, max_size=6), st.dictionaries(st.text(max_size=10), children, max_size=6)
        ),
        max_leaves=60,
    )
)
def test_metadata_caps(value):
    problem = timed("input_guard.metadata_problem", lambda: metadata_problem(value))
    assert problem is None or problem.status in (400, 413)


@pytest.fixture(scope="module", autouse=True)
def figures():
    yield
    if not FIGURES:
        return
    lines = [
        f"fuzz run: {EXAMPLES} examples per property, inputs up to {MAX_CHARS} characters, budget "
        f"{BUDGET * 1000:.0f} ms per call"
    ]
    for name, times in sorted(FIGURES.items()):
        ordered = sorted(times)
        lines.append(
            f"{name:32} calls {len(times):6d}  median {ordered[len(ordered) // 2] * 1000:7.2f} ms  "
            f"max {ordered[-1] * 1000:7.2f} ms"
        )
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n" + "\n".join(lines))

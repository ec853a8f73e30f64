"""The conversation list: filters, pagination, sorting, tags, reviewed, on the seeded bot's real events."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
from collections import Counter

import pytest

from bot.categories import HOTLINE_CATEGORIES, INTENT_CATEGORY
from bot.clock import TAIPEI
from bot.ops.review import BadFilter, Filters, UnknownConversation
from tests.conftest import ROOT
from tests.ops.conftest import user_events

FALLBACK_ACTIONS = {"action_clarify_topic", "action_default_fallback"}


def listed(review, **raw) -> list:  # type: ignore[no-untyped-def]
    """Every conversation matching ``raw`` filters, through all pages."""
    rows, page = [], 1
    while True:
        result = review.search(Filters.parse({"synthetic": "yes", **raw, "page": str(page), "per_page": "200"}))
        rows += result.rows
        if page >= result.pages:
            return rows
        page += 1


def ids(rows) -> set[str]:  # type: ignore[no-untyped-def]
    return {r.sender_id for r in rows}


def expected_fell_back(events) -> bool:  # type: ignore[no-untyped-def]
    understood_nothing = any(
        not in_form and e["parse_data"]["intent"].get("name") == "nlu_fallback" for e, in_form in user_events(events)
    )
    return understood_nothing or any(e.get("event") == "action" and e.get("name") in FALLBACK_ACTIONS for e in events)


def expected_handed_off(events) -> bool:  # type: ignore[no-untyped-def]
    return any(e.get("event") == "pause" or e.get("name") == "action_create_disaster_report" for e in events)


HANDOFF_STARTS = {"handoff_form", "disaster_report_form", "action_create_disaster_report"}


def expected_category(events) -> str:  # type: ignore[no-untyped-def]
    """Most asked hotline topic up to the handoff (all messages without one); a tie goes to the latest."""
    hotline = {c.value for c in HOTLINE_CATEGORIES}
    before, everything, in_form, handed = [], [], False, False
    for event in events:
        kind = event.get("event")
        if kind == "active_loop":
            in_form = bool(event.get("name"))
        elif kind == "user" and not in_form:
            found = INTENT_CATEGORY.get(event["parse_data"]["intent"].get("name"))
            value = found.value if found is not None and found.value in hotline else None
            everything.append(value)
            if not handed:
                before.append(value)
        elif (kind == "action" and event.get("name") in HANDOFF_STARTS) or kind == "pause":
            handed = True
    for topics in (before, everything):
        topics = [t for t in topics if t]
        if topics:
            counts = Counter(topics)
            return max(counts, key=lambda t: (counts[t], max(i for i, x in enumerate(topics) if x == t)))
    return "other"


@pytest.fixture(scope="module")
def raw(ops_copy):  # type: ignore[no-untyped-def]
    return {s: events for s, events in ops_copy.raw().items() if user_events(events)}


def test_every_conversation_with_a_message_is_listed_once(ops_copy, raw, seeded_ops):
    rows = listed(ops_copy.review)
    assert len(rows) == len(ids(rows)) == len(raw)
    assert ids(rows) == set(raw)
    assert set(seeded_ops.summary["senders"]) <= ids(rows)


def test_pages_split_the_list_without_gaps_or_repeats(ops_copy, raw):
    seen: list[str] = []
    first = ops_copy.review.search(Filters.parse({"per_page": "7", "synthetic": "yes"}))
    assert first.total == len(raw) and first.pages == math.ceil(len(raw) / 7)
    for page in range(1, first.pages + 1):
        result = ops_copy.review.search(Filters.parse({"per_page": "7", "page": str(page), "synthetic": "yes"}))
        assert len(result.rows) == (7 if page < first.pages else len(raw) - 7 * (first.pages - 1))
        seen += [r.sender_id for r in result.rows]
    assert len(seen) == len(set(seen)) == len(raw)
    assert (
        ops_copy.review.search(Filters.parse({"per_page": "7", "page": str(first.pages + 1), "synthetic": "yes"})).rows
        == []
    )


def test_sorting_orders_by_the_chosen_column(ops_copy):
    newest = [r.started_at for r in listed(ops_copy.review)]
    assert newest == sorted(newest, reverse=True)
    lowest = [
        r.min_confidence
        for r in listed(ops_copy.review, sort="confidence", order="asc")
        if r.min_confidence is not None
    ]
    assert lowest == sorted(lowest) and len(lowest) > 5
    busiest = [r.questions for r in listed(ops_copy.review, sort="questions")]
    assert busiest == sorted(busiest, reverse=True)


def test_failed_and_handed_off_filters_match_the_raw_events(ops_copy, raw):
    fell_back = {s for s, events in raw.items() if expected_fell_back(events)}
    handed_off = {s for s, events in raw.items() if expected_handed_off(events)}
    assert fell_back and handed_off, "the seed must produce fallbacks and handoffs"
    rows = listed(ops_copy.review)
    assert {r.sender_id for r in rows if r.fallbacks} == fell_back  # the old figure, kept beside the new one
    failed = ids(listed(ops_copy.review, failed="yes"))
    assert fell_back < failed, "every fallback is a failure, and the seed has failures that are not fallbacks"
    assert ids(listed(ops_copy.review, failed="no")) == set(raw) - failed
    assert ids(listed(ops_copy.review, handed_off="yes")) == handed_off
    assert ids(listed(ops_copy.review, handed_off="yes", failed="yes")) == handed_off & failed


def test_category_filter_counts_each_conversation_under_its_main_topic(ops_copy, raw):
    by_category: dict[str, set[str]] = {}
    for sender, events in raw.items():
        by_category.setdefault(expected_category(events), set()).add(sender)
    assert len(by_category) >= 4
    for category, senders in by_category.items():
        assert ids(listed(ops_copy.review, category=category)) == senders, category


def test_intent_and_confidence_filters(ops_copy, raw):
    def has(events, check) -> bool:  # type: ignore[no-untyped-def]
        return any(check(e) for e, in_form in user_events(events) if not in_form)

    loan = {s for s, ev in raw.items() if has(ev, lambda e: e["parse_data"]["intent"]["name"] == "loan_ask")}
    assert loan and ids(listed(ops_copy.review, intent="loan_ask")) == loan
    low = {
        s
        for s, ev in raw.items()
        if has(ev, lambda e: not e["text"].startswith("/") and e["parse_data"]["intent"]["confidence"] < 0.7)
    }
    assert low and ids(listed(ops_copy.review, below="0.7")) == low
    for row in listed(ops_copy.review, below="0.7"):
        assert row.min_confidence < 0.7


def test_rating_filter_finds_the_callers_who_rated(ops_copy, raw):
    rated: dict[str, int] = {}
    for sender, events in raw.items():
        for event, _ in user_events(events):
            if event["parse_data"]["intent"]["name"] == "handoff_rate":
                rated[sender] = int(
                    next(e["value"] for e in event["parse_data"]["entities"] if e["entity"] == "rating")
                )
    assert rated, "the seed rates every resolved ticket"
    for value in set(rated.values()):
        assert ids(listed(ops_copy.review, rating=str(value))) == {s for s, r in rated.items() if r == value}
    assert ids(listed(ops_copy.review, rating="none")) == set(raw) - set(rated)


def test_free_text_is_literal_even_with_wildcards_and_injection(ops_copy, raw):
    def contains(needle: str) -> set[str]:
        return {
            s
            for s, ev in raw.items()
            if any(needle.lower() in (e.get("text") or "").lower() for e in ev if e.get("event") in ("user", "bot"))
        }

    assert ids(listed(ops_copy.review, q="貸款")) == contains("貸款") != set()
    assert ids(listed(ops_copy.review, q="%")) == contains("%")
    assert ids(listed(ops_copy.review, q="_")) == contains("_")
    assert listed(ops_copy.review, q="' OR 1=1 --") == []
    assert listed(ops_copy.review, q="\\") == [] or all("\\" in r.first_text for r in listed(ops_copy.review, q="\\"))
    assert len(listed(ops_copy.review)) == len(raw)  # nothing was dropped
    some = next(iter(raw))
    assert ids(listed(ops_copy.review, q=some)) == {some}  # a conversation id finds it


def test_channel_filter_separates_web_chat_from_rest(ops_copy, raw, seeded_ops):
    channel = {s: user_events(ev)[0][0].get("input_channel") for s, ev in raw.items()}
    web_chat = {s for s, c in channel.items() if c == "socketio"}
    assert seeded_ops.summary["flows"].get("web_chat", 0) >= 2 and len(web_chat) >= 2
    assert ids(listed(ops_copy.review, channel="socketio")) == web_chat
    assert ids(listed(ops_copy.review, channel="rest")) == {s for s, c in channel.items() if c == "rest"}


def test_date_range_and_channel_filters_on_backdated_conversations(ops_copy, raw):
    # Two conversations of this run (since yesterday): another test on the shared stack stores one
    # with a first message days back, which an 8-day shift would push out of the range asked.
    started_today = dt.datetime.combine(
        dt.datetime.now(TAIPEI).date() - dt.timedelta(days=1), dt.time(), TAIPEI
    ).timestamp()
    senders = sorted(
        s for s, events in raw.items() if min(e["timestamp"] for e in events if "timestamp" in e) >= started_today
    )
    last_week, last_month = senders[0], senders[1]

    def shift(days: int, channel: str):  # type: ignore[no-untyped-def]
        def change(event) -> None:  # type: ignore[no-untyped-def]
            if "timestamp" in event:
                event["timestamp"] -= days * 86400
            if event.get("event") == "user":
                event["input_channel"] = channel

        return change

    ops_copy.rewrite(last_week, shift(8, "line"))
    ops_copy.rewrite(last_month, shift(30, "socketio"))
    from bot.ops.events import rebuild_all

    rebuild_all(ops_copy.review.engine)
    today = dt.datetime.now(TAIPEI).date()
    day = lambda n: (today - dt.timedelta(days=n)).isoformat()  # noqa: E731
    assert ids(listed(ops_copy.review, **{"from": day(9), "to": day(7)})) == {last_week}
    assert ids(listed(ops_copy.review, **{"to": day(7)})) == {last_week, last_month}
    # Other tests on the shared stack may date a conversation back too (the web chat's day separators).
    since = dt.datetime.combine(today - dt.timedelta(days=1), dt.time(), TAIPEI).timestamp()
    recent = {s for s, events in raw.items() if min(e["timestamp"] for e in events if "timestamp" in e) >= since}
    assert ids(listed(ops_copy.review, **{"from": day(1)})) == recent - {last_week, last_month}
    assert ids(listed(ops_copy.review, channel="line")) == {last_week}
    assert ids(listed(ops_copy.review, channel="socketio", **{"from": day(40), "to": day(20)})) == {last_month}


def test_tags_and_reviewed_marks_filter_the_list(ops_copy, raw):
    review = ops_copy.review
    first, second = sorted(raw)[2:4]
    review.add_tag(first, "需補訓練資料", "lin")
    review.add_tag(first, "需補訓練資料", "lin")  # twice is once
    review.add_tag(second, "關稅：待確認！", "lin")  # full-width punctuation is fine
    review.set_reviewed(first, "lin")
    assert ids(listed(review, tag="需補訓練資料")) == {first}
    assert ids(listed(review, reviewed="yes")) == {first}
    assert len(listed(review, reviewed="no")) == len(raw) - 1
    assert review.conversation(first).row.tags == ("需補訓練資料",)
    review.remove_tag(first, "需補訓練資料")
    review.set_reviewed(first, "lin", reviewed=False)
    assert listed(review, tag="需補訓練資料") == [] and listed(review, reviewed="yes") == []
    assert ids(listed(review, tag="關稅：待確認！")) == {second}
    for bad in ("<script>", "", "字" * 41, "a\x00b"):
        with pytest.raises(BadFilter):
            review.add_tag(first, bad, "lin")
    with pytest.raises(UnknownConversation):
        review.set_reviewed("no-such-conversation", "lin")


def test_conversation_shows_each_turn_with_intent_confidence_action_and_answer(ops_copy, raw):
    sender = next(
        s
        for s, ev in raw.items()
        if expected_handed_off(ev)
        and any(e.get("event") == "bot" and (e.get("metadata") or {}).get("staff") for e in ev)
    )
    view = ops_copy.review.conversation(sender)
    assert [t["text"] for t in view.turns] == [e["text"] for e, _ in user_events(raw[sender])]
    first = view.turns[0]
    assert first["intent"] and first["confidence"] is not None and first["actions"] and first["replies"]
    assert any(t["form_answer"] for t in view.turns)  # name and phone are form answers, not questions
    assert any(r["who"] == "staff" for t in view.turns for r in t["replies"])
    assert view.row.handed_off and view.row.handoff_reason


@pytest.mark.parametrize(
    ("raw_filters", "reason"),
    [
        ({"from": "2026-13-01"}, "開始日期"),
        ({"from": "2026-11-23", "to": "2026-11-01"}, "開始日期不能晚於"),
        ({"below": "abc"}, "數字"),
        ({"below": "2"}, "介於"),
        ({"channel": "fax"}, "管道"),
        ({"category": "weather"}, "類別"),
        ({"intent": "drop table"}, "意圖"),
        ({"sort": "data; drop"}, "排序"),
        ({"page": "0"}, "頁碼"),
        ({"per_page": "5000"}, "每頁"),
        ({"q": "字" * 201}, "200"),
        ({"rating": "6"}, "評分"),
        ({"fell_back": "maybe"}, "需要檢視"),
        ({"synthetic": "maybe"}, "測試流量"),
    ],
)
def test_bad_filters_are_refused_with_a_reason(raw_filters, reason):
    with pytest.raises(BadFilter, match=reason):
        Filters.parse(raw_filters)


def test_cli_list_gives_the_same_conversations_as_json(ops_copy):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BOT_OPS_DB_URL": ops_copy.url}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "ops",
            "list",
            "--handed-off",
            "yes",
            "--per-page",
            "200",
            "--synthetic",
            "yes",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert {r["sender_id"] for r in result["rows"]} == ids(listed(ops_copy.review, handed_off="yes"))
    assert result["total"] == len(result["rows"])
    real_only = subprocess.run(
        [sys.executable, "-m", "bot", "ops", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    # The seed is synthetic and left out by default; only the shared stack's other test callers remain.
    assert json.loads(real_only.stdout)["total"] == ops_copy.review.search(Filters(synthetic=False, per_page=200)).total
    bad = subprocess.run(
        [sys.executable, "-m", "bot", "ops", "list", "--from", "yesterday"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert bad.returncode != 0 and "開始日期" in bad.stderr and "Traceback" not in bad.stderr

"""Metrics of the seeded conversations, each checked against a figure computed here from raw events."""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
import sqlite3
import statistics
import subprocess
import sys
from collections import Counter

import pytest

from bot.clock import TAIPEI, FixedClock
from bot.formats import spreadsheet_safe
from bot.handoff.tickets_sql import SqlTicketStore
from bot.kb.query import KnowledgeBase
from bot.ops.metrics import Table, report
from tests.conftest import ROOT, TODAY
from tests.ops.conftest import user_events
from tests.ops.test_review import FALLBACK_ACTIONS, expected_category, expected_handed_off, listed


@pytest.fixture(scope="module")
def raw(ops_copy):  # type: ignore[no-untyped-def]
    return {s: events for s, events in ops_copy.raw().items() if user_events(events)}


@pytest.fixture(scope="module")
def kb(ops_copy):  # type: ignore[no-untyped-def]
    return KnowledgeBase(ops_copy.kb, FixedClock(dt.date.fromisoformat(TODAY)))


@pytest.fixture(scope="module")
def result(ops_copy, kb):  # type: ignore[no-untyped-def]
    return report(ops_copy.review.engine, None, None, SqlTicketStore(ops_copy.tickets), kb)


def questions(events):  # type: ignore[no-untyped-def]
    """[(user event, fell back)] for the caller's own messages (not form answers)."""
    out, in_form = [], False
    for event in events:
        kind = event.get("event")
        if kind == "active_loop":
            in_form = bool(event.get("name"))
        elif kind == "user" and not in_form:
            out.append([event, event["parse_data"]["intent"]["name"] == "nlu_fallback"])
        elif kind == "user":
            out.append(None)
        elif kind == "action" and event.get("name") in FALLBACK_ACTIONS and out and out[-1] is not None:
            out[-1][1] = True
    return [q for q in out if q is not None]


def test_category_table_has_counts_and_shares_like_the_hotline_report(result, raw):
    counts = Counter(expected_category(events) for events in raw.values())
    topical = sum(n for c, n in counts.items() if c != "other")
    table = result.tables["categories"]
    assert table.headers == ["諮詢項目", "對話數", "占比(%)"]
    labels = {
        "貸款": "loan",
        "美國關稅": "us_tariff",
        "政策資源": "policy",
        "債務協商": "debt_negotiation",
        "數位轉型與研發": "digital_rd",
        "災害協處": "disaster",
    }
    for label, count, share in table.rows[:-1]:
        assert count == counts.get(labels[label], 0), label
        assert share == pytest.approx(round(100 * count / topical, 1))
    assert table.rows[-1][1] == counts.get("other", 0)
    assert [r[1] for r in table.rows[:-1]] == sorted((r[1] for r in table.rows[:-1]), reverse=True)
    assert table.rows[0][0] == "貸款"  # loans lead, as in seed 000 (68%)
    assert sum(r[2] for r in table.rows[:-1]) == pytest.approx(100, abs=0.5)


def test_containment_fallback_and_handoff_rates(result, raw, ops_copy):
    total = len(raw)
    handed = sum(expected_handed_off(events) for events in raw.values())
    asked = [q for events in raw.values() for q in questions(events)]
    fell = sum(1 for _, fell_back in asked if fell_back)
    assert result.conversations == total
    assert result.handed_off == handed > 0
    assert result.contained_without_ticket == pytest.approx((total - handed) / total)  # the old figure
    rows = listed(ops_copy.review)
    assert result.contained == pytest.approx(sum(1 for r in rows if not r.failures and not r.handed_off) / total)
    assert result.contained < result.contained_without_ticket  # failures the old figure called successes
    assert result.handoff_rate == pytest.approx(handed / total)
    assert result.questions == len(asked)
    assert result.fallback_rate == pytest.approx(fell / len(asked)) and fell > 0


def test_handoff_reasons_add_up_to_the_handoffs(result):
    rows = result.tables["handoff_reasons"].rows
    assert sum(r[1] for r in rows) == result.handed_off
    assert {r[0] for r in rows} <= {"使用者主動要求", "抱怨或不滿", "機器人聽不懂後轉接", "緊急狀況", "災情通報"}


def test_satisfaction_and_first_response_time(result, raw, ops_copy):
    ratings = {}
    for sender, events in raw.items():
        for event, _ in user_events(events):
            if event["parse_data"]["intent"]["name"] == "handoff_rate":
                ratings[sender] = int(
                    next(e["value"] for e in event["parse_data"]["entities"] if e["entity"] == "rating")
                )
    assert result.ratings == len(ratings) > 0
    assert result.satisfaction == pytest.approx(statistics.fmean(ratings.values()))
    handed = {s for s, events in raw.items() if expected_handed_off(events)}
    with sqlite3.connect(ops_copy.tickets) as db:
        rows = db.execute(
            "select conversation_id, created_at, first_response_at from tickets where first_response_at is not null"
        ).fetchall()
    minutes = [
        (dt.datetime.fromisoformat(f) - dt.datetime.fromisoformat(c)).total_seconds() / 60
        for sender, c, f in rows
        if sender in handed
    ]
    assert minutes, "staff answered the seeded tickets in the console"
    assert result.median_first_response_minutes == pytest.approx(statistics.median(minutes))


def test_busiest_hours_and_top_unanswered_questions(result, raw, ops_copy):
    hours: Counter[int] = Counter()
    fell: set[str] = set()
    for events in raw.values():
        for event, fell_back in questions(events):
            hours[dt.datetime.fromtimestamp(event["timestamp"], TAIPEI).hour] += 1
            if fell_back and not event["text"].startswith("/"):
                fell.add(event["text"])
    assert [row[1] for row in result.tables["hours"].rows] == [hours.get(h, 0) for h in range(24)]
    unanswered: Counter[str] = Counter(
        t["text"]
        for s in raw
        for t in ops_copy.review.conversation(s).turns
        if t["failed"] and not t["form_answer"] and not t["text"].startswith("/")
    )
    top = result.tables["unanswered"].rows
    expected = sorted(unanswered.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    assert [(r[0], r[1]) for r in top] == expected
    assert fell <= set(unanswered)  # what the bot did not understand is among the failures


def test_schemes_asked_most_and_those_ending_within_60_days(result, raw, kb):
    asked: Counter[str] = Counter()
    for events in raw.values():
        turn_scheme: dict[int, str] = {}
        turn = -1
        for event in events:
            if event.get("event") == "user":
                turn += 1
            elif event.get("event") == "slot" and event.get("name") == "scheme" and event.get("value") and turn >= 0:
                turn_scheme[turn] = event["value"]
        asked.update(turn_scheme.values())
    rows = result.tables["schemes"].rows
    assert asked, "the seed clicks scheme buttons"
    assert {r[4]: r[3] for r in rows} == dict(sorted(asked.items(), key=lambda kv: (-kv[1], kv[0]))[:10])
    today = dt.date.fromisoformat(TODAY)
    with sqlite3.connect(kb.path) as db:
        # a scheme's own end, its programme period's end or a benefit's own deadline
        window = (today.isoformat(), (today + dt.timedelta(days=60)).isoformat())
        ending = {
            i
            for (i,) in db.execute(
                'select id from schemes where "end" between ?1 and ?2 or period_end between ?1 and ?2 '
                'union select scheme_id from benefits where "end" between ?1 and ?2 and not superseded',
                window,
            )
        }
    assert {r[4] for r in result.tables["ending"].rows} == ending != set()
    for row in result.tables["ending"].rows:
        assert row[2] == (dt.date.fromisoformat(row[1]) - today).days and row[3] == asked.get(row[4], 0)


def test_a_period_without_conversations_gives_zeros_not_errors(ops_copy):
    empty = report(ops_copy.review.engine, dt.date(2020, 1, 1), dt.date(2020, 1, 31))
    assert empty.conversations == 0 and empty.contained is None and empty.satisfaction is None
    assert all(r[1] == 0 for r in empty.tables["categories"].rows)


def test_every_table_downloads_as_csv_with_the_same_cells(result):
    for table in result.all_tables():
        rows = list(csv.reader(io.StringIO(table.csv())))
        assert rows[0] == table.headers
        assert rows[1:] == [[str(spreadsheet_safe(cell)) for cell in row] for row in table.rows], table.key


def test_csv_cells_a_spreadsheet_would_run_as_formulas_are_defused():
    table = Table(
        "t", "t", ["問題"], [['=HYPERLINK("http://evil")'], ["+886 電話"], ["@SUM(A1)"], ["-1+1"], ["貸款"], [-3]]
    )
    cells = [row[0] for row in csv.reader(io.StringIO(table.csv()))][1:]
    assert cells == ['\'=HYPERLINK("http://evil")', "'+886 電話", "'@SUM(A1)", "'-1+1", "貸款", "-3"]


@pytest.mark.parametrize("cell", ["＝1+1 貸款", "＋886", "＠SUM(A1)", "  =1+1", "\u3000=1+1", "－1+1"])
def test_full_width_and_indented_formulas_are_defused_too(cell):
    """Security review L4: the triage CSV left 「＝1+1 …」 (full-width equals) unprefixed."""
    assert spreadsheet_safe(cell) == "'" + cell


def test_intent_table_ranks_intents_by_unsure_messages(result, raw, ops_copy, kb):
    typed: dict[str, list[float]] = {}
    for events in raw.values():
        for event, in_form in user_events(events):
            if not in_form and not event["text"].startswith("/"):
                intent = event["parse_data"]["intent"]
                typed.setdefault(intent["name"], []).append(intent["confidence"])
    rows = {r[0]: r for r in result.tables["intents"].rows}
    assert set(rows) == set(typed)
    for intent, confidences in typed.items():
        row = rows[intent]
        assert row[2] == len(confidences) and row[3] == pytest.approx(statistics.fmean(confidences), abs=0.001)
        assert row[4] == sum(c < 0.6 for c in confidences)
    lows = [r[4] for r in result.tables["intents"].rows]
    assert lows == sorted(lows, reverse=True) and lows[0] > 0
    turn = next(
        t
        for s in raw
        for t in ops_copy.review.conversation(s).turns
        if t["intent"] == "loan_ask" and not t["text"].startswith("/") and not t.get("form_answer")
    )
    ops_copy.review.correct(turn["event_id"], "policy_ask", [], "lin")
    again = report(ops_copy.review.engine, None, None, None, kb)
    assert {r[0]: r[6] for r in again.tables["intents"].rows}["loan_ask"] == 1
    ops_copy.review.remove_correction(turn["event_id"])


def test_cli_metrics_prints_the_category_table_as_csv(ops_copy, result):
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BOT_OPS_DB_URL": ops_copy.url,
        "BOT_VAR_DIR": str(ops_copy.kb.parent),
        "BOT_TODAY": TODAY,
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot", "ops", "metrics", "--csv", "--synthetic", "yes"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == result.tables["categories"].csv().splitlines()
    text = subprocess.run(
        [sys.executable, "-m", "bot", "ops", "metrics", "--from", "2026-11-01"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert text.returncode == 0 and "各類別對話數與占比" in text.stdout and "轉真人原因" in text.stdout

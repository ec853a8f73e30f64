"""`make bench-ops`: the /ops list and metrics on a large event table, against parsing every event per request.

Generates conversations shaped like the bot's real events (user, slot, action, bot,
a handoff form now and then) in a temporary SQLite ops database, then times, in the
same run:
- baseline: what a page would do without the derived tables: read and parse every
  event, derive the turns, filter in Python;
- ours: fold the events once (``refresh``), then per request an incremental
  refresh plus SQL (list page, metrics), also after one new conversation arrives.
Prints ratios against the baseline and writes reports/bench_ops.md.
"""

from __future__ import annotations

import json
import random
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from sqlalchemy import insert, select

from bench.common import ROOT
from bot.ops.events import derive_turns, refresh, summarise
from bot.ops.metrics import report
from bot.ops.review import Filters, Review
from bot.ops.schema import events, open_engine

INTENTS = (
    ["loan_ask"] * 14
    + ["us_tariff_ask"] * 3
    + [
        "policy_ask",
        "debt_negotiation_ask",
        "digital_rd_ask",
        "disaster_ask",
        "chitchat_greet",
        "out_of_scope",
        "nlu_fallback",
    ]
)


def conversation(rng: random.Random, sender: str, start: float) -> list[dict]:
    out: list[dict] = [{"event": "action", "name": "action_session_start", "timestamp": start}]
    for turn in range(rng.randint(1, 6)):
        at = start + turn * 30
        intent = rng.choice(INTENTS)
        confidence = 0.45 if intent == "nlu_fallback" else rng.uniform(0.5, 1.0)
        out.append(
            {
                "event": "user",
                "timestamp": at,
                "text": f"想問{intent}的問題{rng.randint(1, 999)}",
                "input_channel": rng.choice(["rest", "line", "socketio"]),
                "parse_data": {"intent": {"name": intent, "confidence": confidence}, "entities": []},
            }
        )
        action = "action_clarify_topic" if intent == "nlu_fallback" else "action_answer_attribute"
        if rng.random() < 0.3:
            out.append({"event": "slot", "name": "scheme", "value": "youth_startup_loan", "timestamp": at})
        out += [
            {"event": "action", "name": action, "timestamp": at},
            {"event": "bot", "text": "這是回答。", "timestamp": at, "metadata": {}},
            {"event": "action", "name": "action_listen", "timestamp": at},
        ]
    return [{**e, "sender_id": sender} for e in out]


def fill(engine, rng: random.Random, count: int, prefix: str) -> None:  # type: ignore[no-untyped-def]
    rows = []
    for number in range(count):
        sender = f"{prefix}-{number}"
        rows += [
            {"sender_id": sender, "data": json.dumps(e)}
            for e in conversation(rng, sender, time.time() - rng.uniform(0, 30 * 86400))
        ]
    with engine.begin() as db:
        for start in range(0, len(rows), 5000):
            db.execute(insert(events), rows[start : start + 5000])


def naive_page(engine) -> int:  # type: ignore[no-untyped-def]
    """The baseline: every event parsed on every request, fell-back conversations counted in Python."""
    by_sender: dict[str, list] = defaultdict(list)
    with engine.connect() as db:
        for event_id, sender, data in db.execute(select(events.c.id, events.c.sender_id, events.c.data)):
            by_sender[sender].append((event_id, json.loads(data)))
    found = [summarise(t) for s, rows in by_sender.items() if (t := derive_turns(s, rows))]
    return sum(1 for c in found if c.fallbacks)


def timed(function, repeat: int = 3) -> float:  # type: ignore[no-untyped-def]
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - started)
    return best


def main(count: int = 20000) -> None:
    rng = random.Random(2025)
    with tempfile.TemporaryDirectory() as folder:
        engine = open_engine(f"sqlite:///{Path(folder) / 'ops.db'}")
        fill(engine, rng, count, "bench")
        with engine.connect() as db:
            total_events = len(db.execute(select(events.c.id)).all())
        review = Review(engine)
        baseline = timed(lambda: naive_page(engine), repeat=1)
        first = timed(lambda: refresh(engine), repeat=1)
        page = timed(lambda: review.search(Filters(fell_back=True)))
        metrics = timed(lambda: report(engine))
        fill(engine, rng, 1, "new")
        incremental = timed(lambda: review.search(Filters(fell_back=True)), repeat=1)
    lines = [
        "# /ops on a large event table",
        "",
        f"{count:,} conversations, {total_events:,} events (SQLite, this machine). Ratios: baseline time / ours.",
        "",
        "| what | seconds | vs baseline |",
        "|---|---|---|",
        f"| baseline: parse every event per request (fell-back list) | {baseline:.3f} | 1.0× |",
        f"| ours, once: fold all events into ops_turns | {first:.3f} | {baseline / first:.1f}× |",
        f"| ours per request: list page (fell back), nothing new | {page:.4f} | {baseline / page:.0f}× |",
        f"| ours per request: list page after one new conversation | {incremental:.4f} | {baseline / incremental:.0f}× |",
        f"| ours per request: metrics page (all tables) | {metrics:.4f} | {baseline / metrics:.0f}× |",
    ]
    out = ROOT / "reports" / "bench_ops.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20000)

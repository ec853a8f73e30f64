"""Callers whose turns are counted, for killing a Rasa server under load (tests/perf, bench.load).

Each caller holds one conversation and records how many turns were *acknowledged*
(HTTP 200 with a reply) and how many it attempted. After the kill, :func:`tally`
compares that with the user messages each database holds for the conversation:
an acknowledged turn missing from a database is *lost*; a database holding more
user messages than were attempted has *doubled* one.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import sqlalchemy as sa

from bench.ids import sender_id

QUESTIONS = [
    "青創貸款利率大概多少",
    "SBIR最高補助多少",
    "雲市集可以拿多少點數",
    "小微貸款寬限期多久",
    "那利率呢",
    "要準備什麼文件",
    "加薪信保手續費怎麼算",
    "謝謝",
]


@dataclass
class Callers:
    """``count`` threads, each sending its conversation's turns one after another until stopped."""

    url: str
    count: int
    acked: Counter[str] = field(default_factory=Counter)
    attempted: Counter[str] = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> Callers:
        for _ in range(self.count):
            sender = sender_id("crash")
            thread = threading.Thread(target=self._converse, args=(sender,), daemon=True)
            thread.start()
            self.threads.append(thread)
        return self

    def _converse(self, sender: str) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            n = 0
            while not self.stop.is_set():
                self.attempted[sender] += 1
                try:
                    reply = client.post(
                        "/webhooks/rest/webhook", json={"sender": sender, "message": QUESTIONS[n % len(QUESTIONS)]}
                    )
                    if reply.status_code == 200 and reply.json():
                        self.acked[sender] += 1
                except (httpx.HTTPError, ValueError):
                    time.sleep(0.2)  # the server is down: try again, as a caller would
                n += 1

    def wait_for(self, turns: int, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while sum(self.acked.values()) < turns and time.monotonic() < deadline:
            time.sleep(0.1)

    def finish(self) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)


def user_messages(url: str, table_has_type: bool) -> Counter[str]:
    """User messages per conversation in an ``events`` table (tracker store: ``type_name``; ops: JSON ``data``)."""
    counts: Counter[str] = Counter()
    engine = sa.create_engine(url)
    try:
        with engine.connect() as db:
            if table_has_type:
                query = "select sender_id, count(*) from events where type_name = 'user' group by sender_id"
                counts.update({s: n for s, n in db.execute(sa.text(query))})
            else:
                for sender, data in db.execute(sa.text("select sender_id, data from events")):
                    counts[sender] += json.loads(data).get("event") == "user"
    finally:
        engine.dispose()
    return counts


def duplicate_events(url: str) -> int:
    """Rows of the ops ``events`` table that repeat another row exactly (same sender, same event JSON)."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as db:
            seen = Counter((s, d) for s, d in db.execute(sa.text("select sender_id, data from events")))
    finally:
        engine.dispose()
    return sum(n - 1 for n in seen.values() if n > 1)


def tally(callers: Callers, stored: Counter[str]) -> dict[str, int]:
    """Acknowledged turns, how many of them a database lacks, and user messages beyond those attempted."""
    senders = set(callers.attempted)
    return {
        "acknowledged": sum(callers.acked.values()),
        "lost": sum(max(0, callers.acked[s] - stored[s]) for s in senders),
        "doubled": sum(max(0, stored[s] - callers.attempted[s]) for s in senders),
    }

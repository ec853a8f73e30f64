"""Several Rasa servers on shared PostgreSQL, Redis and RabbitMQ behave as one bot.

Everything is real: two Rasa servers (and nginx in front), the action server, the
RabbitMQ consumer, on this machine's services. The failover test kills a server, so
it runs last in this module.
"""

from __future__ import annotations

import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import sqlalchemy as sa

from bench.ids import sender_id
from bot.handoff.tickets_sql import SqlTicketStore
from tests.e2e.client import say, texts

# Questions whose answers name distinct figures, so a reply shows which message it answers.
QUESTIONS = [
    ("青創貸款利率大概多少", "0.575%"),
    ("SBIR最高補助多少", "Phase 1 最高150萬元"),
    ("雲市集可以拿多少點數", "最高10萬數位點數"),
    ("AI工具庫給多少點數", "最高15萬數位點數"),
    ("加薪信保手續費怎麼算", "年費率0.1%"),
    ("小微貸款寬限期多久", "寬限期最長2年"),
    ("外銷貸款保證加碼額度最高多少", "6,000萬元"),
    ("增僱員工減除的減除率是多少", "200%"),
    ("加薪減除減除率多少", "175%"),
    ("災害復工貸款要手續費嗎", "保證手續費免收"),
]


def sender(kind: str) -> str:
    return sender_id(f"{kind}")


def tracker(cluster, url: str, user: str) -> dict[str, Any]:
    reply = httpx.get(
        f"{url}/conversations/{user}/tracker",
        params={"token": cluster.settings.rasa_token, "include_events": "ALL"},
        timeout=30,
    )
    assert reply.status_code == 200, reply.text
    return reply.json()


def user_texts(events: list[dict[str, Any]]) -> list[str]:
    return [event["text"] for event in events if event["event"] == "user"]


def test_a_conversation_alternating_between_servers_keeps_its_slots_and_context(cluster):
    a, b = cluster.rasa_urls
    user = sender("alternate")
    assert "【青年創業及啟動金貸款】" in texts(say(a, user, "想了解一下青創貸款"))
    assert "0.575%" in texts(say(b, user, "那利率呢"))  # the scheme under discussion came from server a
    assert "青年創業及啟動金貸款" in texts(say(a, user, "要準備什麼文件"))
    # A form whose questions are answered on alternating servers, ending in a ticket on PostgreSQL.
    assert "轉給真人客服" in texts(say(b, user, "我要找真人客服"))
    assert "怎麼稱呼" in texts(say(a, user, "好，請專人聯絡我"))
    assert "聯絡電話" in texts(say(b, user, "王小明 小明商行"))
    assert "時段" in texts(say(a, user, "0912345678"))
    created = texts(say(b, user, "下午"))
    number = int(re.search(r"編號(\d+)", created).group(1))
    ticket = SqlTicketStore(cluster.pg_url).get(number)
    assert ticket.contact_name == "王小明（小明商行）" and ticket.contact_phone == "0912-345-678"
    # The whole conversation, though the tracker store loaded only its last turns (bot/privacy/stores.py): the
    # action server read the stored session through nginx from PostgreSQL (actions/handoff.py).
    said = [line["text"] for line in ticket.transcript if line["who"] == "user"]
    assert said[0] == "想了解一下青創貸款" and said[-1] == "下午", said
    assert ticket.category == "loan" and ticket.schemes[0] == "youth_startup_loan"

    seen_by_a, seen_by_b = tracker(cluster, a, user), tracker(cluster, b, user)
    assert seen_by_a["events"] == seen_by_b["events"]
    assert seen_by_a["slots"]["scheme"] and seen_by_a["slots"] == seen_by_b["slots"]
    # The phone reached the ticket (staff call back) but is masked in the shared tracker store.
    assert user_texts(seen_by_a["events"]) == [
        "想了解一下青創貸款",
        "那利率呢",
        "要準備什麼文件",
        "我要找真人客服",
        "好，請專人聯絡我",
        "王小明 小明商行",
        "[手機]",
        "下午",
    ]


def test_concurrent_messages_for_one_sender_are_processed_one_at_a_time(cluster):
    """Sent at once to both servers, the messages queue on the conversation's Redis lock."""
    user = sender("lock")
    barrier = threading.Barrier(len(QUESTIONS))

    def ask(index: int) -> str:
        barrier.wait()
        return texts(say(cluster.rasa_urls[index % 2], user, QUESTIONS[index][0]))

    with ThreadPoolExecutor(len(QUESTIONS)) as pool:
        answers = list(pool.map(ask, range(len(QUESTIONS))))
    for (_, figure), answer in zip(QUESTIONS, answers):
        assert figure in answer  # each reply answers its own message

    events = tracker(cluster, cluster.rasa_urls[0], user)["events"]
    asked = user_texts(events)
    assert sorted(asked) == sorted(q for q, _ in QUESTIONS)  # every message once: none lost, none doubled
    # One at a time: each turn ends (action_listen) before the next message starts, in time order.
    turns = [i for i, event in enumerate(events) if event["event"] == "user"]
    for start, end in zip(turns, turns[1:] + [len(events)]):
        turn = events[start:end]
        assert turn[-1]["event"] == "action" and turn[-1]["name"] == "action_listen", turn
    stamps = [event["timestamp"] for event in events]
    assert stamps == sorted(stamps)
    bounds = dict(zip(asked, zip(turns, turns[1:] + [len(events)])))
    for question, figure in QUESTIONS:  # the tracker pairs each message with its own answer
        start, end = bounds[question]
        assert figure in " ".join(e.get("text") or "" for e in events[start:end] if e["event"] == "bot")


def ops_events(cluster, user: str) -> list[dict[str, Any]]:
    engine = sa.create_engine(cluster.env["BOT_OPS_DB_URL"])
    try:
        with engine.connect() as db:
            rows = db.execute(sa.text("select data from events where sender_id = :user order by id"), {"user": user})
            return [json.loads(row.data) for row in rows]
    finally:
        engine.dispose()


def wait_for(condition, timeout: float = 60.0) -> bool:
    """Poll a condition that another process makes true (no fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return False


def test_a_restarted_consumer_catches_up_with_every_event(cluster):
    cluster.stop("consumer")
    user = sender("ops")
    for index, (question, _) in enumerate(QUESTIONS[:4]):
        say(cluster.rasa_urls[index % 2], user, question)
    assert ops_events(cluster, user) == []  # nothing written while the consumer is down; RabbitMQ keeps them

    cluster.start("consumer")
    stored = tracker(cluster, cluster.rasa_urls[1], user)["events"]
    key = lambda event: (event["event"], event["timestamp"])  # noqa: E731
    assert wait_for(lambda: len(ops_events(cluster, user)) >= len(stored)), cluster.log("consumer")
    assert [key(e) for e in ops_events(cluster, user)] == [key(e) for e in stored]


def test_a_senders_allowance_is_one_across_servers_and_its_refusals_reach_ops(cluster):
    """Each Rasa server kept its own buckets, so two servers behind nginx doubled a sender's burst. The
    buckets are in Redis now: a burst of 20 at 2 a second allows 20 + 2 × (seconds taken), wherever the
    messages land. Empty messages: refused or answered before the NLU, so the flood costs nothing."""
    from bot.ops.metrics import rate_limit_table
    from bot.ops.schema import open_engine

    user = sender("flood")
    body = {"sender": user, "message": ""}
    started = time.monotonic()
    with ThreadPoolExecutor(8) as pool:
        statuses = list(
            pool.map(
                lambda i: (
                    httpx.post(f"{cluster.rasa_urls[i % 2]}/webhooks/rest/webhook", json=body, timeout=30).status_code
                ),
                range(60),
            )
        )
    took = time.monotonic() - started
    allowed, refused = statuses.count(200), statuses.count(429)
    assert allowed + refused == 60
    assert allowed <= 20 + 2 * took + 1, (allowed, took)  # one server alone allows 20 at once
    assert refused > 0
    # Read as /ops/metrics does (open_engine creates the ops tables): the first refusal count a
    # server writes creates them too, but a fast flood can end before that write has run.
    engine = open_engine(cluster.env["BOT_OPS_DB_URL"])
    try:  # both servers' refusals, added up in the ops database on PostgreSQL
        assert wait_for(lambda: rate_limit_table(engine, None, None, "rest").rows[0][1] >= refused, 30), (
            rate_limit_table(engine, None, None, "rest").rows
        )
    finally:
        engine.dispose()


def test_killing_a_rasa_server_under_load_loses_and_doubles_no_message(cluster):
    """Clients retry a failed message with the same message_id; the tracker holds it once."""
    users = [sender("failover") for _ in range(16)]
    turns = 3
    outcomes: list[tuple[str, int, list[int]]] = []  # (user, turn, statuses until answered)
    answered = threading.Semaphore(0)
    client = httpx.Client(base_url=cluster.nginx_url, timeout=90)

    def converse(index: int) -> None:
        user = users[index]
        for turn in range(turns):
            question = QUESTIONS[(index + turn) % len(QUESTIONS)][0]
            body = {"sender": user, "message": question, "message_id": f"{user}-{turn}"}
            statuses = []
            for _attempt in range(5):
                try:
                    reply = client.post("/webhooks/rest/webhook", json=body)
                    statuses.append(reply.status_code)
                except httpx.TransportError:
                    statuses.append(0)
                    continue
                if reply.status_code == 200 and reply.json():
                    break
            outcomes.append((user, turn, statuses))
            answered.release()

    victim = next(name for name in cluster.processes if name.startswith("rasa-"))
    with ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(converse, i) for i in range(len(users))]
        for _ in range(8):  # kill once the load is well under way
            answered.acquire()
        cluster.processes[victim].kill()
        for future in futures:
            future.result()
    client.close()

    assert len(outcomes) == len(users) * turns
    for user, turn, statuses in outcomes:
        assert statuses[-1] == 200, (user, turn, statuses)
        assert set(statuses[:-1]) <= {0, 502, 503, 504}, statuses  # only retriable errors before the answer
    survivor = next(url for url in cluster.rasa_urls if not victim.endswith(url.rsplit(":", 1)[1]))
    for index, user in enumerate(users):
        expected = [QUESTIONS[(index + turn) % len(QUESTIONS)][0] for turn in range(turns)]
        assert user_texts(tracker(cluster, survivor, user)["events"]) == expected
    print(f"retried messages: {sum(len(s) > 1 for _, _, s in outcomes)} of {len(outcomes)}")

"""Rate limits and bounded queues (security review M6), and phone-number sender ids kept out of storage (M4)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import sqlite3
import time

import pytest

from bot.channels.line import ConversationQueues
from bot.channels.rate_limit import RateLimiter, RedisTokenBuckets, Refusal, RefusalLog, TokenBuckets
from bot.clock import TAIPEI
from bot.supervisor import free_port
from tests.e2e.client import post


def test_a_bucket_allows_its_burst_then_its_rate():
    now = [0.0]
    buckets = TokenBuckets(1.0, 5.0, clock=lambda: now[0])
    assert [buckets.take_now("u") for _ in range(7)] == [0] * 5 + [1] * 2  # 0: allowed; else seconds to wait
    now[0] += 2.0
    assert [buckets.take_now("u") for _ in range(3)] == [0, 0, 1]
    assert buckets.take_now("other") == 0  # one sender's flood costs nobody else


def test_the_bucket_table_is_bounded():
    buckets = TokenBuckets(1.0, 1.0, max_keys=100)
    for i in range(1000):
        buckets.take_now(f"sender-{i}")
    assert len(buckets._buckets) == 100


def test_refusals_are_counted_by_reason():
    limiter = RateLimiter("rest", TokenBuckets(1.0, 2.0, clock=lambda: 0.0), TokenBuckets(1.0, 3.0, clock=lambda: 0.0))

    async def run() -> list:
        results = [await limiter.check("a", "10.0.0.1") for _ in range(2)]
        results += [await limiter.check("b", "10.0.0.1") for _ in range(2)]
        return results + [await limiter.check("a", "10.0.0.2")]

    assert asyncio.run(run()) == [None, None, None, Refusal("address", 1), Refusal("sender", 1)]
    assert limiter.summary() == {"rate_limited_sender": 1, "rate_limited_address": 1}


@pytest.fixture(params=["sqlite", "postgresql"])
def ops_url(request, tmp_path):  # type: ignore[no-untyped-def]
    """The ops database of each profile: SQLite (default) and PostgreSQL (scaled)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ops.db'}"
        return
    yield request.getfixturevalue("pg_database")


def test_refusals_of_every_channel_and_server_add_up_in_the_ops_database(ops_url):
    """The counts were only on each process's health route: /ops could not show them, and with
    several Rasa servers each knew only its own."""
    from bot.ops.metrics import rate_limit_table
    from bot.ops.schema import open_engine

    async def flood(limiter: RateLimiter, sender: str, times: int) -> None:
        for _ in range(times):
            await limiter.check(sender, None)
        while limiter.log._task is not None and not limiter.log._task.done():  # the batched writes
            await limiter.log._task

    def limiter(channel: str) -> RateLimiter:
        return RateLimiter(channel, TokenBuckets(0.001, 2.0), None, RefusalLog(ops_url, interval=0.05))

    # Two servers' REST channels, one LINE channel and one socket.io channel, in their own processes' terms.
    rest_a, rest_b, line, web = limiter("rest"), limiter("rest"), limiter("line"), limiter("socketio")
    asyncio.run(flood(rest_a, "u1", 7))
    asyncio.run(flood(rest_b, "u1", 4))
    asyncio.run(flood(line, "U1", 5))
    asyncio.run(flood(web, "s1", 3))
    engine = open_engine(ops_url)
    try:
        table = rate_limit_table(engine, None, None)
        assert table.rows == [["網頁/REST", 5 + 2, 0, 7], ["LINE", 3, 0, 3], ["網頁聊天", 1, 0, 1]]
        today = dt.datetime.now(TAIPEI).date()
        assert rate_limit_table(engine, today, today, "line").rows == [["LINE", 3, 0, 3]]
        assert rate_limit_table(engine, today + dt.timedelta(days=1), None).rows[0][1:] == [0, 0, 0]
    finally:
        engine.dispose()


def test_buckets_in_redis_give_a_sender_one_allowance_across_servers():
    """Two Rasa servers behind nginx each kept their own buckets, doubling a sender's burst."""
    import redis
    import redis.asyncio

    prefix = f"ratetest{os.urandom(4).hex()}:rate:rest:sender"

    async def run() -> list[int]:
        servers = [
            RedisTokenBuckets(redis.asyncio.Redis.from_url("redis://127.0.0.1:6379/1"), prefix, 0.001, 5.0)
            for _ in range(2)
        ]
        waits = [await servers[i % 2].take("0944271845") for i in range(10)]
        waits.append(await servers[0].take("someone-else"))
        for server in servers:
            await server.client.close()
        return waits

    plain = redis.Redis.from_url("redis://127.0.0.1:6379/1")
    try:
        waits = asyncio.run(run())
        keys = list(plain.scan_iter(f"{prefix}:*"))
        lifetimes = [plain.pttl(key) for key in keys]
    finally:
        for key in plain.scan_iter(f"{prefix}:*"):
            plain.delete(key)
    assert waits[:5] == [0] * 5 and all(w > 0 for w in waits[5:10]) and waits[10] == 0
    assert len(keys) == 2 and not any(b"0944271845" in key for key in keys)  # sender ids are hashed
    assert all(ms > 0 for ms in lifetimes)  # keys expire once their bucket would be full again


def test_unreachable_redis_falls_back_to_the_process_buckets():
    import redis.asyncio

    async def run() -> list[int]:
        dead = RedisTokenBuckets(
            redis.asyncio.Redis.from_url(f"redis://127.0.0.1:{free_port()}/1", socket_connect_timeout=0.5),
            "x:rate",
            0.001,
            2.0,
        )
        return [await dead.take("u") for _ in range(3)]

    waits = asyncio.run(run())
    assert waits[:2] == [0, 0] and waits[2] > 0


def test_a_line_conversation_queue_is_bounded():
    async def run() -> list[bool]:
        queues = ConversationQueues(per_conversation=3, conversations=2)
        release = asyncio.Event()

        async def slow() -> None:
            await release.wait()

        accepted = [queues.put("U1", slow) for _ in range(6)] + [queues.put("U2", slow), queues.put("U3", slow)]
        release.set()
        await queues.drain()
        return accepted

    # The first job is taken by the worker at once only after a yield, so 3 wait and 3 are refused.
    assert asyncio.run(run()) == [True, True, True, False, False, False, True, False]


def test_a_flood_from_one_sender_gets_429_and_a_polite_reply_while_others_are_served(stack):
    """200 messages from one sender were all accepted and 43 failed with LockError. Empty messages are used so the
    flood costs Rasa nothing: the limit is checked before anything else."""
    from concurrent.futures import ThreadPoolExecutor

    url = f"{stack.rasa_url}/webhooks/rest/webhook"
    body = json.dumps({"sender": "flooder", "message": ""}).encode()
    refused: list = []
    with ThreadPoolExecutor(16) as pool:
        for _ in range(5):  # the stack allows 5 a second with a burst of 40 (tests/conftest.py)
            answers = list(pool.map(lambda _: post(url, body), range(100)))
            refused += [reply for status, reply in answers if status == 429]
            if refused:
                break
    assert refused and "稍等幾秒" in refused[0][0]["text"] and refused[0][0]["recipient_id"] == "flooder"
    assert post(url, json.dumps({"sender": "bystander", "message": ""}).encode())[0] == 200
    import urllib.request

    with urllib.request.urlopen(f"{stack.rasa_url}/webhooks/rest/", timeout=10) as health:
        assert json.loads(health.read())["rate_limited_sender"] >= len(refused)
    # Counted in ops: the metrics page shows the refusals of the REST channel.
    shown = metrics_row(stack, "網頁/REST", lambda row: row[1] >= len(refused))
    assert shown[1] >= len(refused) and shown[3] == shown[1] + shown[2]


def metrics_row(stack, label: str, enough) -> list:  # type: ignore[no-untyped-def]
    """The row of ``label`` in the metrics page's rate-limit table, once ``enough(row)`` (counts are written
    every FLUSH_SECONDS), logged in as staff on the stack's web app."""
    import httpx

    from bot.handoff.staff import StaffStore
    from tests.web.conftest import login

    password = "rate-password-" + os.urandom(6).hex()
    StaffStore(stack.var_dir / "staff.db").add("rate-viewer", password)
    with httpx.Client(base_url=stack.web_url, timeout=30) as staff:
        assert login(staff, "rate-viewer", password).status_code == 303
        deadline, row = time.monotonic() + 30, None
        while time.monotonic() < deadline:
            page = staff.get("/ops/metrics?from=")
            assert page.status_code == 200
            table = re.search(r'id="table-rate_limits">(.*?)</table>', page.text, re.S)
            assert table, "no rate-limit table on /ops/metrics"
            rows = [
                re.findall(r"<td>\s*(.*?)\s*</td>", r, re.S)
                for r in re.findall(r"<tr>(.*?)</tr>", table.group(1), re.S)
            ]
            row = next(([r[0], *map(int, r[1:])] for r in rows if r and r[0] == label), None)
            if row and enough(row):
                return row
            time.sleep(0.3)
    raise AssertionError(f"/ops/metrics never showed enough refusals for {label}: {row}")


def test_a_phone_number_as_sender_id_is_never_stored(stack):
    """An SMS/IVR gateway's sender "0944271845" left 22 raw copies in the tracker DB and 37 in the ops DB."""
    phone = "0944271845"
    status, reply = post(
        f"{stack.rasa_url}/webhooks/rest/webhook",
        json.dumps({"sender": phone, "message": "青創貸款利率多少"}, ensure_ascii=False).encode(),
    )
    assert status == 200 and reply and all(r["recipient_id"] == phone for r in reply)
    for name in ("tracker.db", "ops.db"):
        with sqlite3.connect(stack.var_dir / name) as db:
            dump = "\n".join(db.iterdump())
        assert phone not in dump and "h-" in dump, name


def test_socketio_refuses_big_metadata_with_a_reason(stack):
    """Socket.io metadata was capped only by engine.io's 1 MB buffer (security review H1). The socket.io flood
    limit shares RateLimiter with REST (tested above); over long-polling a test client cannot send fast enough
    to reach it, so it is not driven end to end here."""
    from tests.e2e.test_webchat import WAIT, ChatUser

    async def scenario() -> dict:
        user = ChatUser(stack)
        refusals: asyncio.Queue = asyncio.Queue()
        user.sio.on("message_refused", refusals.put_nowait)
        await user.join()
        try:
            await user.sio.emit(
                "user_uttered", {"message": "你好", "session_id": user.session, "metadata": {"note": "a@b.cc " * 2000}}
            )
            return await asyncio.wait_for(refusals.get(), WAIT)
        finally:
            await user.close()

    refused = asyncio.run(scenario())
    assert refused["code"] == "metadata_too_large" and "metadata" in refused["reason"]

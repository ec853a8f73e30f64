"""Retention: `python -m bot ops purge` deletes idle conversations everywhere and redacts old tickets."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from bench.ids import sender_id
from bot.handoff.tickets import NewTicket
from bot.handoff.tickets_sql import SqlTicketStore
from bot.privacy.retention import purge
from bot.settings import ROOT
from tests.ops.support import PHONE, conversation, load_stores

DAY = 86_400
OLD = 200 * DAY  # older than the default 180 days
FUTURE = "ops_future_notes"  # a table no code knows yet: any table with a sender_id column is covered


def copy_database(source: Path, target: Path, keep: tuple[str, ...]) -> None:
    """A consistent copy of a live SQLite database holding only the conversations ``keep``."""
    with sqlite3.connect(source) as live, sqlite3.connect(target) as copy:
        live.backup(copy)
        marks = ",".join("?" * len(keep))
        copy.execute(f"delete from events where sender_id not in ({marks})", keep)


def backdate(path: Path, sender: str, seconds: int) -> None:
    with sqlite3.connect(path) as db:
        columns = [c[1] for c in db.execute("pragma table_info(events)")]
        if "timestamp" in columns:
            db.execute("update events set timestamp = timestamp - ? where sender_id = ?", (seconds, sender))
        db.execute(
            "update events set data = json_set(data, '$.timestamp', json_extract(data, '$.timestamp') - ?)"
            " where sender_id = ?",
            (seconds, sender),
        )


def rows(path: Path, table: str, sender: str) -> int:
    with sqlite3.connect(path) as db:
        return db.execute(f"select count(*) from {table} where sender_id = ?", (sender,)).fetchone()[0]


def review(path: Path, senders: tuple[str, ...]) -> None:
    """What staff do on /ops: the derived turns, a tag, "reviewed"; plus rows of a future table."""
    from bot.ops.review import Review

    pages = Review.from_url(f"sqlite:///{path}")
    pages.refresh()
    for sender in senders:
        pages.add_tag(sender, "wrong_intent", "lin")
        pages.set_reviewed(sender, "lin")
    pages.engine.dispose()
    with sqlite3.connect(path) as db:
        db.execute(f"create table {FUTURE} (id integer primary key, sender_id text, note text)")
        db.executemany(f"insert into {FUTURE} (sender_id, note) values (?, 'x')", [(s,) for s in senders])


def rows_by_table(path: Path, sender: str) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        tables = [
            t
            for (t,) in db.execute("select name from sqlite_master where type = 'table'")
            if any(c[1] == "sender_id" for c in db.execute(f"pragma table_info({t})"))
        ]
    return {table: rows(path, table, sender) for table in tables}


def make_tickets(path: Path, old: str, new: str) -> dict[str, int]:
    long_ago = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=200)).isoformat(timespec="seconds")
    then = SqlTicketStore(path, now=lambda: long_ago)
    ticket = dict(
        channel="rest",
        category="loan",
        summary=f"請回電 {PHONE}",
        transcript=[{"who": "user", "text": "薪水"}],
        contact_name="陳美玲",
        contact_phone=PHONE,
        preferred_time="下午",
        priority=2,
        kind="disaster_report",
        details={"phone": PHONE, "company": "美玲小吃店", "disaster_type": "颱風"},
    )
    resolved_long_ago = then.create(NewTicket(conversation_id=old, **ticket)).id
    then.reply(resolved_long_ago, "lin", f"好的，會打 {PHONE} 給您")
    then.resolve(resolved_long_ago, "lin")
    open_long_ago = then.create(NewTicket(conversation_id=old, **ticket)).id
    then.keep_contact(f"{old}-left-the-form", "handoff_phone", PHONE)
    now = SqlTicketStore(path)
    resolved_today = now.create(NewTicket(conversation_id=new, **ticket)).id
    now.resolve(resolved_today, "lin")
    return {"resolved_long_ago": resolved_long_ago, "open_long_ago": open_long_ago, "resolved_today": resolved_today}


def run_purge(folder: Path, *args: str) -> str:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BOT_VAR_DIR": str(folder),
        "BOT_TRACKER_DB_URL": f"sqlite:///{folder / 'tracker.db'}",
        "BOT_OPS_DB_URL": f"sqlite:///{folder / 'ops.db'}",
    }
    env.pop("BOT_RETENTION_DAYS", None)
    done = subprocess.run(
        [sys.executable, "-m", "bot", "ops", "purge", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_purge_deletes_idle_conversations_from_a_real_stacks_databases_and_redacts_old_tickets(stack, tmp_path):
    from tests.e2e.client import say, texts

    old, new = sender_id("purge-old"), sender_id("purge-new")
    for user in (old, new):
        assert "0.575%" in texts(say(stack.rasa_url, user, "青創貸款利率多少"))
    for name in ("tracker.db", "ops.db"):
        copy_database(stack.var_dir / name, tmp_path / name, (old, new))
        backdate(tmp_path / name, old, OLD)
    review(tmp_path / "ops.db", (old, new))
    tickets = make_tickets(tmp_path / "tickets.db", old, new)
    before = {label: rows_by_table(tmp_path / f"{label}.db", old) for label in ("tracker", "ops")}
    assert before["tracker"]["events"] and before["ops"]["events"]
    assert {"ops_turns", "ops_conversations", "ops_tags", "ops_reviews", FUTURE} <= set(before["ops"])
    assert all(before["ops"][t] for t in ("ops_tags", "ops_reviews", FUTURE))

    dry = run_purge(tmp_path, "--dry-run")
    assert "conversations with no event since" in dry and ": 1\n" in dry
    for label, counts in before.items():
        for table, count in counts.items():
            assert f"would delete {count} rows from {label}:{table}\n" in dry, (label, table, dry)
    assert "would redact 1 resolved tickets; would delete 1 unused contact drafts" in dry
    assert rows_by_table(tmp_path / "ops.db", old) == before["ops"]  # a dry run changes nothing

    done = run_purge(tmp_path)
    assert f"deleted {before['tracker']['events']} rows from tracker:events" in done
    for label in ("tracker", "ops"):
        assert set(rows_by_table(tmp_path / f"{label}.db", old).values()) == {0}, label
        assert rows_by_table(tmp_path / f"{label}.db", new)["events"] > 0, label
    assert rows(tmp_path / "ops.db", "ops_tags", new) == rows(tmp_path / "ops.db", FUTURE, new) == 1

    store = SqlTicketStore(tmp_path / "tickets.db")
    redacted = store.get(tickets["resolved_long_ago"])
    assert (redacted.contact_name, redacted.contact_phone, redacted.transcript) == ("", "", [])
    assert redacted.details == {"disaster_type": "颱風"} and PHONE not in redacted.summary
    assert PHONE not in store.replies(redacted.id)[0].text
    assert redacted.category == "loan" and redacted.status.value == "resolved"  # metrics keep their facts
    assert store.get(tickets["open_long_ago"]).contact_phone == PHONE  # still being handled
    assert store.get(tickets["resolved_today"]).contact_phone == PHONE
    assert PHONE.encode() not in b"".join(p.read_bytes() for p in tmp_path.glob("tracker.db*"))

    again = run_purge(tmp_path)
    assert ": 0\n" in again and "redacted 0 resolved tickets" in again  # idempotent


def store_and_backdate_on_postgresql(monkeypatch, tmp_path: Path, tracker_url: str, ops_url: str) -> None:
    """Conversations pg-old (200 days idle, with a review row) and pg-new, stored by the masking stores."""
    store, broker = load_stores(monkeypatch, tmp_path, tracker_url, ops_url)
    for sender in ("pg-old", "pg-new"):
        asyncio.run(store.save(conversation(store, sender)))
    store.engine.dispose()
    broker.engine.dispose()
    with sa.create_engine(tracker_url).begin() as db:
        db.execute(sa.text("update events set timestamp = timestamp - :s where sender_id = 'pg-old'"), {"s": OLD})
    with sa.create_engine(ops_url).begin() as db:
        for row_id, data in db.execute(sa.text("select id, data from events where sender_id = 'pg-old'")).fetchall():
            event = json.loads(data)
            event["timestamp"] -= OLD
            db.execute(sa.text("update events set data = :d where id = :i"), {"d": json.dumps(event), "i": row_id})
        db.execute(sa.text(f"create table {FUTURE} (id serial primary key, sender_id text, note text)"))
        db.execute(sa.text(f"insert into {FUTURE} (sender_id, note) values ('pg-old', 'x'), ('pg-new', 'y')"))


def senders_left(url: str, table: str) -> set[str]:
    with sa.create_engine(url).connect() as db:
        return {s for (s,) in db.execute(sa.text(f"select sender_id from {table}"))}


def test_purge_works_on_postgresql(monkeypatch, tmp_path, postgres_url):
    tracker_url, ops_url = postgres_url(), postgres_url()
    store_and_backdate_on_postgresql(monkeypatch, tmp_path, tracker_url, ops_url)
    assert purge(tracker_url, ops_url, None, 180, dry_run=True).rows == {
        "tracker:events": 5,
        "tracker:tracker_windows": 0,
        "ops:events": 5,
        f"ops:{FUTURE}": 1,
    }
    report = purge(tracker_url, ops_url, None, 180)
    assert report.conversations == 1 and report.rows["ops:events"] == 5
    for url, table in ((tracker_url, "events"), (ops_url, "events"), (ops_url, FUTURE)):
        assert senders_left(url, table) == {"pg-new"}, (url, table)


def test_purge_scaled_finds_the_scale_out_profiles_databases(monkeypatch, tmp_path, postgres_url):
    """`--scaled`: trackers in BOT_PG_URL's database, ops data in <db>_ops, tickets beside the trackers."""
    from bot.handoff.tickets_sql import SqlTicketStore

    tracker_url = postgres_url()
    ops_url = postgres_url(tracker_url.rsplit("/", 1)[1] + "_ops")
    store_and_backdate_on_postgresql(monkeypatch, tmp_path, tracker_url, ops_url)
    long_ago = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=200)).isoformat(timespec="seconds")
    tickets = SqlTicketStore(tracker_url, now=lambda: long_ago)
    number = tickets.create(NewTicket("pg-old", "rest", "loan", "s", [], "陳美玲", PHONE, "下午", 2)).id
    tickets.resolve(number, "lin")

    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BOT_VAR_DIR": str(tmp_path),
        "BOT_PG_URL": tracker_url,
        "BOT_TICKETS_DB_URL": "",
        "BOT_OPS_DB_URL": "",
        "BOT_TRACKER_DB_URL": "",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot", "ops", "purge", "--scaled"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "deleted 5 rows from tracker:events" in done.stdout and "deleted 5 rows from ops:events" in done.stdout
    assert "redacted 1 resolved tickets" in done.stdout
    assert senders_left(tracker_url, "events") == senders_left(ops_url, "events") == {"pg-new"}
    assert tickets.get(number).contact_phone == ""
    assert not list(tmp_path.glob("*.db"))  # nothing went to SQLite


def test_purge_does_not_create_missing_databases(tmp_path):
    report = purge(f"sqlite:///{tmp_path / 'tracker.db'}", f"sqlite:///{tmp_path / 'ops.db'}", None, 30)
    assert report.conversations == 0 and report.rows == {}
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("days", ["0", "-3", "soon"])
def test_a_bad_retention_is_refused_with_a_reason(days, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BOT_VAR_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "bot", "ops", "purge", "--days", days],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and "--days" in done.stderr
    env["BOT_RETENTION_DAYS"] = days
    done = subprocess.run(
        [sys.executable, "-m", "bot", "ops", "purge"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1 and "BOT_RETENTION_DAYS" in done.stderr

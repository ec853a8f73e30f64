"""The ticket store on real SQLite and real PostgreSQL: lifecycle, timestamps, atomic claims, pick-up."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from bot.handoff.tickets import NewTicket, TicketConflict, TicketStatus, UnknownTicket
from bot.handoff.tickets_sql import SqlTicketStore


def new(conversation: str = "c1", priority: int = 3, **changes) -> NewTicket:
    base = dict(
        conversation_id=conversation,
        channel="rest",
        category="loan",
        summary="想借週轉金",
        transcript=[{"who": "user", "text": "想借週轉金"}],
        contact_name="王小明",
        contact_phone="0912-345-678",
        preferred_time="下午",
        priority=priority,
    )
    base.update(changes)
    return NewTicket(**base)


@pytest.fixture(params=["sqlite", "postgresql"])
def open_store(request, tmp_path):
    """A function that opens the same store again (as another process would)."""
    if request.param == "sqlite":
        return lambda: SqlTicketStore(tmp_path / "tickets.db")
    url = request.getfixturevalue("pg_database")
    return lambda: SqlTicketStore(url)


@pytest.fixture
def store(open_store):
    return open_store()


def test_lifecycle_records_every_state_change_with_time(store):
    ticket = store.create(new())
    assert ticket.status is TicketStatus.OPEN and ticket.created_at
    assert store.claim(ticket.id, "lin")
    store.reply(ticket.id, "lin", "您好")
    done = store.resolve(ticket.id, "lin")
    assert done.status is TicketStatus.RESOLVED and done.claimed_at and done.first_response_at and done.resolved_at
    assert [e["kind"] for e in store.events(ticket.id)] == ["created", "claimed", "replied", "resolved"]
    with pytest.raises(TicketConflict):
        store.resolve(ticket.id, "lin")


def test_queue_puts_urgent_first_then_longest_waiting(store):
    first = store.create(new("a", priority=3))
    urgent = store.create(new("b", priority=1))
    second = store.create(new("c", priority=3))
    assert [t.id for t in store.queue()] == [urgent.id, first.id, second.id]
    assert [t.id for t in store.queue(TicketStatus.OPEN, category="loan", channel="line")] == []


def test_two_staff_claiming_at_once_exactly_one_wins(open_store):
    ticket = open_store().create(new())
    barrier, results = threading.Barrier(8), []

    def claim(name):
        store = open_store()
        barrier.wait()
        results.append((name, store.claim(ticket.id, name)))

    threads = [threading.Thread(target=claim, args=(f"staff{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [name for name, won in results if won]
    assert len(winners) == 1
    assert open_store().get(ticket.id).assignee == winners[0]


def test_staff_replies_are_picked_up_once(store):
    ticket = store.create(new("conv-9"))
    store.reply(ticket.id, "lin", "第一則")
    store.queue_bot_message(ticket.id, "請評分", [{"title": "5分", "payload": "/handoff_rate"}])
    picked = store.take_undelivered("conv-9")
    assert [(e.author, e.text) for e in picked] == [("lin", "第一則"), ("bot", "請評分")]
    assert picked[1].buttons[0]["title"] == "5分"
    assert store.take_undelivered("conv-9") == []


def test_unknown_ticket_and_bad_rating(store):
    with pytest.raises(UnknownTicket):
        store.get(404)
    with pytest.raises(UnknownTicket):
        store.claim(404, "lin")
    ticket = store.create(new())
    with pytest.raises(ValueError):
        store.rate(ticket.id, 6)
    store.rate(ticket.id, 5)
    assert store.get(ticket.id).rating == 5


def test_transfer_only_while_being_handled(store):
    ticket = store.create(new())
    with pytest.raises(TicketConflict):
        store.transfer(ticket.id, "lin", "chen")
    store.claim(ticket.id, "lin")
    store.transfer(ticket.id, "lin", "chen")
    assert store.get(ticket.id).assignee == "chen"


def test_open_ticket_for_a_conversation(store):
    ticket = store.create(new("conv-x"))
    assert store.open_for("conv-x").id == ticket.id
    store.resolve(ticket.id, "lin")
    assert store.open_for("conv-x") is None and store.latest_for("conv-x").id == ticket.id


def test_the_caller_withdraws_a_waiting_request(store):
    ticket = store.create(new("conv-w"))
    store.claim(ticket.id, "lin")
    assert store.withdraw(ticket.id) is True
    withdrawn = store.get(ticket.id)
    assert withdrawn.status is TicketStatus.WITHDRAWN and withdrawn.status.label == "來電者已撤回"
    assert store.open_for("conv-w") is None
    assert [e["kind"] for e in store.events(ticket.id)][-1] == "withdrawn"
    assert store.withdraw(ticket.id) is False  # once
    done = store.create(new("conv-r"))
    store.resolve(done.id, "lin")
    assert store.withdraw(done.id) is False and store.get(done.id).status is TicketStatus.RESOLVED
    assert store.queue()[-1].status in (TicketStatus.WITHDRAWN, TicketStatus.RESOLVED)  # closed ones last


def test_an_unsent_message_leaves_every_ticket_of_the_conversation(store):
    """LINE unsend: a ticket keeps the transcript it opened with, so the unsent text stayed there (issue 19)."""
    from bot.channels.line_unsend import UNSENT, forget_in_tickets

    said = "我家的事想問青創貸款，電話0912345678"
    lines = [
        {
            "who": "user",
            "text": said,
            "at": "2026-11-23T10:00:01+08:00",
            "intent": "loan_ask",
            "entities": [{"entity": "scheme", "value": "youth_startup_loan"}],
        },
        {"who": "bot", "text": "青創貸款…", "at": "2026-11-23T10:00:01+08:00"},
        {
            "who": "user",
            "text": "我要找真人客服",
            "at": "2026-11-23T10:00:09+08:00",
            "intent": "handoff_request",
            "entities": [],
        },
    ]
    first = store.create(
        new(
            "line-u1",
            transcript=lines,
            summary=f"主題：貸款｜問題：{said}",
            entities=[{"entity": "scheme", "value": "youth_startup_loan"}],
        )
    )
    second = store.create(new("line-u1", transcript=lines[:1]))
    other = store.create(new("line-u2", transcript=lines[:1]))
    # The stored event is masked, and its time is the line's second (1795399201 is 2026-11-23T10:00:01+08:00).
    stored = {"event": "user", "text": "我家的事想問青創貸款，電話[手機]", "timestamp": 1795399201.4}
    assert forget_in_tickets(store, "line-u1", [stored]) == 2
    ticket = store.get(first.id)
    assert [line["text"] for line in ticket.transcript] == [UNSENT, "青創貸款…", "我要找真人客服"]
    assert ticket.transcript[0]["entities"] == [] and ticket.entities == []
    assert ticket.summary == f"主題：貸款｜問題：{UNSENT}"
    assert store.get(second.id).transcript[0]["text"] == UNSENT
    assert store.get(other.id).transcript[0]["text"] == said  # another conversation's ticket is untouched
    assert [e["kind"] for e in store.events(first.id)][-1] == "unsent"
    assert forget_in_tickets(store, "line-u1", [{**stored, "timestamp": 1795399300.0}]) == 0  # another second


def test_a_withdrawn_ticket_cannot_be_replied_to_or_resolved(store):
    ticket = store.create(new("conv-wr"))
    store.claim(ticket.id, "lin")
    store.withdraw(ticket.id)
    with pytest.raises(TicketConflict):
        store.reply(ticket.id, "lin", "您好")
    with pytest.raises(TicketConflict):
        store.resolve(ticket.id, "lin", "called_back")
    with pytest.raises(TicketConflict):
        store.transfer(ticket.id, "lin", "chen")
    assert store.get(ticket.id).status is TicketStatus.WITHDRAWN  # not turned into 已結案
    assert store.take_undelivered("conv-wr") == []


def test_the_callers_messages_since_the_last_staff_reply_are_counted(store):
    one, other = store.create(new("conv-n1")), store.create(new("conv-n2"))
    assert store.unanswered([one.id, other.id]) == {}
    store.caller_wrote(one.id)
    store.caller_wrote(one.id)
    assert store.unanswered([one.id, other.id]) == {one.id: 2}
    before = store.change_mark()[0]
    store.claim(one.id, "lin")
    store.reply(one.id, "lin", "您好")
    assert store.unanswered([one.id]) == {}  # answered
    store.caller_wrote(one.id)
    assert store.unanswered([one.id, other.id]) == {one.id: 1}
    assert store.change_mark()[0] > before  # the live console sees each new message


def test_canned_replies_start_with_the_defaults_and_can_be_added_and_removed(open_store):
    store = open_store()
    titles = [c["title"] for c in store.canned()]
    assert titles == ["問候", "請稍候", "請來電", "結束"]
    store.add_canned("查詢中", "正在為您查詢。")
    added = store.canned()[-1]
    assert (added["title"], added["text"]) == ("查詢中", "正在為您查詢。")
    store.delete_canned(added["id"])
    assert [c["title"] for c in open_store().canned()] == titles  # opened again: the defaults are not added twice


def test_contact_drafts_keep_the_last_answer_per_slot_until_taken(store):
    store.keep_contact("conv-d", "handoff_phone", "0912-345-678")
    store.keep_contact("conv-d", "handoff_phone", "0933-123-456")  # the caller corrected it
    store.keep_contact("conv-d", "handoff_name", "王小明")
    store.keep_contact("conv-e", "handoff_phone", "0911-111-111")
    assert store.take_contacts("conv-d") == {"handoff_phone": "0933-123-456", "handoff_name": "王小明"}
    assert store.take_contacts("conv-d") == {}
    assert store.drop_contact_drafts_before("9999", dry_run=True) == 1
    assert store.drop_contact_drafts_before("2000") == 0
    assert store.drop_contact_drafts_before("9999") == 1 and store.take_contacts("conv-e") == {}


def test_notes_are_private_and_logged(store):
    ticket = store.create(new())
    store.add_note(ticket.id, "lin", "來電者希望下午聯絡")
    assert [(n.author, n.text) for n in store.notes(ticket.id)] == [("lin", "來電者希望下午聯絡")]
    assert store.replies(ticket.id) == [] and store.events(ticket.id)[-1]["kind"] == "noted"


def test_redaction_removes_who_called_from_old_resolved_tickets_once(store):
    report = store.create(
        new(
            "conv-r",
            kind="disaster_report",
            summary="請回電 0912-345-678",
            details={"phone": "0912-345-678", "company": "美玲小吃店", "disaster_type": "颱風"},
        )
    )
    store.reply(report.id, "lin", "會打 0912-345-678 給您")
    store.add_note(report.id, "lin", "0912-345-678 下午")
    store.resolve(report.id, "lin")
    still_open = store.create(new("conv-o"))
    mask = lambda text: text.replace("0912-345-678", "[手機]")  # noqa: E731 - the real one is bot.privacy.masking
    assert store.redact_resolved_before("9999", mask, dry_run=True) == 1
    assert store.get(report.id).contact_phone == "0912-345-678"  # a dry run changes nothing
    assert store.redact_resolved_before("9999", mask) == 1
    done = store.get(report.id)
    assert (done.contact_name, done.contact_phone, done.preferred_time, done.transcript, done.entities) == (
        "",
        "",
        "",
        [],
        [],
    )
    assert done.summary == "請回電 [手機]" and done.details == {"disaster_type": "颱風"}
    assert store.replies(report.id)[0].text == "會打 [手機] 給您" and store.notes(report.id)[0].text == "[手機] 下午"
    assert done.category == "loan" and done.resolved_at and store.events(report.id)[-1]["kind"] == "redacted"
    assert store.redact_resolved_before("9999", mask) == 0  # once
    assert store.get(still_open.id).contact_phone == "0912-345-678"


def test_a_sqlite_write_takes_the_write_lock_when_it_begins(tmp_path):
    """BEGIN IMMEDIATE: a second writer waits at its start, and reads are not held up by a writer."""
    store = SqlTicketStore(tmp_path / "tickets.db")
    ticket = store.create(new())
    with store.engine.begin() as db:
        db.exec_driver_sql("select 1")
        assert db.connection.dbapi_connection.in_transaction  # the lock is held before anything is written
        assert store.get(ticket.id).id == ticket.id  # another connection still reads (WAL, deferred read)
        other = sqlite3.connect(tmp_path / "tickets.db", timeout=0)
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            other.execute("begin immediate")
        other.close()

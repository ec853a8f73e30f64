"""The ticket store on real SQLite and real PostgreSQL: lifecycle, timestamps, atomic claims, pick-up."""

from __future__ import annotations

import threading

import pytest

from bot.handoff.tickets import (NewTicket, PostgresTicketStore, SqliteTicketStore, TicketConflict, TicketStatus,
                                 UnknownTicket)


def new(conversation: str = "c1", priority: int = 3, **changes) -> NewTicket:
    base = dict(conversation_id=conversation, channel="rest", category="loan", summary="想借週轉金",
                transcript=[{"who": "user", "text": "想借週轉金"}], contact_name="王小明", contact_phone="0912-345-678",
                preferred_time="下午", priority=priority)
    base.update(changes)
    return NewTicket(**base)


@pytest.fixture(params=["sqlite", "postgresql"])
def open_store(request, tmp_path):
    """A function that opens the same store again (as another process would)."""
    if request.param == "sqlite":
        return lambda: SqliteTicketStore(tmp_path / "tickets.db")
    url = request.getfixturevalue("pg_database")
    return lambda: PostgresTicketStore(url)


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

"""The stores' statements built once (bot/privacy/statements.py): the same rows, the same transactions.

Real stores as Rasa loads them from endpoints.yml, on SQLite files and on PostgreSQL. What a
turn stores is checked against the turn's own events (masked as the tracker store masks
them), and a write the database refuses halfway through a turn must leave none of that turn
behind in the database that refused it.
"""

from __future__ import annotations

import asyncio
import json

import pytest
import sqlalchemy as sa

from bot.privacy import stores
from tests.ops.support import PHONE, load_stores
from tests.ops.test_stores_window import turn

REFUSED = "REFUSE-THIS-ROW"
SQLITE_TRIGGER = (
    "create trigger refuse before insert on events when new.data like '%" + REFUSED + "%' "
    "begin select raise(abort, 'refused'); end"
)
POSTGRES_TRIGGER = (
    "create function refuse() returns trigger as $$ begin "
    "if new.data like '%" + REFUSED + "%' then raise exception 'refused'; end if; return new; end $$ "
    "language plpgsql; create trigger refuse before insert on events for each row execute function refuse()"
)


@pytest.fixture(params=["sqlite", "postgresql"])
def urls(request, tmp_path):  # type: ignore[no-untyped-def]
    """(tracker store URL, ops database URL) on the parametrized database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'rasa_tracker.db'}", f"sqlite:///{tmp_path / 'ops.db'}"
    make = request.getfixturevalue("postgres_url")
    return make(), make()


def open_stores(monkeypatch, tmp_path, urls):  # type: ignore[no-untyped-def]
    tracker_url, ops_url = urls
    if tracker_url.startswith("sqlite"):  # the default SQLite files under BOT_VAR_DIR
        return load_stores(monkeypatch, tmp_path)
    return load_stores(monkeypatch, tmp_path, tracker_url, ops_url)


def table(url: str, sql: str, **params: object) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as db:
            return [tuple(row) for row in db.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def refuse_rows_marked(url: str) -> None:
    """Make the database refuse (mid-INSERT) any event row whose JSON holds :data:`REFUSED`."""
    engine = sa.create_engine(url)
    connection = engine.raw_connection()  # the driver's own execute: no parameters, so "%" is literal
    try:
        cursor = connection.cursor()
        cursor.execute(SQLITE_TRIGGER if url.startswith("sqlite") else POSTGRES_TRIGGER)
        cursor.close()
        connection.commit()
    finally:
        connection.close()
        engine.dispose()


def expected_rows(store, sender: str) -> tuple[list[tuple], list[tuple]]:  # type: ignore[no-untyped-def]
    """The tracker and ops rows a save writes for ``sender``'s events: each masked once, in order."""
    full = asyncio.run(store.retrieve_full_tracker(sender))
    authored = stores.authored_texts(store.domain)
    tracker, ops = [], []
    for event in full.events:
        masked = stores.mask_stored(event.as_dict(), authored)
        intent = (masked.get("parse_data") or {}).get("intent", {}).get("name")
        tracker.append(
            (sender, event.type_name, masked.get("timestamp"), intent, masked.get("name"), json.dumps(masked))
        )
        ops.append((sender, json.dumps({"sender_id": sender, **masked})))
    return tracker, ops


def test_every_turn_is_stored_as_its_masked_events_in_order_in_both_databases(monkeypatch, tmp_path, urls):
    from rasa.shared.core.events import SlotSet

    tracker_url, ops_url = urls
    store, _ = open_stores(monkeypatch, tmp_path, urls)
    sender = "statements-rows"
    turn(store, sender, 0, extra=[SlotSet("handoff_phone", PHONE)])
    for n in range(1, 12):  # long enough for the window to be made and moved (12 turns of ~4 KB)
        turn(store, sender, n)
    tracker_rows = table(
        tracker_url,
        "select sender_id, type_name, timestamp, intent_name, action_name, data from events"
        " where sender_id = :s order by id",
        s=sender,
    )
    ops_rows = table(ops_url, "select sender_id, data from events where sender_id = :s order by id", s=sender)
    expected_tracker, expected_ops = expected_rows(store, sender)
    assert tracker_rows == expected_tracker
    assert ops_rows == expected_ops
    assert PHONE not in json.dumps(tracker_rows) + json.dumps(ops_rows)
    (after_id,) = table(tracker_url, "select after_id from tracker_windows where sender_id = :s", s=sender)[0]
    assert after_id > 0
    # the loaded window holds the latest slots and the last turns, as before the statements were prepared
    loaded = asyncio.run(store.retrieve(sender))
    full = asyncio.run(store.retrieve_full_tracker(sender))
    assert loaded.current_slot_values() == full.current_slot_values()
    assert [e.as_dict() for e in loaded.events][-12:] == [e.as_dict() for e in full.events][-12:]


def test_a_conversation_without_a_window_loads_what_rasas_own_query_loads(monkeypatch, tmp_path, urls):
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.events import ActionExecuted, SessionStarted

    store, _ = open_stores(monkeypatch, tmp_path, urls)
    sender = "statements-session"
    turn(store, sender, 0)
    turn(store, sender, 1, extra=[ActionExecuted("action_session_start"), SessionStarted()])
    turn(store, sender, 2)
    ours = asyncio.run(store.retrieve(sender))
    rasas = asyncio.run(SQLTrackerStore.retrieve(store, sender))  # Rasa's ORM _event_query on the same store
    assert [e.as_dict() for e in ours.events] == [e.as_dict() for e in rasas.events]
    assert any(e.as_dict()["event"] == "session_started" for e in ours.events)
    assert asyncio.run(store.retrieve("statements-nobody")) is None


def test_a_turn_builds_no_orm_session_and_reuses_its_statements(monkeypatch, tmp_path):
    store, _ = load_stores(monkeypatch, tmp_path)
    turn(store, "statements-built", 0)
    built = store.statements

    def no_session() -> None:
        raise AssertionError("a turn opened an ORM session")

    monkeypatch.setattr(store, "sessionmaker", no_session)
    for n in range(1, 4):
        turn(store, "statements-built", n)
    assert store.statements is built


def test_a_tracker_write_refused_halfway_stores_none_of_the_turn(monkeypatch, tmp_path, urls):
    from rasa.shared.core.events import BotUttered

    tracker_url, ops_url = urls
    store, _ = open_stores(monkeypatch, tmp_path, urls)
    sender = "statements-refused"
    turn(store, sender, 0)
    before = table(tracker_url, "select id, data from events where sender_id = :s order by id", s=sender)
    refuse_rows_marked(tracker_url)
    with pytest.raises(sa.exc.DatabaseError):  # the marked bot event comes after the user, slot and action rows
        turn(store, sender, 1, extra=[BotUttered(REFUSED)])
    assert table(tracker_url, "select id, data from events where sender_id = :s order by id", s=sender) == before
    # the broker's rows were committed before the tracker's, as documented (ops shows a turn never answered)
    ops_texts = [json.loads(d).get("text") for (d,) in table(ops_url, "select data from events order by id")]
    assert REFUSED in ops_texts
    # the conversation goes on from the turn before
    turn(store, sender, 2)
    users = [json.loads(d)["text"] for (d,) in table(tracker_url, "select data from events where type_name = 'user'")]
    assert users == ["第0個問題 青創貸款利率", "第2個問題 青創貸款利率"]


def test_a_broker_write_refused_halfway_stores_the_turn_nowhere(monkeypatch, tmp_path, urls):
    from rasa.shared.core.events import BotUttered

    tracker_url, ops_url = urls
    store, _ = open_stores(monkeypatch, tmp_path, urls)
    sender = "statements-broker-refused"
    turn(store, sender, 0)
    tracker_before = table(tracker_url, "select id from events order by id")
    ops_before = table(ops_url, "select id from events order by id")
    refuse_rows_marked(ops_url)
    with pytest.raises(sa.exc.DatabaseError):
        turn(store, sender, 1, extra=[BotUttered(REFUSED)])
    assert table(ops_url, "select id from events order by id") == ops_before
    assert table(tracker_url, "select id from events order by id") == tracker_before

"""The SQL a turn runs in the tracker store, built once as Core statements that a turn only binds.

``MaskingSQLTrackerStore`` (bot/privacy/stores.py) ran each turn through an ORM session:
``session.query(...)`` rebuilt the count and the event queries (Rasa's ``_event_query``,
with its latest-session subquery) and the ORM turned each into a Core statement again,
computed its cache key and looked it up; ``session.get`` went through the identity map
for the window. That machinery was most of the store's CPU per turn, none of it spent on
data (issue #17). Here each statement is built once per store, with ``bindparam``s for
the sender and the window's id, and run on a ``Connection``: a turn binds values, and
SQLAlchemy finds the compiled form in its cache. The SQL is the one the ORM emitted
(same FROM, same conditions, same order), so the same rows are read and written; the
insert stays a Core ``INSERT`` executed for all of a turn's rows (psycopg2 batches it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from rasa.shared.core.events import SessionStarted


@dataclass(frozen=True, slots=True)
class TrackerStatements:
    """One store's statements; ``latest_*`` read the latest session, ``after_*`` the events after a window's id.

    Parameters: ``sender_id`` everywhere, ``after_id`` in ``after_*``; ``insert_events`` and
    ``insert_window``/``update_window`` take the rows' columns.
    """

    latest_size: Any
    after_size: Any
    latest_events: Any
    after_events: Any
    latest_ids: Any
    after_ids: Any
    window: Any
    insert_events: Any
    insert_window: Any
    update_window: Any

    @classmethod
    def build(cls, events: sa.Table, windows: sa.Table) -> TrackerStatements:
        """The statements over Rasa's ``events`` table and our ``tracker_windows``."""
        sender = sa.bindparam("sender_id")
        # Rasa's _event_query: the events at or after the latest session start, or all when none started.
        start = (
            sa.select(sa.func.max(events.c.timestamp).label("session_start"))
            .where(events.c.sender_id == sender, events.c.type_name == SessionStarted.type_name)
            .subquery()
        )
        latest = (
            events.c.sender_id == sender,
            sa.or_(events.c.timestamp >= start.c.session_start, start.c.session_start.is_(None)),
        )
        after = (events.c.sender_id == sender, events.c.id > sa.bindparam("after_id"))
        size = (sa.func.count(events.c.id), sa.func.sum(sa.func.length(events.c.data)))

        def latest_select(*columns: Any) -> Any:
            return sa.select(*columns).select_from(events).select_from(start).where(*latest)

        def after_select(*columns: Any) -> Any:
            return sa.select(*columns).where(*after)

        return cls(
            latest_size=latest_select(*size),
            after_size=after_select(*size),
            latest_events=latest_select(events.c.type_name, events.c.data).order_by(events.c.id),
            after_events=after_select(events.c.type_name, events.c.data).order_by(events.c.id),
            latest_ids=latest_select(events.c.id).order_by(events.c.id),
            after_ids=after_select(events.c.id).order_by(events.c.id),
            window=sa.select(windows.c.after_id, windows.c.prefix).where(windows.c.sender_id == sender),
            insert_events=events.insert(),
            insert_window=windows.insert(),
            update_window=windows.update()
            .where(windows.c.sender_id == sa.bindparam("window_sender"))
            .values(after_id=sa.bindparam("new_after_id"), prefix=sa.bindparam("new_prefix")),
        )

    def size(self, after_id: int | None) -> Any:
        """(count, summed JSON length) of the loaded part: after ``after_id``, else the latest session."""
        return self.latest_size if after_id is None else self.after_size

    def events(self, after_id: int | None) -> Any:
        """(type_name, data) of the loaded part, in id order."""
        return self.latest_events if after_id is None else self.after_events

    def ids(self, after_id: int | None) -> Any:
        """The ids of the loaded part, in id order."""
        return self.latest_ids if after_id is None else self.after_ids

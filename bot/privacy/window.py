"""The tracker window's marker, and the whole session behind a windowed tracker (pure, on event dicts).

The tracker store loads a long session as a *window* (bot/privacy/stores.py): a few events
rebuilding the state before the last turns, marked in their ``session_started`` event's
metadata, plus the stored events since. An action that needs the whole session (a
ticket's transcript and summary, actions/handoff.py) reads the stored conversation
through Rasa's HTTP API and joins it to the turn it is running in with
:func:`whole_session`. No Rasa import here: the action server uses it.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

# The marker in the window's SessionStarted metadata: {"after_id": id, "events": prefix length}.
WINDOW_MARK = "hotline_window"

Event = Mapping[str, Any]


def mark_of(events: Sequence[Event]) -> dict[str, int] | None:
    """The window marker of a tracker's events (its first ``session_started``), or None when not windowed."""
    first = next((e for e in itertools.islice(events, 2) if e.get("event") == "session_started"), None)
    mark = (first.get("metadata") or {}).get(WINDOW_MARK) if first is not None else None
    return mark if isinstance(mark, dict) and isinstance(mark.get("events"), int) else None


def latest_session(events: Sequence[Event]) -> list[Event]:
    """The events from the last ``action_session_start`` on (all of them when there is none)."""
    starts = [i for i, e in enumerate(events) if e.get("event") == "action" and e.get("name") == "action_session_start"]
    return list(events[starts[-1] :] if starts else events)


def _key(event: Event) -> tuple[Any, Any, Any]:
    return event.get("event"), event.get("timestamp"), event.get("name") or event.get("text")


def whole_session(loaded: Sequence[Event], stored: Sequence[Event]) -> list[Event]:
    """The caller's whole current session: the stored one, then what this turn added.

    ``loaded`` is the tracker an action received (window prefix, the stored events since,
    then this turn's events, not stored until the turn ends); ``stored`` is the full
    stored conversation (Rasa's ``GET /conversations/{id}/tracker``). An unwindowed
    tracker is the whole session already and is returned as it is.
    """
    mark = mark_of(loaded)
    if mark is None:
        return list(loaded)
    session = latest_session(stored)
    known = {_key(e) for e in session}
    new = [e for e in list(loaded)[mark["events"] :] if _key(e) not in known]
    return session + new

"""Rasa's event classes found by type name from a table, instead of walking every subclass each time.

Rasa 3.6's ``Event.resolve_by_type(type_name, default)`` walks all (non-abstract)
subclasses of ``Event``, recursively, with ``inspect.isabstract`` on each, for every event
it deserialises: every event of a loaded tracker, of an action server's response, of the
tracker store's window (issue #17). Here the walk is done once and its result kept as a
table from type name to the first class the walk finds with that name (what Rasa's loop
returns); a name not in the table gets Rasa's answer for an unknown name (``None`` for
the old ``topic`` events, else ``default``, else ``ValueError``), with the table rebuilt
first in case a class was defined since.

Not stale: defining any subclass of ``Event`` drops the table (``Event.__init_subclass__``,
chained to whatever was there), since a new class can come before another of the same
name in the walk; the table holds classes weakly, and a class that has been garbage
collected drops it too. :func:`install` replaces ``Event.resolve_by_type``; the masking
tracker store installs it with :mod:`bot.remote_action`'s patches. Installing twice is harmless.
"""

from __future__ import annotations

import weakref
from typing import Any

import rasa.shared.utils.common
from rasa.shared.core.events import Event

_RASA_RESOLVE_BY_TYPE = Event.__dict__["resolve_by_type"]  # the staticmethod itself
_RASA_INIT_SUBCLASS = Event.__dict__.get("__init_subclass__")


class EventTypes:
    """The table of type name → event class, built on first use and dropped when a subclass is defined."""

    def __init__(self) -> None:
        self.table: dict[str, weakref.ref[type[Event]]] | None = None

    def build(self) -> dict[str, weakref.ref[type[Event]]]:
        table: dict[str, weakref.ref[type[Event]]] = {}
        for cls in rasa.shared.utils.common.all_subclasses(Event):
            table.setdefault(cls.type_name, weakref.ref(cls))  # the walk's first class of a name wins, as in Rasa
        self.table = table
        return table

    def find(self, type_name: str) -> type[Event] | None:
        """The class Rasa's walk finds for ``type_name``, or None if it finds none."""
        table = self.table if self.table is not None else self.build()
        found = table.get(type_name)
        cls = found() if found is not None else None
        if cls is None:  # unknown, or collected since: the walk again
            found = self.build().get(type_name)
            cls = found() if found is not None else None
        return cls

    def clear(self) -> None:
        self.table = None


EVENT_TYPES = EventTypes()


def resolve_by_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    """``Event.resolve_by_type`` from the table: the same class, ``None``, default or ``ValueError``."""
    cls = EVENT_TYPES.find(type_name)
    if cls is not None:
        return cls
    if type_name == "topic":
        return None  # as Rasa: backwards compatibility with old TopicSet events
    if default is not None:
        return default
    raise ValueError(f"Unknown event name '{type_name}'.")


def _drop_table_on_new_subclass(cls: type[Event], **kwargs: Any) -> None:
    EVENT_TYPES.clear()
    if _RASA_INIT_SUBCLASS is not None:
        _RASA_INIT_SUBCLASS.__get__(None, cls)(**kwargs)
    else:
        super(Event, cls).__init_subclass__(**kwargs)


def install() -> None:
    """Resolve event type names from the table (dropped whenever an ``Event`` subclass is defined)."""
    # Rasa offers no hook for this: the methods are replaced on purpose, which mypy forbids by default.
    Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign]
    Event.__init_subclass__ = classmethod(_drop_table_on_new_subclass)  # type: ignore[assignment,method-assign]
    EVENT_TYPES.clear()


def uninstall() -> None:
    """Rasa's own walk again (for tests comparing both)."""
    Event.resolve_by_type = _RASA_RESOLVE_BY_TYPE  # type: ignore[method-assign]
    if _RASA_INIT_SUBCLASS is None:
        if "__init_subclass__" in Event.__dict__:
            del Event.__init_subclass__
    else:
        Event.__init_subclass__ = _RASA_INIT_SUBCLASS  # type: ignore[method-assign]


__all__ = ["EVENT_TYPES", "EventTypes", "install", "resolve_by_type", "uninstall"]

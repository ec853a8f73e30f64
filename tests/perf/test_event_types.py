"""Event classes found by type name from a table (bot/event_types.py): the class Rasa's walk finds, Rasa's
answers for unknown names, real trackers deserialised alike, and a class defined later is found."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest
import rasa.shared.utils.common
from rasa.shared.core.events import Event, UserUttered

from bot import event_types
from bot.settings import ROOT


@pytest.fixture
def installed() -> Iterator[None]:
    """The table installed during the test, and whatever was there before afterwards."""
    before = {name: Event.__dict__[name] for name in ("resolve_by_type", "__init_subclass__") if name in Event.__dict__}
    event_types.install()
    yield
    event_types.uninstall()
    for name, value in before.items():
        setattr(Event, name, value)
    event_types.EVENT_TYPES.clear()


def rasa_resolve(type_name: str, default: Any = None) -> Any:
    return event_types._RASA_RESOLVE_BY_TYPE.__func__(type_name, default)


def test_every_type_name_gives_the_class_rasas_walk_finds(installed):
    names = {cls.type_name for cls in rasa.shared.utils.common.all_subclasses(Event)}
    assert len(names) > 20
    for name in names:
        assert Event.resolve_by_type(name) is rasa_resolve(name), name


def test_unknown_names_get_rasas_answers(installed):
    assert Event.resolve_by_type("topic") is None
    assert Event.resolve_by_type("no_such_event", UserUttered) is UserUttered
    with pytest.raises(ValueError, match="Unknown event name 'no_such_event'"):
        Event.resolve_by_type("no_such_event")
    assert Event.from_parameters({"event": "topic"}) is None


def test_real_conversations_deserialise_alike(installed):
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import deserialise_events
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader

    domain = Domain.load(str(ROOT / "domain.yml"))
    dumped = [
        event.as_dict()
        for path in sorted((ROOT / "data").rglob("*.yml"))
        if "nlu" not in path.parts
        for step in YAMLStoryReader(domain).read_from_file(str(path))
        for event in step.events
    ]
    assert len({d["event"] for d in dumped}) >= 4
    ours = deserialise_events(dumped)
    event_types.uninstall()
    assert ours == deserialise_events(dumped) and len(ours) == len(dumped)


def test_names_are_resolved_without_walking_the_classes_again(installed, monkeypatch):
    walks = 0
    rasa_walk = rasa.shared.utils.common.all_subclasses

    def counted(cls: Any) -> list[Any]:
        nonlocal walks
        walks += cls is Event
        return rasa_walk(cls)

    monkeypatch.setattr(rasa.shared.utils.common, "all_subclasses", counted)
    for _ in range(50):
        for name in ("user", "bot", "action", "slot", "active_loop"):
            Event.resolve_by_type(name)
    assert walks <= 1


def test_a_class_defined_after_first_use_is_found(installed):
    assert Event.resolve_by_type("bot_test_defined_later", UserUttered) is UserUttered

    class DefinedLater(Event):
        type_name = "bot_test_defined_later"

        def __eq__(self, other: Any) -> bool:
            return type(other) is type(self)

        def __hash__(self) -> int:
            return 0

        def as_story_string(self) -> str:
            return self.type_name

    assert Event.resolve_by_type("bot_test_defined_later") is DefinedLater
    assert Event.resolve_by_type("bot_test_defined_later") is rasa_resolve("bot_test_defined_later")
    del DefinedLater
    gc.collect()
    assert Event.resolve_by_type("bot_test_defined_later", UserUttered) is rasa_resolve(
        "bot_test_defined_later", UserUttered
    )


def test_the_tracker_store_installs_the_table():
    from rasa.shared.core.domain import Domain

    from bot.privacy.stores import MaskingSQLTrackerStore

    MaskingSQLTrackerStore(Domain.load(str(ROOT / "domain.yml")), db=":memory:")
    assert Event.__dict__["resolve_by_type"].__func__ is event_types.resolve_by_type

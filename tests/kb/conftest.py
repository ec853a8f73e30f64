"""Knowledge bases built for tests: from fixture YAML or from knowledge/, in tmp_path."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from bot.clock import FixedClock
from bot.kb.build import build_kb
from bot.kb.query import KnowledgeBase
from bot.kb.records import load_knowledge

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def fixture_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_kb(load_knowledge(ROOT / "tests" / "fixtures" / "knowledge"), tmp_path_factory.mktemp("kb") / "kb.db")


@pytest.fixture(scope="session")
def real_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_kb(load_knowledge(ROOT / "knowledge"), tmp_path_factory.mktemp("realkb") / "kb.db")


def kb_on(path: Path, day: str) -> KnowledgeBase:
    return KnowledgeBase(path, FixedClock(dt.date.fromisoformat(day)))

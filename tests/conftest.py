"""Shared fixtures and helpers: Trackers for action tests, the trained model, a parser, and real servers on free loopback ports."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from bot import supervisor

if TYPE_CHECKING:  # rasa_sdk is imported by the helpers that use it, not by every test session
    from rasa_sdk import Action, Tracker

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
MODEL = ROOT / "models" / "hotline.tar.gz"
# endpoints.yml sends ${BOT_ACTION_TOKEN} to the action server; tests that only read the file need a value
# (the stacks below get their own from supervisor.services).
os.environ.setdefault("BOT_ACTION_TOKEN", "test-action-token-" + os.urandom(16).hex())


def make_tracker(
    intent: str = "nlu_fallback",
    entities: Iterable[Any] = (),
    slots: dict[str, Any] | None = None,
    *,
    text: str = "…",
    confidence: float | None = None,
    ranking: list[dict[str, Any]] | None = None,
    events: Iterable[dict[str, Any]] = (),
    sender: str = "u1",
    requested: str | None = None,
) -> Tracker:
    """A Tracker whose latest message has ``intent`` and ``entities``, as rasa_sdk's own tests build them inline.

    ``entities`` are (name, value) pairs or Rasa's entity dicts; ``requested`` is the
    form's ``requested_slot``; ``events`` the conversation so far.
    """
    from rasa_sdk import Tracker

    found = [e if isinstance(e, dict) else {"entity": e[0], "value": e[1]} for e in entities]
    parsed = {"name": intent} if confidence is None else {"name": intent, "confidence": confidence}
    latest = {"text": text, "intent": parsed, "intent_ranking": list(ranking or []), "entities": found}
    all_slots = {**(slots or {}), **({"requested_slot": requested} if requested else {})}
    return Tracker(sender, all_slots, latest, list(events), False, None, {}, "action_listen")


def run_action(
    action: Action, tracker: Tracker, domain: dict[str, Any] | None = None
) -> tuple[list[dict[str, Any]], list[Any]]:
    """The messages the action uttered and the events it returned."""
    from rasa_sdk.executor import CollectingDispatcher

    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, domain or {}))
    return dispatcher.messages, events


@pytest.fixture(scope="session")
def model_path() -> Path:
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `make train` (make test does it)")
    return MODEL


@pytest.fixture(scope="session")
def parser(model_path: Path):  # type: ignore[no-untyped-def]
    from bot.nlu.parser import RasaParser

    loaded = RasaParser(model_path)
    yield loaded
    loaded.close()


@dataclass
class Stack:
    rasa_url: str
    token: str
    logs: Path
    web_url: str
    api_token: str
    var_dir: Path

    def log(self, name: str) -> str:
        return (self.logs / f"{name}.log").read_text(errors="replace")[-4000:]


# The date every end-to-end test lives on, so scheme expiry does not drift with the calendar.
TODAY = "2026-11-23"


def start_stack(
    model_path: Path, folder: Path, today: str, extra_env: dict[str, str] | None = None
) -> tuple[Stack, list]:
    """Action server, Rasa server and web app as `make run` starts them, with state in ``folder``.

    Office hours cover the whole week so a handoff's reply does not depend on when CI runs.
    ``extra_env`` adds or overrides variables (e.g. the LINE channel's).
    """
    from bot.kb.build import build_kb
    from bot.kb.records import load_knowledge

    action_port, rasa_port, web_port = supervisor.free_port(), supervisor.free_port(), supervisor.free_port()
    token, api_token = "test-token-" + os.urandom(16).hex(), "api-" + os.urandom(16).hex()
    build_kb(load_knowledge(ROOT / "knowledge"), folder / "kb.db")
    endpoints = folder / "endpoints.yml"
    endpoints.write_text(
        supervisor.action_endpoint(f"http://127.0.0.1:{action_port}/webhook")
        + f"tracker_store:\n  type: bot.privacy.stores.MaskingSQLTrackerStore\n  dialect: sqlite\n  db: {folder / 'tracker.db'}\n"
        f"event_broker:\n  type: bot.privacy.stores.MaskingSQLEventBroker\n  dialect: sqlite\n  db: {folder / 'ops.db'}\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "BOT_RASA_TOKEN": token,
        "BOT_TODAY": today,
        "BOT_VAR_DIR": str(folder),
        "BOT_OFFICE_HOURS": "mon-sun 00:00-23:59",
        "BOT_SESSION_SECRET": "session-" + os.urandom(16).hex(),
        "BOT_API_TOKEN": api_token,
        "BOT_RASA_URL": f"http://127.0.0.1:{rasa_port}",
        # The web chat page connects to this Rasa; its socket accepts the web app's own origin.
        "BOT_WEB_PORT": str(web_port),
        "BOT_CHAT_SOCKET_URL": f"http://127.0.0.1:{rasa_port}",
        # Tests talk fast from one address; the rate limits get their own tests (tests/security/test_rate_limits.py).
        "BOT_RATE_SENDER": "5/40",
        "BOT_RATE_ADDRESS": "off",
        **(extra_env or {}),
    }
    processes = []
    try:
        for service in supervisor.services(
            sys.executable, model_path, token, endpoints, rasa_port, action_port, web_port
        ):
            with (folder / f"{service.name}.log").open("wb") as log:
                processes.append(supervisor.start(service, log, env))
    except supervisor.ServiceFailed as exc:
        for process in processes:
            supervisor.stop(process)
        logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in folder.glob("*.log"))
        pytest.fail(f"{exc}\n{logs}")
    return Stack(
        f"http://127.0.0.1:{rasa_port}", token, folder, f"http://127.0.0.1:{web_port}", api_token, folder
    ), processes


@pytest.fixture(scope="session")
def stack(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running, processes = start_stack(model_path, tmp_path_factory.mktemp("stack"), TODAY)
    yield running
    for process in reversed(processes):
        supervisor.stop(process)


@pytest.fixture(scope="session")
def stack_in_2023(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The same bot with its clock on 2023-12-01, before several schemes ended."""
    running, processes = start_stack(model_path, tmp_path_factory.mktemp("stack2023"), "2023-12-01")
    yield running
    for process in reversed(processes):
        supervisor.stop(process)


@dataclass
class Seeded:
    stack: Stack
    summary: dict
    staff: str
    password: str


@pytest.fixture(scope="session")
def seeded_ops(stack: Stack) -> Seeded:
    """The shared stack with generated conversations (bot/ops/seed.py): questions, fallbacks,
    handoffs that staff answer and resolve in the console, ratings, some over the web chat. Once per session."""
    from bot.handoff.staff import StaffStore
    from bot.ops.seed import ConsoleLogin, seed

    password = "ops-password-" + os.urandom(4).hex()
    StaffStore(stack.var_dir / "staff.db").add("ops-seeder", password)
    summary = seed(
        stack.rasa_url, 40, 11, ConsoleLogin(stack.web_url, "ops-seeder", password), chat_origin=stack.web_url
    )
    return Seeded(stack, summary, "ops-seeder", password)


@pytest.fixture
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database on 127.0.0.1:5432 (unique name), dropped afterwards."""
    from bot.scaled.profile import drop_database, ensure_database

    url = f"postgresql://postgres@127.0.0.1:5432/hotline_test_{os.urandom(5).hex()}"
    ensure_database(url)
    yield url
    drop_database(url)

"""The scaled profile on this machine's real PostgreSQL, Redis and RabbitMQ.

One cluster for the whole package (a Rasa server takes ~40 s to load): an action
server, the event consumer, two Rasa servers and nginx, on free loopback ports, with
PostgreSQL databases, a Redis key prefix and a RabbitMQ queue of its own, all removed
afterwards (``bot/scaled/cluster.py``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import supervisor
from bot.scaled.cluster import Cluster, launch
from tests.conftest import ROOT, TODAY


@pytest.fixture(scope="package")
def cluster(model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    from bot.kb.build import build_kb
    from bot.kb.records import load_knowledge

    folder = tmp_path_factory.mktemp("scaled")
    build_kb(load_knowledge(ROOT / "knowledge"), folder / "kb.db")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "BOT_RASA_TOKEN": "test-token-" + os.urandom(16).hex(),
        "BOT_TODAY": TODAY,
        "BOT_OFFICE_HOURS": "mon-sun 00:00-23:59",
        "BOT_SESSION_SECRET": "session-" + os.urandom(16).hex(),
        "BOT_API_TOKEN": "api-"
        + os.urandom(
            16
        ).hex(),  # Per sender as in the default stack, low enough for the shared-bucket test (test_cluster.py);
        # no test here sends a sender more than 15 messages.
        "BOT_RATE_SENDER": "2/20",
        "BOT_RATE_ADDRESS": "off",
    }
    try:
        running = launch(model_path, folder, env)
    except supervisor.ServiceFailed as exc:
        logs = "\n".join(p.read_text(errors="replace")[-3000:] for p in folder.glob("*.log"))
        pytest.fail(f"{exc}\n{logs}")
    yield running
    running.close()

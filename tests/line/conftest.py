"""One real stack (actions, Rasa, web app) with the LINE channel pointed at a fake LINE platform."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot import supervisor
from tests.conftest import TODAY, Stack, start_stack
from tests.line.fake_line import FakeLine, serve


@dataclass
class LineStack:
    stack: Stack
    fake: FakeLine
    secret: str
    access_token: str

    @property
    def webhook(self) -> str:
        return f"{self.stack.rasa_url}/webhooks/line/webhook"


@pytest.fixture(scope="session")
def fake_line() -> Iterator[FakeLine]:
    fake = FakeLine(access_token="line-access-" + os.urandom(12).hex())
    server = serve(fake, supervisor.free_port())
    yield fake
    server.shutdown()


@pytest.fixture(scope="session")
def line_stack(model_path: Path, fake_line: FakeLine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LineStack]:
    secret = "line-secret-" + os.urandom(12).hex()
    running, processes = start_stack(model_path, tmp_path_factory.mktemp("line"), TODAY, fake_line.bot_env(secret))
    yield LineStack(running, fake_line, secret, fake_line.access_token)
    for process in reversed(processes):
        supervisor.stop(process)

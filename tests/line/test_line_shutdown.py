"""Stopping Rasa right after LINE deliveries: events already acknowledged are still answered."""

from __future__ import annotations

import os
from pathlib import Path

from bot import supervisor
from tests.conftest import TODAY, start_stack
from tests.line.fake_line import FakeLine, new_id, serve
from tests.line.webhook import deliver, text


def test_events_queued_when_rasa_stops_are_answered_before_it_exits(model_path: Path, tmp_path: Path):
    fake = FakeLine(access_token="line-access-" + os.urandom(8).hex())
    server = serve(fake, supervisor.free_port())
    secret = "line-secret-" + os.urandom(8).hex()
    stack, processes = start_stack(model_path, tmp_path, TODAY, fake.bot_env(secret))
    try:
        sent = {new_id(): [] for _ in range(3)}
        for user, events in sent.items():
            events.extend(text(fake, user, words) for words in ["你好", "謝謝", "你是誰", "再見"])
            assert deliver(f"{stack.rasa_url}/webhooks/line/webhook", secret, *events)[0] == 200
        rasa = processes[1]
        supervisor.stop(rasa)  # SIGTERM at once: LINE got its 200s and will not redeliver
        assert rasa.returncode is not None
        for user, events in sent.items():
            assert [c.body.get("replyToken") for c in fake.delivered(user)] == [e["replyToken"] for e in events]
    finally:
        for process in reversed(processes):
            supervisor.stop(process)
        server.shutdown()

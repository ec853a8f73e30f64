"""The action server as `make run` starts it: loopback only, and nothing without the shared secret (review H2)."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot import supervisor

ROOT = Path(__file__).resolve().parents[2]
SECRET = "action-" + os.urandom(16).hex()


@pytest.fixture(scope="module")
def action_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    folder = tmp_path_factory.mktemp("actions")
    port = supervisor.free_port()
    service = supervisor.services(
        sys.executable,
        ROOT / "models" / "unused.tar.gz",
        "r" * 40,
        ROOT / "endpoints.yml",
        supervisor.free_port(),
        port,
        action_token=SECRET,
    )[0]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "BOT_VAR_DIR": str(folder), "BOT_TODAY": "2026-11-23"}
    env.pop("SANIC_HOST", None)
    with (folder / "actions.log").open("wb") as log:
        process = supervisor.start(service, log, env, timeout=120)
    yield port, folder
    supervisor.stop(process)


def call(port: int, path: str, body: dict | None = None, token: str | None = None) -> tuple[int, object]:
    headers = {"Content-Type": "application/json", **({"X-Action-Token": token} if token is not None else {})}
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as reply:
            return reply.status, json.loads(reply.read())
    except urllib.error.HTTPError as refused:
        return refused.code, json.loads(refused.read())


PLANTED_TICKET = {
    "next_action": "action_create_ticket",
    "sender_id": "secprobe-action",
    "tracker": {
        "sender_id": "secprobe-action",
        "slots": {"handoff_consent": True, "handoff_name": "SECURITY TEST", "handoff_phone": "0200000000"},
        "latest_message": {"text": "我要找真人", "intent": {"name": "handoff_request"}, "entities": []},
        "events": [{"event": "user", "text": "我要找真人", "timestamp": 1.0}],
        "active_loop": {},
    },
    "domain": {},
    "version": "3.6.2",
}


def test_it_listens_on_loopback_only(action_server):
    port, _ = action_server
    listening = [
        line.split()[1]
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if line.split()[1].endswith(f":{port:04X}") and line.split()[3] == "0A"
    ]
    assert listening == [f"0100007F:{port:04X}"]  # 127.0.0.1, not 0.0.0.0


@pytest.mark.parametrize("token", [None, "", "wrong", SECRET[:-1], SECRET + "x", SECRET.upper()])
def test_without_the_secret_nothing_is_listed_or_run(action_server, token):
    port, folder = action_server
    status, body = call(port, "/actions", token=token)
    assert status == 401 and "X-Action-Token" in body["reason"]
    status, _ = call(port, "/webhook", PLANTED_TICKET, token=token)
    assert status == 401
    tickets = folder / "tickets.db"
    if tickets.exists():
        import sqlite3

        with sqlite3.connect(tickets) as db:
            assert (
                db.execute("select count(*) from sqlite_master where name = 'tickets'").fetchone()[0] == 0
                or db.execute("select count(*) from tickets").fetchone()[0] == 0
            )


def test_with_the_secret_rasa_gets_its_actions_and_the_probe_stays_open(action_server):
    port, _ = action_server
    status, actions = call(port, "/actions", token=SECRET)
    assert status == 200 and {"name": "action_create_ticket"} in actions
    assert call(port, "/health")[0] == 200


def test_rasa_sends_the_secret_from_every_endpoints_file(monkeypatch, tmp_path):
    from rasa.core.utils import AvailableEndpoints

    from bot.scaled import profile
    from bot.settings import Settings

    monkeypatch.setenv("BOT_ACTION_TOKEN", SECRET)
    for name, value in {
        "BOT_ACTION_URL": "http://127.0.0.1:5999/webhook",
        "BOT_VAR_DIR": str(tmp_path),
        "BOT_TRACKER_DB_URL": "",
        "BOT_OPS_DB_URL": "",
        "BOT_AMQP_PASSWORD": "guest",
    }.items():
        monkeypatch.setenv(name, value)
    scaled = tmp_path / "scaled.yml"
    scaled.write_text(
        profile.scaled_endpoints(Settings.from_env({"BOT_VAR_DIR": str(tmp_path), "BOT_AMQP_PASSWORD": "guest"})),
        encoding="utf-8",
    )
    generated = tmp_path / "generated.yml"
    generated.write_text(supervisor.action_endpoint("http://127.0.0.1:5999/webhook"), encoding="utf-8")
    for path in (ROOT / "endpoints.yml", scaled, generated):
        assert AvailableEndpoints.read_endpoints(str(path)).action.headers == {"X-Action-Token": SECRET}, path

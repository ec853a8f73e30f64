"""kill -9 of the Rasa server under load loses no acknowledged turn and doubles none (default profile, SQLite).

Real servers on free ports, six callers each holding a conversation; the Rasa server
is killed mid-load, then started again on the same databases and the conversations
go on. Every turn a caller got a reply for is in the tracker store and in the ops
database, once.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import uuid

import pytest

from bench.crash import Callers, duplicate_events, tally, user_messages
from bot import supervisor
from bot.settings import ROOT

MODEL = ROOT / "models" / "hotline.tar.gz"
pytestmark = pytest.mark.skipif(
    not MODEL.exists() or not (ROOT / "var" / "kb.db").exists(), reason="needs `make train` and var/kb.db"
)


def test_kill_9_of_the_rasa_server_under_load_loses_nothing_acknowledged(tmp_path):
    shutil.copy(ROOT / "var" / "kb.db", tmp_path / "kb.db")
    rasa_port, action_port = supervisor.free_port(), supervisor.free_port()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "BOT_VAR_DIR": str(tmp_path),
        "BOT_ACTION_URL": f"http://127.0.0.1:{action_port}/webhook",
        "BOT_TRACKER_DB_URL": "",
        "BOT_OPS_DB_URL": "",
        "BOT_RASA_TOKEN": uuid.uuid4().hex,
        "BOT_RATE_SENDER": "off",
        "BOT_RATE_ADDRESS": "off",
    }
    actions, rasa = supervisor.services(
        sys.executable, MODEL, env["BOT_RASA_TOKEN"], ROOT / "endpoints.yml", rasa_port, action_port
    )
    started: list[subprocess.Popen[bytes]] = []
    with (tmp_path / "servers.log").open("ab") as log:
        try:
            started.append(supervisor.start(actions, log, env))
            started.append(supervisor.start(rasa, log, env))
            callers = Callers(f"http://127.0.0.1:{rasa_port}", 6).start()
            callers.wait_for(40)
            os.kill(started[-1].pid, signal.SIGKILL)
            started[-1].wait()
            before_restart = sum(callers.acked.values())
            started.append(supervisor.start(rasa, log, env))  # same databases: the conversations go on
            callers.wait_for(before_restart + 12)
            callers.finish()
        finally:
            for process in reversed(started):
                supervisor.stop(process)
    errors = [
        line
        for line in (tmp_path / "servers.log").read_text(errors="replace").splitlines()
        if " ERROR " in line or "Error" in line
    ][-20:]  # what the servers said, should a count be off
    assert sum(callers.acked.values()) >= before_restart + 12, errors  # the conversations went on after the restart
    for name in ("rasa_tracker.db", "ops.db"):
        url = f"sqlite:///{tmp_path / name}"
        counts = tally(callers, user_messages(url, table_has_type=name == "rasa_tracker.db"))
        assert counts["lost"] == 0 and counts["doubled"] == 0, (name, counts, errors)
    assert duplicate_events(f"sqlite:///{tmp_path / 'ops.db'}") == 0

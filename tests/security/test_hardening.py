"""What the running stack exposes to other local accounts and what it refuses to start with (review M2, M3, M5),
and how long it lets a slow client hold a connection (L1)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from bot.settings import Settings, SettingsError

ROOT = Path(__file__).resolve().parents[2]
STRONG = "s" * 16 + os.urandom(16).hex()


def test_the_rasa_token_is_on_no_command_line(stack):
    """`ps -eo args` showed `rasa run … --auth-token <token>` to every local user (M3)."""
    seen = []
    for proc in Path("/proc").iterdir():
        try:
            arguments = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if "bot.launch" in arguments:
            seen.append(arguments)
        assert stack.token not in arguments
    assert any(" rasa " in f" {a} " for a in seen)  # the stack's Rasa does run through the launcher


def test_a_client_sending_its_request_head_slowly_is_cut_off_while_others_are_served(stack):
    """Slowloris: sockets sending a header line every few seconds stayed open on :8000 for as long as they
    kept sending (uvicorn has no header timeout), and --limit-concurrency counts them (L1)."""
    import urllib.request

    from bot.web.slow_clients import HEAD_SECONDS
    from tests.security.slowloris import slow_clients

    port = int(stack.web_url.rsplit(":", 1)[1])
    lasted = slow_clients(port, count=5, give_up=HEAD_SECONDS + 10)
    assert None not in lasted, lasted  # every slow client was closed, after about HEAD_SECONDS
    with urllib.request.urlopen(f"{stack.web_url}/healthz", timeout=10) as reply:  # a normal client is served
        assert reply.status == 200


def test_databases_with_personal_data_are_private(stack):
    """tickets.db (callback numbers), staff.db (password hashes), the tracker and ops databases were 0644 (M5)."""
    from tests.e2e.client import say  # a turn makes Rasa write its databases

    say(stack.rasa_url, "perm-check", "你好")
    files = [p for p in stack.var_dir.iterdir() if p.suffix in (".db",) or p.name.endswith(("-wal", "-shm"))]
    assert {p.name for p in files} >= {"tracker.db", "ops.db"}
    loose = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files if p.stat().st_mode & 0o077}
    assert loose == {}


def test_an_existing_world_readable_database_is_closed_at_start(tmp_path):
    from bot.launch import private_files

    old = tmp_path / "tickets.db"
    old.write_text("x")
    old.chmod(0o644)
    private_files(tmp_path)
    assert stat.S_IMODE(old.stat().st_mode) == 0o600


@pytest.mark.parametrize("value", ["change-me", "CHANGE-ME", "short-but-random-1234", "", "secret"])
def test_placeholder_or_short_secrets_stop_start_up_naming_the_variable(value):
    """.env.example's `change-me` was accepted and made session cookies and the API token forgeable (M2)."""
    settings = Settings.from_env({"BOT_SESSION_SECRET": value, "BOT_API_TOKEN": STRONG})
    with pytest.raises(SettingsError, match="BOT_SESSION_SECRET"):
        settings.require_strong_secrets("BOT_SESSION_SECRET", "BOT_API_TOKEN")


def test_a_generated_secret_is_accepted():
    Settings.from_env({"BOT_SESSION_SECRET": os.urandom(24).hex()}).require_strong_secrets("BOT_SESSION_SECRET")


def test_the_web_app_refuses_the_placeholder(monkeypatch, tmp_path):
    from bot.web.app import app_from_env

    monkeypatch.setenv("BOT_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("BOT_SESSION_SECRET", "change-me")
    monkeypatch.setenv("BOT_API_TOKEN", STRONG)
    with pytest.raises(SettingsError, match="BOT_SESSION_SECRET.*placeholder"):
        app_from_env()


@pytest.mark.parametrize("program", ["actions", "rasa"])
def test_the_servers_refuse_the_placeholder(program, tmp_path):
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BOT_VAR_DIR": str(tmp_path),
        "BOT_RASA_TOKEN": "change-me",
        "BOT_ACTION_TOKEN": "change-me",
    }
    done = subprocess.run(
        [sys.executable, "-m", "bot.launch", program], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert done.returncode == 2
    assert "placeholder" in done.stderr and ("BOT_ACTION_TOKEN" in done.stderr or "BOT_RASA_TOKEN" in done.stderr)


def test_env_example_ships_no_usable_secret():
    example = (ROOT / ".env.example").read_text(encoding="utf-8")
    for name in ("BOT_RASA_TOKEN", "BOT_SESSION_SECRET", "BOT_API_TOKEN", "BOT_ACTION_TOKEN"):
        assert not any(line.startswith(f"{name}=") for line in example.splitlines()), name


def test_make_secrets_replaces_placeholders_and_writes_a_private_env(tmp_path):
    makefile = tmp_path / "Makefile"
    makefile.write_text((ROOT / "Makefile").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / ".env").write_text(
        f"BOT_RASA_TOKEN=change-me\nBOT_API_TOKEN=short\nBOT_OTHER=keep\nBOT_SESSION_SECRET={STRONG}\n",
        encoding="utf-8",
    )
    (tmp_path / ".env").chmod(0o644)
    done = subprocess.run(["make", "-s", "secrets"], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    values = dict(line.split("=", 1) for line in (tmp_path / ".env").read_text().splitlines())
    assert values["BOT_OTHER"] == "keep" and values["BOT_SESSION_SECRET"] == STRONG
    for name in ("BOT_RASA_TOKEN", "BOT_API_TOKEN", "BOT_ACTION_TOKEN"):
        assert len(values[name]) == 48 and values[name] != "change-me", name
    assert stat.S_IMODE((tmp_path / ".env").stat().st_mode) == 0o600


def test_a_ticket_keeps_its_first_rating(tmp_path):
    """Security review L3: /handoff_rate 5 and then 1 twice gave 3 `rated` events, ending at 1."""
    from bot.handoff.tickets import NewTicket
    from bot.handoff.tickets_sql import SqlTicketStore

    store = SqlTicketStore(tmp_path / "tickets.db")
    ticket = store.create(
        NewTicket(
            conversation_id="c",
            channel="rest",
            category="loan",
            summary="s",
            transcript=[],
            contact_name="王",
            contact_phone="0912345678",
            preferred_time="下午",
            priority=2,
            urgent_reason=None,
            schemes=[],
        )
    )
    assert store.rate(ticket.id, 5) is True
    assert store.rate(ticket.id, 1) is False and store.rate(ticket.id, 1) is False
    assert store.get(ticket.id).rating == 5
    assert [e["kind"] for e in store.events(ticket.id)].count("rated") == 1

"""credentials.yml as Rasa reads it: the LINE channel takes its settings from the environment."""

from __future__ import annotations

from pathlib import Path

from rasa.core.run import create_http_input_channels

from bot import supervisor
from bot.channels.line import LineInput

ROOT = Path(__file__).resolve().parent.parent.parent


def channels(monkeypatch, env: dict[str, str]) -> dict[str, object]:
    for name, value in supervisor.quiet_env(env).items():
        if name.startswith("BOT_LINE_"):
            monkeypatch.setenv(name, value)
    return {type(c).name(): c for c in create_http_input_channels(None, str(ROOT / "credentials.yml"))}


def test_line_channel_reads_secret_token_and_api_url_from_the_environment(monkeypatch):
    found = channels(
        monkeypatch,
        {
            "BOT_LINE_CHANNEL_SECRET": "s3cret",
            "BOT_LINE_ACCESS_TOKEN": "t0ken",
            "BOT_LINE_API_URL": "http://127.0.0.1:9/",
        },
    )
    line = found["line"]
    assert isinstance(line, LineInput) and line.configured and line.channel_secret == "s3cret"
    assert line.api.base_url == "http://127.0.0.1:9" and "rest" in found


def test_without_line_settings_rasa_still_starts_with_line_off(monkeypatch):
    for name in ("BOT_LINE_CHANNEL_SECRET", "BOT_LINE_ACCESS_TOKEN", "BOT_LINE_API_URL"):
        monkeypatch.delenv(name, raising=False)
    line = channels(monkeypatch, {})["line"]
    assert not line.configured and line.api.base_url == "https://api.line.me"
    assert line.get_output_channel() is None

"""The web chat page, its history endpoint and the embed script, without a Rasa server."""

from __future__ import annotations

import re

import pytest

from bot.settings import Settings
from bot.web.app import create_app

SESSION = "0123456789abcdef0123456789abcdef"


def test_chat_page_is_zh_tw_labelled_and_loads_only_local_scripts(client):
    page = client.get("/chat")
    assert page.status_code == 200
    html = page.text
    assert '<html lang="zh-Hant-TW">' in html
    assert '<label for="message" class="visually-hidden">輸入您的問題</label>' in html and 'role="log"' in html
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', html)
    assert scripts == ["/static/chat/socket.io.min.js", "/static/chat/chat.js"]
    assert 'data-socket-url="http://127.0.0.1:5005"' in html
    for path in scripts + ["/static/chat/chat.css"]:
        assert client.get(path).status_code == 200, path
    assert "console_session" not in page.headers.get("set-cookie", "")  # visitors get no console cookie


def test_only_the_web_app_and_configured_sites_may_frame_the_chat(tmp_path):
    settings = Settings.from_env(
        {
            "BOT_VAR_DIR": str(tmp_path),
            "BOT_SESSION_SECRET": "s",
            "BOT_WEB_PORT": "8123",
            "BOT_CHAT_ORIGINS": "https://www.agency.gov.tw, https://partner.example.tw/",
        }
    )
    from starlette.testclient import TestClient

    policy = TestClient(create_app(settings)).get("/chat").headers["content-security-policy"]
    assert policy.endswith(
        "frame-ancestors 'self' http://127.0.0.1:8123 http://localhost:8123 "
        "https://www.agency.gov.tw https://partner.example.tw"
    )
    assert "script-src 'self';" in policy and "connect-src 'self' http://127.0.0.1:5005 ws://127.0.0.1:5005;" in policy


@pytest.mark.parametrize("value", ["javascript:alert(1)", "https://x.tw/path", "www.agency.gov.tw", "https://a b"])
def test_a_chat_origin_that_is_not_an_origin_stops_start_up(value):
    from bot.settings import SettingsError

    with pytest.raises(SettingsError, match="BOT_CHAT_ORIGINS"):
        Settings.from_env({"BOT_CHAT_ORIGINS": value})


@pytest.mark.parametrize(
    "session",
    [
        "",
        "abc",
        SESSION.upper(),
        SESSION + "0",
        SESSION[:-1] + "g",
        "../../tracker",
        "<script>alert(1)</script>",
        "0123456789abcdef" * 4,
    ],
)
def test_history_refuses_malformed_session_ids(client, session):
    reply = client.get("/chat/history", params={"session": session})
    assert reply.status_code == 400
    assert reply.json() == {"error": {"code": 400, "message": "session 必須是32位十六進位字串。"}}


def test_history_says_when_the_bot_server_is_down(client):
    reply = client.get("/chat/history", params={"session": SESSION})
    assert reply.status_code == 503 and "無法連線" in reply.json()["error"]["message"]


def test_embed_script_opens_the_chat_in_a_labelled_iframe(client):
    reply = client.get("/chat/embed.js")
    assert reply.status_code == 200 and reply.headers["content-type"].startswith("application/javascript")
    script = reply.text
    assert '"/chat?embed=1"' in script and "frame.title" in script and "aria-expanded" in script
    assert "http://" not in script.split("*/", 1)[1] and "https://" not in script.split("*/", 1)[1]  # no CDN


def test_embedded_page_is_marked_for_its_compact_layout(client):
    assert '<body class="embedded">' in client.get("/chat?embed=1").text
    assert '<body class="">' in client.get("/chat").text


def test_a_chat_redis_url_that_is_not_redis_stops_start_up():
    from bot.settings import SettingsError

    with pytest.raises(SettingsError, match="BOT_CHAT_REDIS_URL"):
        Settings.from_env({"BOT_CHAT_REDIS_URL": "http://127.0.0.1:6379"})
    assert Settings.from_env({"BOT_CHAT_REDIS_URL": "redis://127.0.0.1:6379/1"}).chat_redis_url.startswith("redis://")

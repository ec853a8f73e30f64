"""The web app on temporary stores (Rasa deliberately unreachable unless a test starts it)."""

from __future__ import annotations

import re

import pytest
from starlette.testclient import TestClient

from bot.handoff.staff import StaffStore
from bot.handoff.tickets import NewTicket
from bot.handoff.tickets_sql import SqlTicketStore
from bot.settings import Settings
from bot.web.app import create_app

PASSWORD = "a-long-password"


@pytest.fixture
def settings(tmp_path):
    return Settings.from_env(
        {
            "BOT_VAR_DIR": str(tmp_path),
            "BOT_SESSION_SECRET": "test-secret-" + tmp_path.name,
            "BOT_API_TOKEN": "api-token",
            "BOT_RASA_URL": "http://127.0.0.1:9",
            "BOT_RASA_TOKEN": "t",
        }
    )


@pytest.fixture
def app(settings):
    StaffStore(settings.staff_path).add("lin", PASSWORD)
    StaffStore(settings.staff_path).add("chen", PASSWORD)
    return create_app(settings)


@pytest.fixture
def client(app):
    return TestClient(app)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def login(client, username="lin", password=PASSWORD):
    token = csrf_of(client.get("/console/login").text)
    return client.post(
        "/console/login", data={"csrf": token, "username": username, "password": password}, follow_redirects=False
    )


@pytest.fixture
def staff_client(client):
    assert login(client).status_code == 303
    return client


@pytest.fixture
def ticket(settings):
    return SqlTicketStore(settings.tickets_path).create(
        NewTicket(
            conversation_id="conv-1",
            channel="rest",
            category="loan",
            summary="想借週轉金<script>alert(1)</script>",
            transcript=[
                {
                    "who": "user",
                    "text": "<script>alert('x')</script>想借錢",
                    "intent": "loan_ask",
                    "confidence": 0.98,
                    "entities": [],
                }
            ],
            contact_name="王小明",
            contact_phone="0912-345-678",
            preferred_time="下午",
            priority=1,
            urgent_reason="debt_default",
            schemes=[],
        )
    )

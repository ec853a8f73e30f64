"""Login, session, role and header rules against the running web app (uvicorn as `make run` starts it).

Security review H3 (lock-out, X-Forwarded-For), M1 (sessions survive logout and reset, no Secure),
L2 (flat roles, no access log), L5 (a 23-digit ticket id gave 500), L6 (no CSP or frame headers).
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot import supervisor
from bot.handoff.staff import StaffStore
from bot.handoff.tickets import NewTicket
from bot.handoff.tickets_sql import SqlTicketStore
from bot.web.security import forwarded_client, parse_networks

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a-long-password"


def start_web(folder: Path, trusted: str) -> tuple[str, object]:
    port = supervisor.free_port()
    web = supervisor.services(sys.executable, ROOT / "models" / "unused.tar.gz", "r" * 40, web_port=port)[-1]
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "BOT_VAR_DIR": str(folder),
        "BOT_WEB_PORT": str(port),
        "BOT_SESSION_SECRET": os.urandom(24).hex(),
        "BOT_API_TOKEN": os.urandom(24).hex(),
        "BOT_RASA_TOKEN": os.urandom(24).hex(),
        "BOT_RASA_URL": "http://127.0.0.1:9",
        "BOT_TRUSTED_PROXIES": trusted,
    }
    with (folder / "web.log").open("wb") as log:
        process = supervisor.start(web, log, env, timeout=120)
    return f"http://127.0.0.1:{port}", process


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """The web app behind a proxy on 127.0.0.1 (BOT_TRUSTED_PROXIES), as nginx or the ingress would be."""
    folder = tmp_path_factory.mktemp("web-proxied")
    store = StaffStore(folder / "staff.db")
    for name in ("chen", "lin"):
        store.add(name, PASSWORD)
    store.add("boss", PASSWORD, "supervisor")
    url, process = start_web(folder, "127.0.0.1")
    yield url, folder
    supervisor.stop(process)


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The web app with no trusted proxy: every client's X-Forwarded-For is ignored."""
    folder = tmp_path_factory.mktemp("web-direct")
    StaffStore(folder / "staff.db").add("mei", PASSWORD)
    url, process = start_web(folder, "")
    yield url
    supervisor.stop(process)


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html[:300]
    return match.group(1)


def login(
    base: str, username: str, password: str = PASSWORD, address: str | None = None, proto: str | None = None
) -> tuple[httpx.Client, httpx.Response]:
    headers = {**({"X-Forwarded-For": address} if address else {}), **({"X-Forwarded-Proto": proto} if proto else {})}
    client = httpx.Client(base_url=base, headers=headers, timeout=60)
    token = csrf_of(client.get("/console/login").text)
    reply = client.post("/console/login", data={"csrf": token, "username": username, "password": password})
    return client, reply


def test_a_guesser_on_other_addresses_does_not_lock_the_owner_out(behind_proxy):
    base, _ = behind_proxy
    for i in range(6):
        assert login(base, "chen", f"wrong-{i}", f"203.0.113.{10 + i}")[1].status_code == 401
    _, reply = login(base, "chen", PASSWORD, "192.0.2.99")
    assert reply.status_code == 303  # was 429 「登入失敗次數過多」 for the owner too


def test_one_address_that_keeps_failing_is_slowed_with_retry_after(behind_proxy):
    base, _ = behind_proxy
    for i in range(3):
        login(base, "lin", f"wrong-{i}", "203.0.113.77")
    _, reply = login(base, "lin", PASSWORD, "203.0.113.77")
    assert reply.status_code == 429 and "秒後再試" in reply.text and int(reply.headers["retry-after"]) >= 1
    assert login(base, "lin", PASSWORD, "192.0.2.50")[1].status_code == 303  # the owner elsewhere: fine


def test_an_untrusted_client_cannot_choose_its_address(direct):
    """uvicorn believed X-Forwarded-For from any loopback client: a new header per guess meant no limit at all."""
    for i in range(3):
        assert login(direct, "mei", f"wrong-{i}", f"203.0.113.{100 + i}")[1].status_code == 401
    _, reply = login(direct, "mei", "wrong-again", "198.51.100.1")
    assert reply.status_code == 429


def test_logout_ends_every_copy_of_the_cookie(behind_proxy):
    base, _ = behind_proxy
    client, reply = login(base, "boss", address="192.0.2.1")
    assert reply.status_code == 303
    copied = dict(client.cookies)
    page = client.get("/console")
    assert page.status_code == 200
    assert client.post("/console/logout", data={"csrf": csrf_of(page.text)}).status_code == 303
    thief = httpx.Client(base_url=base, cookies=copied, timeout=30)
    assert thief.get("/console").status_code == 303  # to the login page; was 200


def test_a_password_reset_ends_the_accounts_sessions(behind_proxy):
    base, folder = behind_proxy
    client, _ = login(base, "chen", address="192.0.2.2")
    assert client.get("/console").status_code == 200
    StaffStore(folder / "staff.db").add("chen", PASSWORD)  # `python -m bot staff add chen` resets it
    assert client.get("/console").status_code == 303


def test_the_cookie_is_secure_over_https_and_httponly_strict_always(behind_proxy):
    base, _ = behind_proxy
    _, over_https = login(base, "lin", address="192.0.2.3", proto="https")
    _, over_http = login(base, "lin", address="192.0.2.4")
    secure, plain = over_https.headers["set-cookie"].lower(), over_http.headers["set-cookie"].lower()
    assert "; secure" in secure and "; secure" not in plain
    assert all("httponly" in c and "samesite=strict" in c for c in (secure, plain))


def claimed_ticket(folder: Path, owner_client: httpx.Client) -> int:
    ticket = SqlTicketStore(folder / "tickets.db").create(
        NewTicket(
            conversation_id=f"conv-{os.urandom(4).hex()}",
            channel="rest",
            category="loan",
            summary="想借週轉金",
            transcript=[],
            contact_name="王小明",
            contact_phone="0912-345-678",
            preferred_time="下午",
            priority=2,
            urgent_reason=None,
            schemes=[],
        )
    )
    page = owner_client.get(f"/console/tickets/{ticket.id}")
    assert (
        owner_client.post(f"/console/tickets/{ticket.id}/claim", data={"csrf": csrf_of(page.text)}).status_code == 303
    )
    return ticket.id


@pytest.mark.parametrize(
    ("action", "form"),
    [("reply", {"text": "我來回"}), ("transfer", {"to": "chen"}), ("resolve", {"outcome": "replied"})],
)
def test_only_the_assignee_or_a_supervisor_acts_on_a_claimed_ticket(behind_proxy, action, form):
    base, folder = behind_proxy
    lin, _ = login(base, "lin", address="192.0.2.10")
    chen, _ = login(base, "chen", address="192.0.2.11")
    boss, _ = login(base, "boss", address="192.0.2.12")
    ticket_id = claimed_ticket(folder, lin)
    token = csrf_of(chen.get(f"/console/tickets/{ticket_id}").text)
    refused = chen.post(f"/console/tickets/{ticket_id}/{action}", data={"csrf": token, **form})
    assert refused.status_code == 403 and "lin" in refused.text  # was 303: a colleague took it over
    token = csrf_of(boss.get(f"/console/tickets/{ticket_id}").text)
    allowed = boss.post(f"/console/tickets/{ticket_id}/{action}", data={"csrf": token, **form}, follow_redirects=False)
    assert allowed.status_code == 303


def test_every_opening_of_a_ticket_is_logged(behind_proxy):
    base, folder = behind_proxy
    lin, _ = login(base, "lin", address="192.0.2.20")
    ticket_id = claimed_ticket(folder, lin)
    chen, _ = login(base, "chen", address="192.0.2.21")
    chen.get(f"/console/tickets/{ticket_id}")
    seen = [(r["username"], r["action"]) for r in StaffStore(folder / "staff.db").access_log(ticket_id)]
    assert ("chen", "view") in seen and ("lin", "view") in seen


@pytest.mark.parametrize(
    "path",
    [
        "/console/login",
        "/console",
        "/ops",
        "/chat",
        "/healthz",
        "/no-such-page",
        "/console/tickets/99999999999999999999999",
        "/static/console.css",
    ],
)
def test_every_page_has_csp_frame_nosniff_and_referrer_headers(behind_proxy, path):
    base, _ = behind_proxy
    client, _ = login(base, "lin", address="192.0.2.30")
    reply = client.get(path, follow_redirects=False)
    assert reply.status_code < 500
    policy = reply.headers["content-security-policy"]
    assert "frame-ancestors" in policy and "script-src 'self'" in policy and "object-src 'none'" in policy
    assert reply.headers["x-content-type-options"] == "nosniff" and reply.headers["referrer-policy"] == "same-origin"
    assert "unsafe-inline" not in policy


def test_a_23_digit_ticket_id_is_a_404_not_a_500(behind_proxy):
    base, _ = behind_proxy
    client, _ = login(base, "lin", address="192.0.2.31")
    assert client.get("/console/tickets/99999999999999999999999").status_code == 404
    token = csrf_of(client.get("/console").text)
    assert client.post("/console/tickets/999999/transfer", data={"csrf": token, "to": "chen"}).status_code == 404


@pytest.mark.parametrize(
    ("peer", "header", "trusted", "client"),
    [
        ("127.0.0.1", "203.0.113.5", "", "127.0.0.1"),  # nobody trusted: the header is the client's own writing
        ("127.0.0.1", "203.0.113.5", "127.0.0.1", "203.0.113.5"),
        ("127.0.0.1", "6.6.6.6, 203.0.113.5", "127.0.0.1", "203.0.113.5"),  # the left part is forged by the client
        ("10.1.2.3", "6.6.6.6, 203.0.113.5, 10.0.0.9", "10.0.0.0/8", "203.0.113.5"),  # two proxies
        ("192.0.2.8", "203.0.113.5", "127.0.0.1", "192.0.2.8"),  # an untrusted peer's header is ignored
        ("127.0.0.1", "not-an-ip", "127.0.0.1", "not-an-ip"),
    ],
)
def test_forwarded_for_is_believed_from_trusted_proxies_only(peer, header, trusted, client):
    assert forwarded_client(peer, header, parse_networks(trusted)) == client


def test_a_correction_value_with_markup_is_refused_and_a_bad_export_is_a_409():
    """Security review L5: a correction whose value held `}` made /ops/corrections answer 500 for everyone."""
    import datetime as dt

    from starlette.exceptions import HTTPException

    from bot.ops.review import BadCorrection, Correction
    from bot.web.ops import _export, _known_value

    with pytest.raises(BadCorrection, match="括號"):
        _known_value(None, "scheme", "a}b")
    broken = Correction(
        1,
        "s",
        1,
        "我要借青創",
        "loan_ask",
        [{"entity": "scheme", "value": "a}b", "text": "青創", "start": 3, "end": 5}],
        "lin",
        0.0,
    )
    with pytest.raises(HTTPException) as refused:
        _export([broken], dt.date(2026, 12, 1))
    assert refused.value.status_code == 409 and "無法匯出" in refused.value.detail

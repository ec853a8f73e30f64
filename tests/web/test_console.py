"""Console security and behaviour without a Rasa server (it may be down; the console must cope)."""

from __future__ import annotations

import pytest
from starlette.routing import Route

from bot.web.app import routes
from tests.web.conftest import csrf_of, login

PUBLIC = {"/", "/healthz", "/console/login"}


def console_routes():
    for route in routes():
        if isinstance(route, Route) and route.path.startswith("/console") and route.path not in PUBLIC:
            for method in sorted(route.methods - {"HEAD"}):
                yield method, route.path.replace("{ticket_id}", "1")


@pytest.mark.parametrize(("method", "path"), list(console_routes()))
def test_every_console_route_refuses_anonymous_users(client, ticket, method, path):
    reply = client.request(method, path, follow_redirects=False)
    if method == "GET":
        assert reply.status_code == 303 and reply.headers["location"] == "/console/login"
    else:
        assert reply.status_code == 401


def test_login_with_wrong_password_gives_one_message_for_both_cases(client):
    assert login(client, password="wrong-password").status_code == 401
    assert "帳號或密碼錯誤" in login(client, username="nobody").text


def test_login_is_slowed_down_after_a_few_failures(client):
    for _ in range(5):
        login(client, password="wrong-password")
    reply = login(client)
    assert reply.status_code == 429 and "秒後再試" in reply.text and int(reply.headers["retry-after"]) >= 1


def test_session_cookie_is_httponly_and_samesite(client):
    reply = login(client)
    cookie = reply.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


def test_forms_without_csrf_are_refused(staff_client, ticket):
    assert staff_client.post(f"/console/tickets/{ticket.id}/claim", data={}).status_code == 403
    assert staff_client.post(f"/console/tickets/{ticket.id}/claim", data={"csrf": "forged"}).status_code == 403


def test_queue_shows_urgent_ticket_and_claim_is_exclusive(app, staff_client, ticket):
    page = staff_client.get("/console")
    assert "#1" in page.text and "緊急" in page.text and "王小明" in page.text
    token = csrf_of(page.text)
    assert (
        staff_client.post(
            f"/console/tickets/{ticket.id}/claim", data={"csrf": token}, follow_redirects=False
        ).status_code
        == 303
    )
    again = staff_client.post(f"/console/tickets/{ticket.id}/claim", data={"csrf": token})
    assert again.status_code == 409 and "已經被其他同仁接手" in again.text


def test_xss_in_user_text_is_shown_as_text(staff_client, ticket):
    page = staff_client.get(f"/console/tickets/{ticket.id}").text
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;想借錢" in page
    assert "<script>alert" not in page
    assert "無法連線到機器人伺服器" in page  # Rasa is down: the stored transcript is shown


def test_bad_filters_and_unknown_tickets_get_4xx_in_zh_tw(staff_client):
    reply = staff_client.get("/console?status=hacked")
    assert reply.status_code == 400 and "篩選條件" in reply.text
    assert staff_client.get("/console/tickets/999").status_code == 404
    assert staff_client.get("/console/tickets/abc").status_code == 404


def test_reply_note_transfer_and_validation(app, staff_client, ticket):
    token = csrf_of(staff_client.get("/console").text)
    staff_client.post(f"/console/tickets/{ticket.id}/claim", data={"csrf": token})
    assert (
        staff_client.post(f"/console/tickets/{ticket.id}/reply", data={"csrf": token, "text": " "}).status_code == 400
    )
    sent = staff_client.post(
        f"/console/tickets/{ticket.id}/reply", data={"csrf": token, "text": "您好，我是小林"}, follow_redirects=False
    )
    assert sent.status_code == 303
    staff_client.post(f"/console/tickets/{ticket.id}/note", data={"csrf": token, "text": "客戶急需週轉"})
    page = staff_client.get(f"/console/tickets/{ticket.id}").text
    assert "客戶急需週轉" in page
    assert (
        staff_client.post(f"/console/tickets/{ticket.id}/transfer", data={"csrf": token, "to": "nobody"}).status_code
        == 400
    )
    assert (
        staff_client.post(
            f"/console/tickets/{ticket.id}/transfer", data={"csrf": token, "to": "chen"}, follow_redirects=False
        ).status_code
        == 303
    )
    assert app.state.deps.tickets.get(ticket.id).assignee == "chen"
    assert [e.text for e in app.state.deps.tickets.take_undelivered("conv-1")] == ["您好，我是小林"]


def test_canned_replies_can_be_added_and_removed(staff_client):
    page = staff_client.get("/console/canned")
    token = csrf_of(page.text)
    staff_client.post("/console/canned", data={"csrf": token, "title": "下班", "text": "我們明天上午回電給您。"})
    assert "我們明天上午回電給您" in staff_client.get("/console/canned").text


def test_api_needs_its_token_and_valid_json(client):
    assert client.post("/api/triage", json={"text": "青創"}).status_code == 401
    headers = {"Authorization": "Bearer api-token"}
    assert client.post("/api/triage", content=b"{oops", headers=headers).status_code == 400
    assert client.post("/api/triage", json={"items": []}, headers=headers).status_code == 400
    down = client.post("/api/triage", json={"text": "青創"}, headers=headers)
    assert down.status_code == 503 and down.json()["error"]["message"]
    assert client.get("/api/conversations/x/messages").status_code == 401
    assert client.get("/api/conversations/x/messages", headers=headers).json() == {"messages": []}


def test_logout_ends_the_session(staff_client):
    token = csrf_of(staff_client.get("/console").text)
    staff_client.post("/console/logout", data={"csrf": token})
    assert staff_client.get("/console", follow_redirects=False).status_code == 303


def test_default_queue_shows_open_work_and_all_shows_resolved_too(settings, staff_client, ticket):
    from bot.handoff.tickets_sql import SqlTicketStore

    store = SqlTicketStore(settings.tickets_path)
    store.resolve(ticket.id, "lin", "no_action")
    assert f"#{ticket.id}" not in staff_client.get("/console").text
    assert f"#{ticket.id}" in staff_client.get("/console?status=all").text
    assert f"#{ticket.id}" in staff_client.get("/console/queue/rows?status=resolved").text


def test_resolve_asks_for_an_outcome_and_the_log_says_it_in_zh_tw_taipei_time(settings, staff_client, ticket):
    page = staff_client.get(f"/console/tickets/{ticket.id}")
    token = csrf_of(page.text)
    assert 'data-confirm="確定要結案' in page.text and "已回電" in page.text and "未接通" in page.text
    refused = staff_client.post(f"/console/tickets/{ticket.id}/resolve", data={"csrf": token})
    assert refused.status_code == 400 and "請選擇處理結果" in refused.text
    staff_client.post(f"/console/tickets/{ticket.id}/claim", data={"csrf": token})
    done = staff_client.post(f"/console/tickets/{ticket.id}/resolve", data={"csrf": token, "outcome": "no_answer"})
    assert done.status_code == 200  # Rasa is down: resolved, with the resume warning
    shown = staff_client.get(f"/console/tickets/{ticket.id}").text
    assert "結案：未接通（lin）" in shown and "接手（lin）" in shown and "建立服務單" in shown
    import re

    log = re.sub(r"<[^>]+>", "", shown.split("處理紀錄（臺北時間）")[1])  # what staff read, not the markup
    assert "+00:00" not in log and "claimed" not in log and re.search(r"\d\d/\d\d \d\d:\d\d 接手", log)


def test_a_reply_sent_by_the_page_script_stays_on_the_page(settings, staff_client, ticket):
    token = csrf_of(staff_client.get(f"/console/tickets/{ticket.id}").text)
    sent = staff_client.post(
        f"/console/tickets/{ticket.id}/reply",
        data={"csrf": token, "text": "您好"},
        headers={"X-Requested-With": "fetch"},
    )
    assert sent.status_code == 200 and sent.json()["ok"] is True
    empty = staff_client.post(
        f"/console/tickets/{ticket.id}/reply", data={"csrf": token, "text": " "}, headers={"X-Requested-With": "fetch"}
    )
    assert empty.status_code == 400 and "不可空白" in empty.json()["error"]["message"]
    plain = staff_client.post(
        f"/console/tickets/{ticket.id}/reply", data={"csrf": token, "text": "再補充"}, follow_redirects=False
    )
    assert plain.headers["location"].endswith("#reply")  # without the script, the page lands on the reply box


def test_live_parts_of_a_ticket_and_the_rating_shown_out_of_five(settings, staff_client, ticket):
    from bot.handoff.tickets_sql import SqlTicketStore

    SqlTicketStore(settings.tickets_path).rate(ticket.id, 4)
    parts = staff_client.get(f"/console/tickets/{ticket.id}/live").json()
    assert set(parts) == {"head", "transcript", "actions", "log", "state"}
    assert "&lt;script&gt;" in parts["transcript"] and "<script>" not in parts["transcript"]
    assert "使用者評分 4／5" in parts["log"]
    assert "4／5" in staff_client.get(f"/console/tickets/{ticket.id}").text
    assert staff_client.get("/console/tickets/999/live").status_code == 404
    assert staff_client.get("/console/live?ticket=abc").status_code == 404


def test_ticket_page_links_to_its_conversation_in_ops(staff_client, ticket):
    assert "/ops/conversation?id=conv-1" in staff_client.get(f"/console/tickets/{ticket.id}").text


def test_the_live_mark_moves_on_postgresql_too_for_several_web_processes(pg_database):
    """The scaled profile's web processes share this store; the live stream polls it, no in-process pub/sub."""
    from bot.handoff.tickets import NewTicket
    from bot.handoff.tickets_sql import SqlTicketStore

    one, other = SqlTicketStore(pg_database), SqlTicketStore(pg_database)  # two processes' stores
    assert one.change_mark() == (0, 0)
    ticket = one.create(
        NewTicket(
            conversation_id="c",
            channel="rest",
            category="loan",
            summary="s",
            transcript=[],
            contact_name="n",
            contact_phone="0912345678",
            preferred_time="不限",
            priority=3,
        )
    )
    created = other.change_mark()
    assert created[1] == 1 and created[0] > 0
    one.claim(ticket.id, "lin")
    claimed = other.change_mark()
    assert claimed[0] > created[0] and claimed[1] == 0
    assert other.change_mark(ticket.id)[0] == claimed[0]


def test_a_ticket_without_recorded_schemes_shows_the_schemes_of_its_conversation(settings, tmp_path):
    """With a knowledge base (as in service), the scheme cards come from the conversation when the ticket names none."""
    from starlette.testclient import TestClient

    from bot.handoff.staff import StaffStore
    from bot.handoff.tickets import NewTicket
    from bot.handoff.tickets_sql import SqlTicketStore
    from bot.kb.build import build_kb
    from bot.kb.records import load_knowledge
    from bot.settings import ROOT
    from bot.web.app import create_app

    build_kb(load_knowledge(ROOT / "knowledge"), settings.kb_path)
    StaffStore(settings.staff_path).add("lin", "a-long-password")
    ticket = SqlTicketStore(settings.tickets_path).create(
        NewTicket(
            conversation_id="conv-kb",
            channel="rest",
            category="loan",
            summary="s",
            contact_name="王小明",
            contact_phone="0912-345-678",
            preferred_time="下午",
            priority=3,
            schemes=[],
            transcript=[
                {
                    "who": "user",
                    "text": '/loan_ask{"scheme":"youth_startup_loan"}',
                    "intent": "loan_ask",
                    "confidence": 1.0,
                    "entities": [{"entity": "scheme", "value": "youth_startup_loan"}],
                }
            ],
        )
    )
    client = TestClient(create_app(settings))
    assert login(client).status_code == 303
    page = client.get(f"/console/tickets/{ticket.id}")
    assert page.status_code == 200 and "相關措施" in page.text


def test_a_withdrawn_ticket_shows_as_withdrawn_and_refuses_reply_and_resolve_in_zh_tw(settings, staff_client, ticket):
    from bot.handoff.tickets import TicketStatus
    from bot.handoff.tickets_sql import SqlTicketStore

    store = SqlTicketStore(settings.tickets_path)
    token = csrf_of(staff_client.get("/console").text)
    staff_client.post(f"/console/tickets/{ticket.id}/claim", data={"csrf": token})
    store.withdraw(ticket.id)  # the caller pressed 「取消轉接」 while staff had it
    page = staff_client.get(f"/console/tickets/{ticket.id}").text
    assert "來電者已撤回" in page and "撤回轉接，機器人已恢復回答" in page
    assert 'id="reply"' not in page and "/resolve" not in page  # nothing offered that cannot be done
    assert "來電者撤回轉接" in page.split("處理紀錄（臺北時間）")[1] and "withdrawn" not in page.split("處理紀錄")[1]
    replied = staff_client.post(
        f"/console/tickets/{ticket.id}/reply",
        data={"csrf": token, "text": "您好"},
        headers={"X-Requested-With": "fetch"},
    )
    assert replied.status_code == 409 and "來電者已撤回轉接" in replied.json()["error"]["message"]
    resolved = staff_client.post(
        f"/console/tickets/{ticket.id}/resolve", data={"csrf": token, "outcome": "called_back"}
    )
    assert resolved.status_code == 409 and "無法再結案" in resolved.text and "留下的電話" in resolved.text
    assert store.get(ticket.id).status is TicketStatus.WITHDRAWN and store.take_undelivered("conv-1") == []
    # Notes stay possible: staff may still call the number and write down what came of it.
    assert (
        staff_client.post(
            f"/console/tickets/{ticket.id}/note",
            data={"csrf": token, "text": "已回電，不需協助"},
            follow_redirects=False,
        ).status_code
        == 303
    )
    assert f"#{ticket.id}" in staff_client.get("/console/queue/rows?status=withdrawn").text
    assert f"#{ticket.id}" not in staff_client.get("/console").text


def test_claiming_a_ticket_the_caller_withdrew_says_so(settings, staff_client, ticket):
    from bot.handoff.tickets_sql import SqlTicketStore

    SqlTicketStore(settings.tickets_path).withdraw(ticket.id)
    token = csrf_of(staff_client.get("/console").text)
    claimed = staff_client.post(f"/console/tickets/{ticket.id}/claim", data={"csrf": token})
    assert claimed.status_code == 409 and "來電者已撤回轉接" in claimed.text and "其他同仁" not in claimed.text


def test_queue_flags_the_callers_new_messages_since_the_last_staff_reply(settings, staff_client, ticket):
    from bot.handoff.tickets_sql import SqlTicketStore

    store = SqlTicketStore(settings.tickets_path)
    assert "新訊息" not in staff_client.get("/console").text
    store.caller_wrote(ticket.id)
    store.caller_wrote(ticket.id)
    rows = staff_client.get("/console/queue/rows").text
    assert 'data-unanswered="2"' in rows and "新訊息 2" in rows
    token = csrf_of(staff_client.get("/console").text)
    staff_client.post(f"/console/tickets/{ticket.id}/claim", data={"csrf": token})
    staff_client.post(f"/console/tickets/{ticket.id}/reply", data={"csrf": token, "text": "您好，我來協助您"})
    assert "新訊息" not in staff_client.get("/console/queue/rows").text
    store.caller_wrote(ticket.id)
    assert "新訊息 1" in staff_client.get("/console").text
    assert "來電者傳來新訊息" in staff_client.get(f"/console/tickets/{ticket.id}").text  # the log says it in zh-TW

"""Handoff end to end: REST user ↔ Rasa ↔ action server ↔ tickets ↔ staff console (all real)."""

from __future__ import annotations

import re
import uuid

import httpx

from bot.handoff.tickets import SqliteTicketStore
from bot.staff import StaffStore
from tests.e2e.client import button_payloads, say, texts

PASSWORD = "console-password-1"


def console_login(stack, username="lin") -> httpx.Client:
    StaffStore(stack.var_dir / "staff.db").add(username, PASSWORD)
    client = httpx.Client(base_url=stack.web_url, timeout=60)
    page = client.get("/console/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    reply = client.post("/console/login", data={"csrf": token, "username": username, "password": PASSWORD})
    assert reply.status_code in (200, 303) and "登出" in client.get("/console").text
    return client


def csrf(client: httpx.Client, path: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', client.get(path).text).group(1)


def pickup(stack, conversation: str) -> list[dict]:
    reply = httpx.get(f"{stack.web_url}/api/conversations/{conversation}/messages",
                      headers={"Authorization": f"Bearer {stack.api_token}"}, timeout=30)
    assert reply.status_code == 200
    return reply.json()["messages"]


def test_person_takes_over_then_the_bot_resumes_and_asks_a_rating(stack):
    user = f"handoff-{uuid.uuid4().hex[:8]}"
    say(stack.rasa_url, user, "下個月的薪水發不出來 銀行又不借 怎麼辦")
    assert "轉給真人客服" in texts(say(stack.rasa_url, user, "我要找真人客服"))
    assert "怎麼稱呼" in texts(say(stack.rasa_url, user, "好，請專人聯絡我"))
    assert "聯絡電話" in texts(say(stack.rasa_url, user, "王小明 小明商行"))
    assert "不完整" in texts(say(stack.rasa_url, user, "0912-345"))
    assert "時段" in texts(say(stack.rasa_url, user, "0912345678"))
    created = texts(say(stack.rasa_url, user, "下午"))
    number = int(re.search(r"編號(\d+)", created).group(1))
    assert "客服人員會在這裡回覆您" in created

    tickets = SqliteTicketStore(stack.var_dir / "tickets.db")
    ticket = tickets.get(number)
    assert ticket.contact_phone == "0912-345-678" and ticket.contact_name == "王小明 小明商行"
    assert ticket.priority == 1 and ticket.urgent_reason == "payroll_at_risk"
    assert ticket.category in ("loan", "debt_negotiation")
    assert "我要找真人客服" not in ticket.summary and "王小明" not in ticket.summary
    assert any("薪水發不出來" in line["text"] for line in ticket.transcript)

    assert say(stack.rasa_url, user, "請問還要等多久") == []  # paused: the bot stays quiet

    staff = console_login(stack)
    queue = staff.get("/console").text
    assert f"#{number}" in queue and "緊急" in queue
    page = staff.get(f"/console/tickets/{number}").text
    assert "請問還要等多久" in page  # the user's message while paused reaches the console
    token = csrf(staff, f"/console/tickets/{number}")
    staff.post(f"/console/tickets/{number}/claim", data={"csrf": token})
    staff.post(f"/console/tickets/{number}/reply", data={"csrf": token, "text": "您好，我是客服小林，稍後致電給您。"})
    assert [m["text"] for m in pickup(stack, user)] == ["您好，我是客服小林，稍後致電給您。"]

    staff.post(f"/console/tickets/{number}/resolve", data={"csrf": token, "outcome": "called_back"})
    rating = pickup(stack, user)
    assert "打個分數" in rating[0]["text"]
    five = next(b["payload"] for b in rating[0]["buttons"] if b["title"] == "5分")
    assert "謝謝您的評分" in texts(say(stack.rasa_url, user, five))
    assert tickets.get(number).rating == 5
    assert tickets.get(number).status.value == "resolved"
    assert "0.575%" in texts(say(stack.rasa_url, user, "青創貸款利率多少"))  # the bot answers again


def test_declining_a_person_keeps_the_bot(stack):
    user = f"decline-{uuid.uuid4().hex[:8]}"
    say(stack.rasa_url, user, "轉專人")
    assert "不轉接" in texts(say(stack.rasa_url, user, "不用了"))
    assert "0.575%" in texts(say(stack.rasa_url, user, "青創貸款利率多少"))


def test_disaster_report_creates_an_urgent_ticket_and_lists_relief(stack):
    user = f"report-{uuid.uuid4().hex[:8]}"
    assert "公司或店家名稱" in texts(say(stack.rasa_url, user, "颱風把我們工廠屋頂吹走了 想通報災情"))
    assert "縣市" in texts(say(stack.rasa_url, user, "大發五金行"))
    assert "受損情形" in texts(say(stack.rasa_url, user, "花蓮縣光復鄉"))  # 颱風 was already said
    assert "損失" in texts(say(stack.rasa_url, user, "屋頂損壞 停工三天"))
    assert "聯絡電話" in texts(say(stack.rasa_url, user, "大概80萬"))
    replies = say(stack.rasa_url, user, "03-8701234")
    reply = texts(replies)
    number = int(re.search(r"編號(\d+)", reply).group(1))
    assert "災害協處措施" in reply
    assert any("disaster" in p or "typhoon" in p for p in button_payloads(replies))
    ticket = SqliteTicketStore(stack.var_dir / "tickets.db").get(number)
    assert ticket.kind == "disaster_report" and ticket.priority == 1
    assert ticket.details["disaster_type"] == "颱風" and ticket.details["loss"] == "800000"
    assert ticket.details["location"] == "花蓮縣光復鄉" and ticket.contact_phone == "03-870-1234"


def test_api_triage_with_token(stack):
    reply = httpx.post(f"{stack.web_url}/api/triage", json={"items": [{"id": "a", "text": "美國關稅害我們訂單少一半"}]},
                       headers={"Authorization": f"Bearer {stack.api_token}"}, timeout=60)
    assert reply.status_code == 200
    result = reply.json()["results"][0]
    assert result["id"] == "a" and result["category"] == "us_tariff", result
    assert result["schemes"], result
    assert httpx.post(f"{stack.web_url}/api/triage", json={"text": "x"}, timeout=30).status_code == 401

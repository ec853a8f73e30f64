"""The staff console in a real browser: log in, see the queue, claim, reply, resolve (screenshots)."""

from __future__ import annotations

import re
import uuid

from bot.handoff.tickets import SqliteTicketStore
from bot.staff import StaffStore
from tests.e2e.client import say, texts

PASSWORD = "browser-password-1"


def open_ticket(stack) -> tuple[str, int]:
    user = f"browser-{uuid.uuid4().hex[:8]}"
    say(stack.rasa_url, user, "青創貸款我們公司可以申請嗎")
    say(stack.rasa_url, user, "我想找真人")
    say(stack.rasa_url, user, "好，請專人聯絡我")
    say(stack.rasa_url, user, "陳美玲 美玲小吃店")
    say(stack.rasa_url, user, "02-2345-6789")
    created = texts(say(stack.rasa_url, user, "不限"))
    say(stack.rasa_url, user, "<b>還在嗎</b><script>alert(1)</script>")
    return user, int(re.search(r"編號(\d+)", created).group(1))


def test_staff_log_in_claim_reply_and_resolve(stack, browser, screens):
    user, number = open_ticket(stack)
    StaffStore(stack.var_dir / "staff.db").add("mei", PASSWORD)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-TW")
    page = context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))

    page.goto(f"{stack.web_url}/console")
    assert page.url.endswith("/console/login")
    page.screenshot(path=str(screens / "console-1-login.png"))
    page.get_by_label("帳號").fill("mei")
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()

    page.wait_for_url(f"{stack.web_url}/console")
    row = page.locator("tr", has_text=f"#{number}")
    assert "陳美玲 美玲小吃店" in row.inner_text() and "貸款" in row.inner_text()
    page.screenshot(path=str(screens / "console-2-queue.png"), full_page=True)

    row.get_by_role("button", name="接手").click()
    page.wait_for_url(re.compile(rf"/console/tickets/{number}"))
    assert "處理中" in page.locator("h1").inner_text()
    transcript = page.locator(".transcript").inner_text()
    assert "<script>alert(1)</script>" in transcript  # shown as text, never run
    assert not dialogs
    page.get_by_role("button", name="問候").click()
    page.get_by_label(re.compile("回覆使用者")).press("End")
    page.get_by_label(re.compile("回覆使用者")).type("青創貸款的資格我幫您確認。")
    page.screenshot(path=str(screens / "console-3-ticket.png"), full_page=True)
    page.get_by_role("button", name="送出回覆").click()
    page.wait_for_selector("text=已送出回覆")

    page.get_by_role("button", name="結案並恢復機器人").click()
    page.wait_for_selector("text=已結案")
    page.screenshot(path=str(screens / "console-4-resolved.png"), full_page=True)
    assert SqliteTicketStore(stack.var_dir / "tickets.db").get(number).status.value == "resolved"

    tablet = browser.new_context(viewport={"width": 820, "height": 1180}, locale="zh-TW",
                                 storage_state=context.storage_state())
    tablet_page = tablet.new_page()
    tablet_page.goto(f"{stack.web_url}/console/triage")
    tablet_page.get_by_label(re.compile("貼上來電紀錄")).fill("我們公司被美國關稅影響訂單掉了一半\n颱風過後工廠淹水 想申請復工貸款")
    tablet_page.get_by_role("button", name="分析").click()
    tablet_page.wait_for_selector("table.queue")
    cells = tablet_page.locator("table.queue").inner_text()
    assert "美國關稅" in cells and "災害協處" in cells
    tablet_page.screenshot(path=str(screens / "console-5-triage-tablet.png"), full_page=True)
    context.close()
    tablet.close()

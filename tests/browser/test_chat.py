"""The web chat in a real browser: ask, get quick replies, click, reload, hand off, get a staff reply live.

Screenshots (390×844 and 1280×800) go to reports/screens/chat-*.png.
"""

from __future__ import annotations

import re

import httpx
from playwright.sync_api import expect

from bot.staff import StaffStore
from tests.web.conftest import csrf_of

PASSWORD = "chat-browser-password"
MOBILE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
WAIT = 30_000  # ms: a reply goes through NLU and the action server on a busy 2-core machine


class Console:
    """A staff member using the console over HTTP (its browser tests are in test_console_browser.py)."""

    def __init__(self, web_url: str, var_dir, username: str = "lin") -> None:  # type: ignore[no-untyped-def]
        StaffStore(var_dir / "staff.db").add(username, PASSWORD)
        self.http = httpx.Client(base_url=web_url, timeout=60)
        token = csrf_of(self.http.get("/console/login").text)
        reply = self.http.post("/console/login", data={"csrf": token, "username": username, "password": PASSWORD})
        assert reply.status_code == 303, reply.text[:300]

    def _post(self, ticket: int, action: str, **data: str) -> httpx.Response:
        token = csrf_of(self.http.get(f"/console/tickets/{ticket}").text)
        reply = self.http.post(f"/console/tickets/{ticket}/{action}", data={"csrf": token, **data})
        assert reply.status_code == 303, reply.text[:300]
        return reply

    def claim(self, ticket: int) -> None:
        self._post(ticket, "claim")

    def reply(self, ticket: int, text: str) -> None:
        self._post(ticket, "reply", text=text)

    def resolve(self, ticket: int) -> None:
        self._post(ticket, "resolve")


def ask(page, text: str) -> None:  # type: ignore[no-untyped-def]
    box = page.get_by_label("輸入您的問題")
    box.fill(text)
    box.press("Enter")


def bot_says(page, pattern: str):  # type: ignore[no-untyped-def]
    bubble = page.locator(".msg.bot, .msg.staff").filter(has_text=re.compile(pattern)).last
    expect(bubble).to_be_visible(timeout=WAIT)
    return bubble


def test_web_chat_answers_keeps_history_and_shows_staff_replies_live(stack, browser, screens):
    mobile = browser.new_context(viewport=MOBILE, locale="zh-TW", timezone_id="Asia/Taipei", has_touch=True)
    page = mobile.new_page()
    page.goto(f"{stack.web_url}/chat")
    expect(page.locator("#status")).to_have_text("已連線", timeout=WAIT)
    page.screenshot(path=str(screens / "chat-1-mobile-welcome.png"))

    # A loan question: the bot asks which scheme, with quick replies.
    ask(page, "公司想借週轉金最多可以借多少")
    expect(page.locator(".msg.user").last).to_contain_text("公司想借週轉金最多可以借多少")
    bot_says(page, "哪一項貸款措施的額度")
    replies = page.get_by_role("group", name="建議回覆").last.get_by_role("button")
    expect(replies.first).to_be_visible()
    assert replies.count() >= 2
    choice = replies.filter(has_text="30人以下").first
    title = choice.inner_text()
    page.screenshot(path=str(screens / "chat-2-mobile-answer.png"))

    # Clicking a quick reply shows its title as the user's message and answers with a scheme card.
    choice.click()
    expect(page.locator(".msg.user").last).to_have_text(re.compile(re.escape(title)))
    card = page.locator(".scheme-card").last
    expect(card).to_be_visible(timeout=WAIT)
    expect(card.get_by_role("heading")).to_contain_text("30人以下")
    expect(card.locator("a[href^='tel:']")).to_be_visible()
    bot_says(page, "額度")
    expect(page.get_by_role("group", name="建議回覆")).to_have_count(0)  # used replies do not linger
    page.screenshot(path=str(screens / "chat-3-mobile-card.png"))

    # A reload keeps the conversation: same question, the clicked title, the card.
    session = page.evaluate("localStorage.getItem('hotline-chat-session')")
    assert re.fullmatch(r"[0-9a-f]{32}", session)
    page.reload()
    expect(page.locator(".scheme-card")).to_have_count(1, timeout=WAIT)
    log = page.locator("#log")
    expect(log).to_contain_text("公司想借週轉金最多可以借多少")
    expect(log).to_contain_text(title)
    assert "/loan_ask" not in log.inner_text()  # payloads never show
    assert page.evaluate("localStorage.getItem('hotline-chat-session')") == session
    expect(page.locator("#status")).to_have_text("已連線", timeout=WAIT)
    page.screenshot(path=str(screens / "chat-4-mobile-history.png"))

    # Hand off to a person, with the keyboard only for the consent button.
    ask(page, "我想找真人")
    bot_says(page, "轉給真人客服")
    consent = page.get_by_role("button", name="好，請專人聯絡我")
    consent.focus()
    page.keyboard.press("Enter")
    bot_says(page, "怎麼稱呼您")
    ask(page, "陳美玲 美玲小吃店")
    bot_says(page, "聯絡電話")
    ask(page, "0912-345-678")
    bot_says(page, "方便聯絡的時段")
    page.get_by_role("button", name="不限").click()
    created = bot_says(page, r"服務單（編號\d+）").inner_text()
    ticket = int(re.search(r"編號(\d+)", created).group(1))

    # Staff claim and reply in the console: the reply appears without a reload.
    console = Console(stack.web_url, stack.var_dir)
    console.claim(ticket)
    console.reply(ticket, "陳小姐您好，我是客服小林，30人以下優惠貸款的額度我幫您確認。")
    staff = page.locator(".msg.staff").filter(has_text="我是客服小林")
    expect(staff).to_have_count(1, timeout=WAIT)
    expect(staff.locator(".who")).to_have_text("客服人員")
    page.screenshot(path=str(screens / "chat-5-mobile-staff-reply.png"))

    # The connection drops: the page says so, reconnects, and a reply sent meanwhile arrives once.
    mobile.set_offline(True)
    expect(page.locator("#status")).to_have_text("連線中斷，正在重新連線…", timeout=WAIT)
    page.screenshot(path=str(screens / "chat-6-mobile-offline.png"))
    console.reply(ticket, "補充：申請書可以在官網下載。")
    mobile.set_offline(False)
    expect(page.locator("#status")).to_have_text("已連線", timeout=WAIT)
    expect(page.locator(".msg.staff").filter(has_text="申請書可以在官網下載")).to_have_count(1, timeout=WAIT)

    # Resolving resumes the bot; the rating question arrives live with one-tap buttons.
    console.resolve(ticket)
    bot_says(page, "請為這次的服務打個分數")
    rating = page.get_by_role("group", name="建議回覆").last.get_by_role("button", name="5分")
    expect(rating).to_be_visible(timeout=WAIT)
    rating.click()
    expect(page.locator(".msg.user").last).to_have_text(re.compile("5分"))
    bot_says(page, "謝謝您的評分")

    # The same session on a desktop browser: the whole conversation, staff replies included.
    desktop = browser.new_context(viewport=DESKTOP, locale="zh-TW", timezone_id="Asia/Taipei",
                                  storage_state=mobile.storage_state())
    wide = desktop.new_page()
    wide.goto(f"{stack.web_url}/chat")
    expect(wide.locator(".msg.staff")).to_have_count(2, timeout=WAIT)
    expect(wide.locator(".scheme-card")).to_have_count(1)
    expect(wide.locator("#status")).to_have_text("已連線", timeout=WAIT)
    ask(wide, "青創貸款最多可以借多少")
    expect(wide.locator(".scheme-card")).to_have_count(2, timeout=WAIT)
    wide.screenshot(path=str(screens / "chat-7-desktop-answer.png"))
    mobile.close()
    desktop.close()

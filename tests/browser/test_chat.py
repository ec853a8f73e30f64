"""The web chat in a real browser: ask, get quick replies, click, reload, hand off, get a staff reply live.

Screenshots (390×844 and 1280×800) go to reports/screens/chat-*.png.
"""

from __future__ import annotations

import re
import shutil

import httpx
from playwright.sync_api import expect

from bot.handoff.staff import StaffStore
from tests.browser.conftest import CHROMIUM_ARGS
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
        self._post(ticket, "resolve", outcome="replied")  # the console asks how the ticket ended


# WCAG contrast of every visible element that holds text, against its nearest opaque background.
LOW_CONTRAST = """() => {
  const rgb = c => { const p = c.match(/[\\d.]+/g).map(Number); return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1}; };
  const lum = ({r, g, b}) => [r, g, b].map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; })
    .reduce((sum, v, i) => sum + v * [0.2126, 0.7152, 0.0722][i], 0);
  const background = el => { for (; el; el = el.parentElement) { const c = rgb(getComputedStyle(el).backgroundColor);
    if (c.a === 1) return c; } return {r: 255, g: 255, b: 255, a: 1}; };
  const low = [];
  for (const el of document.querySelectorAll("body *")) {
    if (!el.getClientRects().length || ![...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim())) continue;
    const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(background(el))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) low.push(`${el.tagName}.${el.className} 「${el.textContent.trim().slice(0, 12)}」 ${ratio.toFixed(2)}`);
  }
  return low;
}"""


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
    # Keyboard: the labelled box, then the send button, each with a visible focus ring.
    page.get_by_label("輸入您的問題").focus()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "send"
    assert page.evaluate("getComputedStyle(document.activeElement).outlineStyle") == "solid"

    # A loan question: the bot asks which scheme, with quick replies.
    ask(page, "我想借錢 有哪些貸款")
    expect(page.locator(".msg.user").last).to_contain_text("我想借錢 有哪些貸款")
    bot_says(page, "您是指")
    replies = page.get_by_role("group", name="建議回覆").last.get_by_role("button")
    expect(replies.first).to_be_visible()
    assert replies.count() >= 2
    choice = replies.filter(has_text="30人以下").first
    title = choice.inner_text()
    page.screenshot(path=str(screens / "chat-2-mobile-answer.png"))
    assert page.evaluate(LOW_CONTRAST) == []

    # Clicking a quick reply shows its title as the user's message and answers with a scheme card.
    choice.click()
    expect(page.locator(".msg.user").last).to_have_text(re.compile(re.escape(title)))
    card = page.locator(".scheme-card").last
    expect(card).to_be_visible(timeout=WAIT)
    expect(card.get_by_role("heading")).to_contain_text("30人以下")
    expect(card.locator("a[href^='tel:']")).to_be_visible()
    bot_says(page, "30人以下")
    expect(page.get_by_role("group", name="建議回覆")).to_have_count(0)  # used replies do not linger
    page.screenshot(path=str(screens / "chat-3-mobile-card.png"))

    # A reload keeps the conversation: same question, the clicked title, the card.
    session = page.evaluate("localStorage.getItem('hotline-chat-session')")
    assert re.fullmatch(r"[0-9a-f]{32}", session)
    page.reload()
    expect(page.locator(".scheme-card")).to_have_count(1, timeout=WAIT)
    log = page.locator("#log")
    expect(log).to_contain_text("我想借錢 有哪些貸款")
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
    assert page.evaluate(LOW_CONTRAST) == []

    # The connection drops: the page says so and reconnects; what the user typed meanwhile
    # goes out once, and a staff reply sent meanwhile shows once.
    mobile.set_offline(True)
    expect(page.locator("#status")).to_have_text("連線中斷，正在重新連線…", timeout=WAIT)
    ask(page, "好的，謝謝，我等您的消息")
    expect(page.locator("#typing")).to_be_hidden()  # nobody is typing while we are offline
    page.screenshot(path=str(screens / "chat-6-mobile-offline.png"))
    assert page.evaluate(LOW_CONTRAST) == []
    console.reply(ticket, "補充：申請書可以在官網下載。")
    mobile.set_offline(False)
    expect(page.locator("#status")).to_have_text("已連線", timeout=WAIT)
    expect(page.locator(".msg.staff").filter(has_text="申請書可以在官網下載")).to_have_count(1, timeout=WAIT)
    expect(page.locator(".msg.user").filter(has_text="我等您的消息")).to_have_count(1)
    # Wait until the server has it (a synchronous predicate: wait_for_function does not await promises).
    page.wait_for_function(
        """() => {
        if (window.heard === undefined) {
            window.heard = null;
            fetch("/chat/history?session=" + localStorage.getItem("hotline-chat-session")).then(r => r.json())
                .then(body => { window.heard = body.messages.filter(m => m.text === "好的，謝謝，我等您的消息").length; });
        }
        if (window.heard === null) return false;
        const heard = window.heard;
        window.heard = undefined;
        return heard > 0;
    }""",
        polling=300,
        timeout=WAIT,
    )

    # Resolving resumes the bot; the rating question arrives live with one-tap buttons.
    console.resolve(ticket)
    bot_says(page, "請為這次的服務打個分數")
    rating = page.get_by_role("group", name="建議回覆").last.get_by_role("button", name="5分")
    expect(rating).to_be_visible(timeout=WAIT)
    rating.click()
    expect(page.locator(".msg.user").last).to_have_text(re.compile("5分"))
    bot_says(page, "謝謝您的評分")

    # The same session on a desktop browser: the whole conversation, staff replies included.
    desktop = browser.new_context(
        viewport=DESKTOP, locale="zh-TW", timezone_id="Asia/Taipei", storage_state=mobile.storage_state()
    )
    wide = desktop.new_page()
    wide.goto(f"{stack.web_url}/chat")
    expect(wide.locator(".msg.staff")).to_have_count(2, timeout=WAIT)
    expect(wide.locator(".scheme-card")).to_have_count(1)
    expect(wide.locator(".msg.user").filter(has_text="我等您的消息")).to_have_count(1)  # sent once, not twice
    expect(wide.locator("#status")).to_have_text("已連線", timeout=WAIT)
    ask(wide, "青創貸款最多可以借多少")
    expect(wide.locator(".scheme-card")).to_have_count(2, timeout=WAIT)
    wide.screenshot(path=str(screens / "chat-7-desktop-answer.png"))
    mobile.close()
    desktop.close()


def host_page(page, url: str, web_url: str) -> None:  # type: ignore[no-untyped-def]
    """Another site with the embed snippet (served by the browser's request routing, not a server)."""
    html = (
        f'<!doctype html><html lang="zh-Hant-TW"><head><meta charset="utf-8"><title>合作網站</title></head>'
        f'<body><h1>合作網站</h1><script src="{web_url}/chat/embed.js" defer></script></body></html>'
    )
    page.route(url, lambda route: route.fulfill(status=200, content_type="text/html; charset=utf-8", body=html))
    page.goto(url)


def test_embed_snippet_opens_the_chat_on_allowed_sites_only(stack, browser, screens):
    # A routed page has no address space, so Chromium's local-network checks would stop it
    # loading anything from 127.0.0.1; real sites and the chat host are both public.
    lax = browser.browser_type.launch(
        executable_path=shutil.which("chromium") or "/usr/bin/chromium",
        headless=True,
        args=[*CHROMIUM_ARGS, "--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests"],
    )
    context = lax.new_context(viewport=DESKTOP, locale="zh-TW", timezone_id="Asia/Taipei")
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda message: console.append(message.text))
    allowed = stack.web_url.replace("127.0.0.1", "localhost") + "/partner.html"  # the web app's own origins are allowed
    host_page(page, allowed, stack.web_url)
    button = page.get_by_role("button", name="線上客服")
    expect(button).to_have_attribute("aria-expanded", "false")
    button.click()
    expect(button).to_have_attribute("aria-expanded", "true")
    chat = page.frame_locator("iframe[title='中小企業馬上辦線上客服']")
    expect(chat.locator("#status")).to_have_text("已連線", timeout=WAIT)
    box = chat.get_by_label("輸入您的問題")
    box.fill("青創貸款最多可以借多少")
    box.press("Enter")
    expect(chat.locator(".scheme-card")).to_be_visible(timeout=WAIT)
    page.screenshot(path=str(screens / "chat-8-desktop-embed.png"))
    box.press("Escape")  # Escape inside the chat closes it and gives focus back to the button
    expect(page.locator("#hotline-chat-frame")).to_be_hidden()
    assert page.evaluate("document.activeElement.id") == "hotline-chat-button"
    assert not [line for line in console if "frame-ancestors" in line]

    host_page(page, "http://127.0.0.2:9/partner.html", stack.web_url)  # a site not in BOT_CHAT_ORIGINS
    with page.expect_console_message(lambda message: "frame-ancestors" in message.text, timeout=WAIT) as refusal:
        page.get_by_role("button", name="線上客服").click()
    assert "blocked" in refusal.value.text
    assert chat.locator("#chat").count() == 0
    context.close()
    lax.close()


# ---- issue 14: buttons, focus, the wait for a person, the reload view, day separators ---------


def phone_page(browser, stack):  # type: ignore[no-untyped-def]
    context = browser.new_context(
        viewport=MOBILE,
        locale="zh-TW",
        timezone_id="Asia/Taipei",
        has_touch=True,
        is_mobile=True,
        device_scale_factor=2,
    )
    page = context.new_page()
    page.goto(f"{stack.web_url}/chat")
    expect(page.locator("#status")).to_have_text("已連線", timeout=WAIT)
    return context, page


def test_buttons_of_every_message_in_a_reply_stay_until_the_caller_acts(stack, browser, screens):
    """An urgent answer lists schemes as buttons and is followed by 「請專人協助」: both stay (the r1-30 bug)."""
    context, page = phone_page(browser, stack)
    ask(page, "你好")
    expect(page.locator(".msg.bot")).to_have_count(2, timeout=WAIT)  # the welcome and the greeting
    session = page.evaluate("localStorage.getItem('hotline-chat-session')")
    schemes = [
        {
            "title": "協助企業辦理銀行債權債務協商",
            "payload": '/debt_negotiation_ask{"scheme":"debt_negotiation_guidelines"}',
        },
        {"title": "公股銀行關懷", "payload": '/debt_negotiation_ask{"scheme":"state_bank_care"}'},
    ]
    reply = [
        {"event": "bot", "text": "以下是目前的債務協商相關措施，請點選想了解的項目：", "data": {"buttons": schemes}},
        {
            "event": "bot",
            "text": "您的狀況比較緊急，需要的話我可以馬上請專人協助您。",
            "data": {"buttons": [{"title": "請專人協助", "payload": "/handoff_request"}]},
        },
    ]
    sent = httpx.post(
        f"{stack.rasa_url}/conversations/{session}/tracker/events",
        json=reply,
        timeout=30,
        params={"token": stack.token, "execute_side_effects": "true", "output_channel": "latest"},
    )
    assert sent.status_code == 200, sent.text[:300]
    person = page.get_by_role("button", name="請專人協助")
    expect(person).to_be_visible(timeout=WAIT)
    listed = page.locator(".msg.bot").filter(has_text="請點選想了解的項目").last.get_by_role("button")
    expect(listed).to_have_count(2)  # not removed by the next message's quick reply
    page.screenshot(path=str(screens / "chat-urgent-buttons-phone.png"))
    listed.first.click()
    expect(page.locator(".msg.user").last).to_have_text(re.compile("協助企業辦理銀行債權債務協商"))
    expect(person).to_have_count(0)  # once the caller acts, the offered buttons go
    context.close()


def test_focus_returns_to_the_input_after_a_quick_reply(stack, browser):
    context = browser.new_context(viewport=DESKTOP, locale="zh-TW", timezone_id="Asia/Taipei")
    page = context.new_page()
    page.goto(f"{stack.web_url}/chat")
    expect(page.locator("#status")).to_have_text("已連線", timeout=WAIT)
    starter = page.get_by_role("group", name="建議回覆").get_by_role("button").first
    starter.focus()
    page.keyboard.press("Enter")
    expect(page.locator(".msg.user").last).to_be_visible()
    assert page.evaluate("document.activeElement.id") == "message"
    context.close()


def test_composer_is_small_on_a_phone_and_the_hotline_is_a_link(stack, browser):
    context, page = phone_page(browser, stack)
    composer = page.locator("#composer").bounding_box()
    assert composer["height"] <= 0.10 * MOBILE["height"], composer
    expect(page.locator(".hint .keys")).to_be_hidden()  # no Shift+Enter on a touch screen
    tel = page.locator(".hint a[href='tel:0800280280']")
    expect(tel).to_have_text("0800-280-280")
    box = tel.bounding_box()
    assert box["height"] < 24, "the number wraps"
    context.close()


def test_waiting_for_a_person_and_the_reload_view(stack, browser, screens):
    context, page = phone_page(browser, stack)
    ask(page, "我想找真人")
    bot_says(page, "轉給真人客服")
    page.get_by_role("button", name="好，請專人聯絡我").click()
    bot_says(page, "怎麼稱呼您")
    ask(page, "我姓陳，電話0933-123-456")  # name and phone in one message
    bot_says(page, "方便聯絡的時段")
    # A reload: the caller's own words come back as typed (this browser only), the bot's example too.
    page.reload()
    expect(page.locator("#status")).to_have_text("已連線", timeout=WAIT)
    log = page.locator("#log")
    expect(log).to_contain_text("我姓陳，電話0933-123-456")
    session = page.evaluate("localStorage.getItem('hotline-chat-session')")
    stored = httpx.get(f"{stack.web_url}/chat/history", params={"session": session}, timeout=30).json()["messages"]
    assert any(m["who"] == "user" and "[手機]" in m["text"] for m in stored)  # the server keeps it masked
    assert "0933-123-456" not in str(stored)
    page.screenshot(path=str(screens / "chat-reload-own-words-phone.png"))

    ask(page, "不限")
    created = bot_says(page, r"服務單（編號\d+）").inner_text()
    ticket = int(re.search(r"編號(\d+)", created).group(1))
    banner = page.locator("#waiting")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(f"服務單 #{ticket}")
    page.screenshot(path=str(screens / "chat-waiting-phone.png"))
    ask(page, "請問大概多久會有人回我？")
    bot_says(page, "已轉給客服人員，您補充的內容他們會看到")
    expect(page.locator("#typing")).to_be_hidden()
    page.screenshot(path=str(screens / "chat-waiting-ack-phone.png"))
    assert page.evaluate(LOW_CONTRAST) == []
    page.reload()  # the banner survives a reload
    expect(page.locator("#waiting")).to_be_visible(timeout=WAIT)
    expect(page.locator("#status")).to_have_text("已連線", timeout=WAIT)
    page.locator("#withdraw").click()
    bot_says(page, "已取消轉接")
    expect(page.locator("#waiting")).to_be_hidden()
    assert page.evaluate("document.activeElement.id") == "message"
    page.screenshot(path=str(screens / "chat-withdrawn-phone.png"))
    context.close()


def test_days_are_separated_when_a_conversation_spans_days(stack, browser):
    import time
    import uuid

    session = uuid.uuid4().hex
    day = 86_400
    events = [
        {
            "event": "user",
            "text": "上週問過青創貸款",
            "timestamp": time.time() - 3 * day,
            "input_channel": "socketio",
            "parse_data": {
                "intent": {"name": "loan_ask", "confidence": 1.0},
                "entities": [],
                "text": "上週問過青創貸款",
            },
        },
        {"event": "bot", "text": "好的，請問想了解哪一項？", "timestamp": time.time() - 3 * day + 5},
    ]
    reply = httpx.post(
        f"{stack.rasa_url}/conversations/{session}/tracker/events",
        params={"token": stack.token},
        json=events,
        timeout=30,
    )
    assert reply.status_code == 200, reply.text[:300]
    context = browser.new_context(viewport=MOBILE, locale="zh-TW", timezone_id="Asia/Taipei")
    context.add_init_script(f"localStorage.setItem('hotline-chat-session', '{session}')")
    page = context.new_page()
    page.goto(f"{stack.web_url}/chat")
    expect(page.locator("#log .day")).to_have_count(1, timeout=WAIT)
    expect(page.locator("#status")).to_have_text("已連線", timeout=WAIT)
    ask(page, "今天再問一次")
    expect(page.locator("#log .day")).to_have_count(2, timeout=WAIT)  # today's messages start a new day
    context.close()

"""The ops pages in a real browser on the seeded bot: filter, open, correct, export, metrics (screenshots)."""

from __future__ import annotations

import datetime as dt
import re

from bot.clock import TAIPEI
from bot.ops.review import Filters, Review
from bot.ops.schema import open_engine


def test_ops_user_finds_failures_corrects_an_intent_and_exports(seeded_ops, browser, screens, tmp_path):
    stack = seeded_ops.stack
    review = Review(open_engine(f"sqlite:///{stack.var_dir / 'ops.db'}"))
    failing = review.search(Filters(failed=True, per_page=200)).total
    assert failing > 0
    context = browser.new_context(viewport={"width": 1366, "height": 900}, locale="zh-TW", accept_downloads=True)
    page = context.new_page()
    page.goto(f"{stack.web_url}/ops")
    assert page.url.endswith("/console/login")
    page.get_by_label("帳號").fill(seeded_ops.staff)
    page.get_by_label("密碼").fill(seeded_ops.password)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{stack.web_url}/console")
    page.get_by_role("link", name="對話檢視").click()
    page.wait_for_url(f"{stack.web_url}/ops")
    # The seed is test traffic, left out by default: only the shared stack's other (unmarked) test callers show.
    callers = review.search(Filters(synthetic=False, per_page=200)).total
    assert callers < review.search(Filters(per_page=200)).total
    assert f"共 {callers} 段對話" in page.locator(".count").inner_text()
    page.get_by_label("測試流量", exact=True).select_option("yes")
    page.get_by_role("button", name="篩選").click()
    page.wait_for_url(re.compile(r"synthetic=yes"))
    today = dt.datetime.now(TAIPEI).date()
    asked_today = review.search(Filters(date_from=today, date_to=today)).total
    assert asked_today > 0

    # What people asked in a period: one click on a preset (the seed ran today, none last week).
    page.locator(".presets").get_by_role("link", name="今天").click()
    page.wait_for_url(re.compile(r"from=.*&to="))
    assert f"共 {asked_today} 段對話" in page.locator(".count").inner_text()
    page.locator(".presets").get_by_role("link", name="上週").click()
    page.wait_for_url(re.compile(r"from=.*&to="))
    # The seed ran today; only other tests' back-dated conversations (the web chat's day separators) fall last week.
    week = re.search(r"from=(\d{4}-\d\d-\d\d)&to=(\d{4}-\d\d-\d\d)", page.url)
    last_week = review.search(
        Filters(date_from=dt.date.fromisoformat(week.group(1)), date_to=dt.date.fromisoformat(week.group(2)))
    ).total
    assert not set(seeded_ops.summary["senders"]) & {
        r.sender_id
        for r in review.search(
            Filters(
                date_from=dt.date.fromisoformat(week.group(1)),
                date_to=dt.date.fromisoformat(week.group(2)),
                per_page=200,
            )
        ).rows
    }
    assert f"共 {last_week} 段對話" in page.locator(".count").inner_text()
    page.get_by_role("link", name="清除條件").click()

    # What failed (one definition: bot/ops/failures.py), not yet reviewed.
    page.get_by_label("測試流量", exact=True).select_option("yes")
    page.get_by_label("需要檢視（有失敗回合）", exact=True).select_option("yes")
    page.get_by_label("已檢視", exact=True).select_option("no")
    page.get_by_role("button", name="篩選").click()
    page.wait_for_url(re.compile(r"failed=yes"))
    assert f"共 {failing} 段對話" in page.locator(".count").inner_text()
    rows = page.locator("table.ops-list tbody tr")
    assert rows.count() == min(failing, 25)
    page.screenshot(path=str(screens / "ops-1-list.png"), full_page=True)

    rows.first.locator("a").first.click()
    page.wait_for_url(re.compile(r"/ops/conversation\?id="))
    turn = page.locator("li.turn.fell-back", has=page.locator("summary", has_text="修正意圖")).first
    assert turn.locator(".flag.bad").count() >= 1
    page.screenshot(path=str(screens / "ops-2-conversation.png"), full_page=True)

    turn.locator("summary", has_text="修正意圖").click()
    turn.get_by_label("正確的意圖").select_option("policy_ask")
    turn.get_by_label("類型").select_option("county")  # the value list now offers counties only
    assert turn.locator("optgroup[label='county']").evaluate("g => g.hidden") is False
    assert turn.locator("optgroup[label='scheme']").evaluate("g => g.hidden") is True
    turn.get_by_label("類型").select_option("")
    turn.get_by_role("button", name="儲存修正").click()
    page.wait_for_selector("text=已儲存修正")
    assert page.evaluate("window.scrollY") > 0 and "#turn-" in page.url  # the page kept its place
    fixed = page.locator("li.turn.fell-back .fixed").first
    assert "policy_ask" in fixed.inner_text()
    page.get_by_role("button", name="標記為已檢視").click()
    page.wait_for_selector("text=已標記為已檢視")
    page.get_by_role("link", name="← 回到對話列表").click()
    page.wait_for_url(re.compile(r"failed=yes"))
    assert f"共 {failing - 1} 段對話" in page.locator(".count").inner_text()  # the reviewed one left the to-do list

    page.goto(f"{stack.web_url}/ops/corrections")
    corrected_row = page.locator("table.queue tbody tr").first.inner_text()
    assert "policy_ask" in corrected_row  # from what the model said to the fix
    page.screenshot(path=str(screens / "ops-4-corrections.png"), full_page=True)
    with page.expect_download() as download:
        page.get_by_role("link", name="下載訓練資料（YAML）").click()
    saved = tmp_path / "ops_corrections.yml"
    download.value.save_as(saved)
    text = saved.read_text(encoding="utf-8")
    assert text.startswith('version: "3.1"') and "nlu:" in text

    page.goto(f"{stack.web_url}/ops/metrics?from=&synthetic=yes")
    assert page.locator("svg.chart").count() == 2
    assert "貸款" in page.locator("#table-categories").inner_text()
    page.screenshot(path=str(screens / "ops-3-metrics.png"), full_page=True)
    with page.expect_download() as download:
        page.locator("section", has_text="各類別對話數與占比").get_by_role("link", name="下載 CSV").click()
    assert download.value.suggested_filename == "categories.csv"
    page.get_by_role("link", name=re.compile(r"^\d+$")).first.click()  # a category count opens the list
    page.wait_for_url(re.compile(r"/ops\?.*category="))

    tablet = browser.new_context(
        viewport={"width": 820, "height": 1180}, locale="zh-TW", storage_state=context.storage_state()
    )
    narrow = tablet.new_page()
    narrow.goto(f"{stack.web_url}/ops/metrics?from=&synthetic=yes")
    assert narrow.evaluate("document.documentElement.scrollWidth") <= 820  # wide tables scroll inside their box
    narrow.screenshot(path=str(screens / "ops-5-metrics-tablet.png"), full_page=True)
    narrow.goto(f"{stack.web_url}/ops?synthetic=yes")
    assert narrow.evaluate("document.documentElement.scrollWidth") <= 820
    tablet.close()
    context.close()

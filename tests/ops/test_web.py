"""The /ops pages over HTTP (Starlette test client) on a copy of the seeded ops database."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from urllib.parse import urlencode

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from bot.clock import FixedClock
from bot.handoff.staff import StaffStore
from bot.handoff.tickets_sql import SqlTicketStore
from bot.kb.query import KnowledgeBase
from bot.ops.export import build_export
from bot.settings import Settings
from bot.web.app import create_app, routes
from tests.conftest import TODAY
from tests.web.conftest import PASSWORD, csrf_of, login


@pytest.fixture(scope="module")
def app(ops_copy, tmp_path_factory):  # type: ignore[no-untyped-def]
    folder = tmp_path_factory.mktemp("opsweb")
    settings = Settings.from_env(
        {
            "BOT_VAR_DIR": str(folder),
            "BOT_SESSION_SECRET": "ops-web-secret",
            "BOT_RASA_URL": "http://127.0.0.1:9",
            "BOT_TODAY": TODAY,
        }
    )
    StaffStore(settings.staff_path).add("lin", PASSWORD)
    kb = KnowledgeBase(ops_copy.kb, FixedClock(dt.date.fromisoformat(TODAY)))
    return create_app(settings, tickets=SqlTicketStore(ops_copy.tickets), kb=kb, review=ops_copy.review)


@pytest.fixture
def staff(app):  # type: ignore[no-untyped-def]
    client = TestClient(app)
    assert login(client).status_code == 303
    return client


def ops_routes():  # type: ignore[no-untyped-def]
    for route in routes():
        if isinstance(route, Route) and route.path.startswith("/ops"):
            for method in sorted(route.methods - {"HEAD"}):
                yield method, route.path.replace("{table}", "categories")


@pytest.mark.parametrize(("method", "path"), list(ops_routes()))
def test_every_ops_route_refuses_anonymous_users(app, method, path):
    reply = TestClient(app).request(method, path, follow_redirects=False)
    if method == "GET":
        assert reply.status_code == 303 and reply.headers["location"] == "/console/login"
    else:
        assert reply.status_code == 401


def test_list_page_filters_and_pages(staff, ops_copy):
    from bot.ops.review import Filters

    total = ops_copy.review.search(Filters()).total
    page = staff.get("/ops?per_page=10&synthetic=yes")
    assert page.status_code == 200 and f"共 {total} 段對話" in page.text
    assert page.text.count('href="/ops/conversation?') == 10 and "下一頁" in page.text
    fell = staff.get("/ops?failed=yes&synthetic=yes")
    assert "需要檢視" in fell.text and 'class="fell-back"' in fell.text
    real = ops_copy.review.search(Filters(synthetic=False)).total  # conversations of other tests' callers, if any
    assert real < total and f"共 {real} 段對話" in staff.get("/ops").text  # the seed (synthetic) is left out
    bad = staff.get("/ops?below=lots")
    assert bad.status_code == 400 and "信心值門檻必須是數字" in bad.text
    injected = staff.get("/ops?" + urlencode({"q": "<script>alert(1)</script>"}))
    assert injected.status_code == 200 and "<script>alert(1)</script>" not in injected.text


def test_conversation_page_and_correction_round_trip(staff, ops_copy, seeded_ops):
    sender = next(
        s for s in seeded_ops.summary["senders"] if any(t["fell_back"] for t in ops_copy.review.conversation(s).turns)
    )
    page = staff.get("/ops/conversation?" + urlencode({"id": sender}))
    assert page.status_code == 200 and "修正意圖" in page.text and "聽不懂" in page.text
    event_id = re.search(r'name="event_id" value="(\d+)"', page.text).group(1)
    token = csrf_of(page.text)
    refused = staff.post("/ops/turn/correct", data={"event_id": event_id, "intent": "loan_ask"}, follow_redirects=False)
    assert refused.status_code == 403
    bad = staff.post("/ops/turn/correct", data={"csrf": token, "event_id": event_id, "intent": "nope"})
    assert bad.status_code == 400 and "請選擇正確的意圖" in bad.text
    saved = staff.post(
        "/ops/turn/correct", data={"csrf": token, "event_id": event_id, "intent": "policy_ask"}, follow_redirects=False
    )
    assert saved.status_code == 303
    shown = staff.get(saved.headers["location"])
    assert "已修正為 <strong>policy_ask</strong>" in shown.text
    download = staff.get("/ops/corrections/nlu.yml")
    assert download.status_code == 200 and "attachment" in download.headers["content-disposition"]
    assert download.text == build_export(ops_copy.review.corrections()).yaml
    assert staff.get("/ops/conversation?id=no-such-one").status_code == 404
    tagged = staff.post("/ops/conversation/tag", data={"csrf": token, "id": sender, "tag": "看過"})
    assert tagged.status_code == 200 and "看過" in tagged.text
    assert staff.post("/ops/conversation/tag", data={"csrf": token, "id": sender, "tag": "<b>"}).status_code == 400
    reviewed = staff.post("/ops/conversation/review", data={"csrf": token, "id": sender, "reviewed": "1"})
    assert "已標記為已檢視" in reviewed.text


def test_metrics_page_charts_and_csv_downloads(staff):
    page = staff.get("/ops/metrics?from=")
    assert page.status_code == 200
    assert page.text.count("<svg") == 2 and "各類別對話數與占比" in page.text and "60天內截止的措施" in page.text
    assert "http://" not in re.sub(r'xmlns="http://www.w3.org/2000/svg"', "", page.text)  # nothing from elsewhere
    for key in (
        "summary",
        "categories",
        "topics",
        "failures",
        "handoff_reasons",
        "hours",
        "unanswered",
        "schemes",
        "ending",
    ):
        reply = staff.get(f"/ops/metrics/{key}.csv?from=")
        assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(reply.text.lstrip("\ufeff"))))
        assert rows and rows[0], key
    assert staff.get("/ops/metrics/secrets.csv").status_code == 404
    assert staff.get("/ops/metrics?from=2026-02-30").status_code == 400


def test_conversation_csv_lists_every_matching_conversation(staff, ops_copy):
    from bot.ops.review import Filters

    reply = staff.get("/ops/conversations.csv?handed_off=yes&synthetic=yes")
    rows = list(csv.reader(io.StringIO(reply.text.lstrip("\ufeff"))))
    assert rows[0][0] == "對話"
    assert len(rows) - 1 == ops_copy.review.search(Filters(handed_off=True)).total > 0


def test_retrain_page_shows_the_live_model_and_only_supervisors_may_retrain(app, staff):
    page = staff.get("/ops/retrain")
    assert page.status_code == 200 and "目前上線模型" in page.text and "max(0.005, 1/support)" in page.text
    assert "只有主管" in page.text and "訓練候選模型並比較" not in page.text  # lin is an agent
    refused = staff.post("/ops/retrain/start", data={"csrf": csrf_of(page.text)})
    assert refused.status_code == 403 and "主管" in refused.text
    assert staff.get("/ops/retrain/reports/..%2F.env").status_code == 404
    assert staff.get("/ops/retrain/reports/retrain-2020-01-01.md").status_code == 404
    app.state.deps.staff.add("boss", PASSWORD, role="supervisor")
    boss = TestClient(app)
    assert login(boss, "boss").status_code == 303
    assert "訓練候選模型並比較" in boss.get("/ops/retrain").text

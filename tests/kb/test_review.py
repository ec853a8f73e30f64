"""`python -m bot kb review`, `kb check` and the console's 知識庫檢查 page: what to check next."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bot.kb.review import review
from tests.kb.conftest import ROOT, kb_on
from tests.web import conftest as web
from tests.web.conftest import PASSWORD, login


def run_cli(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )


def test_review_lists_unknown_stale_unchecked_and_ending(real_db):
    result = review(kb_on(real_db, "2026-12-01"))
    sections = {s.key: {r.scheme.id for r in s.rows} for s in result.sections}
    assert "hualien_earthquake_0403_guarantee" in sections["unknown"]
    assert {"startup_co_creation_award", "hualien_earthquake_0403_guarantee"} <= sections["stale_source"]
    assert "covid_recovery_loan" not in sections["stale_source"]  # ended: an old source is expected
    assert {"bank_association_relief_2026", "sbir"} <= sections["ending"]  # an end and a period, both 2026-12-31
    assert sections["unchecked"] == set()  # every record was checked within 90 days of the audit
    later = {s.key: {r.scheme.id for r in s.rows} for s in review(kb_on(real_db, "2027-03-15")).sections}
    assert "sme_micro_loan_30_under" in later["unchecked"]
    # a benefit's own deadline counts: the 10% bonus ends 115/6/30
    assert "digital_transformation_30_under" in {
        r.scheme.id for s in review(kb_on(real_db, "2026-05-15")).sections if s.key == "ending" for r in s.rows
    }


def test_kb_review_command_prints_the_lists_as_of_bot_today(real_db, tmp_path):
    shutil.copy(real_db, tmp_path / "kb.db")
    done = run_cli("kb", "review", BOT_TODAY="2026-12-01", BOT_VAR_DIR=str(tmp_path))
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("knowledge review on 2026-12-01")
    assert "## unknown:" in out and "c. 2023  unknown     startup_co_creation_award" in out
    assert "2026-12-31  open        sbir" in out and "計畫期間結束（115年度）" in out
    assert "us_tariff: ended 2, open 2, unknown 8" in out


def test_kb_check_fails_on_a_record_with_no_status_basis(tmp_path):
    folder = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", folder)
    record = folder / "schemes" / "sbir.yml"
    record.write_text(
        "\n".join(
            line for line in record.read_text(encoding="utf-8").splitlines() if not line.startswith("status_basis:")
        )
        + "\n",
        encoding="utf-8",
    )
    done = run_cli("kb", "check", BOT_KNOWLEDGE_DIR=str(folder))
    assert done.returncode != 0
    assert "sbir.yml: sbir: status_basis: missing" in done.stderr
    ok = run_cli("kb", "check")
    assert ok.returncode == 0 and "status basis: end" in ok.stdout


settings = web.settings  # the web app's settings fixture


def test_console_knowledge_page_needs_a_login_and_shows_the_lists(settings, real_db):
    from starlette.testclient import TestClient

    from bot.handoff.staff import StaffStore
    from bot.web.app import create_app

    shutil.copy(real_db, Path(settings.kb_path))
    StaffStore(settings.staff_path).add("lin", PASSWORD)
    client = TestClient(create_app(settings))
    assert client.get("/console/knowledge", follow_redirects=False).status_code in (302, 303)
    assert login(client).status_code == 303
    page = client.get("/console/knowledge")
    assert page.status_code == 200
    html = page.text
    assert "<h1>知識庫檢查</h1>" in html and 'href="/console/knowledge"' in html
    assert "受理狀態未確認" in html and "0403花蓮地震受災企業信用保證（花東基金）" in html and "113年4月9日" in html
    assert "狀態未確認" in html and "美國關稅" in html

"""The query module on real SQLite built from YAML."""

from __future__ import annotations

import pytest

from bot.eligibility import Profile
from bot.kb.query import KnowledgeBaseMissing, Status, UnknownScheme
from tests.kb.conftest import kb_on


def test_scheme_is_found_by_name_alias_or_id(fixture_db):
    kb = kb_on(fixture_db, "2026-11-23")
    assert kb.resolve("30人以下優惠貸款") == "micro_loan"
    assert kb.resolve("中小微企業多元發展專案貸款") == "micro_loan"
    assert kb.resolve("micro_loan") == "micro_loan"
    assert kb.resolve("不存在的貸款") is None


def test_unknown_id_raises(fixture_db):
    with pytest.raises(UnknownScheme):
        kb_on(fixture_db, "2026-11-23").scheme("nope")


def test_missing_database_says_how_to_build_it(tmp_path):
    with pytest.raises(KnowledgeBaseMissing, match="kb build"):
        kb_on(tmp_path / "kb.db", "2026-11-23").all()


@pytest.mark.parametrize(
    ("day", "status"), [("2023-12-19", Status.OPEN), ("2023-12-20", Status.OPEN), ("2023-12-21", Status.ENDED)]
)
def test_a_scheme_is_open_through_its_last_day(fixture_db, day, status):
    kb = kb_on(fixture_db, day)
    assert kb.status(kb.scheme("old_subsidy")) is status


def test_not_started_before_the_start_date(fixture_db):
    kb = kb_on(fixture_db, "2025-01-14")
    assert kb.status(kb.scheme("micro_loan")) is Status.NOT_STARTED


def test_ended_scheme_points_to_its_open_alternative(fixture_db):
    kb = kb_on(fixture_db, "2026-11-23")
    assert kb.alternative(kb.scheme("old_subsidy")).id == "micro_loan"


def test_category_listing_leaves_out_ended_schemes(real_db):
    kb = kb_on(real_db, "2026-11-23")
    listed = kb.by_category("digital_rd")
    assert listed and all(kb.status(s) is not Status.ENDED for s in listed)
    assert "manufacturing_upgrade_under_10" not in {s.id for s in listed}
    assert "manufacturing_upgrade_under_10" in {s.id for s in kb.by_category("digital_rd", include_ended=True)}


def test_text_search_ranks_the_named_scheme_first(real_db):
    kb = kb_on(real_db, "2026-11-23")
    assert kb.search("青創貸款的利率")[0].id == "youth_startup_loan"
    assert kb.search("SBIR第一階段")[0].id == "sbir"
    assert kb.search("美國關稅 外銷 保證")[0].category == "us_tariff"


@pytest.mark.parametrize(
    "text",
    [
        '"',
        '" OR 1=1 --',
        "NEAR(青創 貸款)",
        "*",
        "青創 OR 貸款",
        "AND NOT",
        "^青創",
        "a:b",
        "(((",
        "'; DROP TABLE schemes; --",
        "\u0000",
        "😀",
        "青創" * 500,
    ],
    ids=lambda text: repr(text[:12]),
)
def test_search_treats_user_text_as_words_never_as_fts_syntax(real_db, text):
    results = kb_on(real_db, "2026-11-23").search(text)
    assert isinstance(results, list)
    if "青創" in text:
        assert results and results[0].id == "youth_startup_loan"


def test_eligibility_rules_out_what_a_stated_fact_contradicts(real_db):
    kb = kb_on(real_db, "2026-11-23")
    fits_50 = {m.scheme.id for m in kb.matching(Profile(employees=50))}
    fits_12 = {m.scheme.id: m for m in kb.matching(Profile(employees=12))}
    assert "sme_micro_loan_30_under" not in fits_50
    assert "員工30人以下（您12人）" in fits_12["sme_micro_loan_30_under"].reasons


def test_ending_within_lists_schemes_closing_soon(real_db):
    soon = {s.id for s in kb_on(real_db, "2026-11-23").ending_within(60)}
    assert "bank_association_relief_2026" in soon  # ends 2026-12-31
    assert "sme_micro_loan_30_under" not in soon


def test_a_knowledge_base_rebuilt_while_the_server_runs_is_read_on_the_next_lookup(tmp_path):
    """Lookups are remembered while the same kb.db is on disk, never past a rebuild or a removal."""
    import shutil

    from bot.kb.build import build_kb
    from bot.kb.records import load_knowledge
    from tests.kb.conftest import ROOT

    source = tmp_path / "knowledge"
    shutil.copytree(ROOT / "tests" / "fixtures" / "knowledge", source)
    db = build_kb(load_knowledge(source), tmp_path / "kb.db")
    kb = kb_on(db, "2026-11-23")
    assert kb.scheme("micro_loan").name == "中小微企業多元發展專案貸款"
    lines = kb.contacts(kb.scheme("micro_loan"))
    assert kb.contacts(kb.scheme("micro_loan")) == lines

    record = source / "schemes" / "micro_loan.yml"
    record.write_text(
        record.read_text(encoding="utf-8").replace("name: 中小微企業多元發展專案貸款", "name: 中小微企業貸款（新名）"),
        encoding="utf-8",
    )
    build_kb(load_knowledge(source), tmp_path / "kb.db")
    assert kb.scheme("micro_loan").name == "中小微企業貸款（新名）"

    db.unlink()
    with pytest.raises(KnowledgeBaseMissing, match="kb build"):
        kb.scheme("micro_loan")

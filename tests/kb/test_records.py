"""Knowledge records: the real ones are complete; broken ones get precise errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.categories import HOTLINE_VALUES
from bot.kb.records import InvalidKnowledge, load_knowledge

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(scope="module")
def knowledge():
    return load_knowledge(ROOT / "knowledge")


def test_every_record_has_a_source_and_dates(knowledge):
    for scheme in knowledge.schemes.values():
        assert scheme.sources, scheme.id
        assert all(ref.doc for ref in scheme.sources), scheme.id
        assert scheme.source_date.year >= 2016 and scheme.last_verified >= scheme.source_date, scheme.id


def test_at_least_forty_records_cover_all_six_categories(knowledge):
    assert len(knowledge.schemes) >= 40
    assert {s.category for s in knowledge.schemes.values()} == set(HOTLINE_VALUES)


def test_measures_of_seed_003_carry_their_end_dates_or_say_none_is_given(knowledge):
    from_003 = [s for s in knowledge.schemes.values() if any("003_" in ref.doc for ref in s.sources)]
    assert len([s for s in from_003 if s.end]) >= 8
    # where seed 003 names no end date, the package's period (112年~114年) is its status basis
    assert all(s.end or (s.period and s.period.end.isoformat() == "2025-12-31") for s in from_003)


def test_both_hotline_numbers_are_kept_with_sources_and_the_newest_is_the_one_given(knowledge):
    phones = {c.phone: c for c in knowledge.contacts.values()}
    assert phones["0800-280-280"].current and not phones["0800-056-476"].current
    assert phones["0800-056-476"].source.doc.startswith("seeds/001")
    assert phones["0800-280-280"].source.doc.startswith("seeds/000")
    assert phones["0800-280-280"].url == "https://0800280280.sme.gov.tw"


def test_broken_records_report_file_record_and_field():
    with pytest.raises(InvalidKnowledge) as broken:
        load_knowledge(FIXTURES / "broken_knowledge")
    messages = {str(p) for p in broken.value.problems}
    expected = [
        "no_source.yml: no_source: source: missing source",
        "ends_early.yml: ends_early: category: unknown category 'weather'",
        "ends_early.yml: ends_early: end: end 2025-01-01 is before start 2025-05-01",
        "ends_early.yml: ends_early: benefits[0].kind: unknown kind 'magic'",
        "no_source.yml: no_source: aliases: duplicate alias or name '無來源' (also ends_early)",
        "ends_early.yml: ends_early: contacts: unknown contact id 'nobody'",
        "wrong_name.yml: another_id: id: must be snake_case and equal the file name (wrong_name)",
        "contacts.yml: bad_phone: phone: malformed phone '0800-12'",
        "ends_early.yml: ends_early: color: unknown field",
        "no_source.yml: no_source: status_basis: missing",
        "ends_early.yml: ends_early: status_basis: missing",
        "wrong_name.yml: another_id: standing_quote: status_basis standing needs the source's words",
    ]
    for line in expected:
        assert any(m.startswith(line) for m in messages), (line, sorted(messages))


def test_fixture_knowledge_loads_cleanly():
    loaded = load_knowledge(FIXTURES / "knowledge")
    assert set(loaded.schemes) == {"micro_loan", "old_subsidy"}


def test_programme_statistics_load_only_with_the_date_they_count_to(tmp_path):
    """A running total (核准件數) is true only as of its report: the record must say which."""
    import shutil

    import yaml

    folder = tmp_path / "knowledge"
    shutil.copytree(FIXTURES / "knowledge", folder)
    path = folder / "schemes" / "micro_loan.yml"
    record = yaml.safe_load(path.read_text(encoding="utf-8"))
    record["benefits"].append({"kind": "statistics", "text": "核准件數65,420件"})
    path.write_text(yaml.safe_dump(record, allow_unicode=True), encoding="utf-8")
    with pytest.raises(InvalidKnowledge) as broken:
        load_knowledge(folder)
    assert any(p.field.endswith(".condition") and "date" in p.message for p in broken.value.problems)
    record["benefits"][-1]["condition"] = "經濟部114年12月23日進度報告之累計數"
    path.write_text(yaml.safe_dump(record, allow_unicode=True), encoding="utf-8")
    assert load_knowledge(folder).schemes["micro_loan"].benefits[-1].kind == "statistics"

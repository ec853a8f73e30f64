"""The one table of conversation-list filters (bot/ops/filters.py FILTERS): query string, CLI and page agree."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import fields
from pathlib import Path

import pytest
from click.testing import CliRunner

from bot.__main__ import cli
from bot.ops.filters import FILTERS, BadFilter, Filters

LIST_PAGE = Path(__file__).resolve().parents[2] / "bot" / "web" / "templates" / "ops" / "list.html"
# A value other than the default for every field, as a page or the CLI could ask for it.
EXAMPLES = {
    "date_from": dt.date(2026, 11, 1),
    "date_to": dt.date(2026, 11, 30),
    "channel": "line",
    "category": "other",
    "intent": "nlu_fallback",
    "below": 0.6,
    "failed": True,
    "handed_off": False,
    "rating": "none",
    "tag": "需補訓練資料",
    "reviewed": True,
    "q": "青創貸款",
    "sort": "confidence",
    "desc": False,
    "page": 3,
    "per_page": 200,
    "synthetic": True,
}


def test_the_table_has_one_row_per_filters_field_and_one_key_and_flag_each():
    assert sorted(spec.field for spec in FILTERS) == sorted(f.name for f in fields(Filters)) == sorted(EXAMPLES)
    for attribute in ("key", "flag", "label"):
        values = [getattr(spec, attribute) for spec in FILTERS]
        assert len(set(values)) == len(values) and all(values), attribute


@pytest.mark.parametrize("spec", FILTERS, ids=lambda s: s.key)
def test_every_filter_round_trips_through_the_query_string(spec):
    chosen = Filters.parse(Filters(synthetic=False).query())  # what a page without filters shows
    changed = Filters.parse(
        Filters(
            **{**{f.name: getattr(chosen, f.name) for f in fields(Filters)}, spec.field: EXAMPLES[spec.field]}
        ).query()
    )
    assert getattr(changed, spec.field) == EXAMPLES[spec.field]
    assert Filters.parse(changed.query()) == changed


def test_all_filters_at_once_round_trip_and_defaults_stay_out_of_links():
    every = Filters(**EXAMPLES)
    assert Filters.parse(every.query()) == every
    assert Filters().query() == {"synthetic": "yes", "sort": "started", "order": "desc"}


@pytest.mark.parametrize("spec", FILTERS, ids=lambda s: s.key)
def test_every_filter_is_an_option_of_ops_list(spec):
    help_text = CliRunner().invoke(cli, ["ops", "list", "--help"]).output
    assert re.search(rf"^\s+{re.escape(spec.flag)}\b", help_text, re.M), spec.flag


@pytest.mark.parametrize("spec", [s for s in FILTERS if s.key not in ("page", "per_page")], ids=lambda s: s.key)
def test_every_filter_but_paging_is_a_field_of_the_list_page_form(spec):
    assert re.search(rf'name="{spec.key}"|\("{spec.key}", ', LIST_PAGE.read_text(encoding="utf-8")), spec.key


@pytest.mark.parametrize("spec", [s for s in FILTERS if s.choices], ids=lambda s: s.key)
def test_every_cli_choice_is_a_value_the_parser_accepts(spec):
    for choice in spec.choices:
        Filters.parse({spec.key: choice})
    with pytest.raises(BadFilter, match=spec.label):
        Filters.parse({spec.key: "maybe"})

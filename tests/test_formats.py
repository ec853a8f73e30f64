import datetime as dt

import pytest

from bot.formats import amount, quantity, roc_date


@pytest.mark.parametrize(("day", "gregorian", "text"), [
    (dt.date(2028, 10, 31), False, "117年10月31日"),
    (dt.date(2023, 12, 20), True, "112年12月20日（2023/12/20）"),
    (dt.date(2026, 1, 4), False, "115年1月4日"),
])
def test_roc_dates(day, gregorian, text):
    assert roc_date(day, gregorian) == text


@pytest.mark.parametrize(("value", "text"), [
    (35_000_000, "3,500萬元"), (150_000_000, "1.5億元"), (200_000_000, "2億元"), (10_000, "1萬元"),
    (12_000, "1.2萬元"), (1_500, "1,500元"), (6_000_000, "600萬元"),
])
def test_amounts_in_wan_and_yi(value, text):
    assert amount(value) == text


def test_quantities_keep_their_units():
    assert quantity(2.22, "%") == "2.22%"
    assert quantity(9, "成") == "9成"
    assert quantity(35_000_000, "元") == "3,500萬元"

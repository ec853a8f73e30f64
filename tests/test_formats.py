import datetime as dt

import pytest

from bot.formats import roc_date


@pytest.mark.parametrize(
    ("day", "gregorian", "text"),
    [
        (dt.date(2028, 10, 31), False, "117年10月31日"),
        (dt.date(2023, 12, 20), True, "112年12月20日（2023/12/20）"),
        (dt.date(2026, 1, 4), False, "115年1月4日"),
    ],
)
def test_roc_dates(day, gregorian, text):
    assert roc_date(day, gregorian) == text

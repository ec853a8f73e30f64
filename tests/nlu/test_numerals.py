import pytest

from bot.nlu.numerals import NotANumber, find_numbers, parse_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12", 12), ("三十", 30), ("十二", 12), ("兩百萬", 2_000_000), ("三千五百萬", 35_000_000),
        ("3千5百萬", 35_000_000), ("1.5億", 150_000_000), ("1億5千萬", 150_000_000), ("一萬二", 12_000),
        ("3萬5", 35_000), ("三千五", 3_500), ("一百零五", 105), ("35,000,000", 35_000_000), ("壹仟", 1_000),
    ],
)
def test_numbers_as_callers_write_them(text, value):
    assert parse_number(text) == value


@pytest.mark.parametrize("text", ["", "abc", "三個", "1.2.3"])
def test_non_numbers_are_refused(text):
    with pytest.raises(NotANumber):
        parse_number(text)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("我們12個人想借三千五百萬", [("employees", 12), ("amount", 35_000_000)]),
        ("三十人以下可以貸多少", [("employees", 30)]),
        ("員工20名 要借500萬", [("employees", 20), ("amount", 5_000_000)]),
        ("公司有五個員工", [("employees", 5)]),
        ("想貸1.5億", [("amount", 150_000_000)]),
        ("最高可以借多少錢", []),
    ],
)
def test_employees_and_amounts_are_found_with_values(text, found):
    assert [(m.entity, m.value) for m in find_numbers(text)] == found

import pytest

from bot.nlu.numerals import NotANumber, find_numbers, parse_number


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12", 12),
        ("三十", 30),
        ("十二", 12),
        ("兩百萬", 2_000_000),
        ("三千五百萬", 35_000_000),
        ("3千5百萬", 35_000_000),
        ("1.5億", 150_000_000),
        ("1億5千萬", 150_000_000),
        ("一萬二", 12_000),
        ("3萬5", 35_000),
        ("三千五", 3_500),
        ("一百零五", 105),
        ("35,000,000", 35_000_000),
        ("壹仟", 1_000),
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
        ("三十人以下可以貸多少", []),
        ("員工20名 要借500萬", [("employees", 20), ("amount", 5_000_000)]),
        ("公司有五個員工", [("employees", 5)]),
        ("想貸1.5億", [("amount", 150_000_000)]),
        ("最高可以借多少錢", []),
    ],
)
def test_employees_and_amounts_are_found_with_values(text, found):
    assert [(m.entity, m.value) for m in find_numbers(text)] == found


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("1,200人", [("employees", 1200)]),
        ("30多個員工", [("employees", 30)]),
        ("借500萬元", [("amount", 5_000_000)]),
        ("一萬二塊", [("amount", 12_000)]),
        ("3千5百萬", [("amount", 35_000_000)]),
    ],
)
def test_the_bounded_pattern_keeps_ordinary_matches(text, found):
    assert [(m.entity, m.value) for m in find_numbers(text)] == found


ADVERSARIAL = {
    "digits": "1" * 5000,
    "digits then unit far away": "1" * 4990 + "abc人",
    "commas": "1," * 2500,
    "dots": "1." * 2500,
    "chinese numerals": "三" * 5000,
    "mixed": "三1,萬." * 1000,
    "employee prefix": "員工" + "1" * 4998,
}


def test_no_message_of_the_allowed_size_takes_long(tmp_path):
    """One message must not stall the event loop (security review C1): every adversarial string of
    5,000 characters is read in a fresh interpreter that is killed after a few seconds; each must finish in 50 ms.
    Before the fix a run of 2,000 digits took 45 s, so the subprocess timeout catches a regression without a
    timed assertion on the suite."""
    import json
    import subprocess
    import sys

    script = (
        "import json, sys, time\n"
        "from bot.nlu.numerals import find_numbers\n"
        "cases = json.loads(sys.stdin.read())\n"
        "out = {}\n"
        "for name, text in cases.items():\n"
        "    t = time.perf_counter(); find_numbers(text); out[name] = time.perf_counter() - t\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        input=json.dumps(ADVERSARIAL),
        capture_output=True,
        text=True,
        timeout=20,
        cwd=str(__import__("pathlib").Path(__file__).resolve().parents[2]),
    )
    assert done.returncode == 0, done.stderr
    slow = {name: seconds for name, seconds in json.loads(done.stdout).items() if seconds > 0.05}
    assert slow == {}


@pytest.mark.parametrize(
    ("text", "found"),
    [
        # A number inside a scheme's name is not the caller's head count.
        ("30人以下的那個帶款 力率多少", []),
        ("9人以下的智慧化升級補助", []),
        ("經常僱用員工數10人以上的個案補助", []),
        ("我們8個人 想問30人以下優惠貸款", [("employees", 8)]),
        # The caller's own head count, said loosely.
        ("我們8個人", [("employees", 8)]),
        ("員工不到十個", [("employees", 9)]),
        ("我們十來個", [("employees", 10)]),
        ("公司十幾個員工", [("employees", 10)]),
        ("員工二十多人", [("employees", 20)]),
        # Amounts said loosely: 「借個五十萬」, a range 「兩三百萬」 read as its upper end.
        ("想借個五十萬週轉", [("amount", 500_000)]),
        ("大概要兩三百萬", [("amount", 3_000_000)]),
        ("三五百萬應該夠", [("amount", 5_000_000)]),
    ],
)
def test_scheme_names_are_not_head_counts_and_loose_figures_are_read(text, found):
    assert [(m.entity, m.value) for m in find_numbers(text)] == found

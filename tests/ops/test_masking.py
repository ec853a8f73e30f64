"""Personal data is masked before storage: a corpus of Taiwan-format identifiers, events, logs."""

from __future__ import annotations

import copy
import io
import logging
from pathlib import Path

import pytest
import yaml

from bot.log import mask_all_records
from bot.privacy.masking import mask_event, mask_text, national_id_valid, tax_id_valid

CORPUS = yaml.safe_load((Path(__file__).parent / "fixtures" / "pii_corpus.yml").read_text(encoding="utf-8"))


def test_the_corpus_is_large_enough():
    assert len(CORPUS["positive"]) >= 60 and len(CORPUS["negative"]) >= 30


@pytest.mark.parametrize("case", CORPUS["positive"], ids=lambda c: c["text"][:24])
def test_personal_data_is_replaced_by_its_placeholder(case):
    masked = mask_text(case["text"])
    assert case["placeholder"] in masked, masked
    for pii in case["pii"]:
        assert str(pii) not in masked, masked


@pytest.mark.parametrize("text", [str(t) for t in CORPUS["negative"]])
def test_amounts_dates_hotlines_and_scheme_figures_stay(text):
    assert mask_text(text) == text


@pytest.mark.parametrize("case", CORPUS["positive"], ids=lambda c: c["text"][:24])
def test_masking_twice_changes_nothing_more(case):
    once = mask_text(case["text"])
    assert mask_text(once) == once


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("A123456789", True),
        ("F131104093", True),
        ("A800000014", True),
        ("A930196810", True),  # ID, new ARC
        ("AA00000009", True),
        ("AD30196818", True),  # old ARC
        ("A123456788", False),
        ("A800000000", False),
        ("AA00000000", False),
        ("A323456789", False),
        ("1234567890", False),
    ],
)
def test_national_id_check_digit(value, valid):
    assert national_id_valid(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("04595252", True),  # valid only under the 2023 rule (divisible by 5)
        ("10458575", True),  # 7th digit 7: 28 counts as 1 or 0
        ("12345675", True),
        ("12345678", False),
        ("04595253", False),
    ],
)
def test_tax_id_check(value, valid):
    assert tax_id_valid(value) is valid


def test_an_eight_digit_code_without_a_valid_check_stays_unless_named_as_a_tax_id():
    assert mask_text("訂單 12345678") == "訂單 12345678"
    assert mask_text("統編12345678") == "統編[統編]"


USER_EVENT = {
    "event": "user",
    "timestamp": 1700000000.5,
    "text": "我手機0912345678，身分證A123456789",
    "parse_data": {
        "text": "我手機0912345678，身分證A123456789",
        "intent": {"name": "handoff_request", "confidence": 0.93},
        "entities": [
            {"entity": "phone", "value": "0912345678", "start": 3, "end": 13},
            {"entity": "amount", "value": 35000000, "start": 0, "end": 4},
        ],
        "intent_ranking": [{"name": "handoff_request", "confidence": 0.93}],
    },
    "input_channel": "rest",
    "message_id": "0a1b2c3d4e5f",
    "metadata": {"line": {"profile": "mail ming@example.com"}},
}


def test_a_user_event_keeps_its_structure_and_loses_the_identifiers():
    masked = mask_event(USER_EVENT)
    assert masked["text"] == "我手機[手機]，身分證[身分證]"
    assert masked["parse_data"]["text"] == masked["text"]
    assert masked["parse_data"]["entities"][0]["value"] == "[手機]"
    assert masked["parse_data"]["entities"][1]["value"] == 35000000  # numbers are not text
    assert masked["parse_data"]["intent"] == USER_EVENT["parse_data"]["intent"]
    assert masked["metadata"] == {"line": {"profile": "mail [Email]"}}
    assert (masked["event"], masked["timestamp"], masked["message_id"]) == ("user", 1700000000.5, "0a1b2c3d4e5f")


def test_mask_event_does_not_change_its_argument():
    original = copy.deepcopy(USER_EVENT)
    mask_event(USER_EVENT)
    assert USER_EVENT == original


@pytest.mark.parametrize(
    ("event", "key", "expected"),
    [
        ({"event": "slot", "name": "handoff_phone", "value": "0912-345-678"}, "value", "[手機]"),
        (
            {"event": "slot", "name": "report_location", "value": ["花蓮縣", "中正路二段50號"]},
            "value",
            ["花蓮縣", "[地址]"],
        ),
        (
            {
                "event": "bot",
                "text": "好的，我們會打 02-2345-6789 給您",
                "data": {"buttons": [{"title": "0912345678", "payload": "/x"}]},
            },
            "data",
            {"buttons": [{"title": "[手機]", "payload": "/x"}]},
        ),
        ({"event": "bot", "text": "請撥 0800-056-476", "data": {}}, "text", "請撥 0800-056-476"),
        ({"event": "slot", "name": "amount", "value": 12000000.0}, "value", 12000000.0),
    ],
)
def test_slot_values_bot_text_and_buttons_are_masked(event, key, expected):
    assert mask_event(event)[key] == expected
    assert mask_event(event)["event"] == event["event"]


@pytest.fixture
def masked_logging():
    previous = logging.getLogRecordFactory()
    mask_all_records(mask_text)
    yield
    logging.setLogRecordFactory(previous)


def test_every_log_record_of_the_process_is_masked_with_its_traceback(masked_logging):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)  # a handler with no filter, as Rasa's coloredlogs installs
    logger = logging.getLogger("rasa.core.processor.test")
    logger.addHandler(handler)
    try:
        logger.error("Received user message '%s'", "我的手機0912345678")
        try:
            raise ValueError("bad value A123456789")
        except ValueError:
            logger.exception("failed for owner@example.com")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "0912345678" not in output and "A123456789" not in output and "owner@example.com" not in output
    assert "[手機]" in output and "ValueError" in output


def test_structlog_events_as_rasa_configures_them_are_masked(masked_logging):
    import structlog
    from rasa.utils.log_utils import configure_structlog

    root, stream = logging.getLogger(), io.StringIO()
    handler, level = logging.StreamHandler(stream), logging.getLogger().level
    root.addHandler(handler)
    try:
        configure_structlog(logging.DEBUG)
        root.setLevel(logging.DEBUG)
        structlog.get_logger().debug("processor.message.received", text="身分證A123456789 電話02-2345-6789")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        structlog.reset_defaults()
    printed = stream.getvalue()
    assert "processor.message.received" in printed
    assert "A123456789" not in printed and "2345-6789" not in printed


def test_masking_a_megabyte_of_email_like_text_is_linear():
    """Security review H1: ``mask_text`` rebuilt the string once per match, so 1 MB of 「a@b.cc 」 took tens of
    seconds on Rasa's event loop. Run in a fresh interpreter killed after 30 s (no timed assertion): the linear
    version masks it in about a second, the quadratic one does not finish."""
    import subprocess
    import sys

    script = (
        "from bot.privacy.masking import mask_value\n"
        "masked = mask_value({'note': 'a@b.cc ' * 150_000, 'more': ['0912345678 ' * 20_000]})\n"
        "assert masked['note'] == '[Email] ' * 150_000, masked['note'][:40]\n"
        "assert masked['more'] == ['[手機] ' * 20_000]\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    assert done.returncode == 0, done.stderr

"""Logs never carry secrets or personal identifiers."""

import logging

import pytest

from bot.log import MaskingFilter, mask
from bot.privacy.masking import mask_text


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("POST http://127.0.0.1:5005/conversations/x/execute?token=abc123secret", "abc123secret"),
        ("Authorization: Bearer api-token-xyz", "api-token-xyz"),
        ("call 0912-345-678 please", "0912-345-678"),
        ("身分證 A123456789", "A123456789"),
        ("mail me at owner@example.com.tw", "owner@example.com.tw"),
        ("市話 (02)2345-6789", "2345-6789"),
    ],
)
def test_secrets_and_identifiers_are_masked(text, hidden):
    assert hidden not in mask(text, mask_text)


def test_the_filter_masks_formatted_records():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "url %s", ("http://h/?token=s3cr3t",), None)
    MaskingFilter(mask_text).filter(record)
    assert "s3cr3t" not in record.getMessage()


def test_a_record_that_cannot_be_masked_is_withheld_not_raised_or_logged_as_it_is():
    # At interpreter exit (aiohttp's connector cleanup logs then) the masking's globals are gone;
    # the record factory must neither raise into the caller nor let the unmasked text through.
    from bot.log import _MaskingFactory

    def broken(text: str) -> str:
        raise TypeError("'NoneType' object is not callable")

    factory = _MaskingFactory(logging.LogRecord, broken)
    record = factory("x", logging.ERROR, __file__, 1, "call 0912-345-678 %s", ("now",), None)
    assert "0912" not in record.getMessage() and "withheld" in record.getMessage()

"""Masking a text seen before (bot/privacy/masking.py's cache): the same result, and no caller text kept."""

from __future__ import annotations

from bot.privacy import masking
from bot.privacy.masking import mask_text

ANSWER = "青年創業貸款：洽詢專線0800-589-168，或來電02-2368-6858，地址臺北市中正區羅斯福路一段100號，我們將盡快回覆您。"


def test_a_long_text_is_masked_alike_every_time_and_a_changed_digit_is_masked_on_its_own():
    first = mask_text(ANSWER)
    assert first == mask_text(ANSWER) == masking._mask_text(ANSWER)
    assert "[電話]" in first and "[地址]" in first and "0800-589-168" in first
    caller = f"我的手機是0912-345-678，請在下午三點後打給我，公司在新北市板橋區文化路二段{'十' * 3}號。"
    other = caller.replace("678", "679")
    assert mask_text(caller) == mask_text(other) and "0912" not in mask_text(other)


def test_the_cache_holds_masked_forms_only():
    text = "請回電給我，我的手機是0933-271-845，身分證A123456789，謝謝你們的協助，明天上午都在辦公室。"
    masking._cache.clear()  # other tests' texts (some with digits that are no identifier) stay out of it
    mask_text(text)
    kept = list(masking._cache.values()) + [key.hex() for key in masking._cache]
    assert not any("0933" in value or "A123456789" in value for value in kept)
    assert all(len(key) == 20 for key in masking._cache)

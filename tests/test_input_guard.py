import pytest

from bot.channels.input_guard import check_text
from bot.channels.rest import BadRequest, read_request


@pytest.mark.parametrize(
    ("raw", "text", "reply_has"),
    [
        ("青創貸款怎麼申請", "青創貸款怎麼申請", None),
        ("  青創\u0000貸款  ", "青創貸款", None),
        ("", None, "還沒輸入內容"),
        ("\u200b\u200b", None, "還沒輸入內容"),
        ("👍👍", None, "只能讀懂文字"),
        ("？？！！", None, "只能讀懂文字"),
        ("a" * 5001, None, "超過5,000字"),
        ("a" * 100_000, None, "超過5,000字"),
        ("/loan_ask", "/loan_ask", None),
        ("' OR 1=1; DROP TABLE schemes; --", "' OR 1=1; DROP TABLE schemes; --", None),
    ],
)
def test_text_is_cleaned_or_answered_politely(raw, text, reply_has):
    checked = check_text(raw, 5000)
    assert checked.text == text
    if reply_has:
        assert reply_has in (checked.reply or "")
    else:
        assert checked.reply is None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "invalid_json"),
        (b"null", "not_an_object"),
        (b'"hi"', "not_an_object"),
        (b'{"sender": "", "message": "hi"}', "bad_sender"),
        (b'{"sender": "' + b"x" * 129 + b'", "message": "hi"}', "bad_sender"),
        (b'{"sender": "u", "message": null}', "bad_message"),
        (b'{"sender": "u", "message": "hi", "metadata": "x"}', "bad_metadata"),
    ],
)
def test_malformed_bodies_are_refused_with_a_code(body, code):
    with pytest.raises(BadRequest) as refused:
        read_request(body)
    assert refused.value.code == code


def test_missing_message_counts_as_empty_text():
    assert read_request(b'{"sender": "u"}') == ("u", "", None)

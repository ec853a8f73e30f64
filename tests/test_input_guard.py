import pytest

from bot.channels.input_guard import MAX_METADATA_BYTES, check_text, metadata_problem
from bot.channels.rest import BadRequest, json_object, request_fields


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
        request_fields(json_object(body))
    assert refused.value.code == code


def test_missing_message_counts_as_empty_text():
    assert request_fields(json_object(b'{"sender": "u"}')) == ("u", "", None)


@pytest.mark.parametrize(
    ("metadata", "code", "status"),
    [
        ({"note": "x" * (MAX_METADATA_BYTES + 1)}, "metadata_too_large", 413),
        ({f"k{i}": i for i in range(1000)}, "metadata_too_large", 413),
        ({"note": "電" * 700}, "metadata_too_large", 413),  # 2,100 bytes of UTF-8
        ({"a": {"b": {"c": {"d": {}}}}}, "metadata_too_deep", 400),
        ({"a": [[[[1]]]]}, "metadata_too_deep", 400),
    ],
)
def test_large_or_deep_metadata_is_refused_with_a_status_and_a_reason(metadata, code, status):
    problem = metadata_problem(metadata)
    assert problem is not None and (problem.code, problem.status) == (code, status)
    assert "metadata" in problem.reason


@pytest.mark.parametrize(
    "metadata", [None, {}, {"page": "/chat", "lang": "zh-TW"}, {"line": {"source": "user"}}, {"a": {"b": {"c": 1}}}]
)
def test_ordinary_metadata_passes(metadata):
    assert metadata_problem(metadata) is None


def test_a_deep_value_is_refused_without_walking_all_of_it():
    value: list = []
    for _ in range(100_000):
        value = [value]
    problem = metadata_problem({"x": value})
    assert problem is not None and problem.code == "metadata_too_deep"


def test_a_request_with_large_metadata_is_refused_with_413():
    with pytest.raises(BadRequest) as refused:
        request_fields(
            json_object(b'{"sender": "u", "message": "hi", "metadata": {"n": "' + b"a@b.cc " * 1000 + b'"}}')
        )
    assert (refused.value.code, refused.value.status) == ("metadata_too_large", 413)


def test_json_nested_thousands_deep_is_a_400_not_a_500():
    with pytest.raises(BadRequest) as refused:
        json_object(b"[" * 100_000 + b"]" * 100_000)
    assert refused.value.code == "json_too_deep"

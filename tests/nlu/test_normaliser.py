import pytest

from bot.nlu.normaliser import normalise, strip_controls


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("我们公司想申请贷款", "我們公司想申請貸款"),
        ("工厂设备坏了", "工廠設備壞了"),
        ("堰塞湖設備復原補助", "堰塞湖設備復原補助"),  # Taiwanese text is left as written
        ("台湾台风", "臺灣台風"),
        ("ＳＢＩＲ　１２３", "SBIR 123"),
        ("  青創\n\n貸款\t ", "青創 貸款"),
        ("台北市", "台北市"),
        ("青創\u200b貸款\u0000", "青創貸款"),
    ],
)
def test_text_reaches_the_classifier_in_one_spelling(raw, expected):
    assert normalise(raw) == expected


def test_strip_controls_keeps_words_and_drops_invisible_characters():
    assert strip_controls("\ufeff你好\u0007 嗎\r\n") == "你好 嗎"

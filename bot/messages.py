"""User-facing text built in Python (dialogue itself lives in domain.yml).

zh-TW, 台灣用語, full-width punctuation. Every text gives the way forward.
"""

from __future__ import annotations

HOTLINE = "0800-056-476"

EMPTY_MESSAGE = "您好像還沒輸入內容。請直接打字描述您想問的問題，例如「30人以下的公司可以貸多少？」。"
NO_TEXT = "我目前只能讀懂文字，請用文字描述您的問題，例如「青創貸款利率多少？」。"


def too_long(limit: int) -> str:
    return f"您的訊息超過{limit:,}字，請精簡後再傳一次；內容較複雜的話，也可以撥馬上辦服務中心 {HOTLINE}。"


TECHNICAL_PROBLEM = f"抱歉，系統暫時出了點問題。請稍後再試，或撥馬上辦服務中心 {HOTLINE}。"

# HTTP 4xx reasons (JSON error bodies).
INVALID_JSON = "請求內容不是有效的 JSON。"
NOT_AN_OBJECT = "請求內容必須是 JSON 物件，例如 {\"sender\": \"user-1\", \"message\": \"你好\"}。"
BAD_SENDER = "sender 必須是1到128字的字串。"
BAD_MESSAGE = "message 必須是字串。"
BAD_METADATA = "metadata 必須是 JSON 物件。"

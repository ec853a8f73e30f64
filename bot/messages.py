"""User-facing text built in Python (dialogue itself lives in domain.yml).

zh-TW, 台灣用語, full-width punctuation. Every text gives the way forward.
"""

from __future__ import annotations

from bot.clock import TAIPEI

# 經濟部「馬上辦服務中心」, per the newest source (seed 000, 114/12/23); knowledge/contacts.yml has its record.
HOTLINE = "0800-280-280"

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


def metadata_too_large(limit: int) -> str:
    return f"metadata 太大：最多{limit:,}位元組。請只傳必要的欄位。"


def metadata_too_deep(limit: int) -> str:
    return f"metadata 層數太多：最多{limit}層。"


JSON_TOO_DEEP = "請求內容的 JSON 層數太多。"
RATE_LIMITED = f"您傳訊息的速度有點快，請稍等幾秒再傳；急事請撥馬上辦服務中心 {HOTLINE}。"
BAD_MESSAGE_ID = "message_id 必須是1到64字的字串。"


def category_list(label: str) -> str:
    return f"以下是目前的{label}相關措施，請點選想了解的項目："


def category_list_for_attribute(label: str, attribute_label: str) -> str:
    return f"請問您想問哪一項{label}措施的{attribute_label}？請點選："


def category_empty(label: str, phone: str) -> str:
    return f"目前查不到仍在受理的{label}措施。歡迎撥 {phone} 由專人協助。"

ELIGIBILITY_INTRO = "依您提供的資料，目前可能適合的措施："
ELIGIBILITY_CHECK_TERMS = "請點選查看申請條件"
ELIGIBILITY_NONE = f"依您提供的資料，目前沒有找到明確符合的措施。建議撥馬上辦服務中心 {HOTLINE}，由專人依您的狀況協助。"

_WEEKDAYS = "一二三四五六日"


def callback_time(moment) -> str:  # type: ignore[no-untyped-def]
    """「11月24日（週二）上午8:30起」 in Taipei time."""
    local = moment.astimezone(TAIPEI)
    half = "上午" if local.hour < 12 else "下午"
    hour = local.hour if local.hour <= 12 else local.hour - 12
    return f"{local.month}月{local.day}日（週{_WEEKDAYS[local.weekday()]}）{half}{hour}:{local.minute:02d}起"

PERSON_BUTTON = "請真人協助"

# Scheme status on the web chat's scheme cards (bot.kb.query.Status values).
SCHEME_STATUS_LABELS = {"open": "受理中", "ended": "已截止", "not_started": "尚未開始受理", "unknown": "受理狀況請來電確認"}


def rating_label(score: int) -> str:
    return f"{score}分"

# LINE channel: answers to deliveries LINE (or someone else) sends, and replies in the chat.
LINE_NOT_CONFIGURED = "LINE 頻道尚未設定（缺少 BOT_LINE_CHANNEL_SECRET 或 BOT_LINE_ACCESS_TOKEN），暫時無法接收訊息。"
LINE_MISSING_SIGNATURE = "缺少 X-Line-Signature 簽章。"
LINE_BAD_SIGNATURE = "X-Line-Signature 簽章不正確。"
LINE_BAD_DELIVERY = "請求內容必須是含有 events 陣列的 JSON 物件。"
LINE_TOO_LARGE = "請求內容太大。"
LINE_CHOOSE = "請點選："
LINE_TEXT_ONLY = (f"謝謝您傳來的內容！不過我目前只能讀文字訊息，請用文字描述您的問題，例如「青創貸款利率多少？」。"
                  f"需要專人協助請撥 {HOTLINE}。")
LINE_GROUP_HINT = "大家好！我是中小企業服務的智能客服。在群組裡請先 @我 再提問，例如「@智能客服 青創貸款利率多少？」。"

# Answers about schemes (bot.kb.answers).
UNOFFICIAL_CAUTION = "此數字來自非官方整理，申請前請向承辦銀行或主辦單位確認。"
CONTACTS_INTRO = "聯絡方式如下：\n"


def fits_because(reasons: str) -> str:
    return f"依您說的{reasons}，適合："


def no_fact(scheme: str, label: str, phone: str | None) -> str:
    return f"目前資料沒有「{scheme}」的{label}資訊" + (f"，建議撥 {phone} 確認。" if phone else "。")


def no_documents(scheme: str, forms: str, how: str, phone: str) -> str:
    text = f"目前資料沒有列出「{scheme}」的應備文件清單。"
    if forms:
        text += f"{forms}。"
    if how:
        text += f"申請方式：{how}"
    return text + f"文件請向承辦單位或撥 {phone} 確認。"


def which_one(names: list[str]) -> str:
    """「您是指A，還是B？」 for two or three candidates."""
    quoted = [f"「{n}」" for n in names]
    if len(quoted) == 1:
        return f"您是指{quoted[0]}嗎？請點選確認："
    return f"您是指{'、'.join(quoted[:-1])}，還是{quoted[-1]}？請點選："


def before_it_ended(facts: str) -> str:
    return f"此措施已經截止（目前已無法申請），截止前的內容供您參考：{facts}"


def all_the_same(names: str, facts: str) -> str:
    return f"{names}都一樣，{facts}。"

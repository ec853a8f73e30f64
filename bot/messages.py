"""User-facing text built in Python (dialogue itself lives in domain.yml).

zh-TW, 台灣用語, full-width punctuation. Every text gives the way forward. The wording of
a scheme answer (figures, dates, status, the source line) is built from the records in
bot/kb/answers.py; this module holds the channel, form and page text.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

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
NOT_AN_OBJECT = '請求內容必須是 JSON 物件，例如 {"sender": "user-1", "message": "你好"}。'
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

# Web app errors (bot/web/app.py ERRORS renders them: JSON for /api, the error page elsewhere).
SERVER_ERROR = "系統發生錯誤，請稍後再試。"
NO_PAGE = "找不到這個頁面。"
NOT_SUPPORTED = "不支援這個操作。"
RASA_UNAVAILABLE = "目前無法連線到機器人伺服器，請稍後再試。"
LOGIN_REQUIRED = "請先登入。"
CSRF_FAILED = "表單已過期或來源不明（CSRF 驗證失敗），請重新整理頁面後再試。"
API_TOKEN_REQUIRED = "需要有效的 API token（Authorization: Bearer …）。"
TRIAGE_BODY = '請傳入 {"text": "..."} 或 {"items": [{"id": ..., "text": "..."}]}。'
TRIAGE_ITEM_TEXT = "每筆都需要1到5,000字的 text。"
BAD_CONVERSATION_ID = "conversation id 長度不正確。"
BAD_SESSION = "session 必須是32位十六進位字串。"


def triage_items(limit: int) -> str:
    return f"items 需為1到{limit}筆。"


def triage_lines(limit: int) -> str:
    return f"請貼上1到{limit}行，每行5,000字以內。"


# The staff console's refusals (bot/web/console.py).
NO_TICKET = "找不到這張服務單。"
TICKET_CLAIMED_BY_OTHER = "這張服務單已經被其他同仁接手了。"
TICKET_CANNOT_REPLY = "這張服務單目前無法回覆。"
TICKET_TRANSFER_CLAIMED_ONLY = "只有處理中的服務單可以轉派。"
CHOOSE_COLLEAGUE = "請選擇要轉給哪位同仁。"
CANNED_FIELDS = "請填寫標題（20字以內）和內容。"


def ticket_of_colleague(assignee: str, what: str) -> str:
    return f"這張服務單由 {assignee} 處理中，只有負責同仁或主管可以{what}。"


def ticket_withdrawn(what: str) -> str:
    return (
        f"來電者已撤回轉接，機器人已恢復回答，這張服務單無法再{what}。"
        "如仍需聯絡，請撥打單上留下的電話，並在內部備註記下結果。"
    )


def ticket_resolved(what: str) -> str:
    return "這張服務單已經結案" + ("。" if what == "結案" else f"，無法再{what}。")


def queue_bad_filter(name: str) -> str:
    return f"篩選條件 {name} 的值不正確。"


def reply_length(limit: int) -> str:
    return f"回覆內容不可空白，且不可超過{limit}字。"


def note_length(limit: int) -> str:
    return f"備註不可空白，且不可超過{limit}字。"


def choose_outcome(outcomes: list[str]) -> str:
    return "請選擇處理結果（" + "、".join(outcomes) + "）再結案。"


# The ops pages' refusals (bot/web/ops.py, bot/ops/filters.py, bot/ops/review.py).
NO_CONVERSATION = "找不到這段對話。"
NO_TURN = "找不到這則訊息。"
NO_TABLE = "沒有這個表格。"
NO_REPORT = "找不到這份報告。"
EXPORT_FAILED = "有一筆修正無法匯出成訓練資料（格式不正確），請刪除或修改後再試。"
RETRAIN_SUPERVISORS_ONLY = "只有主管（supervisor）可以重訓並更換上線模型。"
RETRAIN_RUNNING = "已有一次重訓正在進行，請等它完成。"
FILTER_DATES_REVERSED = "開始日期不能晚於結束日期。"
FILTER_BAD_SORT = "排序欄位不正確。"
FILTER_BAD_TAG = "標籤格式不正確。"
TAG_RULE = "標籤請用1到40個字，不能有 < > & 引號、斜線或控制字元。"
CORRECTION_INTENT = "請選擇正確的意圖。"
CORRECTION_BUTTON = "這是按鈕送出的訊息，不能當作訓練資料。"
CORRECTION_FORM_ANSWER = "這是表單回答（姓名、電話等），不能當作訓練資料。"
CORRECTION_BRACKETS = "標準值不可包含括號 { } [ ]。"
CORRECTION_VALUE_MISMATCH = "標準值和實體類型不一致，請重新選擇。"


def filter_bad_date(label: str) -> str:
    return f"{label}格式不正確，請用 2026-11-23 這種格式。"


def filter_bad_value(label: str) -> str:
    return f"篩選條件「{label}」的值不正確。"


def filter_not_a_number(label: str) -> str:
    return f"{label}必須是數字。"


def filter_out_of_range(label: str, low: float, high: float) -> str:
    return f"{label}必須介於{low:g}到{high:g}之間。"


def filter_text_too_long(limit: int) -> str:
    return f"搜尋文字請在{limit}字以內。"


def correction_unknown_entity(name: str) -> str:
    return f"實體類型「{name}」不存在。"


def correction_not_in_text(piece: str) -> str:
    return f"「{piece}」不在這句話裡，請填寫句子中的原文。"


def correction_unknown_value(value: str, entity: str) -> str:
    return f"「{value}」不是「{entity}」的已知值，請從清單選擇。"


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


def callback_time(moment: dt.datetime) -> str:
    """「11月24日（週二）上午8:30起」 in Taipei time."""
    local = moment.astimezone(TAIPEI)
    half = "上午" if local.hour < 12 else "下午"
    hour = local.hour if local.hour <= 12 else local.hour - 12
    return f"{local.month}月{local.day}日（週{_WEEKDAYS[local.weekday()]}）{half}{hour}:{local.minute:02d}起"


PERSON_BUTTON = "請真人協助"


class StatusWords(NamedTuple):
    """How one scheme status reads: to callers, and (shorter) to staff."""

    caller: str  # scheme cards on the web chat and answers
    staff: str  # /console/knowledge, `python -m bot kb review`, the ops metrics' schemes table


# Scheme status by bot.kb.query.Status value (Status.label and Status.staff_label read it).
SCHEME_STATUS_LABELS: dict[str, StatusWords] = {
    "open": StatusWords("受理中", "受理中"),
    "ended": StatusWords("已截止", "已截止"),
    "not_started": StatusWords("尚未開始受理", "尚未開始"),
    "unknown": StatusWords("受理狀況請來電確認", "狀態未確認"),
}


def rating_label(score: int) -> str:
    return f"{score}分"


# LINE channel: answers to deliveries LINE (or someone else) sends, and replies in the chat.
LINE_NOT_CONFIGURED = "LINE 頻道尚未設定（缺少 BOT_LINE_CHANNEL_SECRET 或 BOT_LINE_ACCESS_TOKEN），暫時無法接收訊息。"
LINE_MISSING_SIGNATURE = "缺少 X-Line-Signature 簽章。"
LINE_BAD_SIGNATURE = "X-Line-Signature 簽章不正確。"
LINE_BAD_DELIVERY = "請求內容必須是含有 events 陣列的 JSON 物件。"
LINE_TOO_LARGE = "請求內容太大。"
LINE_CHOOSE = "請點選："
LINE_TEXT_ONLY = (
    f"謝謝您傳來的內容！不過我目前只能讀文字訊息，請用文字描述您的問題，例如「青創貸款利率多少？」。"
    f"需要專人協助請撥 {HOTLINE}。"
)
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

"""Reading what callers write into a form: a refusal, a name, a company, a phone number.

Pure functions, shared by every form's validation (actions/handoff.py, disaster.py,
eligibility.py). The NLU decides first: 「取消」「算了」 are the ``form_cancel`` intent
and rules leave the form (data/rules/form_control.yml). :func:`is_refusal` is the
validation's own check behind it, so that a refusal the classifier missed is never
stored as a name, a company or a time.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.phones import find_phone

# A refusal is a whole answer that says "no / stop / I won't give it", not a name that
# happens to start with 不 (不二家, 不老林). The verb or particle after the negation decides.
_NEGATION = r"(?:我|那|那就|還是|就)?(?:先|暫時|目前)?(?:不用|不要|不必|不需要|不想|不願意|不方便|免|別|沒有要|沒打算)"
_OBJECT = r"(?:了|啦|喔|耶|吧|留|填|給|說|講|回答|提供|麻煩|轉|聯絡|打給我|問了|弄了|電話|資料|名字|姓名|這個|繼續|$)"
_REFUSAL = re.compile(
    rf"^(?:{_NEGATION}{_OBJECT}|(?:先|暫時|目前)(?:不用|不要|不必|不需要)"
    r"|算了|取消|免了|先這樣|沒關係不用|停止|結束|不填了|不留了|離開"
    r"|我(?:自己)?(?:再)?(?:打|撥)(?:電話|過去|去問)"
    r"|cancel\b|stop\b|quit\b)",
    re.IGNORECASE,
)


def _plain(text: str) -> str:
    return re.sub(r"[\s，,。.！!？?、~～…]+", "", unicodedata.normalize("NFKC", text or ""))


def is_refusal(text: str) -> bool:
    """「算了不用了，我自己打電話」「先不要 我只是想問」「我不想留電話」: the caller will not answer."""
    return bool(_REFUSAL.match(_plain(text)))


# Words around a name: 「我姓陳」「我是王小明」「敝姓林」「叫我阿明就好」「聯絡人：陳小姐」.
_NAME_LEAD = re.compile(
    r"^(?:您好|你好|哈囉)?(?:我(?:的名字)?(?:姓|是|叫)|敝姓|本人|聯絡人(?:是)?|名字(?:是)?|姓名(?:是)?|叫我)[:：]?"
)
_NAME_TAIL = re.compile(r"(?:就好|就可以|謝謝|感謝|喔|啦)+$")
_FILLER = re.compile(r"^[\s，,、。.；;：:/／()（）\-—]+|[\s，,、。.；;：:/／()（）\-—]+$")
# Words that introduce a phone number, left over once the number is taken out.
_PHONE_WORDS = re.compile(
    r"(?:我的|聯絡|連絡)?(?:手機號碼|手機|電話號碼|電話|市話|號碼|室內電話|公司電話|行動電話)(?:是|為|:|：)?"
)
COMPANY_SUFFIXES = (
    "股份有限公司",
    "有限公司",
    "公司",
    "企業社",
    "商行",
    "行號",
    "工作室",
    "工廠",
    "工業",
    "實業",
    "餐廳",
    "小吃",
    "小吃店",
    "商店",
    "食品",
    "烘焙坊",
    "麵包店",
    "五金行",
    "行",
    "店",
    "坊",
    "社",
    "廠",
    "館",
)
_QUESTION = re.compile(r"[？?]|嗎|呢|什麼|怎麼|如何|多少|幾|哪|可不可以|能不能|是不是|請問|有沒有")


@dataclass(frozen=True, slots=True)
class Contact:
    """What one message said about the caller; empty strings for what it did not say."""

    name: str = ""
    company: str = ""
    phone: str = ""

    @property
    def display(self) -> str:
        """How staff see the contact: 「王小明（小明商行）」, 「陳」, 「小明商行」."""
        if self.name and self.company:
            return f"{self.name}（{self.company}）"
        return self.name or self.company


def _clean(text: str) -> str:
    text = _FILLER.sub("", text)
    text = _NAME_LEAD.sub("", text)
    text = _NAME_TAIL.sub("", text)
    return _FILLER.sub("", text)


def looks_like_question(text: str) -> bool:
    return bool(_QUESTION.search(text or ""))


def is_company(text: str) -> bool:
    return any(text.endswith(s) for s in COMPANY_SUFFIXES) and len(text) >= 2


def read_contact(text: str) -> Contact:
    """Name, company and phone from one message, in any order.

    「我姓陳，電話0933-123-456」 → 陳 / 0933-123-456; 「0912345678 王小明 小明商行」 →
    王小明, 小明商行, 0912-345-678; 「我的手機是 0933 123 456」 → phone only.
    """
    plain = unicodedata.normalize("NFKC", text or "").strip()
    phone, span = find_phone(plain)
    rest = plain
    if phone:
        rest = plain[: span[0]] + " " + plain[span[1] :]
    rest = _PHONE_WORDS.sub(" ", rest)
    parts = [p for p in (_clean(p) for p in re.split(r"[\s，,、；;/／]+", rest)) if p]
    name, company = "", ""
    for part in parts:
        if is_company(part) and not company:
            company = part
        elif not name:
            name = part
        else:
            name = f"{name} {part}"
    if name and not company and is_company(name):
        name, company = "", name
    return Contact(name=name[:60], company=company[:60], phone=phone or "")

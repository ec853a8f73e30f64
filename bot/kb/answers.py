"""Answers composed from records: short, sourced bubbles (≤ 300 characters each).

Pure functions: the action gathers records, status and contacts, these decide the
words. The wording of figures is the source's own (``Benefit.text``), so the bot
never rounds, converts or paraphrases a number into something the source did not say.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from bot.formats import ROC_OFFSET, roc_date
from bot.kb.query import Status
from bot.kb.records import Benefit, Contact, Scheme
from bot.kb.sources import source_title
from bot.messages import SCHEME_STATUS_LABELS

BUBBLE_MAX = 300
SOURCE_LABEL = "來源："  # starts every footer; the LINE channel shows an answer and its footer as one card

ATTRIBUTE_LABELS = {
    "max_amount": "額度", "interest_rate": "利率", "interest_subsidy": "利息補貼", "guarantee_ratio": "保證成數",
    "guarantee_fee": "保證手續費", "loan_term": "貸款期限", "grace_period": "寬限期", "deadline": "申請期限",
    "eligibility": "申請資格", "documents": "應備文件", "how_to_apply": "申請方式", "contact": "洽詢電話",
    "tax_deduction_rate": "減除率", "subsidy_ratio": "補助比例",
}
# Which benefit kinds answer an attribute question (all of them are stated, in record order).
ATTRIBUTE_KINDS = {
    "max_amount": ("max_amount", "subsidy_amount", "subsidy_per_company", "subsidy_per_person", "points"),
    "tax_deduction_rate": ("tax_deduction_rate",), "subsidy_ratio": ("subsidy_ratio",),
    "interest_rate": ("interest_rate",), "interest_subsidy": ("interest_subsidy",),
    "guarantee_ratio": ("guarantee_ratio",), "guarantee_fee": ("guarantee_fee",),
    "loan_term": ("loan_term",), "grace_period": ("grace_period",),
}


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything an answer about one scheme may say."""

    scheme: Scheme
    status: Status
    contacts: tuple[Contact, ...]
    alternative: Scheme | None = None
    today: dt.date | None = None  # benefits with their own deadline are not stated as current after it


def fit(text: str, limit: int = BUBBLE_MAX) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def data_date(scheme: Scheme) -> str:
    """The data date as precisely as the source dates itself: 114年12月23日, 114年3月, 112年, or undated."""
    day = scheme.source_date
    if scheme.source_date_approx:
        return f"文件未載日期（約{day.year - ROC_OFFSET}年）"
    if scheme.source_date_precision == "year":
        return f"{day.year - ROC_OFFSET}年"
    if scheme.source_date_precision == "month":
        return f"{day.year - ROC_OFFSET}年{day.month}月"
    return roc_date(day)


def source_lines(scheme: Scheme) -> list[str]:
    """「來源：…（資料日期…）」 and, for unofficial facts, the caution."""
    titles = list(dict.fromkeys(source_title(ref) for ref in scheme.sources))[:2]
    lines = [f"{SOURCE_LABEL}{'、'.join(titles)}（資料日期{data_date(scheme)}）"]
    if scheme.unofficial:
        said = any("非官方" in title for title in titles)  # the title already says so: say it once
        lines.append("請以官方公告為準。" if said else "部分內容來自非官方資料，請以官方公告為準。")
    return lines


def footer(facts: Facts) -> str:
    """「來源：…（日期）」 and the line to call."""
    lines = source_lines(facts.scheme)
    if facts.contacts:
        first = facts.contacts[0]
        hours = f"（{first.hours}）" if first.hours else ""
        lines.append(f"洽詢：{first.name} {first.phone}{hours}")
    return fit("\n".join(lines))


def scheme_card(facts: Facts) -> dict[str, object]:
    """The footer as a card for the web chat (a socket.io ``custom`` payload; other channels get the text)."""
    lines = source_lines(facts.scheme)
    card: dict[str, object] = {"type": "scheme_card", "scheme": facts.scheme.id, "title": facts.scheme.name,
                               "status": SCHEME_STATUS_LABELS[facts.status.value], "lines": lines}
    if facts.contacts:
        first = facts.contacts[0]
        lines.append(f"洽詢：{first.name}")
        card["phone"] = first.phone
    return card


def ended_notice(facts: Facts) -> str:
    scheme = facts.scheme
    if scheme.status_basis == "end" and scheme.end:
        text = f"「{scheme.name}」已於{roc_date(scheme.end, gregorian=True)}截止，目前無法申請。"
    elif scheme.status_basis == "period" and scheme.period:
        text = f"「{scheme.name}」的計畫期間（{scheme.period.label}）已於{roc_date(scheme.period.end)}結束，目前無法申請。"
    else:
        text = f"「{scheme.name}」已經結束，目前無法申請。"
    if scheme.end_note:
        text += f"（{scheme.end_note}）"
    if facts.alternative:
        text += f"目前可改洽「{facts.alternative.name}」：{facts.alternative.summary}"
    else:
        text += "目前沒有查到直接替代的措施，歡迎來電詢問其他資源。"
    return fit(text)


def unknown_notice(facts: Facts) -> str:
    """For a scheme whose status no source states: the data date and the line to ask."""
    where = f"{facts.contacts[0].name} {facts.contacts[0].phone}" if facts.contacts else "馬上辦服務中心"
    return f"（以上為{data_date(facts.scheme)}的資料，目前是否仍受理，請洽{where}。）"


def attribute_answer(facts: Facts, attribute: str | None) -> list[str]:
    """Answer ``attribute`` of the scheme (or an overview when it is ``None``), then the footer."""
    if facts.status is Status.ENDED:
        return [ended_notice(facts), footer(facts)]
    body = _attribute_text(facts, attribute) if attribute else overview(facts)
    if facts.status is Status.NOT_STARTED and facts.scheme.start:
        body = f"（此措施自{roc_date(facts.scheme.start)}起受理）" + body
    if facts.status is Status.UNKNOWN:
        notice = unknown_notice(facts)
        return [fit(body, BUBBLE_MAX - len(notice)) + notice, footer(facts)]
    return [fit(body), footer(facts)]


def _attribute_text(facts: Facts, attribute: str) -> str:
    scheme = facts.scheme
    label = ATTRIBUTE_LABELS.get(attribute, "資訊")
    if attribute == "deadline" and scheme.period and not scheme.end:
        label = "適用期間"  # a programme period, not an application deadline
    parts: list[str] = []
    if attribute in ATTRIBUTE_KINDS:
        parts = [_with_condition(b) for b in current_benefits(scheme, facts.today) if b.kind in ATTRIBUTE_KINDS[attribute]]
    elif attribute == "deadline":
        parts = [deadline_text(scheme)] if scheme.end or scheme.period or scheme.end_note else []
    elif attribute == "eligibility":
        parts = list(scheme.eligibility.get("other") or [])
    elif attribute == "documents":
        parts = list(scheme.documents)
    elif attribute == "how_to_apply":
        parts = [scheme.how_to_apply] if scheme.how_to_apply else []
    elif attribute == "contact":
        parts = [f"{c.name} {c.phone}" for c in facts.contacts[:3]]
    if not parts:
        # an unknown-status answer ends with the line to ask; do not say it twice
        ask = "" if facts.status is Status.UNKNOWN else "，建議直接來電確認"
        return f"目前資料中沒有「{scheme.name}」的{label}資訊{ask}。"
    return f"「{scheme.name}」的{label}：" + "；".join(parts) + "。"


def _with_condition(benefit: Benefit) -> str:
    """The source's wording, with its condition when the wording does not already carry it."""
    condition = benefit.condition
    if condition and condition not in benefit.text and benefit.text not in condition and len(condition) <= 30:
        return f"{benefit.text}（{condition}）"
    return benefit.text


def current_benefits(scheme: Scheme, today: dt.date | None = None) -> list[Benefit]:
    """Benefits stated as current: not superseded, and (given ``today``) their own deadline not passed."""
    return [b for b in scheme.benefits if b.current_on(today)]


def deadline_text(scheme: Scheme) -> str:
    """Until when: the end date, the programme period (a period is not an application deadline), or the note."""
    if scheme.end:
        text = f"受理至{roc_date(scheme.end, gregorian=True)}"
    elif scheme.period:
        text = scheme.period.label
    else:
        return scheme.end_note or ("持續受理" if scheme.status_basis == "standing" else "截止日期未公布")
    return f"{text}（{scheme.end_note}）" if scheme.end_note else text


def overview(facts: Facts) -> str:
    """Scheme card: who, how much, until when, how to apply."""
    scheme = facts.scheme
    lines = [f"【{scheme.name}】{scheme.summary}"]
    amounts = [b.text for b in current_benefits(scheme, facts.today) if b.kind in ATTRIBUTE_KINDS["max_amount"]][:1]
    if amounts:
        lines.append(f"額度：{amounts[0]}")
    if scheme.end or scheme.period or scheme.end_note or facts.status is not Status.UNKNOWN:
        lines.append(f"期限：{deadline_text(scheme)}")  # unknown and undated: the notice after it says so
    if scheme.how_to_apply:
        lines.append(f"申請：{fit(scheme.how_to_apply, 80)}")
    return fit("\n".join(lines))


def button_title(scheme: Scheme, limit: int = 20) -> str:
    """A LINE-sized label (≤ 20 characters): the name, else the longest alias that fits."""
    if len(scheme.name) <= limit:
        return scheme.name
    fitting = sorted((a for a in scheme.aliases if 4 <= len(a) <= limit), key=len, reverse=True)
    return fitting[0] if fitting else scheme.name[: limit - 1] + "…"

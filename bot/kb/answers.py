"""Answers composed from records: short, sourced bubbles (≤ 300 characters each).

Pure functions: the action gathers records, status and contacts, these decide the
words. The figures are the source's own (``Benefit.text``), so the bot never rounds,
converts or paraphrases a number into something the source did not say; what changes
is the sentence around them: maintainer notes, source ids and stacked 「非官方」 marks
are taken out (:func:`for_callers`) and said once, plainly, and a figure the source
appended after its basis (「…加0.5% 2.22 %」) is put first (「最高2.22%（…加0.5%）」).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot import messages
from bot.formats import BUBBLE_MAX, ROC_OFFSET, clip, roc_date
from bot.kb.query import Status
from bot.kb.records import Benefit, Contact, Scheme
from bot.kb.sources import source_title

SOURCE_LABEL = "來源："  # starts every footer; the LINE channel shows an answer and its footer as one card

ATTRIBUTE_LABELS = {
    "max_amount": "額度",
    "interest_rate": "利率",
    "interest_subsidy": "利息補貼",
    "guarantee_ratio": "保證成數",
    "guarantee_fee": "保證手續費",
    "loan_term": "貸款期限",
    "grace_period": "寬限期",
    "deadline": "申請期限",
    "eligibility": "申請資格",
    "documents": "應備文件",
    "how_to_apply": "申請方式",
    "contact": "洽詢電話",
    "tax_deduction_rate": "減除率",
    "subsidy_ratio": "補助比例",
    "status": "受理狀態",
    "start": "開始日期",
    "alternative": "替代措施",
    "duration": "期間",
    "statistics": "累計申請與核准統計",
}
# Which benefit kinds answer an attribute question (all of them are stated, in record order).
ATTRIBUTE_KINDS = {
    "max_amount": ("max_amount", "subsidy_amount", "subsidy_per_company", "subsidy_per_person", "points"),
    "tax_deduction_rate": ("tax_deduction_rate",),
    "subsidy_ratio": ("subsidy_ratio",),
    "interest_rate": ("interest_rate",),
    "interest_subsidy": ("interest_subsidy",),
    "guarantee_ratio": ("guarantee_ratio",),
    "guarantee_fee": ("guarantee_fee",),
    "loan_term": ("loan_term",),
    "grace_period": ("grace_period",),
    "statistics": ("statistics",),
}


@dataclass(frozen=True, slots=True)
class Facts:
    """Everything an answer about one scheme may say."""

    scheme: Scheme
    status: Status
    contacts: tuple[Contact, ...]
    alternative: Scheme | None = None
    today: dt.date | None = None  # benefits with their own deadline are not stated as current after it


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


# --- text for callers --------------------------------------------------------------
# Maintainer notes inside record text: source ids and remarks about sources.
_NOTE_WORDS = (
    r"seed|external-facts|非官方|顧問|部落格|來源未|官方修正|官方公告內容|以.{0,12}為準|(?<![A-Za-z])[A-Z]\d{2}(?!\d)"
)
_PAREN_NOTE = re.compile(r"[（(][^（）()]*(?:" + _NOTE_WORDS + r")[^（）()]*[）)]", re.IGNORECASE)
_CLAUSE_NOTE = re.compile(r"seed|external-facts|顧問|部落格|官方修正|(?<![A-Za-z])[A-Z]\d{2}(?!\d)")
_UNOFFICIAL = re.compile(r"非官方|顧問|部落格")
_LEAD_NOTE = re.compile(r"^(?:依\s*seed\s*\d+\s*|非官方資料[:：]\s*)", re.IGNORECASE)


def for_callers(text: str) -> str:
    """``text`` without maintainer notes: source ids, remarks on sources, 「（非官方）」 marks.

    A clause that is only a note is dropped, a parenthesis holding one is removed,
    and 「來源未載明」 becomes 「目前資料未載明」 (the caller's view of the same fact).
    """
    text = _PAREN_NOTE.sub("", text)
    clauses = [c.strip() for c in re.split(r"[；;]", text)]
    kept = [
        _LEAD_NOTE.sub("", c)
        for c in clauses
        if c and not _CLAUSE_NOTE.search(_LEAD_NOTE.sub("", c)) and c not in ("非官方", "非官方資料")
    ]
    text = "；".join(c for c in kept if c)
    text = text.replace("來源未載明", "目前資料未載明")
    return tidy(text)


_CJK = r"\u3400-\u9fff"


def tidy(text: str) -> str:
    """Spacing and punctuation for zh-TW: no space around CJK or before %, full-width brackets."""
    text = re.sub(r"\s+%", "%", text)
    text = re.sub(r"\s+(?=\d\.\D)", "，", text)
    text = re.sub(rf"(?<=[以內下上元成%])\s+(?=[0-9{_CJK}])", "，", text)
    text = re.sub(rf"(?<=[{_CJK}%）])\s+(?=[{_CJK}0-9（])", "", text)
    text = re.sub(rf"(?<=[{_CJK}])(\d[\d,.]*)\s+(?=[{_CJK}])", r"\1", text)  # 上限 500 萬元 → 上限500萬元
    text = text.replace("(", "（").replace(")", "）")
    return text.strip(" ，；、")


def is_unofficial(text: str | None) -> bool:
    return bool(text and _UNOFFICIAL.search(text))


def figure(benefit: Benefit) -> str:
    """The benefit's wording for a caller, its figure first when the source put it last.

    「最高依中華郵政二年期定儲機動利率加0.5% 2.22 %」 → 「最高2.22%（依中華郵政二年期定儲機動利率加0.5%）」.
    """
    text = for_callers(benefit.text)
    if benefit.value is not None and benefit.unit == "%":
        value = f"{benefit.value:g}%"
        match = re.fullmatch(r"(最高|最低|上限)?(.+?%.*?)[，\s]*" + re.escape(value), text)
        if match and match.group(2):
            return f"{match.group(1) or ''}{value}（{match.group(2).strip('，')}）"
    return text


def _with_condition(benefit: Benefit) -> str:
    """The wording, with its condition when the wording does not already carry it."""
    text = figure(benefit)
    condition = for_callers(benefit.condition or "")
    core = re.sub(r"（[^）]*）", "", condition)
    if (
        condition
        and core not in text
        and text not in condition
        and len(condition) <= 30
        and "未載明" not in condition
        and not any(part in text for part in re.split(r"[，、；]", core) if len(part) >= 2)
    ):
        return f"{text}（{condition}）"
    return text


def current_benefits(scheme: Scheme, today: dt.date | None = None) -> list[Benefit]:
    """Benefits stated as current: not superseded, and (given ``today``) their own deadline not passed."""
    return [b for b in scheme.benefits if b.current_on(today)]


# Attributes whose answers carry no figure the unofficial caution could be about.
NO_FIGURES = frozenset({"how_to_apply", "documents", "contact"})


def caution(facts: Facts) -> str | None:
    """One plain line when a fact rests on unofficial sources, else ``None``."""
    scheme = facts.scheme
    if scheme.unofficial or any(
        is_unofficial(b.text) or is_unofficial(b.condition) for b in current_benefits(scheme, facts.today)
    ):
        return messages.UNOFFICIAL_CAUTION
    return None


# --- footers and cards -------------------------------------------------------------
def source_lines(scheme: Scheme) -> list[str]:
    """「來源：…（資料日期…）」 and, for unofficial facts, the caution."""
    # 「（非官方）」 is said once, plainly, on the caution line below, not inside each title.
    titles = list(dict.fromkeys(re.sub(r"[（(]非官方[）)]", "", source_title(ref)) for ref in scheme.sources))[:2]
    lines = [f"{SOURCE_LABEL}{'、'.join(titles)}（資料日期{data_date(scheme)}）"]
    if scheme.unofficial:
        lines.append(messages.UNOFFICIAL_CAUTION)
    return lines


def footer(facts: Facts) -> str:
    """「來源：…（日期）」 and the line to call."""
    lines = source_lines(facts.scheme)
    if facts.contacts:
        first = facts.contacts[0]
        lines.append(f"洽詢：{first.name} {first.phone}")
    return clip("\n".join(lines))


def scheme_card(facts: Facts) -> dict[str, object]:
    """The footer as a card for the web chat (a socket.io ``custom`` payload; other channels get the text)."""
    lines = source_lines(facts.scheme)
    card: dict[str, object] = {
        "type": "scheme_card",
        "scheme": facts.scheme.id,
        "title": facts.scheme.name,
        "status": facts.status.label,
        "lines": lines,
    }
    if facts.contacts:
        first = facts.contacts[0]
        lines.append(f"洽詢：{first.name}")
        card["phone"] = first.phone
    return card


# --- answers -----------------------------------------------------------------------
def ended_notice(facts: Facts) -> str:
    scheme = facts.scheme
    if scheme.status_basis == "end" and scheme.end:
        text = f"「{scheme.name}」已經截止，受理到{roc_date(scheme.end, gregorian=True)}為止，目前無法申請。"
    elif scheme.status_basis == "period" and scheme.period:
        text = f"「{scheme.name}」已經結束：計畫期間（{scheme.period.label}）已於{roc_date(scheme.period.end)}結束，目前無法申請。"
    else:
        text = f"「{scheme.name}」已經結束，目前無法申請。"
    note = for_callers(scheme.end_note) if scheme.end_note else ""
    if note and len(note) <= 80 and not re.search(r"已(?:結束|截止)", note):
        text += f"（{note}）"  # what the source says about the end: its basis, whether it continues
    if facts.alternative:
        text += f"目前可改洽「{facts.alternative.name}」：{for_callers(facts.alternative.summary)}"
    else:
        text += "目前沒有查到直接替代的措施，歡迎來電詢問其他資源。"
    return clip(text)


def unknown_notice(facts: Facts) -> str:
    """For a scheme whose status no source states: the data date and the line to ask."""
    where = f"{facts.contacts[0].name} {facts.contacts[0].phone}" if facts.contacts else "馬上辦服務中心"
    return f"（以上為{data_date(facts.scheme)}的資料，目前是否仍受理，請洽{where}。）"


def attribute_answer(facts: Facts, attribute: str | None, cite: bool = True) -> list[str]:
    """Answer ``attribute`` of the scheme (or an overview when it is ``None``), then the footer."""
    return answer(facts, (attribute,) if attribute else (), cite=cite)


def answer(
    facts: Facts,
    attributes: tuple[str, ...] = (),
    purpose: str | None = None,
    cite: bool = True,
    why: tuple[str, ...] = (),
    text: str = "",
    history: bool = False,
) -> list[str]:
    """The bubbles answering ``attributes`` of one scheme (an overview when none), then, if ``cite``, the footer.

    ``why`` are the reasons it fits what the caller said (「員工8人，在30人以下」), said first.
    ``text`` is the question: the record's statements that share its words (「簡化書表」 for
    「借80萬要寫計畫書嗎」) are added, and answer it when no attribute was recognised.
    An ended scheme is answered as ended first; with ``history`` (the caller named it
    exactly, asks about the past, or follows up on it: no doubt which one), a figure asked
    about it follows, marked as what applied before it closed.
    """
    details = matching_statements(facts.scheme, text, attributes, today=facts.today)
    if facts.status is Status.ENDED:
        asked = [a for a in attributes if a not in ("status", "deadline", "alternative")]
        before = ""
        if history and (asked or details):
            before = (
                _attributes_text(facts, tuple(asked), purpose, details, missing_ok=False, text=text)
                if asked
                else "；".join(details)
            )
        # Said once per scheme: a follow-up on an ended scheme already heard it ended.
        bubbles = [] if before and not cite else [ended_notice(facts)]
        if before:
            bubbles.append(clip(messages.before_it_ended(before)))
    else:
        if attributes:
            body = _attributes_text(facts, attributes, purpose, details, text=text)
        elif details:
            body = f"「{facts.scheme.name}」：" + "；".join(details) + "。"
        else:
            body = overview(facts)
        if facts.status is Status.NOT_STARTED and facts.scheme.start:
            body = f"（此措施自{roc_date(facts.scheme.start)}起受理）" + body
        if why:
            body = messages.fits_because("、".join(why[:2])) + body
        # The caution is about figures: an answer of how to apply or whom to call states none.
        line = caution(facts) if not attributes or set(attributes) - NO_FIGURES else None
        if line and not cite and line not in body:
            body += "\n" + line
        if facts.status is Status.UNKNOWN:
            notice = unknown_notice(facts)
            body = clip(body, BUBBLE_MAX - len(notice)) + notice
        bubbles = [clip(body)]
    return [*bubbles, footer(facts)] if cite else bubbles


def _phone(facts: Facts) -> str:
    return facts.contacts[0].phone if facts.contacts else messages.HOTLINE


def _attributes_text(
    facts: Facts,
    attributes: tuple[str, ...],
    purpose: str | None,
    details: Sequence[str] = (),
    missing_ok: bool = True,
    text: str = "",
) -> str:
    """One line per attribute asked (「利率：…」「額度：…」), the matching details, then what the records do not say."""
    name = facts.scheme.name
    known: list[tuple[str, str]] = []
    missing: list[str] = []
    stated: set[str] = set()
    for attribute in dict.fromkeys(attributes):
        raw = list(dict.fromkeys(attribute_parts(facts, attribute, purpose, text)))
        parts = [p for p in raw if p not in stated]
        label = ATTRIBUTE_LABELS.get(attribute, "資訊")
        if attribute == "deadline" and facts.scheme.period and not facts.scheme.end:
            label = "適用期間"  # a programme period, not an application deadline
        if attribute == "contact" and raw and raw[0].startswith("網站"):
            label = "網站與洽詢電話"
        same = next((i for i, (_, said) in enumerate(known) if said == "；".join(raw)), None)
        if raw and same is not None:  # 「最長7年（含寬限期最長3年）」 answers the term and the grace period
            known[same] = (f"{known[same][0]}與{label}", known[same][1])
        elif parts:
            known.append((label, "；".join(parts)))
            stated.update(parts)
        elif not raw:
            missing.append(attribute)
    said = "".join(text for _, text in known)
    # The record's other statements only when the attributes found said nothing: no noise after an answer.
    if known:  # then only a statement sharing much with the question (「年齡上限」 → 「四十五歲」)
        details = matching_statements(facts.scheme, text, attributes, limit=1, today=facts.today, min_score=3)
    extra = [d for d in details if d not in said and not _said(d, said)]
    if missing and not extra:
        # What the record says closest to the question, the scheme's own words included
        # (「輸出保險的保費」 → 「輸出保險徵信費及保險費最低1折」), before saying it lacks the attribute.
        extra = [
            d
            for d in matching_statements(
                facts.scheme, text, attributes, limit=1, today=facts.today, min_score=3, name_words=True
            )
            if d not in said and not _said(d, said)
        ]
    if extra:
        known.append(("相關說明", "；".join(extra)))
    known = [(label, said_text.rstrip("。；，、 ")) for label, said_text in known]  # one full stop, not 「諮詢。。」
    if len(known) == 1:
        lines = [f"「{name}」的{known[0][0]}：{known[0][1]}。"]
    elif known:
        lines = [f"「{name}」：", *(f"・{label}：{text}。" for label, text in known)]
    else:
        lines = []
    if missing_ok:
        lines += [missing_text(facts, attribute) for attribute in missing]
    return clip("\n".join(lines))


# Words too common in questions to say which statement of a record answers one.
_COMMON_PAIRS = frozenset(
    "申請 可以 請問 多少 什麼 怎麼 如何 貸款 補助 我們 公司 一下 是不 不是 有沒 沒有 這個 那個 現在 目前 還有 可不 以申 的話 想問 知道 需要 要不 一個 時候".split()
)


def matching_statements(
    scheme: Scheme,
    text: str,
    attributes: tuple[str, ...] = (),
    limit: int = 2,
    today: dt.date | None = None,
    min_score: int = 2,
    name_words: bool = False,
) -> list[str]:
    """The record's statements (benefits, eligibility, how to apply, notes) sharing the most words with ``text``.

    Words of the scheme's own name are left out (they say which scheme, not which detail);
    a statement needs two shared character pairs or a shared figure to count.
    """
    if not text:
        return []
    name_pairs = set() if name_words else {p for n in scheme.names() for p in _pairs(n)}
    wanted = {p for p in _pairs(text) if p not in name_pairs and p not in _COMMON_PAIRS}
    figures = set(re.findall(r"\d+(?:\.\d+)?(?:萬|%|成|年|個月|人)", text.replace(",", "")))
    if not wanted and not figures:
        return []
    scored = []
    for position, statement in enumerate(_statements(scheme, today)):
        plain = statement.replace(",", "")
        score = len(wanted & set(_pairs(statement))) + 2 * sum(1 for f in figures if f in plain)
        if score >= min_score:
            scored.append((-score, position, statement))
    return [statement for _, _, statement in sorted(scored)[:limit]]


def _statements(scheme: Scheme, today: dt.date | None = None) -> list[str]:
    """Everything a record says, one statement each, for callers."""
    out = [_with_condition(b) for b in current_benefits(scheme, today)]
    out += [for_callers(t) for t in scheme.eligibility.get("other") or []]
    out += [for_callers(d) for d in scheme.documents]
    if scheme.how_to_apply:
        out += [for_callers(c) for c in re.split(r"[；。]", scheme.how_to_apply) if c.strip()]
    if scheme.end_note:
        out += [for_callers(c) for c in re.split(r"[；。]", scheme.end_note) if c.strip()]
    out += [for_callers(c) for c in re.split(r"[；。]", scheme.summary) if c.strip()]
    return [s for s in dict.fromkeys(out) if s]


def _pairs(text: str) -> list[str]:
    chars = re.findall(r"[0-9a-zA-Z\u3400-\u9fff]", text)
    return ["".join(chars[i : i + 2]) for i in range(len(chars) - 1)]


# Words a statement uses for an attribute when the record has no benefit of that kind.
_STATEMENT_WORDS = {
    "subsidy_ratio": r"自籌|補助比例|補助\d+%",
    "guarantee_fee": r"手續費|保證費",
    "interest_rate": r"利率",
    "loan_term": r"最長\d+年|還款期|貸款期",
    "grace_period": r"寬限",
    "guarantee_ratio": r"保證成數|信保\S{0,2}\d+成",
}
_RELATED_KIND = {
    "guarantee_ratio": "subsidy_ratio",
    "subsidy_ratio": "guarantee_ratio",
    "interest_rate": "interest_subsidy",
}


def attribute_parts(facts: Facts, attribute: str, purpose: str | None = None, text: str = "") -> list[str]:
    """The record's statements for one attribute (empty when the records do not say)."""
    scheme = facts.scheme
    if attribute in ATTRIBUTE_KINDS:
        benefits = [b for b in current_benefits(scheme, facts.today) if b.kind in ATTRIBUTE_KINDS[attribute]]
        if not benefits and attribute in _RELATED_KIND:
            # 「幾成」 of a grant is its subsidy ratio; 「利息多少」 of a loan whose interest is paid for is the subsidy.
            benefits = [b for b in current_benefits(scheme, facts.today) if b.kind == _RELATED_KIND[attribute]]
        if not benefits and attribute in _STATEMENT_WORDS:
            # No benefit of that kind: a statement with a figure that speaks of it (「自籌款至少50%」 in the summary).
            return sorted(
                (
                    t
                    for t in _statements(scheme, facts.today)
                    if re.search(_STATEMENT_WORDS[attribute], t) and re.search(r"\d", t)
                ),
                key=len,
            )[:1]
        # What the caller said about themselves comes first: the loan term for equipment when
        # buying equipment, the non-SME figures for 「我們不是中小企業」.
        wanted = set(_pairs(re.sub(r"不是|並非", "非", text)))
        benefits.sort(
            key=lambda b: (
                purpose is None or purpose not in (b.condition or b.text),
                -len(wanted & set(_pairs((b.condition or "") + b.text))),
            )
        )
        if (
            attribute == "max_amount"
            and benefits
            and benefits[0].condition
            and len(wanted & set(_pairs(benefits[0].condition))) >= 2
        ):
            # 「系統節能專案補助上限多少」: the part named is capped by a share as well as an amount
            # (「以總執行經費1/3為原則，每案上限500萬元」); say both, the share first.
            shares = [
                b
                for b in current_benefits(scheme, facts.today)
                if b.kind == "subsidy_ratio" and b.condition == benefits[0].condition
            ]
            benefits = [*shares, *benefits]
        return [_with_condition(b) for b in benefits]
    if attribute == "deadline":
        # and the ends of single benefits: 「利息補貼提供至公告預算用盡」
        ends = [
            for_callers(c)
            for b in current_benefits(scheme, facts.today)
            for c in re.split(r"[；;]", b.condition or "")
            if re.search(r"用罄|用盡|額滿|為止", c)
        ]
        dated = [deadline_text(scheme)] if scheme.end or scheme.period or scheme.end_note else []
        return list(dict.fromkeys(dated + ends))
    if attribute == "status":
        return [f"{facts.status.label}，{deadline_text(scheme)}"]
    if attribute == "eligibility":
        return _rules_asked(scheme, text)
    if attribute == "duration":  # 「補多久」「可以延多久」: the statements that state a period
        rules = {for_callers(t) for t in scheme.eligibility.get("other") or []}  # 「最近6個月內任1個月」 is a rule
        periods = [
            t
            for t in _statements(scheme, facts.today)
            if t not in rules
            and re.search(r"(?<!\d)\d{1,2}\s*(?:個月|年(?![期\d度])|次)|[一二兩三四五六七八九十]+(?:個月|次)", t)
            and not re.search(r"\d+年\d+月\d+日", t)
        ]
        wanted = set(_pairs(text))
        periods = [t for t in periods if not any(t != other and t in other for other in periods)]  # not twice
        return sorted(periods, key=lambda t: -len(wanted & set(_pairs(t))))[:2]
    if attribute == "start":
        return [f"自{roc_date(scheme.start, gregorian=True)}起實施"] if scheme.start else []
    if attribute == "documents":
        return [for_callers(d) for d in scheme.documents]
    if attribute == "how_to_apply":
        return [for_callers(scheme.how_to_apply)] if scheme.how_to_apply else []
    if attribute == "contact":
        lines = [contact_line(c) for c in facts.contacts[:3]]
        if re.search(r"網址|網站|網頁|官網|連結", text):  # the record's own site first (「方案網站 https://…」)
            sites = re.findall(
                r"https?://[\w./?=&%#-]+|www\.[\w./-]+",
                " ".join((scheme.how_to_apply or "", scheme.summary, *scheme.documents)),
            )
            known = " ".join(c.url or "" for c in facts.contacts[:3])
            lines = [f"網站 {site.rstrip('.')}" for site in dict.fromkeys(sites) if site not in known][:2] + lines
        return lines
    return []


def _rules_asked(scheme: Scheme, text: str) -> list[str]:
    """The eligibility rules, those sharing the question's words first (「營收減少10%」 → the tariff rule):
    a long list is cut at the bubble's end. A general question gets them in the record's order."""
    parts = eligibility_parts(scheme)
    name_pairs = {p for n in scheme.names() for p in _pairs(n)}
    wanted = {p for p in _pairs(text) if p not in name_pairs and p not in _COMMON_PAIRS}
    scored = sorted(((len(wanted & set(_pairs(p))), p) for p in parts), key=lambda pair: -pair[0])
    if not scored or scored[0][0] < 2:
        return parts  # a general question: the rules in the record's order
    return [p for _, p in scored]


def shared_answer(facts: list[Facts], attributes: tuple[str, ...]) -> str | None:
    """One answer for several schemes that state the same thing for every attribute asked.

    「中小企業的租稅優惠實施到哪一年」 fits three tax measures that all run to 122年12月31日:
    the caller needs the date, not a choice. ``None`` when they differ or say nothing.
    """
    if len(facts) < 2 or not attributes or any(f.status is Status.ENDED for f in facts):
        return None
    lines = []
    for attribute in attributes:
        stated = [attribute_parts(f, attribute) for f in facts]
        # The same figures (「最高2.22%」「利率上限2.22%」) count as the same answer.
        figures = {
            tuple(sorted(set(re.findall(r"\d[\d,.]*\s*(?:%|萬|億|元|成|年|個月)", "；".join(p))))) for p in stated
        }
        if not all(stated) or len(figures) != 1 or (not next(iter(figures)) and len({tuple(p) for p in stated}) != 1):
            return None
        lines.append(f"{ATTRIBUTE_LABELS.get(attribute, '資訊')}：{'；'.join(stated[0])}")
    names = "、".join(f"「{f.scheme.name}」" for f in facts)
    return clip(messages.all_the_same(names, "；".join(lines)))


def missing_text(facts: Facts, attribute: str) -> str:
    """「目前資料沒有…」 and how to find out: for documents, how to apply and whom to call."""
    scheme = facts.scheme
    label = ATTRIBUTE_LABELS.get(attribute, "資訊")
    if attribute == "documents":
        forms = [
            for_callers(b.text)
            for b in current_benefits(scheme, facts.today)
            if re.search(r"書表|表格|計畫書|評分表", b.text)
        ]
        how = for_callers(scheme.how_to_apply) if scheme.how_to_apply else ""
        return clip(messages.no_documents(scheme.name, "；".join(forms), how, _phone(facts)), 200)
    # an unknown-status answer ends with the line to ask (unknown_notice): do not say it twice
    return messages.no_fact(scheme.name, label, None if facts.status is Status.UNKNOWN else _phone(facts))


def eligibility_parts(scheme: Scheme) -> list[str]:
    rules = scheme.eligibility
    parts = []
    if rules.get("max_employees") is not None:
        parts.append(f"員工{rules['max_employees']}人以下")
    if rules.get("min_employees") is not None:
        parts.append(f"員工{rules['min_employees']}人以上")
    if rules.get("industries"):
        parts.append("適用" + "、".join(rules["industries"]))
    parts += [for_callers(t) for t in rules.get("other") or []]
    return [p for p in parts if p][:6]


def contact_line(contact: Contact) -> str:
    """「名稱 電話（服務時間）網址」 for one line."""
    text = f"{contact.name} {contact.phone}"
    if contact.hours:
        text += f"（{contact.hours}）"
    if contact.url:
        text += f" {contact.url}"
    return text


def contacts_answer(contacts: list[Contact]) -> str:
    """An answer to 「…的電話」 for an organisation: each of its lines."""
    return clip(messages.CONTACTS_INTRO + "\n".join(contact_line(c) for c in contacts))


def deadline_text(scheme: Scheme) -> str:
    """Until when: the end date, the programme period (a period is not an application deadline), or the note."""
    note = for_callers(scheme.end_note) if scheme.end_note else ""
    if not scheme.end and scheme.period:
        return f"{scheme.period.label}（{note}）" if note and len(note) <= 40 else scheme.period.label
    if scheme.end:
        text = f"受理至{roc_date(scheme.end, gregorian=True)}"
        # Only what the note adds to the date: 「或至經費用罄為止」, not the date again.
        extra = next(
            (
                re.sub(r"^[（(]?(註[:：])?|[）)]$", "", c)
                for c in re.split(r"[；;，]", note)
                if re.search(r"用罄|用盡|額滿|為止", c) and not re.search(r"\d+年\d+月", c)
            ),
            "",
        )
        return f"{text}（{extra}）" if extra and len(extra) <= 40 else text
    return note or ("持續受理" if scheme.status_basis == "standing" else "截止日期未公布")


def overview(facts: Facts) -> str:
    """Scheme card: who, how much, until when, how to apply; no figure said twice."""
    scheme = facts.scheme
    summary = for_callers(scheme.summary)
    lines = [f"【{scheme.name}】{summary}"]
    amounts = [figure(b) for b in current_benefits(scheme, facts.today) if b.kind in ATTRIBUTE_KINDS["max_amount"]][:1]
    if amounts and not _said(amounts[0], summary):
        lines.append(f"額度：{amounts[0]}")
    deadline = deadline_text(scheme)
    undated_unknown = facts.status is Status.UNKNOWN and not (scheme.end or scheme.period or scheme.end_note)
    if not undated_unknown and deadline not in summary and not _said(deadline, summary):
        lines.append(f"期限：{deadline}")
    if scheme.how_to_apply:
        lines.append(f"申請：{clip(for_callers(scheme.how_to_apply), 80)}")
    return clip("\n".join(lines))


def _said(text: str, already: str) -> bool:
    """Whether the figures of ``text`` are all in ``already`` (so the line would repeat it)."""
    numbers = re.findall(r"\d[\d,.]*", text)
    plain = already.replace(",", "")
    return bool(numbers) and all(n.replace(",", "").rstrip(".") in plain for n in numbers)


def button_title(scheme: Scheme, limit: int = 20) -> str:
    """A LINE-sized label (≤ 20 characters): the name, else the longest alias that fits."""
    if len(scheme.name) <= limit:
        return scheme.name
    fitting = sorted((a for a in scheme.aliases if 4 <= len(a) <= limit), key=len, reverse=True)
    return fitting[0] if fitting else clip(scheme.name, limit)

"""The one resolver: which scheme, benefit or contact a question is about, with scores and reasons.

Used by the answer action, triage, the console's scheme card and ``python -m bot kb ask``,
so every surface ranks the same way and tests (and the ops page) can show why.

A candidate's score adds up independent pieces of evidence, each leaving a reason:

- the scheme entity, or a name/alias written in the text (the strongest evidence); a name
  that is part of a longer one whose scheme has the benefit asked, when the named one has
  none (「匯率避險…信保 額度」 is the hedging guarantee, not the hedging advice);
- a benefit named in its own words (「受災事業利息補貼」): the scheme that offers it;
- FTS5 BM25 over jieba words and character bigrams of names, aliases, summaries,
  benefit texts and eligibility (bot/kb/build.py), scaled against the best match;
- the attribute asked: a 保證成數 question favours records with a guarantee benefit;
- what the caller told us (employees, industry, purpose, disaster): a stated fact that
  rules a scheme out pulls it down, each fitting fact pushes it up;
- the conversation's current scheme (a follow-up that names nothing else);
- the predicted hotline category.

Ended schemes stay candidates (a caller naming one must hear that it ended), but a
question that does not name a scheme prefers open ones (a question of what there is
is answered with what is open when one fits well), and a scheme whose status is not
"open" is never offered as open, nor is a rival that could not be offered a reason to ask.

:meth:`Resolution.decision` answers when the best candidate is clearly ahead
(:data:`MARGIN`) and otherwise asks which of the best two or three is meant.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import Any

from bot.eligibility import Profile, eligibility_reasons
from bot.kb.query import BM25_WEIGHTS, KnowledgeBase, Status
from bot.kb.records import Contact, Scheme
from bot.kb.segment import fts_query
from bot.nlu.gazetteer import COUNTIES
from bot.nlu.normaliser import normalise as _normalise
from bot.nlu.numerals import find_numbers

# Homophones typed for the hotline's commonest words (貸 dài: 代帶待; 利率: 力率, 利律; 幾年: 幾念),
_HOMOPHONES = (
    (re.compile(r"[代帶待]款"), "貸款"),
    (re.compile(r"力率|利律"), "利率"),
    (re.compile(r"(?<=[幾多])念"), "年"),
    # and the plain words for the records' terms: 低利貸款 is an 優惠貸款, 周轉 is 週轉.
    (re.compile(r"低利"), "優惠"),
    (re.compile(r"自己[要需得]?(?:出|負擔|付)"), "自籌"),
    (re.compile(r"周轉"), "週轉"),
    (re.compile(r"財報"), "財務報表"),
    # SBIR's records write its stages as Phase 1, 2, 2+: 「第二階段」 is Phase 2.
    (re.compile(r"第[一1]階段"), "Phase 1"),
    (re.compile(r"第[二2]階段"), "Phase 2"),
)


@lru_cache(maxsize=512)
def normalise(text: str) -> str:
    """The NLU's normalisation (簡→繁, width) and common homophone typos, once per text."""
    text = _normalise(text)
    for pattern, word in _HOMOPHONES:
        text = pattern.sub(word, text)
    return text


# --- the decision thresholds -------------------------------------------------------
# Chosen on tests/qa/qa.yml (make eval-qa, reports/qa.md): a name or alias in the text
# scores NAMED (+ length), the best text match TEXT_MAX. An answer needs the best candidate
# MIN_SCORE or more and MARGIN ahead of the next; below that the bot asks which one.
NAMED = 10.0
TEXT_MAX = 6.0
MIN_SCORE = 4.0
MARGIN = 2.0
ASK_AT_MOST = 3
# A name written approximately (most of its characters) scores up to APPROX.
APPROX = 7.0
APPROX_COVERAGE = 0.7
APPROX_PAIRS = 0.5
RUN = 6  # characters in a row shared with a name: 「智慧化低碳化」
PIECE_CHARS = 4  # and four, when only one scheme's names have them: 「優惠貸款」
PIECE = 2.5
BENEFIT_RUN = 1.0  # and SURE_RUN words in a row of one or two schemes' benefit wording, plus half their length
# Approximate names this close count as sure (an ended scheme's old figures may then be quoted).
SURE_COVERAGE = 0.85
SURE_RUN = 8
OFFERED = 4.0  # a scheme the bot just offered as a button, when the caller answers in words
# A message this short that names no scheme continues the conversation's (「要上幾小時的課」).
SHORT_FOLLOW_UP = 12
# The kind of measure asked (a grant) that a scheme is not (a loan) pulls it down this much.
OTHER_PRODUCT = 2.5
# An ended scheme the text does not name yields to open ones (a caller naming it hears it ended).
ENDED_UNNAMED = 4.0
SIBLING = 2.5  # 「那加薪呢」 after a tax deduction: the other schemes of the current one's category
_CONTENT = re.compile(r"[0-9a-z\u3400-\u9fff]")
_WORDS = re.compile(r"[\u3400-\u9fff]+")

# What callers ask, by attribute (values are benefit kinds or record fields, as the
# attribute entity's). Patterns, not word lists: 「分幾年還」「借幾年」 are a loan term,
# 「申請到什麼時候」 a deadline. Order matters only for display.
ATTRIBUTE_PATTERNS: dict[str, str] = {
    "interest_subsidy": r"利息補貼|補貼利息|貼息|息補|補貼利率|利率補貼|減碼|利息減免|補貼多少利|補.{0,2}利息|利息.{0,2}補"
    r"|補貼.{0,3}(?:趴|%)|補.{0,2}(?:幾|多少)(?:趴|%)",
    "interest_rate": r"利率|利律|力率|利息(?!補貼|減免)|年息|幾趴|幾%|多少%",
    "max_amount": r"額度|上限|最高|最多|多少錢|[借貸領拿補給申]多少|補助多少|補助金額|金額|可以[借貸]到|能[借貸]到|幾萬|點數|補多少|獎勵多少"
    r"|[一每](?:家|人|案|攤位?|個|展).{0,4}多少|保多少",
    "guarantee_ratio": r"保證成數|信保成數|成數|保證幾成|[保信].{0,3}幾成|保多少",
    "subsidy_ratio": r"補助比例|補助幾成|補幾成|自籌|比例|自[己行]?[要需得]?(?:出|負擔|付)(?:多少|幾成|幾%)|自付",
    "guarantee_fee": r"手續費|保證費|保費",
    "loan_term": r"[借貸還攤分]幾年|幾年[還期]|還款期|貸款期[間限]|年限|多少年|多久[還攤]|攤還|最長.{0,6}年|[還攤]多久|還款年",
    "grace_period": r"寬限",
    "statistics": r"累計|核准.{0,4}(?:多少|幾)|多少[件家人]申請|有多少[件家]|到現在.{0,8}(?:多少|幾)|總共.{0,4}(?:多少|幾)[件家]",
    "duration": r"多久|幾個月|多長|幾次|延多|做多|補多久|[補貼給]幾年|期程|執行期間",
    "tax_deduction_rate": r"減除|抵減率|抵稅|減稅|抵多少",
    "deadline": r"截止|到什麼時候|到何時|到哪天|什麼時候[前截結]|期限(?!多長)|最後一天|受理到|申請到|幾號前|到期"
    r"|什麼時候(?:受理|申請|可以申請)|何時受理|幾月受理|到哪一?年|到幾年|實施到|適用到|辦到"
    r"|什麼時候(?:會)?(?:沒有|結束|停止|停辦)|會沒有|用完|額滿",
    "status": r"還[能可]以?申請|還有[嗎沒在]|還在|有在受理|受理中|還能用|還可以辦|結束了|停辦|還有效|還辦|來得及|還[能可]以?報名",
    "documents": r"文件|準備什麼|要準備|附件|證明|書表|表格|資料要|帶什麼|計畫書",
    "how_to_apply": r"怎麼申請|如何申請|申請方式|去哪|哪裡[辦申]|流程|申辦|怎麼辦理|向誰申請|[找跟]誰申請|找哪|窗口|哪家銀行|怎麼[借貸]|[要得]先做什麼|步驟",
    "contact": r"電話|專線|打給|聯絡|聯繫|幾號|找誰|客服|窗口|網址|網站",
    "eligibility": r"資格|條件|誰可以|符合|適用|對象|能不能申請|[可能]以?申請.{0,24}[嗎嘛]|可不可以申請|有沒有資格|限制|年齡|幾歲|歲"
    r"|怎麼證明|如何證明|什麼行業|哪些行業|外國人|出資|上.{0,4}課|課程|年[紀記]|營收[要需得].{0,4}(?:減少|衰退|下滑|掉)|(?:減少|衰退|下滑|掉)(?:多少|幾成|幾%)|上.{0,4}(?:小時|學分)|幾個?(?:小時|鐘頭|學分)的?課|[的也](?:可以|能)(?:嗎|嘛|申請)|成立幾年|設立|登記.{0,6}[嗎可]|算不算|認定",
    "start": r"什麼時候開始|開始實施|開始受理|開始申請|何時開始|幾時開始|上路|實施日",
    "alternative": r"替代|取代|其他(?:選擇|方案|措施)|改申請|改辦|有什麼可以(?:申請|用)",
}
_ATTRIBUTE_RES = {name: re.compile(pattern, re.IGNORECASE) for name, pattern in ATTRIBUTE_PATTERNS.items()}
# Attributes that may share benefit kinds: a 「幾成」 about a grant is its subsidy ratio.
RELATED = {
    "guarantee_ratio": ("subsidy_ratio",),
    "subsidy_ratio": ("guarantee_ratio",),
    "interest_rate": ("interest_subsidy",),
    "interest_subsidy": ("interest_rate",),
}
# The benefit kinds that answer each attribute (the rest are record fields).
ATTRIBUTE_KINDS: dict[str, tuple[str, ...]] = {
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

# What the money is for (Profile.purpose, the values of eligibility.purposes).
PURPOSE_PATTERNS = {
    # First: money after a disaster is for recovery, even when it buys machines or stock.
    "災後復原": r"災後|復原|復舊|重建|受災|淹水|泡水|災損|颱風|地震|水災|豪雨",
    "週轉": r"週轉|周轉|薪水|發薪|房租|進貨|原料|撐過|周轉金|營運資金|現金",
    "設備": r"設備|機器|機台|烤箱|冷凍|生財|廠房|裝潢|買車|車輛|購置",
    "研發": r"研發|開發新產品|新技術",
    "數位轉型": r"數位轉型|ERP|POS|電商|上雲|雲端|AI",
    "外銷": r"外銷|出口|海外|國外",
    "節能": r"節能|省電|減碳",
}
_PURPOSE_RES = {name: re.compile(pattern, re.IGNORECASE) for name, pattern in PURPOSE_PATTERNS.items()}

# Words that make a message a hotline question even when the intent model says otherwise.
HOTLINE_WORDS = re.compile(
    r"貸款|借錢|借款|融資|信保|補助|補貼|津貼|獎勵|關稅|紓困|協商|展延|還款|SBIR|研發|數位轉型|颱風|地震|水災|災害|受災"
    r"|減稅|抵減|減除|申請|政府|利率|利息|額度|馬上辦|專線",
    re.IGNORECASE,
)

# A figure the caller quotes (「那個2.22%」) that a record states; the kind of measure named.
FIGURE = 2.5
PRODUCT = 1.5
_QUOTED_FIGURE = re.compile(r"(\d+(?:\.\d+)?)\s*(%|％|趴|萬|億|成)")
PRODUCT_WORDS = {
    "貸款": r"貸款|借錢|借款|融資|貸",
    "補助": r"補助|補貼|津貼|獎勵|援助",
    "減稅": r"減稅|抵減|減除|租稅|稅捐|繳稅|抵稅",
    "保證": r"保證|信保",
}
_NAME_PRODUCT = {
    "貸款": r"貸款|融資",
    "補助": r"補助|補貼|獎勵|援助金",
    "減稅": r"減除|抵減|緩課|稅捐",
    "保證": r"保證|信保",
}
_PRODUCT_RES = {kind: re.compile(pattern) for kind, pattern in PRODUCT_WORDS.items()}
_PRODUCT_ANY = re.compile("|".join(PRODUCT_WORDS.values()))
_PRODUCT_GROUP = {"貸款": "lent", "保證": "lent", "補助": "grant", "減稅": "tax"}
# A programme (計畫) whose name says no kind of measure may be a grant (SBIR), never a loan.
_PROGRAMME = re.compile(r"計畫")
_INTEREST_SUBSIDY = re.compile(r"利息補貼|補貼利息|貼息|息補|利息減免")


def _counties(plain: str) -> list[str]:
    """The counties named in the text, as record names write them (臺北市 → 臺北)."""
    found = []
    for canonical, spellings in COUNTIES.items():
        if any(normalise(w) in plain for w in spellings):
            found.append(canonical.rstrip("市縣"))
    return found


_YOUTH = re.compile(r"青年|青創|年輕|創業|新創|歲|剛成立|新設立")
_TARIFF = re.compile(r"關稅|美國|川普|對等|出口|外銷|訂單|匯率|避險|貿易")
_DISASTER = re.compile(r"災|颱風|地震|淹|水災|豪雨|堰塞湖|火災|土石流")


def _audience(scheme: Scheme) -> str | None:
    """Whom a scheme is only for: young founders, tariff-hit or disaster-hit firms (``None``: anyone)."""
    rules = scheme.eligibility
    if rules.get("min_age") or rules.get("max_age"):
        return "青年創業"
    if scheme.category == "us_tariff":
        return "美國關稅影響"
    if rules.get("disaster_hit") or scheme.category == "disaster":
        return "受災"
    return None


_AUDIENCE_WORDS = {"青年創業": _YOUTH, "美國關稅影響": _TARIFF, "受災": _DISASTER}


def _mentions(audience: str, question: Question) -> bool:
    if audience == "受災" and question.profile.disaster_hit:
        return True
    if audience == "美國關稅影響" and question.category == "us_tariff":
        return True
    return bool(_AUDIENCE_WORDS[audience].search(normalise(question.text)))


def fit_reasons(scheme: Scheme, profile: Profile) -> tuple[str, ...]:
    """Why ``scheme`` fits what the caller said, for the answer (「員工8人，在30人以下」「用途是週轉」)."""
    rules = scheme.eligibility
    reasons = []
    if (
        profile.employees is not None
        and rules.get("max_employees") is not None
        and profile.employees <= rules["max_employees"]
    ):
        reasons.append(f"員工{profile.employees}人，在{rules['max_employees']}人以下")
    if profile.purpose and profile.purpose in (rules.get("purposes") or []):
        reasons.append(f"用途是{profile.purpose}")
    return tuple(reasons)


# Eligibility words that ask a rule, not only where a grant applies (「上課有補助嗎」).
_RULE_WORDS = re.compile(
    r"資格|條件|誰可以|符合|對象|能不能申請|可不可以申請|[可能]以?申請|限制|幾歲|年[齡紀記]|幾個?(?:小時|鐘頭|學分)"
)


def attributes_in(text: str) -> tuple[str, ...]:
    """Every attribute the text asks about, in :data:`ATTRIBUTE_PATTERNS` order."""
    plain = normalise(text)
    found = [name for name, pattern in _ATTRIBUTE_RES.items() if pattern.search(plain)]
    if "interest_subsidy" in found and "interest_rate" in found and not re.search(r"利率(?!補貼)", plain):
        found.remove("interest_rate")  # 「利息補貼」 alone is not a rate question
    if "statistics" in found:  # 「累計核准金額多少」 asks a programme total, not the amount one may borrow
        found = [a for a in found if a not in ("max_amount", "duration")]
    if (
        "max_amount" in found
        and not re.search(r"額度|上限|多少錢|金額|幾萬|點數|[借貸領拿給申保]多少|[一每].{0,5}多少", plain)
        and re.search(r"多少(?:趴|%)|幾(?:趴|%)|最多.{0,4}(?:幾次|多久|幾個月|幾年)", plain)
    ):
        found.remove("max_amount")  # 「補多少趴」 is a rate, 「最多可以延幾次」 a duration
    if "duration" in found and ({"loan_term", "grace_period"} & set(found)):
        found.remove("duration")  # 「寬限期多久」「可以分幾年還」 name their own duration
    if (
        "loan_term" in found
        and "max_amount" in found
        and not re.search(r"額度|多少錢|[借貸領拿]多少|上限|金額|幾萬", plain)
    ):
        found.remove("max_amount")  # 「最長可以分幾年」: 最 belongs to the term
    if (
        "eligibility" in found
        and "max_amount" in found
        and re.search(r"(?:年[齡紀記]|歲數?).{0,3}上限", plain)
        and not re.search(r"額度|金額|多少錢|[借貸]多少", plain)
    ):
        found.remove("max_amount")  # 「負責人年紀上限」 is an age limit
    if (
        "contact" in found
        and "how_to_apply" in found
        and re.fullmatch(r".*(窗口).*", plain)
        and not re.search(r"怎麼|如何|流程|申辦", plain)
    ):
        found.remove("how_to_apply")
    if found == ["eligibility"] and re.search(r"有(?:沒有)?補助|補助[嗎嘛]", plain) and not _RULE_WORDS.search(plain):
        found.remove("eligibility")  # 「上課有補助嗎」 asks whether there is a grant, not the course rules
    if not found and re.search(r"多少(?:錢)?[呢嗎啊？?]*$", plain) and not re.search(r"多少[人家件門]", plain):
        found.append("max_amount")  # 「第二階段多少」: a bare 多少 asks the amount
    return tuple(found)


_PAST = re.compile(r"以前|之前|當時|原本|原來|過去")


def asks_about_the_past(text: str) -> bool:
    """「那以前利率多少」: the caller wants what applied before, even of an ended scheme."""
    return bool(_PAST.search(normalise(text)))


_ASKING = re.compile(r"想問|請問|想知道|想請教|問一下|想確認|我的問題是")
STORY_CHARS = 60


def question_part(text: str) -> str:
    """Where a long message asks its question: after the last 「想問」「請問」…, else its end.

    In 「…之前打電話去銀行問…想問500萬有沒有在補貼範圍 補多少趴」 the 電話 of the story is
    not a contact question; the names and facts of the whole story still count (the
    resolver reads them from the full text).
    """
    if len(text) <= STORY_CHARS:
        return text
    starts = [m.start() for m in _ASKING.finditer(text)]
    if starts and len(text) - starts[-1] >= 6:
        return text[starts[-1] :]
    return text[-STORY_CHARS:]


def purpose_in(text: str) -> str | None:
    plain = normalise(text)
    return next((name for name, pattern in _PURPOSE_RES.items() if pattern.search(plain)), None)


def is_hotline_question(text: str) -> bool:
    return bool(HOTLINE_WORDS.search(normalise(text)))


@dataclass(frozen=True, slots=True)
class Question:
    """What the resolver knows: the text and the conversation around it."""

    text: str
    attributes: tuple[str, ...] = ()
    scheme: str | None = None  # the scheme entity
    current: str | None = None  # the conversation's scheme slot
    profile: Profile = field(default_factory=Profile)
    category: str | None = None  # the predicted hotline category, if any
    followup: bool = False  # the intent says the message continues the topic
    offered: tuple[str, ...] = ()  # schemes the bot last offered to choose from

    @property
    def plain(self) -> str:
        """The text as the resolver reads it: normalised, homophones and plain words mapped (財報 → 財務報表)."""
        return normalise(self.text)


@dataclass(frozen=True, slots=True)
class Candidate:
    kind: str  # "scheme" or "contact"
    id: str
    score: float
    reasons: tuple[str, ...]
    named: bool = False  # named in the text (exactly or approximately) or by the entity
    exact: bool = False  # named exactly: the entity, a name or an alias
    status: str | None = None  # schemes: Status value today


# A question of what there is or what fits (「有什麼補助」「有沒有貸款」「適合哪個」), not about one thing described.
_WHAT_IS_THERE = re.compile(r"有什麼|有甚麼|有哪些|有沒有|哪個|哪一個|哪些|適合|可以申請什麼|能申請什麼")


@dataclass(frozen=True, slots=True)
class Decision:
    """``answer`` holds the candidates to answer (one, or each scheme named); ``ask`` those to choose from."""

    answer: tuple[Candidate, ...] = ()
    ask: tuple[Candidate, ...] = ()


@dataclass(frozen=True, slots=True)
class Resolution:
    question: Question
    candidates: tuple[Candidate, ...]

    @property
    def best(self) -> Candidate | None:
        return self.candidates[0] if self.candidates else None

    def decision(self) -> Decision:
        """Answer when the best candidate is clearly ahead, else ask among the best two or three."""
        if not self.candidates:
            return Decision()
        named = [c for c in self.candidates if c.named and c.kind == "scheme"]
        if len(named) >= 2 and self.question.attributes:
            return Decision(answer=tuple(named[:2]))  # 「青創跟小微貸款利率各多少」: both
        top = self.candidates[0]
        recommending = not self.question.attributes and bool(_WHAT_IS_THERE.search(self.question.plain))
        if recommending and (open_ones := self._what_is_open()):
            return open_ones.decision()
        if top.kind == "contact" and top.named:
            # Every line of the organisation named (生產力中心 has one per programme).
            return Decision(answer=tuple(c for c in self.candidates if c.kind == "contact" and c.named)[:ASK_AT_MOST])
        # An open scheme is measured against the others still open: a question that names no
        # scheme prefers open ones, so an ended one close behind it is no reason to ask.
        # Nor, for a scheme the bot may offer, is one it may not (of unknown status, not named):
        # asking would leave that one out of the choice anyway.
        offerable = self._may_offer(top)
        rivals = [
            c
            for c in self.candidates[1:]
            if (self._may_offer(c) or not offerable)
            and not (top.status == Status.OPEN.value and not c.named and c.status == Status.ENDED.value)
        ]
        second = rivals[0].score if rivals else 0.0
        # A question about a figure of a scheme described (「外銷貸款信保最高保多少」) is answered with
        # it whatever its status; a question of what there is (「颱風淹水 有什麼補助」) is not answered
        # with a programme whose status no source states: that would recommend it.
        if top.score >= MIN_SCORE and top.score - second >= MARGIN and (self._may_offer(top) or not recommending):
            return Decision(answer=(top,))
        # The best two or three by the same ranking, ended ones included: hearing that the
        # scheme one meant has ended beats being offered three one did not mean.
        # A scheme whose status no source states is never offered as if it were open.
        close = [
            c
            for c in self.candidates
            if c.score >= top.score - 2 * MARGIN and c.score >= MIN_SCORE / 2 and self._may_offer(c)
        ]
        if not close and recommending and not self._may_offer(top):
            # 「颱風淹水 有什麼補助」 fits an unknown-status programme best: offer what may be offered.
            close = [c for c in self.candidates if c.score >= MIN_SCORE / 2 and self._may_offer(c)]
        if len(close) == 1 and close[0] is top and (top.score >= MIN_SCORE or top.id == self.question.current):
            return Decision(answer=(top,))  # the others may not be offered: nothing to choose between
        return Decision(ask=tuple(close[:ASK_AT_MOST]))

    def _what_is_open(self) -> Resolution | None:
        """For a question of what there is (「工廠被颱風吹壞了 有什麼貸款」) whose best candidate is a past
        typhoon's relief, or a grant whose status no source states, ranked first on its words: the
        candidates that are open (and any named: the caller hears that it ended), if one is strong."""
        top = self.candidates[0]
        if top.kind != "scheme" or top.status == Status.OPEN.value or top.named or top.id == self.question.current:
            return None
        standing = tuple(
            c
            for c in self.candidates
            if c.named or c.kind == "contact" or c.id == self.question.current or c.status == Status.OPEN.value
        )
        return (
            Resolution(self.question, standing)
            if any(c.kind == "scheme" and c.score >= MIN_SCORE for c in standing)
            else None
        )

    def _may_offer(self, candidate: Candidate) -> bool:
        """A scheme of unknown status is answered when the caller named it or is talking about it,
        never put forward for a question that did not name it (issue 16: never recommended)."""
        return (
            candidate.kind == "contact"
            or candidate.named
            or candidate.status != Status.UNKNOWN.value
            or candidate.id == self.question.current
        )


@dataclass(frozen=True, slots=True)
class _Records:
    schemes: dict[str, Scheme]
    contacts: dict[str, Contact]
    names: tuple[tuple[str, str], ...]  # (normalised name or alias, scheme id), longest first
    org_names: tuple[tuple[str, tuple[str, ...]], ...]  # (normalised alias, its contact ids), longest first
    runs: dict[str, frozenset[str]]  # every RUN-character piece of a name → scheme ids
    benefit_runs: dict[str, frozenset[str]]  # a RUN-character piece of a benefit's wording → its (one or two) schemes
    name_shapes: tuple[tuple[str, str, frozenset[str], tuple[str, ...]], ...]  # (name, id, characters, pairs)
    products: dict[str, tuple[str, ...]]  # kind of measure → ids of schemes whose name says it
    pieces: dict[str, str]  # a PIECE_CHARS piece found in one scheme's names only → its id
    acronyms: dict[str, str]  # a Latin acronym of a name (sbir), by its sorted letters


class Resolver:
    """Ranks schemes and contacts for a :class:`Question` over one knowledge base.

    Records are read once per instance (the action server keeps one): ranking a
    question is then a jieba cut, one FTS5 query and arithmetic, well under 10 ms.
    """

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb

    @cached_property
    def _records(self) -> _Records:
        schemes = {s.id: s for s in self.kb.all()}
        with self.kb._db() as db:
            contacts = {row["id"]: self.kb.contact(row["id"]) for row in db.execute("select id from contacts")}
        names = sorted(
            {(normalise(n).lower(), s.id) for s in schemes.values() for n in s.names() if len(n) >= 2},
            key=lambda pair: -len(pair[0]),
        )
        # Organisations by the short forms callers use (contacts.yml ``aliases``): an alias
        # names every line of its organisation (生產力中心 has one per programme).
        by_alias: dict[str, list[str]] = {}
        for contact in contacts.values():
            for alias in contact.aliases:
                by_alias.setdefault(normalise(alias).lower(), []).append(contact.id)
        orgs = sorted(((alias, tuple(ids)) for alias, ids in by_alias.items()), key=lambda pair: -len(pair[0]))
        runs = _run_index((name, scheme_id) for name, scheme_id in names)
        # Words only: a figure and its unit (「100萬以內」) are shared by many loans, however they write it.
        benefit_runs = _run_index(
            ((normalise(b.text).lower(), s.id) for s in schemes.values() for b in s.benefits if not b.superseded),
            words_only=True,
        )
        shapes = tuple(
            (name, scheme_id, frozenset(_CONTENT.findall(name)), tuple(_pairs(name)))
            for name, scheme_id in names
            if len(set(_CONTENT.findall(name))) >= 4
        )
        products = {
            kind: tuple(s.id for s in schemes.values() if re.search(pattern, s.name))
            for kind, pattern in _NAME_PRODUCT.items()
        }
        pieces: dict[str, set[str]] = {}
        for name, scheme_id in names:
            chars = "".join(_CONTENT.findall(name))
            for i in range(len(chars) - PIECE_CHARS + 1):
                pieces.setdefault(chars[i : i + PIECE_CHARS], set()).add(scheme_id)
        acronyms: dict[str, set[str]] = {}
        for name, _ in (*names, *orgs):
            for word in re.findall(r"[a-z]{4,}", name):
                acronyms.setdefault("".join(sorted(word)), set()).add(word)
        return _Records(
            schemes,
            contacts,
            tuple(names),
            tuple(orgs),
            {run: frozenset(ids) for run, ids in runs.items() if len(ids) <= 3},
            {run: frozenset(ids) for run, ids in benefit_runs.items() if len(ids) <= 2},
            shapes,
            products,
            {piece: next(iter(ids)) for piece, ids in pieces.items() if len(ids) == 1},
            {key: next(iter(words)) for key, words in acronyms.items() if len(words) == 1},
        )

    def scheme(self, scheme_id: str) -> Scheme:
        return self._records.schemes[scheme_id]

    def contact(self, contact_id: str) -> Contact:
        return self._records.contacts[contact_id]

    def question(
        self,
        text: str,
        *,
        attributes: Iterable[str] | None = (),
        scheme: str | None = None,
        current: str | None = None,
        profile: Profile | None = None,
        category: str | None = None,
        followup: bool = False,
        offered: tuple[str, ...] = (),
    ) -> Question:
        """A :class:`Question` for ``text``, its attributes read from the text and any given."""
        asked = tuple(dict.fromkeys((*attributes_in(question_part(text)), *(attributes or ()))))
        profile = profile or Profile()
        if profile.employees is None:
            employees = [m.value for m in find_numbers(text) if m.entity == "employees"]
            if employees:
                profile = Profile(
                    int(employees[0]),
                    profile.registration_type,
                    profile.industry,
                    profile.purpose,
                    profile.disaster_hit,
                )
        if profile.purpose is None:
            purpose = purpose_in(text)
            if purpose:
                profile = Profile(
                    profile.employees, profile.registration_type, profile.industry, purpose, profile.disaster_hit
                )
        return Question(
            text,
            asked,
            scheme=scheme,
            current=current,
            profile=profile,
            category=category,
            followup=followup,
            offered=offered,
        )

    def resolve(self, question: Question, limit: int = 8) -> Resolution:
        records = self._records
        plain = _acronyms_fixed(normalise(question.text).lower(), records.acronyms)
        scores: dict[str, float] = {}
        reasons: dict[str, list[str]] = {}
        named: set[str] = set()
        exact: set[str] = set()

        def add(key: str, points: float, reason: str) -> None:
            scores[key] = scores.get(key, 0.0) + points
            reasons.setdefault(key, []).append(reason)

        if question.scheme and question.scheme in records.schemes:
            add("scheme:" + question.scheme, NAMED + 2, "對話辨識出的措施")
            named.add("scheme:" + question.scheme)
            exact.add("scheme:" + question.scheme)
        rest = plain
        for name, scheme_id in records.names:
            if name in rest:
                key = "scheme:" + scheme_id
                if key not in named:
                    add(key, NAMED + min(len(name), 12) / 4, f"名稱相符「{name}」")
                    named.add(key)
                    exact.add(key)
                rest = rest.replace(name, " ")
        exact_names = [name for name, scheme_id in records.names if "scheme:" + scheme_id in exact and name in plain]
        for scheme_id, coverage, name in self._approximate_names(plain, records):
            key = "scheme:" + scheme_id
            if (
                key not in named
                and not _only_extends(name, exact_names, plain)
                and not any(name in exact for exact in exact_names)
            ):  # inside a longer name written whole
                shared = len(set(_CONTENT.findall(name)) & set(plain))
                add(key, NAMED * coverage + shared / 3, f"名稱近似「{name}」")
                named.add(key)
                if coverage >= SURE_COVERAGE:
                    exact.add(key)
        for key, run in _runs(plain, records.runs):
            if key not in named and not any(run in name for name in exact_names):  # a run inside a name found whole
                add(key, 3.0 + min(len(run), 12) / 2, f"名稱片段相符「{run}」")
                named.add(key)
                if len(run) >= SURE_RUN:
                    exact.add(key)
        for key, piece in self._name_pieces(plain, records):
            if key not in named:
                add(key, PIECE, f"只有這項措施的名稱有「{piece}」")
        for key, run in _runs(plain, records.benefit_runs):
            # A benefit named in its own words (「受災事業利息補貼」): the scheme that offers it.
            if len(run) >= SURE_RUN and not any(run in name for name in exact_names):
                add(key, BENEFIT_RUN + min(len(run), 12) / 2, f"措施內容片段相符「{run}」")
        if question.offered:
            for rank, scheme_id in enumerate(question.offered):
                if scheme_id in records.schemes:
                    add("scheme:" + scheme_id, OFFERED - rank, "剛才請您選的措施之一")
        for county in _counties(plain):
            for scheme in records.schemes.values():
                if county in normalise(scheme.name):
                    add("scheme:" + scheme.id, 3.0, f"地區相符「{county}」")
                    named.add("scheme:" + scheme.id)
        # A short name written (「青創」) that is part of another named scheme's own name (高雄「雄挺利」
        # 青創貸款利息補貼, named by its county) is that more specific scheme's word, not a second scheme.
        for name, scheme_id in records.names:
            key = "scheme:" + scheme_id
            if key not in exact or name not in plain:
                continue
            wider = [
                other
                for other in named
                if other.startswith("scheme:")
                and other not in exact
                and other != key
                and name in normalise(records.schemes[other.split(":", 1)[1]].name).lower()
            ]
            # Said once per wider scheme: 「…青創…台北市的青創…」 asks about both.
            if wider and plain.count(name) <= len(wider):
                add(key, -NAMED, f"「{name}」是另一項措施名稱的一部分")
                named.discard(key)
                exact.discard(key)
        for general, specific, name in self._more_specific(plain, exact, question.attributes, records):
            # 「匯率避險那個信保 額度多少」: 匯率避險 names an advice service with no amount, and is
            # part of the name of the guarantee that has one: the caller means the guarantee.
            add(general, -NAMED, f"「{name}」所指的措施沒有所問的項目")
            named.discard(general)
            exact.discard(general)
            add(specific, NAMED, f"名稱含「{name}」且有所問的項目")
            named.add(specific)
        name_words: dict[str, list[str]] = {}
        for key, points, words in self._text_scores(question.text):
            add(key, points, "文字相符：" + "、".join(words[:4]))
            name_words[key] = words
        # An organisation named is the answer to 「…的電話」, not to 「信保基金保幾成」.
        other_asked = [a for a in question.attributes if a not in ("contact", "how_to_apply")]
        for key in self._organisations(rest, records, approximate="contact" in question.attributes):
            if other_asked:
                add(key, -NAMED / 2, "問的不是聯絡方式")
                continue
            add(key, NAMED, "機構名稱相符")
            named.add(key)
        for key, figure in self._figures(plain, records):
            add(key, FIGURE, f"數字相符「{figure}」")
        for key, kind in self._products(plain, records):
            add(key, PRODUCT, f"措施種類相符「{kind}」")

        asks_contact = "contact" in question.attributes
        # 「有什麼補助」 is not answered with a loan whose name says 貸款 (a guarantee is a loan's;
        # 「利息補貼」 is a loan's too, not a grant asked).
        asked_products = {
            _PRODUCT_GROUP[kind]
            for kind, pattern in _PRODUCT_RES.items()
            if pattern.search(_INTEREST_SUBSIDY.sub("", plain))
        }
        if asked_products:
            for key in list(scores):
                kind, record_id = key.split(":", 1)
                if kind != "scheme" or key in named:
                    continue
                own = {_PRODUCT_GROUP[k] for k, ids in records.products.items() if record_id in ids}
                if not own and _PROGRAMME.search(records.schemes[record_id].name):
                    own = {"programme"}  # 「中小微企業多元振興發展計畫」 frames loans; it lends nothing itself
                if own and not own & asked_products and (own != {"programme"} or asked_products == {"lent"}):
                    add(key, -OTHER_PRODUCT, "措施種類不是您問的")
        for key, figure in self._attribute_figures(plain, question.attributes, records):
            add(key, FIGURE, f"所問項目的條件有「{figure}」")
        candidates = []
        for key, score in scores.items():
            kind, record_id = key.split(":", 1)
            why = reasons[key]
            if kind == "scheme":
                scheme = records.schemes[record_id]
                status = self.kb.status(scheme)
                score += self._scheme_context(scheme, status, question, key in named, why)
                candidates.append(
                    Candidate(kind, record_id, round(score, 2), tuple(why), key in named, key in exact, status.value)
                )
            else:
                if asks_contact:
                    score += 2.0
                    why.append("問的是聯絡方式")
                candidates.append(Candidate(kind, record_id, round(score, 2), tuple(why), key in named, key in named))
        if question.current and question.current in records.schemes and not named:
            current = "scheme:" + question.current
            # 「那加薪呢」 after the new-hire deduction: a word of another scheme's name that the
            # current one's names lack moves the topic there, so the current one counts less.
            own_names = normalise(" ".join(records.schemes[question.current].names())).lower()
            moved_to = {
                key
                for key, words in name_words.items()
                if key != current
                and key.startswith("scheme:")
                and any(
                    w not in own_names
                    and len(w) >= 2
                    and not attributes_in(w)
                    and not _PRODUCT_ANY.search(w)
                    and self._rare_in_names(w)
                    for w in words
                )
            }
            moved = bool(moved_to)
            # A follow-up by intent, an attribute asked, or a message too short to be a new topic.
            continues = bool(
                question.followup or question.attributes or len(_CONTENT.findall(plain)) <= SHORT_FOLLOW_UP
            )
            boost = (NAMED if continues else 3.0) * (0.25 if moved else 1.0)
            if moved:  # the topic moved to a sibling: 「那加薪呢」 after one tax deduction is the other one
                category = records.schemes[question.current].category
                candidates = [
                    self._boost_current(c, SIBLING, "與對話中的措施同類")
                    if "scheme:" + c.id in moved_to and records.schemes[c.id].category == category
                    else c
                    for c in candidates
                ]
            if not any(c.id == question.current for c in candidates):
                scheme = records.schemes[question.current]
                why = ["對話中的措施"]
                score = self._scheme_context(scheme, self.kb.status(scheme), question, False, why) + (
                    boost if continues else 0.0
                )
                candidates.append(
                    Candidate(
                        "scheme",
                        question.current,
                        round(score, 2),
                        tuple(why),
                        False,
                        False,
                        self.kb.status(scheme).value,
                    )
                )
            else:
                candidates = [self._boost_current(c, boost) if "scheme:" + c.id == current else c for c in candidates]
        if asks_contact:
            candidates = self._owned_lines_merged(candidates, records)
        candidates.sort(key=lambda c: (-c.score, c.kind != "scheme", c.id))
        return Resolution(question, tuple(candidates[:limit]))

    def _owned_lines_merged(self, candidates: list[Candidate], records: _Records) -> list[Candidate]:
        """「節能設備補助的諮詢專線」 matches the scheme and its own line (商業服務業節能設備補助諮詢專線):
        one thing, not two to choose between. A line that exactly one scheme the caller named lists
        among its contacts is folded into that scheme, which keeps the better of the two scores;
        the scheme's contact answer gives the line. A line several named schemes share, or one of a
        scheme the caller did not name (「聯輔基金會…電話」 is not a question about the programme
        that lists its line), stays on its own."""
        owners: dict[str, list[int]] = {}
        for index, candidate in enumerate(candidates):
            if candidate.kind == "scheme" and candidate.named:
                for contact_id in records.schemes[candidate.id].contacts:
                    owners.setdefault(contact_id, []).append(index)
        merged = list(candidates)
        dropped: set[int] = set()
        for index, candidate in enumerate(candidates):
            owner = owners.get(candidate.id, []) if candidate.kind == "contact" else []
            if len(owner) != 1:
                continue
            scheme = merged[owner[0]]
            merged[owner[0]] = replace(
                scheme,
                score=max(scheme.score, candidate.score),
                reasons=(*scheme.reasons, "問的是這項措施的專線"),
                exact=scheme.exact or candidate.exact,
            )
            dropped.add(index)
        return [c for i, c in enumerate(merged) if i not in dropped]

    def _more_specific(
        self, plain: str, exact: set[str], attributes: tuple[str, ...], records: _Records
    ) -> list[tuple[str, str, str]]:
        """(named scheme, scheme meant, name) where the name written belongs to a scheme without any
        benefit asked and is part of one other scheme's longer name that has it (匯率避險 → 匯率避險保證)."""
        wanted = {k for a in attributes for r in (a, *RELATED.get(a, ())) for k in ATTRIBUTE_KINDS.get(r, ())}
        if not wanted:
            return []
        found: list[tuple[str, str, str]] = []
        for name, scheme_id in records.names:
            key = "scheme:" + scheme_id
            if key not in exact or name not in plain or _kinds(records.schemes[scheme_id]) & wanted:
                continue
            specific = {
                other
                for longer, other in records.names
                if name in longer
                and longer != name
                and other != scheme_id
                and _kinds(records.schemes[other]) & wanted
                and _adds_what_is_asked(longer.replace(name, "", 1), plain)
            }
            if len(specific) == 1 and all(general != key for general, _, _ in found):
                found.append((key, "scheme:" + specific.pop(), name))
        return found

    def _rare_in_names(self, word: str) -> bool:
        """Whether at most two schemes have ``word`` in a name or alias (加薪, not 保證 or 貸款)."""
        return len({scheme_id for name, scheme_id in self._records.names if word in name}) <= 2

    def _boost_current(self, candidate: Candidate, points: float, reason: str = "對話中的措施") -> Candidate:
        return Candidate(
            candidate.kind,
            candidate.id,
            round(candidate.score + points, 2),
            (*candidate.reasons, reason),
            candidate.named,
            candidate.exact,
            candidate.status,
        )

    def _scheme_context(self, scheme: Scheme, status: Status, question: Question, named: bool, why: list[str]) -> float:
        """Points from the attribute asked, the caller's facts, the category and the status."""
        points = 0.0
        kinds = _kinds(scheme)
        for attribute in question.attributes:
            wanted = set(ATTRIBUTE_KINDS.get(attribute, ()))
            for related in RELATED.get(attribute, ()):
                wanted |= set(ATTRIBUTE_KINDS.get(related, ()))
            if wanted and kinds & wanted:
                points += 1.5
                why.append(f"有{attribute}資料")
            elif wanted and not named:
                points -= 1.0
        reasons = eligibility_reasons(scheme.eligibility, question.profile)
        if reasons is None:
            points -= 6.0
            why.append("您提供的條件不符")
        elif reasons:
            # A stated employee count that fits a capped scheme is the caller's strongest fact.
            points += sum(3.0 if reason.startswith("員工") else 1.5 for reason in reasons)
            why.extend(reasons)
        audience = _audience(scheme)
        if audience and not named and scheme.id != question.current:
            if _mentions(audience, question):
                points += 1.5
                why.append(f"您提到{audience}")
            else:
                points -= 1.5
                why.append(f"限{audience}，您未提到")
        if question.category and scheme.category == question.category:
            points += 1.0
            why.append("同一類別")
        if status is Status.ENDED and not named and scheme.id != question.current:
            points -= ENDED_UNNAMED
            why.append("已結束")
        elif status is not Status.OPEN and not named:
            points -= 0.5  # unknown or not yet open: answerable, said so in the answer, never offered as open
            why.append("受理狀態未明")
        return points

    def _text_scores(self, text: str) -> list[tuple[str, float, list[str]]]:
        """FTS5 BM25 over schemes and contacts, scaled so the best match scores :data:`TEXT_MAX`."""
        words = self.kb._segmenter.query_words(normalise(text), normalised=True)
        if not words:
            return []
        query = fts_query(words[:64])
        with self.kb._db() as db:
            rows = db.execute(
                f"select scheme_text.id, -bm25(scheme_text_fts, {BM25_WEIGHTS}) as s, scheme_text.name || ' ' || "
                "scheme_text.aliases as words from scheme_text_fts join scheme_text on scheme_text.rowid = "
                "scheme_text_fts.rowid where scheme_text_fts match ? order by s desc limit 12",
                (query,),
            ).fetchall()
            found = [("scheme:" + r["id"], r["s"], _shared(words, r["words"])) for r in rows]
            try:
                contact_rows = db.execute(
                    "select contact_text.id, -bm25(contact_text_fts) as s, contact_text.name as words from "
                    "contact_text_fts join contact_text on contact_text.rowid = contact_text_fts.rowid "
                    "where contact_text_fts match ? order by s desc limit 4",
                    (query,),
                ).fetchall()
            except sqlite3.OperationalError:  # a kb.db built before contacts were indexed
                contact_rows = []
            found += [("contact:" + r["id"], r["s"] * 0.5, _shared(words, r["words"])) for r in contact_rows]
        if not found:
            return []
        best = max(s for _, s, _ in found) or 1.0
        # Absolute strength matters too: one shared generic word is weak evidence.
        strength = min(1.0, best / 12.0)
        return [(key, TEXT_MAX * strength * s / best, shared) for key, s, shared in found if s > 0]

    def _approximate_names(self, plain: str, records: _Records) -> list[tuple[str, float, str]]:
        """Schemes whose name or alias is mostly written in ``plain`` in other words.

        「員工不到30人的那個優惠貸款」 holds 7 of the 9 characters of 「30人以下優惠貸款」.
        Character coverage (not order) keeps this a set operation per name, cheap enough
        for every record; a name needs :data:`APPROX_COVERAGE` of its characters and at
        least four of them.
        """
        chars = set(plain)
        best: dict[str, tuple[float, str]] = {}
        for name, scheme_id, wanted, pairs in records.name_shapes:
            shared = len(wanted & chars)
            coverage = shared / len(wanted)
            if coverage < APPROX_COVERAGE or shared < 4 or coverage <= best.get(scheme_id, (0.0, ""))[0]:
                continue
            # Order matters a little: half the name's character pairs must be in the text too,
            # so 「外銷貸款優惠保證」 is not found in 「優惠貸款的保證手續費」.
            if pairs and sum(1 for p in pairs if p in plain) / len(pairs) >= APPROX_PAIRS:
                best[scheme_id] = (coverage, name)
        return [(scheme_id, coverage, name) for scheme_id, (coverage, name) in best.items()]

    def _name_pieces(self, plain: str, records: _Records) -> list[tuple[str, str]]:
        """Schemes that alone carry a four-character piece of the text in a name (「優惠貸款」)."""
        chars = "".join(_CONTENT.findall(plain))
        found: dict[str, str] = {}
        for i in range(len(chars) - PIECE_CHARS + 1):
            scheme_id = records.pieces.get(chars[i : i + PIECE_CHARS])
            if scheme_id and scheme_id not in found:
                found[scheme_id] = chars[i : i + PIECE_CHARS]
        return [("scheme:" + scheme_id, piece) for scheme_id, piece in found.items()]

    def _figures(self, plain: str, records: _Records) -> list[tuple[str, str]]:
        """Schemes stating a figure the text quotes (「2.22%」「3,500萬」), each once."""
        quoted = {
            (m.group(1), m.group(2).replace("％", "%").replace("趴", "%"))
            for m in _QUOTED_FIGURE.finditer(plain.replace(",", ""))
        }
        if not quoted:
            return []
        found = []
        for scheme in records.schemes.values():
            texts = " ".join(b.text for b in scheme.benefits if not b.superseded).replace(",", "") + scheme.summary
            for number, unit in quoted:
                if re.search(rf"(?<![\d.]){re.escape(number)}\s*{re.escape(unit)}", texts):
                    found.append(("scheme:" + scheme.id, number + unit))
                    break
        return found if len(found) <= 6 else []  # a figure half the records state says nothing

    def _attribute_figures(self, plain: str, attributes: tuple[str, ...], records: _Records) -> list[tuple[str, str]]:
        """Schemes whose benefit of the kind asked states the figure quoted: 「借100萬以內 保幾成」
        finds the guarantee ratio written for 「貸款額度100萬元以內」."""
        kinds = {k for a in attributes for k in ATTRIBUTE_KINDS.get(a, ())}
        quoted = {
            (m.group(1), m.group(2).replace("％", "%").replace("趴", "%"))
            for m in _QUOTED_FIGURE.finditer(plain.replace(",", ""))
        }
        if not kinds or not quoted:
            return []
        found = []
        for scheme in records.schemes.values():
            texts = " ".join(
                (b.condition or "") + b.text for b in scheme.benefits if not b.superseded and b.kind in kinds
            ).replace(",", "")
            hit = next(
                (n + u for n, u in quoted if re.search(rf"(?<![\d.]){re.escape(n)}\s*{re.escape(u)}", texts)), None
            )
            if hit:
                found.append(("scheme:" + scheme.id, hit))
        return found if len(found) <= 6 else []

    def _products(self, plain: str, records: _Records) -> list[tuple[str, str]]:
        """Schemes whose name is the kind of measure the text asks for (a loan, a grant, a tax break)."""
        kinds = [kind for kind, pattern in _PRODUCT_RES.items() if pattern.search(plain)]
        return [("scheme:" + scheme_id, kind) for kind in kinds for scheme_id in records.products[kind]]

    def _organisations(self, text: str, records: _Records, approximate: bool = False) -> list[str]:
        """Contacts of the organisations named in ``text`` by an alias (knowledge/contacts.yml ``aliases``).

        With ``approximate`` (a contact question), a name mostly written (「聯扶基金會」,
        「補助公司參展專案辦公室」) counts too, by the same test as scheme names.
        """
        keys: list[str] = []
        if approximate:
            for contact in records.contacts.values():
                base = re.split(r"[ （(]", contact.name)[0]
                if len(base) >= 4 and _approximately_in(normalise(base).lower(), text):
                    keys.append(f"contact:{contact.id}")
        for alias, contact_ids in records.org_names:
            if alias in text or (approximate and len(alias) >= 4 and _approximately_in(alias, text)):
                keys += [f"contact:{cid}" for cid in contact_ids if f"contact:{cid}" not in keys]
                text = text.replace(alias, " ")
        return keys


def _run_index(texts: Iterable[tuple[str, str]], words_only: bool = False) -> dict[str, set[str]]:
    """Every RUN-character piece of each (text, scheme id) → the schemes whose texts have it
    (with ``words_only``, pieces of Chinese characters only)."""
    index: dict[str, set[str]] = {}
    for text, scheme_id in texts:
        chars = "".join(_CONTENT.findall(text))
        for i in range(len(chars) - RUN + 1):
            if not words_only or _WORDS.fullmatch(chars[i : i + RUN]):
                index.setdefault(chars[i : i + RUN], set()).add(scheme_id)
    return index


def _runs(plain: str, index: dict[str, frozenset[str]]) -> list[tuple[str, str]]:
    """Schemes sharing RUN or more characters in a row with the text (the longest run each)."""
    chars = "".join(_CONTENT.findall(plain))
    best: dict[str, str] = {}
    start = 0
    while start <= len(chars) - RUN:
        ids = index.get(chars[start : start + RUN])
        if not ids:
            start += 1
            continue
        end = start + RUN
        while end < len(chars) and index.get(chars[end - RUN + 1 : end + 1]):
            end += 1
        for scheme_id in ids:
            if len(chars[start:end]) > len(best.get(scheme_id, "")):
                best[scheme_id] = chars[start:end]
        start = end - RUN + 1
    return [("scheme:" + scheme_id, run) for scheme_id, run in best.items()]


def _adds_what_is_asked(extra: str, plain: str) -> bool:
    """Whether what a longer name adds is in the text: the kind of measure (保證 for 「信保」) or most of its characters.

    「匯率避險保證」 adds 保證 to 匯率避險, and 「…那個信保」 asks a guarantee; 「疫後振興專案貸款」
    adds 疫後 to 振興專案貸款, which 「振興專案貸款利率多少」 does not say.
    """
    if any(re.search(_NAME_PRODUCT[kind], extra) and pattern.search(plain) for kind, pattern in _PRODUCT_RES.items()):
        return True
    chars = set(_CONTENT.findall(extra))
    return bool(chars) and len(chars & set(plain)) / len(chars) >= 0.6


def _kinds(scheme: Scheme) -> set[str]:
    """The benefit kinds a scheme states (old values kept for history aside)."""
    return {b.kind for b in scheme.benefits if not b.superseded}


def _acronyms_fixed(plain: str, acronyms: dict[str, str]) -> str:
    """Latin acronyms typed with their letters swapped (「SBRI」 for SBIR) written as the records do."""

    def fix(match: re.Match[str]) -> str:
        word = match.group(0)
        return acronyms.get("".join(sorted(word)), word)

    return re.sub(r"(?<![a-z])[a-z]{4,}(?![a-z])", fix, plain) if re.search(r"[a-z]{4}", plain) else plain


def _only_extends(name: str, exact_names: list[str], plain: str) -> bool:
    """Whether ``name`` is found only through another scheme's name written exactly.

    「中小微貸款保證成數」 names 中小微貸款 (one scheme) and not 中小微貸款加碼 (another):
    what the longer name adds (加碼) is not in the text.
    """
    for exact in exact_names:
        if exact in name and exact != name:
            extra = set(_CONTENT.findall(name.replace(exact, "", 1)))
            if extra and len(extra & set(plain)) / len(extra) < 0.6:
                return True
    return False


def _approximately_in(name: str, plain: str) -> bool:
    """Most of ``name``'s characters, and half its character pairs, are in ``plain``."""
    wanted = set(_CONTENT.findall(name))
    if len(wanted) < 4 or len(wanted & set(plain)) / len(wanted) < APPROX_COVERAGE + 0.05:
        return False
    pairs = _pairs(name)
    return bool(pairs) and len([p for p in pairs if p in plain]) / len(pairs) >= APPROX_PAIRS


def _pairs(name: str) -> list[str]:
    """Adjacent pairs of a name's letters, digits and CJK characters (punctuation dropped)."""
    chars = _CONTENT.findall(name)
    return ["".join(chars[i : i + 2]) for i in range(len(chars) - 1)]


def _shared(words: list[str], indexed: str) -> list[str]:
    tokens = set(indexed.split())
    return [w for w in words if w in tokens and len(w) >= 2]


def schemes_in_conversation(kb: KnowledgeBase, lines: list[dict[str, Any]], limit: int = 3) -> list[str]:
    """The schemes a conversation was about, for the staff console's scheme cards.

    Tapped buttons carry the scheme as an entity; typed questions are resolved as the bot
    resolves them (answers only, not the candidates of a question it had to ask back).
    Form answers (names, phone numbers) are skipped.
    """
    resolver = Resolver(kb)
    found: list[str] = []
    for line in lines:
        if line.get("who") != "user" or line.get("form_answer"):
            continue
        entities = line.get("entities") or []
        found += [str(e.get("value")) for e in entities if isinstance(e, dict) and e.get("entity") == "scheme"]
        text = str(line.get("text") or "")
        if text and not text.startswith("/"):
            decision = resolver.resolve(resolver.question(text)).decision()
            found += [c.id for c in decision.answer if c.kind == "scheme"]
    known = set(resolver._records.schemes)
    return [s for s in dict.fromkeys(found) if s in known][:limit]

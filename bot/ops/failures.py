"""What counts as a failed turn: the one definition the review list, the 「需要檢視」 queue and the metrics use.

A caller's own message (not a form answer) failed when the bot:

- ``fallback``: did not understand it (the fallback intent or a fallback action);
- ``out_of_scope``: called it out of scope right after a hotline-topic message, or
  at low confidence (a long story about a loan is not off-topic);
- ``no_data``: answered that it has no data (「目前資料中沒有…」);
- ``menu_not_tapped``: offered a menu of schemes and the caller neither tapped one
  nor named a scheme in the next message, or left;
- ``clarify_not_followed``: asked what was meant and the next message was neither a
  tap nor a hotline question, or the caller left;
- ``handoff_after_answer``: answered a hotline question and the caller's next message
  asked for a person (the answer did not help);
- ``low_rating_after_answer``: answered, and the caller later rated 1 or 2.

Counting only ``nlu_fallback`` (the old figure) called a confident wrong answer, a
no-data answer or an abandoned menu a success. Pure functions over turns
(``bot.ops.events.Turn``), oldest first, so the page, the CLI and the tests agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum
from typing import Any, Protocol

from bot.categories import HOTLINE_VALUES

LOW_CONFIDENCE = 0.6
NO_DATA_MARKERS = ("目前資料中沒有", "資料中沒有", "沒有資料")
HANDOFF_INTENTS = frozenset({"handoff_request", "handoff_complaint"})
CLARIFY_RESPONSES = frozenset({"utter_clarify_topic", "utter_followup_which_scheme"})
CLARIFY_ACTIONS = frozenset({"action_clarify_topic"})
# Replies with buttons that are not a menu of answers: the greeting's topics, the rating, form questions.
NOT_MENUS = frozenset(
    {
        "utter_greet",
        "utter_capabilities",
        "utter_anything_else",
        "utter_ask_rating",
        "utter_offer_person_urgent",
        "utter_clarify_topic",
    }
)
LOW_RATING = 2


class Failure(str, Enum):
    FALLBACK = "fallback"
    OUT_OF_SCOPE = "out_of_scope"
    NO_DATA = "no_data"
    MENU_NOT_TAPPED = "menu_not_tapped"
    CLARIFY_NOT_FOLLOWED = "clarify_not_followed"
    HANDOFF_AFTER_ANSWER = "handoff_after_answer"
    LOW_RATING_AFTER_ANSWER = "low_rating_after_answer"

    @property
    def label(self) -> str:
        return LABELS[self]


LABELS = {
    Failure.FALLBACK: "聽不懂",
    Failure.OUT_OF_SCOPE: "業務問題被當成範圍外",
    Failure.NO_DATA: "回答「資料中沒有」",
    Failure.MENU_NOT_TAPPED: "給了選單但沒有點選",
    Failure.CLARIFY_NOT_FOLLOWED: "追問後沒有接上",
    Failure.HANDOFF_AFTER_ANSWER: "回答後仍要求真人",
    Failure.LOW_RATING_AFTER_ANSWER: "回答後給低分（1–2分）",
}


class TurnLike(Protocol):
    intent: str | None
    confidence: float | None
    form_answer: bool
    actions: list[str]
    replies: list[dict[str, Any]]
    entities: list[dict[str, Any]]
    handoff: bool
    rating: int | None
    text: str

    @property
    def category(self) -> str: ...
    @property
    def fell_back(self) -> bool: ...
    @property
    def starts_handoff(self) -> bool: ...


def _responses(turn: TurnLike) -> set[str]:
    return {str(r.get("response")) for r in turn.replies if r.get("response")}


def _bot_text(turn: TurnLike) -> str:
    return "\n".join(str(r.get("text") or "") for r in turn.replies if r.get("who") == "bot")


def is_menu(turn: TurnLike) -> bool:
    """The bot offered two or more answers to pick from (schemes, eligibility results)."""
    return any(
        len(r.get("buttons") or []) >= 2
        and r.get("who") == "bot"
        and str(r.get("response") or "") not in NOT_MENUS
        and not str(r.get("response") or "").startswith("utter_ask_")
        for r in turn.replies
    )


def is_clarification(turn: TurnLike) -> bool:
    return bool(_responses(turn) & CLARIFY_RESPONSES) or any(a in CLARIFY_ACTIONS for a in turn.actions)


def _picked(turn: TurnLike | None) -> bool:
    """The caller took up the bot's options: a tap, a scheme named, or a hotline question."""
    if turn is None:
        return False
    return (
        turn.text.startswith("/")
        or any(e.get("entity") == "scheme" for e in turn.entities)
        or turn.category in HOTLINE_VALUES
    )


def _answered(turn: TurnLike) -> bool:
    """A hotline question the bot answered (not a fallback, not a clarification, not a handoff)."""
    return (
        turn.category in HOTLINE_VALUES
        and not turn.fell_back
        and not is_clarification(turn)
        and not turn.handoff
        and not turn.starts_handoff
        and any(r.get("who") == "bot" for r in turn.replies)
        and "utter_offer_person_urgent" not in _responses(turn)
    )


def _asks_person(turn: TurnLike) -> bool:
    return (turn.intent or "") in HANDOFF_INTENTS or turn.starts_handoff


def failures(turns: Sequence[TurnLike]) -> list[set[Failure]]:
    """The failures of each turn (an empty set: the turn went well; form answers never fail)."""
    found: list[set[Failure]] = [set() for _ in turns]
    asked = [i for i, t in enumerate(turns) if not t.form_answer]
    for position, index in enumerate(asked):
        turn = turns[index]
        before = turns[asked[position - 1]] if position else None
        after = turns[asked[position + 1]] if position + 1 < len(asked) else None
        kinds = found[index]
        if turn.fell_back:
            kinds.add(Failure.FALLBACK)
        if (
            turn.category == "out_of_scope"
            and not turn.fell_back
            and (
                (before is not None and before.category in HOTLINE_VALUES)
                or (turn.confidence is not None and turn.confidence < LOW_CONFIDENCE)
            )
        ):
            kinds.add(Failure.OUT_OF_SCOPE)
        if any(marker in _bot_text(turn) for marker in NO_DATA_MARKERS):
            kinds.add(Failure.NO_DATA)
        if is_menu(turn) and not _picked(after):
            kinds.add(Failure.MENU_NOT_TAPPED)
        if is_clarification(turn) and not _picked(after):
            kinds.add(Failure.CLARIFY_NOT_FOLLOWED)
        if _answered(turn) and after is not None and _asks_person(after):
            kinds.add(Failure.HANDOFF_AFTER_ANSWER)
    _low_ratings(turns, found)
    return found


def _low_ratings(turns: Sequence[TurnLike], found: list[set[Failure]]) -> None:
    """A rating of 1–2 marks the last answered question before it."""
    last_answer = None
    for index, turn in enumerate(turns):
        if turn.rating is not None and turn.rating <= LOW_RATING and last_answer is not None:
            found[last_answer].add(Failure.LOW_RATING_AFTER_ANSWER)
            last_answer = None
        elif not turn.form_answer and _answered(turn):
            last_answer = index


def kinds_text(kinds: set[Failure]) -> str:
    """Stored form: the kinds' values in definition order, comma-separated ('' when none)."""
    return ",".join(f.value for f in Failure if f in kinds)


def parse_kinds(text: str | None) -> list[Failure]:
    return [Failure(v) for v in (text or "").split(",") if v in Failure._value2member_map_]

"""Text for callers is built only from caller-facing fields.

Every record × every attribute is rendered through the real answer code (bot.kb.answers)
with the clock at the audit date; no bubble may carry a source id, a maintainer's English
note or a stacked caveat. Maintainer notes live in ``note`` fields the bot never shows.
"""

from __future__ import annotations

import re

import pytest

from bot.kb.answers import ATTRIBUTE_LABELS, BUBBLE_MAX, Facts, attribute_answer, scheme_card
from bot.kb.query import Status
from tests.kb.conftest import kb_on

AUDIT_DAY = "2026-12-01"
ATTRIBUTES = [None, *ATTRIBUTE_LABELS]
# Source ids of sources/external-facts.md (S08, D13, R07, Y04, F01), seed file names, internal words.
SOURCE_ID = re.compile(
    r"(?<![A-Za-z0-9])(?:[SDRYF]\d{2}|seeds?/?\s?\d{3}|external-facts|sources/|\.md|\.txt)(?![0-9])", re.IGNORECASE
)
URL = re.compile(r"https?://\S+|www\.\S+|[a-z0-9.-]+\.(?:tw|org|com)\S*")
# Three or more ASCII words in a row outside URLs: an English maintainer note, not a name like 「Taiwan Select」.
ASCII_NOTE = re.compile(r"[A-Za-z][A-Za-z'’-]*(?:[ ,;:]+[A-Za-z][A-Za-z'’-]*){2,}")
# Caveats a caller may read once per bubble, and two kinds at most.
CAVEATS = ("來源未載明", "未載明", "未公布", "尚待公告", "請以官方公告為準", "目前是否仍受理", "非官方")
# Allowed names made of several English words (programme and tool names as the sources spell them).
ASCII_NAMES = ("Phase 2+", "Power BI", "TAIWAN SELECT", "Taiwan Select", "Taiwan Excellence", "SME AI")


def facts(kb, scheme_id: str) -> Facts:
    scheme = kb.scheme(scheme_id)
    status = kb.status(scheme)
    return Facts(
        scheme,
        status,
        tuple(kb.contacts(scheme)),
        kb.alternative(scheme) if status is Status.ENDED else None,
        kb.clock.today(),
    )


DOUBLED = re.compile(r"[。，；、]{2,}")


def problems_in(bubble: str) -> list[str]:
    found = [f"source id {m.group(0)!r}" for m in SOURCE_ID.finditer(URL.sub(" ", bubble))]
    plain = URL.sub(" ", bubble)
    for name in ASCII_NAMES:
        plain = plain.replace(name, " ")
    found += [f"English note {m.group(0)!r}" for m in ASCII_NOTE.finditer(plain)]
    counts = {c: bubble.count(c) for c in CAVEATS if c in bubble}
    # 「來源未載明」 contains 「未載明」: count the longer phrase once
    if "來源未載明" in counts:
        counts["未載明"] -= counts["來源未載明"]
        counts = {c: n for c, n in counts.items() if n > 0}
    # 「（非官方）」 marks each unofficial figure, so it may repeat; other caveats are said once
    found += [f"caveat {c!r} {n} times" for c, n in counts.items() if n > 1 and c != "非官方"]
    if len(counts) > 2:
        found.append(f"stacked caveats {sorted(counts)}")
    found += [f"doubled punctuation {m.group(0)!r}" for m in DOUBLED.finditer(plain)]
    return found


def test_the_checker_catches_what_the_audit_found():
    assert problems_in("…（external-facts S23）")
    assert problems_in("以 seed 001 為準")
    assert problems_in("see K1 for the hotline split")
    assert problems_in("截止日期來源未載明；115年是否續辦，來源未載明")
    assert problems_in("向承貸銀行申請；馬上辦服務中心受理諮詢。。")
    assert not problems_in(
        "來源：中企署「中小微企業多元振興發展計畫」（資料日期114年3月）\n洽詢：經濟部馬上辦服務中心 0800-280-280"
    )
    assert not problems_in("網址 https://www.sme.gov.tw/30ai（Taiwan Select 專區）")


@pytest.mark.parametrize("attribute", ATTRIBUTES)
def test_every_record_and_attribute_renders_clean_caller_text(real_db, attribute):
    kb = kb_on(real_db, AUDIT_DAY)
    bad = {}
    for scheme in kb.all():
        bubbles = attribute_answer(facts(kb, scheme.id), attribute)
        for bubble in bubbles:
            assert 0 < len(bubble) <= BUBBLE_MAX, (scheme.id, attribute, len(bubble))
            if found := problems_in(bubble):
                bad[scheme.id] = (found, bubble)
    assert not bad, bad


def test_scheme_cards_carry_only_caller_facing_lines(real_db):
    kb = kb_on(real_db, AUDIT_DAY)
    for scheme in kb.all():
        card = scheme_card(facts(kb, scheme.id))
        for line in card["lines"]:
            assert not problems_in(line), (scheme.id, line)


def test_maintainer_notes_are_never_shown(real_db):
    kb = kb_on(real_db, AUDIT_DAY)
    for scheme in kb.all():
        notes = [n for n in (scheme.note, scheme.standing_quote, *(b.note for b in scheme.benefits)) if n]
        shown = "\n".join(b for a in ATTRIBUTES for b in attribute_answer(facts(kb, scheme.id), a))
        for note in notes:
            assert note not in shown, (scheme.id, note)
        for contact in kb.contacts(scheme):
            assert not contact.note or contact.note not in shown, (scheme.id, contact.id)

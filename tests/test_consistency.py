"""The project's parts agree: intents, categories, actions, responses, bubbles."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import yaml

from bot.categories import CATEGORY_INFO, CHANNEL_LABELS, INTENT_CATEGORY, TOPIC_INTENT, Category, Channel
from bot.formats import BUBBLE_MAX
from bot.messages import SCHEME_STATUS_LABELS

ROOT = Path(__file__).resolve().parent.parent
DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text(encoding="utf-8"))


def training_intents(folder: Path) -> set[str]:
    intents = set()
    for path in folder.rglob("*.yml"):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            if "intent" in block:
                intents.add(block["intent"])
    return intents


def test_every_domain_intent_has_exactly_one_category():
    assert set(DOMAIN["intents"]) == set(INTENT_CATEGORY)


def test_every_training_and_heldout_intent_is_in_the_domain():
    assert training_intents(ROOT / "data") == set(DOMAIN["intents"])
    # The first held-out set predates the service intents (chitchat_hours...); it may not cover all.
    assert training_intents(ROOT / "tests" / "heldout") <= set(DOMAIN["intents"])


def test_every_category_has_display_text_and_topics_have_a_button_intent():
    assert set(CATEGORY_INFO) == set(Category)
    for category, intent in TOPIC_INTENT.items():
        assert INTENT_CATEGORY[intent] is category


def test_every_input_channel_is_a_channel_with_a_label():
    from bot.channels.line import LineInput
    from bot.channels.rest import HotlineRestInput
    from bot.channels.socketio import HotlineSocketIOInput

    assert {c.name() for c in (LineInput, HotlineRestInput, HotlineSocketIOInput)} == {c.value for c in Channel}
    assert set(CHANNEL_LABELS) == set(Channel) and all(c.label for c in Channel)


def test_every_scheme_status_reads_to_callers_and_to_staff():
    from bot.kb.query import Status

    assert set(SCHEME_STATUS_LABELS) == {s.value for s in Status}
    assert all(s.label and s.staff_label for s in Status)


def action_classes() -> dict[str, str]:
    names = {}
    for path in (ROOT / "actions").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name == "name":
                for ret in ast.walk(node):
                    if isinstance(ret, ast.Return) and isinstance(ret.value, ast.Constant):
                        names[ret.value.value] = path.name
    return names


def generated_action_names() -> set[str]:
    """Actions made in a loop (one per form question, actions/form_control.py), by their runtime names."""
    from rasa_sdk import Action

    import actions.form_control as form_control

    return {
        value().name()
        for value in vars(form_control).values()
        if isinstance(value, type) and issubclass(value, Action) and value is not Action
    }


def test_every_domain_action_has_a_class():
    assert set(DOMAIN["actions"]) <= set(action_classes()) | generated_action_names()


def uttered_responses() -> set[str]:
    used = set()
    for path in list((ROOT / "data").rglob("*.yml")) + list((ROOT / "tests" / "stories").rglob("*.yml")):
        used |= set(re.findall(r"action:\s*(utter_\w+)", path.read_text(encoding="utf-8")))
    for path in (ROOT / "actions").glob("*.py"):
        # response="utter_…" and every other whole name in code (tables such as eligibility's INVALID)
        used |= set(re.findall(r"[\"'](utter_\w+)[\"']", path.read_text(encoding="utf-8")))
    return used


def test_every_uttered_response_exists():
    assert uttered_responses() <= set(DOMAIN["responses"])


def test_every_eligibility_question_has_a_reask_that_exists():
    from actions.eligibility import INVALID
    from bot.eligibility import FORM_SLOTS

    assert set(INVALID) == set(FORM_SLOTS) == set(DOMAIN["forms"]["eligibility_form"]["required_slots"])
    assert set(INVALID.values()) <= uttered_responses()
    assert set(INVALID.values()) <= set(DOMAIN["responses"])


def test_every_bubble_fits_line_and_uses_full_width_punctuation():
    for name, variants in DOMAIN["responses"].items():
        for variant in variants:
            text = variant["text"]
            assert len(text) <= BUBBLE_MAX, name
            # ASCII , ? ! ; next to Chinese text is half-width punctuation in zh-TW copy
            assert not re.search(r"[\u4e00-\u9fff][,?!;:]|[,?!;:][\u4e00-\u9fff]", text), name
            for button in variant.get("buttons", []):
                assert len(button["title"]) <= 20, name


# A hotline-looking number: a toll-free 0800/0809 line or a landline with an area code, as written to callers.
PHONE_IN_TEXT = re.compile(
    r"(?<![\d-])(?:080[09]-?\d{3}-?\d{3}|\(0\d{1,3}\)\d{3,4}-\d{4}|0\d{1,2}-\d{3,4}-\d{4})(?![\d-])"
)


def _caller_texts() -> dict[str, str]:
    """Every place a number for callers is written outside knowledge/: responses, code, templates, static files."""
    files = [
        ROOT / "domain.yml",
        *(ROOT / "bot").rglob("*.py"),
        *(ROOT / "actions").rglob("*.py"),
        *(ROOT / "bot" / "web" / "templates").rglob("*.html"),
        *(ROOT / "bot" / "web" / "static").rglob("*.js"),
    ]
    return {str(p.relative_to(ROOT)): p.read_text(encoding="utf-8") for p in files}


def test_every_hotline_number_outside_the_knowledge_base_is_one_in_it_and_the_default_is_the_newest():
    from bot import messages
    from bot.kb.query import DEFAULT_CONTACT
    from bot.kb.records import load_knowledge

    contacts = load_knowledge(ROOT / "knowledge").contacts
    known = {re.sub(r"\D", "", c.phone.split("#")[0]) for c in contacts.values()}
    given = {re.sub(r"\D", "", c.phone.split("#")[0]) for c in contacts.values() if c.current}
    found = {}
    for name, text in _caller_texts().items():
        if name in ("bot/privacy/masking.py", "bot/phones.py", "bot/ops/seed.py"):
            continue  # patterns for masking and parsing callers' numbers, and made-up callers, not numbers we give
        for match in PHONE_IN_TEXT.finditer(text):
            if "例如" in text[max(0, match.start() - 16) : match.start()]:
                continue  # 「例如0912-345-678或02-2345-6789」: the format we ask callers for, not a line
            found.setdefault(re.sub(r"\D", "", match.group(0)), set()).add(name)
    assert found, "the responses give a hotline"
    unknown = {number: names for number, names in found.items() if number not in known}
    assert not unknown, f"numbers not in knowledge/contacts.yml: {unknown}"
    stale = {number: names for number, names in found.items() if number not in given}
    assert not stale, f"numbers the knowledge base does not give any more: {stale}"
    assert messages.HOTLINE == contacts[DEFAULT_CONTACT].phone == "0800-280-280"
    assert "0800280280" in found and "0800056476" not in found


TOLL_FREE = re.compile(r"(?<![\d-])080[09]-?\d{3}-?\d{3}(?![\d-])")


def test_every_toll_free_number_in_responses_templates_and_code_is_the_knowledge_bases_hotline():
    """One hotline: the 0800 line of the knowledge base's default contact, wherever the bot gives a 0800 number.

    The older 0800-056-476 lives only in knowledge/contacts.yml, recorded there as the
    number older sources gave (not current); other 0800 lines come from records too.
    """
    from bot import messages
    from bot.kb.query import DEFAULT_CONTACT
    from bot.kb.records import load_knowledge

    contacts = load_knowledge(ROOT / "knowledge").contacts
    hotline = contacts[DEFAULT_CONTACT].phone
    found = {name: {match.group(0) for match in TOLL_FREE.finditer(text)} for name, text in _caller_texts().items()}
    wrong = {
        name: numbers
        for name, numbers in found.items()
        if {re.sub(r"\D", "", n) for n in numbers} - {re.sub(r"\D", "", hotline)}
    }
    assert not wrong, f"0800 numbers that are not the hotline {hotline}: {wrong}"
    assert messages.HOTLINE == hotline
    assert any("bot/web/templates" in name for name, numbers in found.items() if numbers)
    old = [c for c in contacts.values() if c.phone == "0800-056-476"]
    assert old and not any(c.current for c in old), "the older number is recorded as such, not given"


# Actions that answer a service question the way a response would (「最多幾點」 after a points grant
# is that grant's figure, actions/knowledge.py ActionServiceHours; else the response).
ANSWERING_ACTIONS = {"action_service_hours"}


def test_every_service_question_is_answered_inside_every_form_instead_of_taken_as_an_answer():
    """A question the bot answers outside forms with a response (「你們幾點下班」) is answered inside them too."""
    rules = yaml.safe_load((ROOT / "data" / "rules" / "chitchat.yml").read_text(encoding="utf-8"))["rules"]
    answered = {
        r["steps"][0]["intent"]: r["steps"][1]["action"]
        for r in rules
        if len(r["steps"]) == 2
        and (r["steps"][1]["action"].startswith("utter_") or r["steps"][1]["action"] in ANSWERING_ACTIONS)
        and r["steps"][0]["intent"].startswith("chitchat_")
        and r["steps"][0]["intent"] != "chitchat_goodbye"
    }
    assert {"chitchat_identity", "chitchat_hours", "chitchat_call_cost", "chitchat_privacy"} <= set(answered)
    inside = yaml.safe_load((ROOT / "data" / "rules" / "form_control.yml").read_text(encoding="utf-8"))["rules"]
    for form, spec in DOMAIN["forms"].items():
        for slot in spec["required_slots"]:
            for mapping in DOMAIN["slots"][slot]["mappings"]:
                assert set(answered) <= set(mapping.get("not_intent") or []), (form, slot)
        handled = {
            (r["steps"][0]["intent"], r["steps"][1]["action"])
            for r in inside
            if r.get("condition") == [{"active_loop": form}] and "intent" in r["steps"][0]
        }
        assert set(answered.items()) <= handled, form

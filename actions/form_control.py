"""Leaving a form, questions inside a form, and the wait for a person.

How a caller steers a form (Rasa 3.6's own means, see data/rules/form_control.yml):

- Each form slot is filled ``from_text`` except when the message's intent is one
  that is not an answer (``not_intent`` in domain.yml): ``form_cancel`` (「取消」
  「算了」), a question (loan_ask, ...), chitchat, a hotline question. The form is
  then rejected and a rule with ``condition: active_loop`` takes over: a cancel runs
  ``action_deactivate_loop`` and :class:`ActionCancelForm`; a question is answered and
  the form runs again, whose question is then 「要繼續…嗎？」 (:class:`AskSlot`).
- A refusal the classifier missed is caught by validation
  (:func:`bot.handoff.contact.is_refusal`): the validator ends the form with
  ``form_cancelled`` set, and the form's submit action says the same as a cancel.
- While a ticket waits for a person the conversation is paused (ConversationPaused),
  so no policy runs. Two of Rasa's mechanisms still do: slot extraction ends with the
  global ``action_validate_slot_mappings`` on every message, whose bot messages are
  sent (:class:`ActionWhileWaiting` acknowledges each message once), and the
  ``restart`` intent is handled while paused; this bot's
  ``action_restart`` (:class:`ActionWithdraw`) does not restart the conversation but
  withdraws the request and resumes the bot (「取消轉接」 text or button).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActiveLoop, ConversationResumed, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.disaster import REPORT_SLOTS
from actions.guard import guarded
from actions.handoff import CANCEL_BUTTON, HANDOFF_SLOTS, WITHDRAW_BUTTON, UsesTickets, cancel, clear_forms
from bot.eligibility import FORM_SLOTS as ELIGIBILITY_SLOTS
from bot.handoff.contact import is_refusal

FORMS: dict[str, tuple[str, ...]] = {
    "handoff_form": HANDOFF_SLOTS,
    "disaster_report_form": REPORT_SLOTS,
    "eligibility_form": ELIGIBILITY_SLOTS,
}
# Intents after which a form's question is not repeated as such: the caller asked to go on.
GOING_ON = {"form_resume", "handoff_request", "dialogue_affirm"}


def was_rejected_this_turn(tracker: Tracker) -> bool:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return False
        if event.get("event") == "action_execution_rejected":
            return True
    return False


class ActionCancelForm(UsesTickets, Action):
    """After ``action_deactivate_loop``: the caller left the form."""

    def name(self) -> str:
        return "action_cancel_form"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        return cancel(dispatcher, self.tickets, tracker, domain)


class ActionSwitchToHandoff(Action):
    """Asked for a person inside another form: that form's answers go, the handoff form starts."""

    def name(self) -> str:
        return "action_switch_to_handoff"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        return clear_forms(domain, tracker)


def asked_before(tracker: Tracker, slot: str) -> bool:
    """The form was already asking for ``slot`` when the caller's latest message came (a resume, a refused answer)."""
    requested = at_message = None
    for event in tracker.events:
        if event.get("event") == "slot" and event.get("name") == "requested_slot":
            requested = event.get("value")
        elif event.get("event") == "user":
            at_message = requested
    return at_message == slot


class AskSlot:
    """A form's question (``action_ask_<form>_<slot>``), with a 「取消」 button.

    Right after a question or chitchat inside the form was answered (the form was
    rejected this turn, then run again by the interruption rule), it asks whether to
    go on instead (「要繼續留下聯絡資料嗎？」), so the caller can also drop the form.
    A question asked again (after 「繼續」, or an answer it could not take) is
    ``utter_ask_again_<form>_<slot>`` where the domain has one: the form's opening
    (「很遺憾您遇到災害，我來協助您通報。」) is said once.
    """

    form: ClassVar[str]
    slot: ClassVar[str]

    def name(self) -> str:
        return f"action_ask_{self.form}_{self.slot}"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if was_rejected_this_turn(tracker) and intent not in GOING_ON:
            dispatcher.utter_message(response=f"utter_ask_continue_{self.form}")
            return []
        responses = domain.get("responses") or {}
        response = f"utter_ask_{self.form}_{self.slot}"
        again = f"utter_ask_again_{self.form}_{self.slot}"
        if again in responses and asked_before(tracker, self.slot):
            response = again
        own = [b for variant in responses.get(response, []) for b in variant.get("buttons") or []]
        has_way_out = any(b.get("payload") == CANCEL_BUTTON["payload"] for b in own)  # 「不用了」 at the consent step
        dispatcher.utter_message(response=response, buttons=[] if has_way_out else [CANCEL_BUTTON])
        return []


# rasa_sdk registers every Action subclass; one class per question (AskSlot itself is not an Action).
for _form, _slots in FORMS.items():
    for _slot in _slots:
        _name = "".join(p.title() for p in f"ask_{_form}_{_slot}".split("_"))
        globals()[_name] = type(_name, (AskSlot, Action), {"form": _form, "slot": _slot, "__module__": __name__})


class ActionWhileWaiting(UsesTickets, Action):
    """``action_validate_slot_mappings``: runs on every message; speaks only while paused.

    While a ticket waits for a person the policies are off; this acknowledges each
    message once, so the caller knows it reached the staff (it is in the transcript
    the console shows), and records it on the ticket, so the console's queue flags the
    ticket until staff reply. A 「取消」 while waiting asks whether to withdraw the request.
    """

    def name(self) -> str:
        return "action_validate_slot_mappings"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        if not tracker.is_paused():
            return []
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        if intent == "restart":
            return []  # ActionWithdraw answers
        ticket = self.tickets.open_for(tracker.sender_id)
        if ticket is not None:
            self.tickets.caller_wrote(ticket.id)
        state = {"state": "waiting", "ticket": ticket.id if ticket else None}
        if intent in ("form_cancel", "dialogue_deny") or is_refusal(str(tracker.latest_message.get("text") or "")):
            dispatcher.utter_message(response="utter_handoff_withdraw_confirm", handoff=state)
        else:
            dispatcher.utter_message(response="utter_handoff_waiting_ack", handoff=state)
        return []


# Words that withdraw (the classifier also hears 「請問還要等多久」 as ``restart``; that is no withdrawal).
_WITHDRAWS = re.compile(r"取消|撤回|撤銷|不用|不要|不需要|不等|免了|算了|機器人就好|自己查|cancel", re.IGNORECASE)


def withdraws(text: str) -> bool:
    return text.strip() == WITHDRAW_BUTTON["payload"] or bool(_WITHDRAWS.search(text))


class ActionWithdraw(UsesTickets, Action):
    """This bot's ``action_restart``: withdraw a waiting request (「取消轉接」), or leave a form.

    It never restarts the conversation: the scheme under discussion and the history
    stay. Rasa handles the ``restart`` intent even while the conversation is paused,
    which is why withdrawal uses it.
    """

    def name(self) -> str:
        return "action_restart"

    @guarded
    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[dict[str, Any]]:
        store = self.tickets
        if not withdraws(str(tracker.latest_message.get("text") or "")):
            # Not a withdrawal after all: while waiting, acknowledge (and flag) like any message; else say we did not follow.
            waiting = store.open_for(tracker.sender_id) if tracker.is_paused() else None
            if waiting is not None:
                store.caller_wrote(waiting.id)
            dispatcher.utter_message(response="utter_handoff_waiting_ack" if tracker.is_paused() else "utter_default")
            return []
        ticket = store.open_for(tracker.sender_id)
        if ticket is not None:
            store.withdraw(ticket.id)
            dispatcher.utter_message(
                response="utter_handoff_withdrawn",
                ticket=ticket.id,
                handoff={"state": "withdrawn", "ticket": ticket.id},
            )
            return [ConversationResumed()]
        if tracker.is_paused():
            dispatcher.utter_message(response="utter_handoff_resumed", handoff={"state": "closed"})
            return [ConversationResumed()]
        if tracker.active_loop.get("name"):
            return [ActiveLoop(None), SlotSet("requested_slot", None), *cancel(dispatcher, store, tracker, domain)]
        dispatcher.utter_message(response="utter_handoff_nothing_to_withdraw")
        return []

"""The Rasa custom actions: answer, hand off, and take feedback.

Thin on purpose: ``actions.dialogue`` decides, ``actions.answers`` builds the text from the record
with the domain's responses, ``web.cases`` queues handoffs and stores feedback. The knowledge base
(model, index, gate) loads once per action-server process, on the first question.

Every answering, clarifying or handing-off turn carries the machine-readable payload of
ARCHITECTURE.md as the message's ``custom`` object.
"""

from __future__ import annotations

import logging
import os
import threading
from functools import lru_cache
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ConversationPaused, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.answers import Phrases, age_note, facts, source_line
from actions.dialogue import Context, Dialogue, Message, Turn
from knowledge_base.service import KnowledgeBase, open_store
from knowledge_base.settings import get_settings
from web.cases import CaseService

log = logging.getLogger(__name__)

DomainDict = dict[str, Any]


@lru_cache(maxsize=1)
def dialogue() -> Dialogue:
    settings = get_settings()
    return Dialogue(KnowledgeBase(settings), open_store(settings))


@lru_cache(maxsize=1)
def cases() -> CaseService:
    return CaseService.for_url(get_settings().database_url)


def message_of(tracker: Tracker) -> Message:
    latest = tracker.latest_message or {}
    read = latest.get("intent") or {}
    intent = read.get("name") or "nlu_fallback"
    confidence = read.get("confidence")
    ranking = [i.get("name") for i in latest.get("intent_ranking") or ()]
    others = [name for name in ranking if name not in (intent, "nlu_fallback")]
    return Message(
        text=latest.get("text") or "",
        intent=intent,
        entities=tuple(latest.get("entities") or ()),
        confidence=float(confidence) if confidence is not None else 1.0,
        runner_up=others[0] if others else None,
    )


def context_of(tracker: Tracker) -> Context:
    return Context(
        procedure=tracker.get_slot("procedure_code"),
        aspect=tracker.get_slot("aspect"),
        options=tuple(tracker.get_slot("options") or ()),
    )


def hand_off(
    dispatcher: CollectingDispatcher, tracker: Tracker, reason: str, matter: str = ""
) -> list[EventType]:
    """Queue the conversation for an officer, tell the citizen what happens next, pause the bot.
    ``matter`` fills the ``not_covered`` reason's sentence."""
    message = message_of(tracker)
    dispatcher.utter_message(response=f"utter_handoff_{reason}", **({"matter": matter} if matter else {}))
    try:
        case = cases().open_case(
            tracker.sender_id, reason, question=message.text, procedure=tracker.get_slot("procedure_code") or ""
        )
    except Exception:  # the citizen must still be told where to go
        log.exception("could not open a handoff case for %s", tracker.sender_id)
        dispatcher.utter_message(
            response="utter_handoff_failed", json_message={"kind": "handoff", "case_id": None, "reason": reason}
        )
        return [SlotSet("awaiting_feedback", False)]
    dispatcher.utter_message(
        response="utter_handoff_next",
        case_id=case.id,
        json_message={"kind": "handoff", "case_id": case.id, "reason": reason},
    )
    return [SlotSet("awaiting_feedback", False), ConversationPaused()]


def say_answer(dispatcher: CollectingDispatcher, turn: Turn, say: Phrases, ages: list[str]) -> None:
    procedure = turn.procedure
    assert procedure is not None
    payload = {"kind": "answer", "procedure": procedure.code, "aspect": turn.aspect}
    lines = facts(procedure, turn.aspect, say)
    source = source_line(procedure, say)
    if lines is None:
        aspect_label = say(f"utter_part_aspect_{turn.aspect}")
        dispatcher.utter_message(
            response="utter_answer_missing",
            name=procedure.name,
            code=procedure.code,
            aspect_label=aspect_label,
            source=source,
            json_message=payload,
        )
        return
    note = age_note(procedure, ages, say)
    dispatcher.utter_message(
        response=f"utter_answer_{turn.aspect}",
        name=procedure.name,
        code=procedure.code,
        facts=f"{lines}\n{note}" if note else lines,
        source=source,
        json_message=payload,
    )


class ActionAnswer(Action):
    """Answer a question about a procedure, ask which one is meant, or hand off."""

    def name(self) -> str:
        return "action_answer"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        message = message_of(tracker)
        try:
            turn = dialogue().respond(message, context_of(tracker))
        except Exception:  # a broken index or database must not leave the citizen without a reply
            log.exception("answering %r failed; handing off", message.text[:200])
            return hand_off(dispatcher, tracker, "low_confidence")
        say = Phrases(domain.get("responses", {}))
        if turn.kind == "answer":
            say_answer(dispatcher, turn, say, message.entity_values("age"))
            dispatcher.utter_message(response="utter_ask_helpful")
            return [
                SlotSet("procedure_code", turn.procedure.code),
                SlotSet("aspect", turn.aspect),
                SlotSet("options", []),
                SlotSet("awaiting_feedback", True),
                SlotSet("last_question", message.text[:1000]),
            ]
        if turn.kind == "clarify":
            codes = [p.code for p in turn.options]
            dispatcher.utter_message(
                response="utter_clarify",
                buttons=[
                    {"title": p.name, "payload": f'/choose_procedure{{"procedure":"{p.code}"}}'} for p in turn.options
                ],
                json_message={"kind": "clarify", "options": codes},
            )
            return [SlotSet("options", codes), SlotSet("aspect", turn.aspect), SlotSet("awaiting_feedback", False)]
        if turn.kind == "ask_which":
            dispatcher.utter_message(response="utter_ask_which_procedure")
            return [SlotSet("aspect", turn.aspect), SlotSet("awaiting_feedback", False)]
        return hand_off(dispatcher, tracker, turn.reason, turn.matter)


class ActionHandoff(ActionAnswer):
    """Where the rules send asking for a person, complaining and out-of-scope messages. The dialogue
    decides as for any message: it hands these off with the intent as the reason, except an English
    question the NLU did not recognise (``dialogue.read_intent``) and a complaint or out-of-scope
    reading that retrieval shows to be a question (``Dialogue._question_after_all``), which it answers."""

    def name(self) -> str:
        return "action_handoff"


class ActionFeedback(Action):
    """Take "yes"/"no" after "was this helpful?"; any other yes or no gets "what can I help with?"."""

    def name(self) -> str:
        return "action_feedback"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if not tracker.get_slot("awaiting_feedback"):
            dispatcher.utter_message(response="utter_how_can_help")
            return []
        helpful = message_of(tracker).intent == "affirm"
        try:
            cases().record_feedback(
                tracker.sender_id,
                helpful,
                procedure=tracker.get_slot("procedure_code") or "",
                aspect=tracker.get_slot("aspect") or "",
                question=tracker.get_slot("last_question") or "",
            )
        except Exception:  # losing one vote must not break the conversation
            log.exception("could not store feedback for %s", tracker.sender_id)
        dispatcher.utter_message(response="utter_feedback_thanks" if helpful else "utter_feedback_sorry")
        return [SlotSet("awaiting_feedback", False)]


def _warm_up() -> None:
    try:
        dialogue().warm_up()
    except Exception:  # reported again, with its cause, on the first question
        log.exception("warming up the knowledge base failed")


if os.environ.get("ACTIONS_WARM_UP") == "1":
    # The action server imports this module at start: load the model and index in the background so
    # the first citizen does not wait for them.
    threading.Thread(target=_warm_up, name="kb-warm-up", daemon=True).start()

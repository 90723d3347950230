"""``SmallTalkGuard``: a long question is not small talk, whatever DIET called it.

DIET learned the small-talk intents (greet, goodbye, thank, affirm, deny, bot_challenge) from short
messages: none of their training examples holds more than six words that could name a procedure. It
still reads the odd long question that way ("Thêm việc nữa, người thuê mới là người Hàn Quốc, tôi cần
bản dịch hợp đồng … có chứng thực chữ ký người dịch, phường có làm không?" came out as bot_challenge),
and the rules then reply "I am a bot" or take the question for an answer to "was this helpful?".

Placed after the ``FallbackClassifier`` in ``config.yml``, this component turns such a reading into
``nlu_fallback`` when the message holds at least ``MIN_TOPIC_WORDS`` procedure words and asks something
(:func:`knowledge_base.text.asks_something`). The action then treats it as any message the NLU could
not read: searched, answered when retrieval is sure, a follow-up when it asks about one aspect, else
handed off. The intent ranking is kept, so the action still sees DIET's runner-up.

A thanks, greeting, goodbye or "ok" followed by a question in the same message ("Ok cảm ơn. Làm lại
thì có mất tiền không?", "Ok cảm ơn. Tiện hỏi luôn mai trời có mưa không") is read by its opening, and
the rules would only thank. Such a reading goes to the fallback too when a later clause asks something
and names a topic: two procedure words or an aspect word ("mất tiền"), not only the words of asking
("chào ad, cho em hỏi chút được không" stays a greeting).

Every bot_challenge example asks about the one answering ("bạn là người hay máy", "bot hả", "ai đang trả
lời", "are you human"). A short follow-up that names none of that is a question about the procedure:
"người bán có cần đi cùng không" (the seller, not "bạn") and "ông ấy có phải làm gì trước không hay mình
tự đi là được" came out as bot_challenge, and the rules answered "I am a bot". Such a reading that asks
something goes to the fallback, where a short question keeps the procedure in context. One that asks
to be put through to a person ("I don't want to chat with a bot. Can I please speak to a real person?")
is a request for a person: no bot_challenge example asks for one.
"""

from __future__ import annotations

import re
from functools import cache

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.components.stateless import StatelessComponent
from knowledge_base.text import (
    asks_something,
    aspect_words,
    clause_asks,
    clauses,
    folded_text,
    folded_words,
    procedure_words,
)

SMALL_TALK = frozenset({"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge"})
FALLBACK = "nlu_fallback"
REQUEST_HUMAN = "request_human"
#: One more than the most procedure words in any small-talk training example ("cam on thong tin rat
#: huu ich" has six); a test in tests/bot/test_components.py keeps the training data below it.
MIN_TOPIC_WORDS = 7


#: Readings that may open a message before its question (see the module docstring).
OPENINGS = frozenset({"greet", "goodbye", "thank", "affirm"})
#: Aspect words of ``aspect_terms.yml`` that only say the citizen is asking ("cho hỏi", "muốn").
ASKING_WORDS = frozenset({"muon", "hoi", "giup", "vui_long", "xin_hoi", "cho_hoi"})


#: Words that ask about the one answering; each bot_challenge example holds one (a test keeps it so).
#: Matched on ``folded_text``, after teencode expansion ("ng thật" is already "nguoi that").
_ABOUT_THE_BOT = re.compile(
    r"\b(bot|chatbot|robot|ai|may|nguoi that|tu dong|tra loi|chat ?gpt|gpt|ban la|ad la|em la|e la|"
    r"ban co phai|can bo|human|person|real|machine|you)\b"
)


#: Asking to be put through to a person: "cho em gặp", "muốn nói chuyện với", "speak to a real person".
_ASKS_FOR_A_PERSON = re.compile(
    r"\b(cho (toi|em|e|minh|tui) (gap|noi chuyen)|cho gap|(muon|can) (gap|noi chuyen)|"
    r"chuyen (cho|sang) (can bo|nguoi|nhan vien)|khong muon (chat|noi chuyen|noi) voi (bot|may)|"
    r"(speak|talk) (to|with) (a|an|the|someone|somebody|real|human|person|officer|staff)|"
    r"(want|like|need) to (speak|talk)|let me (speak|talk))\b"
)


def asks_for_a_person(text: str) -> bool:
    """Whether ``text`` asks to be put through to a person ("cho em gặp cán bộ", "can I speak to …")."""
    return bool(_ASKS_FOR_A_PERSON.search(folded_text(text)))


def asks_about_the_bot(text: str) -> bool:
    """Whether ``text`` names the one answering: a bot, a machine, a real person, "bạn là", "you"."""
    return bool(_ABOUT_THE_BOT.search(folded_text(text)))


def is_question_not_small_talk(text: str) -> bool:
    """Whether ``text`` is too long a question to be small talk (see the module docstring)."""
    return len(procedure_words(text)) >= MIN_TOPIC_WORDS and asks_something(text)


def asks_after_small_talk(text: str) -> bool:
    """Whether a clause after the first asks something and names a topic (see the module docstring)."""
    return any(clause_asks(clause, end) and _names_a_topic(clause) for clause, end in clauses(text)[1:])


def _names_a_topic(clause: str) -> bool:
    """Two procedure words or an aspect word, in a clause of three words or more ("anyone there?" is a
    greeting, "mai trời có mưa không" and "thế nộp ở đâu" are questions)."""
    words = folded_words(clause)
    if len(words) < 3:
        return False
    if len(procedure_words(clause)) >= 2:
        return True
    terms = _topic_aspect_words()
    return any(word in terms for word in words) or any(f"{a}_{b}" in terms for a, b in zip(words, words[1:]))


@cache
def _topic_aspect_words() -> frozenset[str]:
    return aspect_words() - ASKING_WORDS


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class SmallTalkGuard(StatelessComponent):
    """Turn a small-talk reading of a long question, or of a question after small talk, into
    ``nlu_fallback``, and a bot_challenge reading that asks for a person into ``request_human`` (see the
    module docstring)."""

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            intent = message.get(INTENT) or {}
            name = intent.get(INTENT_NAME_KEY)
            if name not in SMALL_TALK:
                continue
            text = message.get(TEXT) or ""
            if name == "bot_challenge":
                if asks_for_a_person(text):
                    _relabel(message, REQUEST_HUMAN)
                    continue
                if not asks_about_the_bot(text) and asks_something(text):
                    _relabel(message, FALLBACK)
                    continue
            if is_question_not_small_talk(text) or (name in OPENINGS and asks_after_small_talk(text)):
                _relabel(message, FALLBACK)
        return messages


def _relabel(message: Message, name: str) -> None:
    """Give ``message`` the intent ``name`` with DIET's confidence; the ranking stays DIET's."""
    confidence = (message.get(INTENT) or {}).get(PREDICTED_CONFIDENCE_KEY)
    message.set(INTENT, {INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: confidence}, add_to_output=True)

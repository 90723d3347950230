"""``SmallTalkGuard``: a long question is not small talk, whatever DIET called it.

DIET learned the small-talk intents (greet, goodbye, thank, affirm, deny, bot_challenge) from short
messages: none of their training examples holds more than six words that could name a procedure. It
still reads the odd long question that way ("Thêm việc nữa, người thuê mới là người Hàn Quốc, tôi cần
bản dịch hợp đồng … có chứng thực chữ ký người dịch, phường có làm không?" came out as bot_challenge),
and the rules then reply "I am a bot" or take the question for an answer to "was this helpful?".

Placed after the ``FallbackClassifier`` in ``config.yml``, this component turns such a reading into
``nlu_fallback`` when the message holds at least ``MIN_TOPIC_WORDS`` procedure words and asks something
(:func:`knowledge_base.text.asks_something`). The action then treats it as any message the NLU could
not read: searched, answered when retrieval is sure, else handed off. The intent ranking is kept, so
the action still sees DIET's runner-up.
"""

from __future__ import annotations

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.components.stateless import StatelessComponent
from knowledge_base.text import asks_something, procedure_words

SMALL_TALK = frozenset({"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge"})
FALLBACK = "nlu_fallback"
#: One more than the most procedure words in any small-talk training example ("cam on thong tin rat
#: huu ich" has six); a test in tests/bot/test_components.py keeps the training data below it.
MIN_TOPIC_WORDS = 7


def is_question_not_small_talk(text: str) -> bool:
    """Whether ``text`` is too long a question to be small talk (see the module docstring)."""
    return len(procedure_words(text)) >= MIN_TOPIC_WORDS and asks_something(text)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=False)
class SmallTalkGuard(StatelessComponent):
    """Turn a small-talk reading of a long question into ``nlu_fallback`` (see the module docstring)."""

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            intent = message.get(INTENT) or {}
            if intent.get(INTENT_NAME_KEY) not in SMALL_TALK:
                continue
            if is_question_not_small_talk(message.get(TEXT) or ""):
                confidence = intent.get(PREDICTED_CONFIDENCE_KEY)
                fallback = {INTENT_NAME_KEY: FALLBACK, PREDICTED_CONFIDENCE_KEY: confidence}
                message.set(INTENT, fallback, add_to_output=True)
        return messages

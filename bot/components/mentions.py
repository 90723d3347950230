"""``ProcedureMentionFilter``: drop ``procedure`` entities that cannot name a procedure.

DIET sometimes tags a lone filler or aspect word as a procedure mention ("thế", "xin", "ra sao",
"hồ sơ"). Such a span names nothing: the knowledge base would search for it, and the conversation
would seem to switch procedure. This component, placed after DIET in ``config.yml``, removes every
``procedure`` entity whose words are all fillers or aspect words
(:func:`knowledge_base.text.topic_words` returns nothing for it), and every one that is half of an
aspect word with the syllable next to it ("nop [ho] so" — "hồ sơ"). Other entities pass untouched;
spans are never trimmed, so annotations that start with "làm ..." still match.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.shared.nlu.constants import ENTITIES
from rasa.shared.nlu.training_data.message import Message

from bot.components.stateless import StatelessComponent
from knowledge_base.text import folded_words, is_aspect_pair, topic_words

ENTITY = "procedure"


def names_something(text: str, entity: dict[str, Any]) -> bool:
    """True when the mention ``entity`` of ``text`` may name a procedure (see the module docstring)."""
    value = str(entity.get("value", ""))
    if not topic_words(value):
        return False
    words = folded_words(value)
    start, end = entity.get("start"), entity.get("end")
    if words and isinstance(start, int) and isinstance(end, int):
        before, after = folded_words(text[:start])[-1:], folded_words(text[end:])[:1]
        if (before and is_aspect_pair(before[0], words[0])) or (after and is_aspect_pair(words[-1], after[0])):
            return False
    return True


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class ProcedureMentionFilter(StatelessComponent):
    """Remove ``procedure`` entities made only of fillers and aspect words (see the module docstring)."""

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            entities = message.get(ENTITIES) or []
            text = message.get("text") or ""
            kept = [e for e in entities if e.get("entity") != ENTITY or names_something(text, e)]
            if len(kept) != len(entities):
                message.set(ENTITIES, kept, add_to_output=True)
        return messages

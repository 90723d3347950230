"""``ProcedureMentionFilter``: drop ``procedure`` entities that cannot name a procedure.

DIET sometimes tags a lone filler or aspect word as a procedure mention ("thế", "xin", "ra sao",
"hồ sơ"). Such a span names nothing: the knowledge base would search for it, and the conversation
would seem to switch procedure. This component, placed after DIET in ``config.yml``, removes every
``procedure`` entity whose words are all fillers or aspect words
(:func:`knowledge_base.text.topic_words` returns nothing for it). Other entities pass untouched;
spans are never trimmed, so annotations that start with "làm ..." still match.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from knowledge_base.text import topic_words

ENTITY = "procedure"


def names_something(value: str) -> bool:
    """True when a mention holds at least one word that may name a procedure."""
    return bool(topic_words(value))


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR, is_trainable=False)
class ProcedureMentionFilter(GraphComponent):
    """Remove ``procedure`` entities made only of fillers and aspect words (see the module docstring)."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "ProcedureMentionFilter":
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            entities = message.get(ENTITIES) or []
            kept = [e for e in entities if e.get("entity") != ENTITY or names_something(str(e.get("value", "")))]
            if len(kept) != len(entities):
                message.set(ENTITIES, kept, add_to_output=True)
        return messages

"""``StatelessComponent``: the Rasa graph-component plumbing of a component that has no settings, learns
nothing and stores nothing (``ProcedureMentionFilter``, ``SmallTalkGuard``); subclasses write
``process`` only."""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.training_data import TrainingData


class StatelessComponent(GraphComponent):
    """A graph component built without settings whose training data passes through unchanged."""

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "StatelessComponent":
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data

"""The knowledge base as one object per process: store, embedder, index, retriever and gate.

``KnowledgeBase.from_settings()`` builds nothing heavy; the model and the index load on the first
question (or ``warm_up()``), once. The bot's actions and the CLI use the same ``ask``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from knowledge_base.corpus import sync_ward_corpus
from knowledge_base.db import session_factory
from knowledge_base.embedder import Embedder, embedder_from_settings
from knowledge_base.gate import Decision, GateConfig, decide, load_gate_config
from knowledge_base.index import load_index
from knowledge_base.retriever import Candidate, QueryError, Retriever
from knowledge_base.settings import Settings, get_settings
from knowledge_base.store import ProcedureStore


def open_store(settings: Settings) -> ProcedureStore:
    """Open (and migrate) the database; a brand-new database gets the team's ward corpus."""
    store = ProcedureStore(session_factory(settings.database_url))
    if store.count() == 0:
        sync_ward_corpus(store, settings.corpus_dir)
    return store


@dataclass
class Answer:
    question: str
    candidates: list[Candidate]
    decision: Decision


class KnowledgeBase:
    """Retrieval plus the confidence gate, loaded lazily.

    Args:
        settings: the process settings.
        embedder: override the embedder (tests pass a fake).
        gate: override the gate thresholds.
    """

    def __init__(self, settings: Settings, *, embedder: Embedder | None = None, gate: GateConfig | None = None) -> None:
        self.settings = settings
        self._embedder = embedder
        self._gate = gate

    @classmethod
    def from_settings(cls) -> "KnowledgeBase":
        return cls(get_settings())

    @cached_property
    def embedder(self) -> Embedder:
        return self._embedder or embedder_from_settings(self.settings)

    @cached_property
    def retriever(self) -> Retriever:
        index = load_index(self.settings.index_dir, expected_model=self.embedder.name)
        return Retriever(self.embedder, index)

    @cached_property
    def gate(self) -> GateConfig:
        if self._gate:
            return self._gate
        return load_gate_config(model=self.embedder.name, procedures=self.retriever.index.manifest.get("procedures"))

    def warm_up(self) -> None:
        """Load the model and the index now rather than on the first question, and switch the
        embedder to its fast path for questions where it has one (long-running processes call this)."""
        enable = getattr(self.embedder, "enable_fast_queries", None)
        if enable is not None:
            enable()
        self.retriever.search("đăng ký khai sinh", k=1)

    def ask(self, question: str, k: int = 5) -> Answer:
        """Rank procedures for ``question`` and decide: answer, clarify or hand off.

        An empty or over-long question is not an error here: it yields a handoff decision whose
        reason says why ("empty", "too_long").
        """
        try:
            candidates = self.retriever.search(question, k=max(k, 5))
        except QueryError as exc:
            return Answer(question, [], Decision("handoff", reason=exc.reason))
        return Answer(question, candidates[:k], decide(candidates, self.gate))

"""Hybrid retrieval: dense (FAISS) and lexical (BM25) scores fused per procedure.

``Retriever(embedder, index)`` answers ``search(question)`` with ranked ``Candidate`` objects that carry
every signal the confidence gate needs (fused score, each retriever's score and rank).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from knowledge_base.embedder import Embedder
from knowledge_base.index import IndexMismatchError, SearchIndex, dense_search
from knowledge_base.text import english_search_text
from knowledge_base.variants import cued_markers, name_markers

MAX_QUERY_CHARS = 2000


class QueryError(ValueError):
    """The question cannot be searched (empty, or too long); ``reason`` is machine-readable."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class RetrievalConfig:
    """Fusion weights, chosen on the dev question set (see benchmarks/README.md).

    Ranking fuses the dense cosine with the lexical score relative to the best lexical match for the
    question, plus a small bonus for ward-level procedures (this is a ward's desk) and a larger one for
    a variant procedure whose action the question names (``knowledge_base.variants``). Confidence, used
    by the gate, mixes the dense cosine with the lexical score relative to what a perfect match of the
    question would score, so it means the same across questions.
    """

    dense_weight: float = 0.4
    lexical_weight: float = 0.6
    ward_level_bonus: float = 0.02
    variant_bonus: float = 0.2
    confidence_dense_weight: float = 0.5
    dense_chunks: int = 256
    pool: int = 60


@dataclass(frozen=True)
class Candidate:
    """One ranked procedure with the signals behind its rank.

    ``score`` ranks candidates for one question; ``confidence`` (0..1) is comparable across
    questions; ``dense`` is the best chunk's cosine; ``lexical`` the BM25 score as a share of a
    perfect match of the question; ``coverage`` how much of the procedure's name or best alias the
    question contains (``LexicalIndex.coverage``).
    """

    code: str
    name: str
    score: float
    dense: float
    lexical: float
    dense_rank: int | None
    lexical_rank: int | None
    level: list[str] = field(default_factory=list)
    confidence: float = 0.0
    coverage: float = 0.0


class Retriever:
    """Ranks procedures for a citizen's question.

    Args:
        embedder: encodes the question; must be the model the index was built with.
        index: a loaded ``SearchIndex``.
        config: fusion weights.

    Raises:
        IndexMismatchError: when the embedder is not the index's model.
    """

    def __init__(self, embedder: Embedder, index: SearchIndex, config: RetrievalConfig | None = None) -> None:
        if index.manifest["model"] != embedder.name:
            raise IndexMismatchError(
                f"index built with {index.manifest['model']!r}, embedder is {embedder.name!r}; "
                "rebuild with: python -m knowledge_base index"
            )
        self.embedder = embedder
        self.index = index
        self.config = config or RetrievalConfig()
        self._entries = index.by_code
        self._lexical_codes = np.array(index.lexical.codes)
        self._lexical_positions = {code: i for i, code in enumerate(index.lexical.codes)}
        self._name_markers = {code: name_markers(entry.name) for code, entry in self._entries.items()}

    def search(self, question: str, k: int = 10) -> list[Candidate]:
        """Return up to ``k`` candidates, best first.

        Raises:
            QueryError: ``reason`` "empty" for a blank question, "too_long" past MAX_QUERY_CHARS.
        """
        text = (question or "").strip()
        if not text:
            raise QueryError("empty", "the question is empty")
        if len(text) > MAX_QUERY_CHARS:
            raise QueryError("too_long", f"the question has {len(text)} characters; at most {MAX_QUERY_CHARS}")
        if k < 1:
            raise ValueError("k must be at least 1")
        cfg = self.config
        vector = self.embedder.encode([text])[0]
        if english := english_search_text(text):
            # An English question: the model (English by birth, trained on English sample questions
            # too) reads it as written; the lexical index gets its Vietnamese rendering and the
            # English words no glossary phrase covered (``english_search_text``).
            text = english
        dense = dense_search(self.index, vector, cfg.dense_chunks)
        lex_scores, ceiling, coverage = self.index.lexical.match(text)
        lexical: dict[str, float] = {}
        best_lexical = float(lex_scores.max()) if ceiling > 0 else 0.0
        if best_lexical > 0:
            top = np.argsort(-lex_scores)[: cfg.pool]
            lexical = {str(self._lexical_codes[i]): float(lex_scores[i]) for i in top if lex_scores[i] > 0}
        dense_ranked = sorted(dense, key=dense.get, reverse=True)[: cfg.pool]
        dense_rank = {c: r for r, c in enumerate(dense_ranked, 1)}
        lexical_rank = {c: r for r, c in enumerate(sorted(lexical, key=lexical.get, reverse=True), 1)}
        dense_floor = min(dense.values()) if dense else 0.0
        cued = cued_markers(text)
        candidates = []
        for code in set(dense_ranked) | set(lexical):
            entry = self._entries[code]
            d = dense.get(code, dense_floor)
            raw = lexical.get(code, 0.0)
            bonus = cfg.ward_level_bonus if "Cấp xã" in entry.level else 0.0
            if cued & self._name_markers[code]:
                bonus += cfg.variant_bonus
            score = cfg.dense_weight * d + cfg.lexical_weight * raw / best_lexical if best_lexical else cfg.dense_weight * d
            lx = min(raw / ceiling, 1.0) if ceiling else 0.0
            confidence = cfg.confidence_dense_weight * max(d, 0.0) + (1 - cfg.confidence_dense_weight) * lx
            candidates.append(
                Candidate(
                    code, entry.name, score + bonus, d, lx, dense_rank.get(code), lexical_rank.get(code), entry.level,
                    confidence, float(coverage[self._lexical_positions[code]]),
                )
            )
        candidates.sort(key=lambda c: c.score, reverse=True)
        return candidates[:k]

"""Lexical retrieval: field-weighted BM25 over accent-folded syllables and syllable bigrams.

Vietnamese words are mostly one or two syllables, so syllable bigrams ("khai_sinh") stand in for words
and make the index robust to questions typed without diacritics; every text goes through the same
``knowledge_base.text`` rules (NFC, teencode, synonyms, folding) on both sides.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np
from scipy import sparse

#: Folded function words that carry no procedure meaning as unigrams (they still form bigrams).
STOP_SYLLABLES = frozenset(
    "a ah a_ la ma thi va voi cua cho toi em anh chi minh ban oi nhe nhi vay the nao gi sao "
    "bao nhieu can phai lam duoc khong hay hoac nhung cac mot nhu nay do o tai ve di den tu "
    "thu tuc".split()
)


ASPECT_TERMS_FILE = Path(__file__).resolve().parent / "data" / "aspect_terms.yml"


@lru_cache(maxsize=1)
def aspect_terms() -> tuple[frozenset[str], float]:
    """Return the folded aspect words (fee, time, place...) and the weight a query gives them."""
    import yaml

    data = yaml.safe_load(ASPECT_TERMS_FILE.read_text(encoding="utf-8"))
    weight = float(data["weight"])
    if not 0 <= weight <= 1:
        raise ValueError(f"{ASPECT_TERMS_FILE}: weight must be between 0 and 1")
    return frozenset(data["terms"]), weight


def analyze(text: str) -> list[str]:
    """Return the index terms of ``text``: folded syllables (minus stop syllables) and bigrams.

    Example: ``analyze("đăng ký khai sinh")`` gives ``["dang", "ky", "khai", "sinh", "dang_ky",
    "ky_khai", "khai_sinh"]``.
    """
    from knowledge_base.text import query_forms

    syllables = query_forms(text).folded.split()
    terms = [s for s in syllables if s not in STOP_SYLLABLES]
    terms.extend(f"{a}_{b}" for a, b in zip(syllables, syllables[1:]) if not (a in STOP_SYLLABLES and b in STOP_SYLLABLES))
    return terms


@dataclass
class BM25Field:
    """BM25 weights of one text field over all documents: a (documents x vocabulary) sparse matrix."""

    weights: sparse.csr_matrix
    idf: np.ndarray

    @classmethod
    def build(cls, docs: Sequence[list[str]], vocab: dict[str, int], *, k1: float = 1.2, b: float = 0.75) -> "BM25Field":
        rows, cols, vals = [], [], []
        lengths = np.array([len(d) for d in docs], dtype=np.float32)
        avg = float(lengths.mean()) if len(docs) and lengths.mean() > 0 else 1.0
        df = np.zeros(len(vocab), dtype=np.float32)
        for i, doc in enumerate(docs):
            counts: dict[int, int] = {}
            for term in doc:
                counts[vocab[term]] = counts.get(vocab[term], 0) + 1
            for j, tf in counts.items():
                rows.append(i)
                cols.append(j)
                vals.append(tf * (k1 + 1) / (tf + k1 * (1 - b + b * lengths[i] / avg)))
                df[j] += 1
        n = max(len(docs), 1)
        idf = np.log(1 + (n - df + 0.5) / (df + 0.5)).astype(np.float32)
        matrix = sparse.csr_matrix((vals, (rows, cols)), shape=(len(docs), len(vocab)), dtype=np.float32)
        return cls(weights=(matrix @ sparse.diags(idf)).tocsr(), idf=idf)


class LexicalMatch(NamedTuple):
    """One query against the index: ``LexicalIndex.scores`` (scores, ceiling) and ``coverage``."""

    scores: np.ndarray
    ceiling: float
    coverage: np.ndarray


class LexicalIndex:
    """BM25 over two fields per procedure: titles (the name and each alias) and a body (the rest).

    Each title variant is scored on its own and a procedure keeps its best one, so a procedure with
    many aliases is not penalised for a long title.

    Args:
        codes: procedure codes, one per document, in index order.
        title: BM25 weights of the title variants, grouped by procedure in index order.
        title_owner: for each title variant row, the index of its procedure.
        body: BM25 weights of the bodies, one row per procedure.
        vocab: term → column.
        title_weight: how much a title match counts relative to a body match.
    """

    def __init__(
        self,
        codes: Sequence[str],
        title: BM25Field,
        title_owner: np.ndarray,
        body: BM25Field,
        vocab: dict[str, int],
        title_weight: float = 2.0,
    ) -> None:
        self.codes = list(codes)
        self.title = title
        self.title_owner = np.asarray(title_owner, dtype=np.int64)
        self._group_starts = np.flatnonzero(np.r_[True, self.title_owner[1:] != self.title_owner[:-1]])
        if len(self._group_starts) != len(self.codes):
            raise ValueError("every procedure needs at least one title variant, grouped in index order")
        self.body = body
        self.vocab = vocab
        self.title_weight = title_weight
        # Each title variant's terms weighted by idf (for coverage): which of its words a question holds.
        presence = self.title.weights.copy()
        presence.data[:] = 1.0
        self._title_idf = presence.multiply(self.title.idf[None, :]).tocsr()
        self._title_mass = np.maximum(np.asarray(self._title_idf.sum(axis=1)).ravel(), 1e-9)

    @classmethod
    def build(
        cls, codes: Sequence[str], titles: Sequence[Sequence[str]], bodies: Sequence[str], *, title_weight: float = 2.0
    ) -> "LexicalIndex":
        """Build from, per procedure, its code, its title variants (name first) and its body text."""
        if not (len(codes) == len(titles) == len(bodies)):
            raise ValueError("codes, titles and bodies must have the same length")
        owner, title_terms = [], []
        for i, variants in enumerate(titles):
            if not variants:
                raise ValueError(f"procedure {codes[i]} has no title")
            for variant in variants:
                owner.append(i)
                title_terms.append(analyze(variant))
        body_terms = [analyze(t) for t in bodies]
        vocab: dict[str, int] = {}
        for doc in (*title_terms, *body_terms):
            for term in doc:
                vocab.setdefault(term, len(vocab))
        return cls(
            codes, BM25Field.build(title_terms, vocab), np.array(owner), BM25Field.build(body_terms, vocab), vocab, title_weight
        )

    def match(self, query: str) -> "LexicalMatch":
        """``scores`` and ``coverage`` of ``query`` from one analysis of it (the retriever needs both)."""
        weights = self._query_weights(query)
        return LexicalMatch(*self._scores(weights), self._coverage(weights))

    def scores(self, query: str) -> tuple[np.ndarray, float]:
        """Score every document for ``query``.

        Returns:
            (scores per document, the best score a document could reach for this query), so callers
            can turn scores into a 0..1 share of the query that matched.
        """
        return self._scores(self._query_weights(query))

    def coverage(self, query: str) -> np.ndarray:
        """For every document, how much of its best title variant (the name or one alias) ``query``
        contains: the idf-weighted share of the variant's terms found in the query, 0..1.

        A question that names a procedure the way its name or an alias does ("2 đứa tính đk kết hôn
        tháng sau" holds all of "đăng ký kết hôn") covers it fully however much else it says, while
        the BM25 share of the question that matched (``scores``) falls with every extra word.
        """
        return self._coverage(self._query_weights(query))

    def _query_weights(self, query: str) -> dict[int, float]:
        """Column → weight of the query's indexed terms (aspect words weigh less)."""
        aspect, aspect_weight = aspect_terms()
        return {self.vocab[t]: (aspect_weight if t in aspect else 1.0) for t in analyze(query) if t in self.vocab}

    def _scores(self, weights: dict[int, float]) -> tuple[np.ndarray, float]:
        if not weights:
            return np.zeros(len(self.codes), dtype=np.float32), 0.0
        ids = np.fromiter(weights.keys(), dtype=np.int64)
        q = np.zeros(len(self.vocab), dtype=np.float32)
        q[ids] = np.fromiter(weights.values(), dtype=np.float32)
        variant_scores = self.title.weights @ q
        title_scores = np.maximum.reduceat(variant_scores, self._group_starts)
        combined = self.title_weight * title_scores + self.body.weights @ q
        ceiling = float((self.title_weight + 1.0) * 2.2 * (self.title.idf[ids] * q[ids]).sum())
        return np.asarray(combined, dtype=np.float32), ceiling

    def _coverage(self, weights: dict[int, float]) -> np.ndarray:
        if not weights:
            return np.zeros(len(self.codes), dtype=np.float32)
        present = np.zeros(len(self.vocab), dtype=np.float32)
        present[list(weights)] = 1.0
        shares = (self._title_idf @ present) / self._title_mass
        return np.maximum.reduceat(shares, self._group_starts).astype(np.float32)

    def save(self, directory: Path) -> None:
        sparse.save_npz(directory / "lexical_title.npz", self.title.weights)
        sparse.save_npz(directory / "lexical_body.npz", self.body.weights)
        np.save(directory / "lexical_title_owner.npy", self.title_owner)
        np.save(directory / "lexical_idf.npy", np.stack([self.title.idf, self.body.idf]))
        meta = {"codes": self.codes, "vocab": self.vocab, "title_weight": self.title_weight}
        (directory / "lexical.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> "LexicalIndex":
        meta = json.loads((directory / "lexical.json").read_text(encoding="utf-8"))
        idf = np.load(directory / "lexical_idf.npy")
        title = BM25Field(sparse.load_npz(directory / "lexical_title.npz").tocsr(), idf[0])
        body = BM25Field(sparse.load_npz(directory / "lexical_body.npz").tocsr(), idf[1])
        owner = np.load(directory / "lexical_title_owner.npy")
        return cls(meta["codes"], title, owner, body, meta["vocab"], meta["title_weight"])



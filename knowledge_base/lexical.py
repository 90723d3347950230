"""Lexical retrieval: field-weighted BM25 over accent-folded syllables and syllable bigrams.

Vietnamese words are mostly one or two syllables, so syllable bigrams ("khai_sinh") stand in for words
and make the index robust to questions typed without diacritics; every text goes through the same
``knowledge_base.text`` rules (NFC, teencode, synonyms, folding) on both sides.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy import sparse

#: Folded function words that carry no procedure meaning as unigrams (they still form bigrams).
STOP_SYLLABLES = frozenset(
    "a ah a_ la ma thi va voi cua cho toi em anh chi minh ban oi nhe nhi vay the nao gi sao "
    "bao nhieu can phai lam duoc khong hay hoac nhung cac mot nhu nay do o tai ve di den tu "
    "thu tuc".split()
)


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


class LexicalIndex:
    """BM25 over two fields per procedure: ``title`` (name and aliases) and ``body`` (the rest).

    Args:
        codes: procedure codes, one per document, in index order.
        titles: title texts, one per document.
        bodies: body texts, one per document.
        title_weight: how much a title match counts relative to a body match.
    """

    def __init__(self, codes: Sequence[str], title: BM25Field, body: BM25Field, vocab: dict[str, int], title_weight: float = 2.0) -> None:
        self.codes = list(codes)
        self.title = title
        self.body = body
        self.vocab = vocab
        self.title_weight = title_weight

    @classmethod
    def build(cls, codes: Sequence[str], titles: Sequence[str], bodies: Sequence[str], *, title_weight: float = 2.0) -> "LexicalIndex":
        if not (len(codes) == len(titles) == len(bodies)):
            raise ValueError("codes, titles and bodies must have the same length")
        title_terms = [analyze(t) for t in titles]
        body_terms = [analyze(t) for t in bodies]
        vocab: dict[str, int] = {}
        for doc in (*title_terms, *body_terms):
            for term in doc:
                vocab.setdefault(term, len(vocab))
        return cls(codes, BM25Field.build(title_terms, vocab), BM25Field.build(body_terms, vocab), vocab, title_weight)

    def scores(self, query: str) -> tuple[np.ndarray, float]:
        """Score every document for ``query``.

        Returns:
            (scores per document, the best score a document could reach for this query), so callers
            can turn scores into a 0..1 share of the query that matched.
        """
        ids = sorted({self.vocab[t] for t in analyze(query) if t in self.vocab})
        if not ids:
            return np.zeros(len(self.codes), dtype=np.float32), 0.0
        q = np.zeros(len(self.vocab), dtype=np.float32)
        q[ids] = 1.0
        combined = self.title_weight * (self.title.weights @ q) + self.body.weights @ q
        ceiling = float((self.title_weight + 1.0) * 2.2 * self.title.idf[ids].sum())
        return np.asarray(combined, dtype=np.float32), ceiling

    def save(self, directory: Path) -> None:
        sparse.save_npz(directory / "lexical_title.npz", self.title.weights)
        sparse.save_npz(directory / "lexical_body.npz", self.body.weights)
        np.save(directory / "lexical_idf.npy", np.stack([self.title.idf, self.body.idf]))
        meta = {"codes": self.codes, "vocab": self.vocab, "title_weight": self.title_weight}
        (directory / "lexical.json").write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, directory: Path) -> "LexicalIndex":
        meta = json.loads((directory / "lexical.json").read_text(encoding="utf-8"))
        idf = np.load(directory / "lexical_idf.npy")
        title = BM25Field(sparse.load_npz(directory / "lexical_title.npz").tocsr(), idf[0])
        body = BM25Field(sparse.load_npz(directory / "lexical_body.npz").tocsr(), idf[1])
        return cls(meta["codes"], title, body, meta["vocab"], meta["title_weight"])



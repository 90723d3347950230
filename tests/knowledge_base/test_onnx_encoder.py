"""The ONNX path encodes exactly as sentence-transformers does, and steps aside when it cannot.

Uses the packaged all-MiniLM-L6-v2 (loads offline, a few seconds)."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge_base.embedder import FAST_QUERY_TEXTS, SentenceTransformerEmbedder, packaged_base_model_path
from knowledge_base.onnx_encoder import OnnxEncoder

TEXTS = [
    "lam cccd mat bao lau",
    "Thủ tục chuyển hộ khẩu thường trú về phường mình như thế nào vậy ạ, có cần mang sổ hộ khẩu cũ không?",
    "đăng ký khai sinh " * 60,  # longer than the model's 256 tokens: truncated the same way
    "",
    "How do I register the birth of my baby?",
]


@pytest.fixture(scope="module")
def embedder() -> SentenceTransformerEmbedder:
    embedder = SentenceTransformerEmbedder(str(packaged_base_model_path()), name="base")
    assert embedder.enable_fast_queries()
    return embedder


def test_the_onnx_vectors_are_the_models_own(embedder: SentenceTransformerEmbedder) -> None:
    reference = embedder._model.encode(TEXTS, normalize_embeddings=True, convert_to_numpy=True)
    one_at_a_time = np.vstack([embedder.encode([t]) for t in TEXTS])  # the fast path
    together = embedder.encode(TEXTS)  # one padded batch, also the fast path
    for vectors in (one_at_a_time, together):
        assert vectors.dtype == np.float32 and vectors.shape == reference.shape
        assert np.min(np.sum(vectors * reference, axis=1)) > 0.9999


def test_large_batches_stay_with_sentence_transformers(embedder: SentenceTransformerEmbedder, monkeypatch) -> None:
    def refuse(_texts):
        raise AssertionError("a large batch took the ONNX path")

    monkeypatch.setattr(embedder._fast, "encode", refuse)
    assert embedder.encode(["khai sinh"] * (FAST_QUERY_TEXTS + 1)).shape[0] == FAST_QUERY_TEXTS + 1
    with pytest.raises(AssertionError, match="ONNX path"):
        embedder.encode(["khai sinh"])


def test_the_fast_path_can_be_turned_off(monkeypatch) -> None:
    monkeypatch.setenv("EMBEDDING_ONNX", "0")
    embedder = SentenceTransformerEmbedder(str(packaged_base_model_path()), name="base")
    assert embedder.enable_fast_queries() is False
    assert embedder.encode(["khai sinh"]).shape == (1, 384)


def test_a_model_without_mean_pooling_is_not_exported(caplog) -> None:
    from sentence_transformers import SentenceTransformer, models

    transformer = models.Transformer(str(packaged_base_model_path()))
    cls_pooled = SentenceTransformer(modules=[transformer, models.Pooling(384, pooling_mode="cls")], device="cpu")
    with caplog.at_level("INFO", logger="knowledge_base.onnx_encoder"):
        assert OnnxEncoder.build(cls_pooled) is None
    assert "pooling" in caplog.text


def test_a_failed_export_leaves_sentence_transformers_in_charge(embedder, monkeypatch, caplog) -> None:
    import torch

    def broken(*_args, **_kwargs):
        raise RuntimeError("operator not supported")

    monkeypatch.setattr(torch.onnx, "export", broken)
    assert OnnxEncoder.build(embedder._model) is None
    assert "export failed" in caplog.text and "operator not supported" in caplog.text

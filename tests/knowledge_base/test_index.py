from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from knowledge_base.corpus import load_ward_corpus
from knowledge_base.embedder import HashingEmbedder
from knowledge_base.index import (
    IndexMismatchError,
    IndexMissingError,
    build_index,
    dense_search,
    load_index,
    read_manifest,
)
from knowledge_base.settings import get_settings


@pytest.fixture(scope="module")
def ward_procedures():
    return load_ward_corpus(get_settings().corpus_dir)


def test_build_writes_manifest_and_loads(ward_procedures, tmp_path: Path) -> None:
    embedder = HashingEmbedder(128)
    build_index(ward_procedures, embedder, tmp_path)
    manifest = read_manifest(tmp_path)
    assert manifest["model"] == "hashing-128"
    assert manifest["dimension"] == 128
    assert manifest["procedures"] == len(ward_procedures)
    assert len(manifest["corpus_hash"]) == 64
    index = load_index(tmp_path, expected_model="hashing-128")
    assert index.dense.ntotal == manifest["chunks"] == len(index.chunk_codes)
    assert {p.code for p in index.procedures} == {p.code for p in ward_procedures}


def test_missing_index_says_how_to_build(tmp_path: Path) -> None:
    with pytest.raises(IndexMissingError, match="python -m knowledge_base index"):
        load_index(tmp_path)


def test_index_from_another_model_is_refused(ward_procedures, tmp_path: Path) -> None:
    build_index(ward_procedures[:5], HashingEmbedder(64), tmp_path)
    with pytest.raises(IndexMismatchError, match="rebuild"):
        load_index(tmp_path, expected_model="hashing-128")


def test_rebuild_swaps_current_and_keeps_two_builds(ward_procedures, tmp_path: Path) -> None:
    first = build_index(ward_procedures[:5], HashingEmbedder(64), tmp_path)
    second = build_index(ward_procedures[:8], HashingEmbedder(64), tmp_path)
    third = build_index(ward_procedures[:9], HashingEmbedder(64), tmp_path)
    assert (tmp_path / "current").resolve() == third.resolve()
    builds = sorted(p.name for p in (tmp_path / "builds").iterdir())
    assert builds == sorted([second.name, third.name]) and first.name not in builds
    assert read_manifest(tmp_path)["procedures"] == 9


class _FailingEmbedder(HashingEmbedder):
    def encode(self, texts, **kwargs):
        raise RuntimeError("model crashed half-way")


def test_failed_build_leaves_the_live_index_untouched(ward_procedures, tmp_path: Path) -> None:
    build_index(ward_procedures[:5], HashingEmbedder(64), tmp_path)
    before = read_manifest(tmp_path)
    with pytest.raises(RuntimeError, match="crashed"):
        build_index(ward_procedures, _FailingEmbedder(64), tmp_path)
    assert read_manifest(tmp_path) == before
    assert not [p for p in (tmp_path / "builds").iterdir() if p.name.startswith(".")], "staging folder left behind"
    assert load_index(tmp_path).dense.ntotal > 0


def test_empty_corpus_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no procedures"):
        build_index([], HashingEmbedder(64), tmp_path)


def test_flat_faiss_search_equals_exact_cosine(ward_procedures, tmp_path: Path) -> None:
    embedder = HashingEmbedder(96)
    build_index(ward_procedures, embedder, tmp_path)
    index = load_index(tmp_path)
    vectors = index.dense.reconstruct_n(0, index.dense.ntotal)
    query = embedder.encode(["lam giay khai sinh cho con"])[0]
    exact = vectors @ query
    best_exact: dict[str, float] = {}
    for code, score in zip(index.chunk_codes, exact):
        best_exact[code] = max(best_exact.get(code, -1.0), float(score))
    found = dense_search(index, query, k=index.dense.ntotal)
    assert found.keys() == best_exact.keys()
    for code, score in found.items():
        assert score == pytest.approx(best_exact[code], abs=1e-5)


def test_manifest_is_json_with_build_time(ward_procedures, tmp_path: Path) -> None:
    build = build_index(ward_procedures[:3], HashingEmbedder(32), tmp_path)
    manifest = json.loads((build / "manifest.json").read_text())
    assert manifest["build_seconds"] >= 0
    assert np.isfinite(manifest["build_seconds"])


def test_the_text_rules_fingerprint_follows_the_rule_files(tmp_path, monkeypatch) -> None:
    import shutil

    from knowledge_base import text
    from knowledge_base.index import text_rules_fingerprint

    for name in (text.TEENCODE_FILE, text.SYNONYMS_FILE):
        shutil.copy(text.DATA_DIR / name, tmp_path / name)
    monkeypatch.setattr(text, "DATA_DIR", tmp_path)
    before = text_rules_fingerprint()
    assert text_rules_fingerprint() == before
    with (tmp_path / text.SYNONYMS_FILE).open("a", encoding="utf-8") as handle:
        handle.write("- official: đăng ký kết hôn\n  terms: [wedding]\n")
    assert text_rules_fingerprint() != before


def test_model_version_is_the_recorded_training(tmp_path) -> None:
    from knowledge_base.embedder import HashingEmbedder, SentenceTransformerEmbedder, model_version

    (tmp_path / "training.json").write_text('{"fingerprint": "abc123", "epochs": 1}')
    assert model_version(SentenceTransformerEmbedder(str(tmp_path), name="ward-minilm")) == "abc123"
    assert model_version(SentenceTransformerEmbedder("some/hub-model")) is None  # trained elsewhere
    assert model_version(HashingEmbedder()) is None
    (tmp_path / "training.json").write_text("{not json")
    assert model_version(SentenceTransformerEmbedder(str(tmp_path))) is None

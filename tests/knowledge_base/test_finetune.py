"""Tests for the in-domain fine-tuning of the packaged embedder."""

from __future__ import annotations

import json
import random

import pytest

from knowledge_base.finetune import (
    BASE_MODEL,
    STEP_BUDGET,
    TRAINING_INFO,
    build_training_pairs,
    core_name,
    passes_for,
    procedure_passage,
    resolve_base_model,
    synthetic_queries,
    train_embedder,
    training_fingerprint,
)
from knowledge_base.schema import Procedure
from knowledge_base.text import fold


def _proc(code: str, name: str, field: str = "Hộ tịch", **extra: object) -> Procedure:
    return Procedure(code=code, name=name, field=field, level=["Cấp xã"], **extra)


BIRTH = _proc("1.001193", "Thủ tục đăng ký khai sinh")
ID_CARD = _proc(
    "2.000200",
    "Cấp đổi thẻ căn cước công dân (thực hiện tại cấp xã)",
    field="Cấp, quản lý căn cước",
    aliases=["làm lại cccd"],
    sample_questions=["đổi căn cước mất bao lâu"],
)
SMALL_CORPUS = [
    BIRTH,
    ID_CARD,
    _proc("1.000656", "Thủ tục đăng ký khai tử"),
    _proc("1.001022", "Thủ tục đăng ký kết hôn"),
    _proc("1.004746", "Cấp giấy phép xây dựng nhà ở riêng lẻ", field="Hoạt động xây dựng"),
    _proc("1.008004", "Đăng ký thuế lần đầu đối với hộ kinh doanh", field="Thuế"),
]


def test_core_name_strips_leading_thu_tuc() -> None:
    assert core_name("Thủ tục đăng ký khai sinh") == "đăng ký khai sinh"
    assert core_name("Cấp giấy phép xây dựng") == "cấp giấy phép xây dựng"


def test_core_name_accepts_decomposed_input() -> None:
    import unicodedata

    decomposed = unicodedata.normalize("NFD", "Thủ tục đăng ký khai sinh")
    assert core_name(decomposed) == "đăng ký khai sinh"


def test_passage_holds_name_field_and_aliases() -> None:
    passage = procedure_passage(ID_CARD)
    assert passage.startswith("Cấp đổi thẻ căn cước công dân (thực hiện tại cấp xã)")
    assert "Cấp, quản lý căn cước" in passage
    assert "làm lại cccd" in passage


def test_synthetic_queries_are_deterministic_for_a_seed() -> None:
    first = synthetic_queries(BIRTH, random.Random(7))
    second = synthetic_queries(BIRTH, random.Random(7))
    assert first == second
    assert first != synthetic_queries(BIRTH, random.Random(8))


def test_synthetic_queries_content() -> None:
    queries = synthetic_queries(ID_CARD, random.Random(3))
    assert queries and all(q.strip() for q in queries)
    assert len(queries) == len(set(queries))
    # curated phrasings come first, then the short name and its accent-free form
    assert queries[:2] == ["làm lại cccd", "đổi căn cước mất bao lâu"]
    assert "cấp đổi thẻ căn cước công dân" in queries
    assert fold("cấp đổi thẻ căn cước công dân") in queries
    assert not any(q.lower().startswith("thủ tục cấp đổi thẻ căn cước công dân (") for q in queries[:4])


def test_synthetic_queries_use_shorthand_spelling_somewhere() -> None:
    shorthand = ("đk", "dk", "đăng kí", "dang ki")
    seen = set()
    for seed in range(30):
        for query in synthetic_queries(BIRTH, random.Random(seed)):
            seen.update(s for s in shorthand if s in query.split() or f"{s} " in query)
    assert seen, "no query ever abbreviated 'đăng ký'"


def test_hang_khong_is_not_abbreviated() -> None:
    airline = _proc("1.004306", "Gia hạn Giấy chứng nhận người khai thác tàu bay hàng không", field="Hàng không")
    for seed in range(20):
        for query in synthetic_queries(airline, random.Random(seed)):
            assert "hàng ko" not in query and "hang ko" not in query


def test_build_training_pairs_covers_every_procedure() -> None:
    pairs = build_training_pairs(SMALL_CORPUS, seed=13)
    passages = {passage for _, passage in pairs}
    assert passages == {procedure_passage(p) for p in SMALL_CORPUS}
    assert pairs == build_training_pairs(SMALL_CORPUS, seed=13)
    for p in SMALL_CORPUS:
        assert sum(1 for _, passage in pairs if passage == procedure_passage(p)) >= 2


def test_passes_use_every_query_of_a_small_corpus_once() -> None:
    pairs = [(f"q{i}", "birth") for i in range(9)] + [("q", "death"), ("r", "death")]
    assert passes_for(pairs, batch_size=32, queries_per_passage=2) == 5  # 9 queries, 2 a pass


def test_passes_stay_within_the_step_budget() -> None:
    # 3,200 procedures make 100 steps a pass, over the budget: still one pass, never zero.
    big = [(f"q{i}", f"p{i // 4}") for i in range(12_800)]
    assert passes_for(big, batch_size=32, queries_per_passage=2) == 1
    # 64 procedures make 2 steps a pass: the budget, not their 200 queries each, bounds the passes.
    many_queries = [(f"q{i}", f"p{i % 64}") for i in range(64 * 200)]
    assert passes_for(many_queries, batch_size=32, queries_per_passage=2) == STEP_BUDGET // 2


def test_fingerprint_tracks_procedures_and_settings() -> None:
    base = training_fingerprint(SMALL_CORPUS, None, 13, 1)
    assert base == training_fingerprint(SMALL_CORPUS, BASE_MODEL, 13, 1)
    changed = [*SMALL_CORPUS[:-1], SMALL_CORPUS[-1].model_copy(update={"name": "Đăng ký thuế lần đầu"})]
    assert training_fingerprint(changed, None, 13, 1) != base
    assert training_fingerprint(SMALL_CORPUS, None, 14, 1) != base
    assert training_fingerprint(SMALL_CORPUS, None, 13, 2) != base
    assert training_fingerprint(SMALL_CORPUS, None, 13, 1, max_pairs=64) != base


def test_packaged_base_model_resolves_to_a_local_directory() -> None:
    from pathlib import Path

    path = Path(resolve_base_model())
    assert (path / "modules.json").is_file()
    assert (path / "model.safetensors").is_file()


@pytest.mark.slow
def test_tiny_training_run_saves_loads_offline_and_caches(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    out = tmp_path / "embedder"
    returned = train_embedder(
        SMALL_CORPUS, out, seed=5, epochs=2, batch_size=6, max_pairs=64, show_progress=False
    )
    assert returned == out
    info = json.loads((out / TRAINING_INFO).read_text(encoding="utf-8"))
    assert info["procedures"] == len(SMALL_CORPUS)
    assert 0 < info["pairs"] <= 64

    model = SentenceTransformer(str(out), device="cpu")
    query = next(q for q in synthetic_queries(BIRTH, random.Random(1)) if "khai sinh" in fold(q))
    vectors = model.encode(
        [query, procedure_passage(BIRTH), procedure_passage(SMALL_CORPUS[4])], normalize_embeddings=True
    )
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2])

    weights = out / "model.safetensors"
    stamp = weights.stat().st_mtime_ns
    again = train_embedder(
        SMALL_CORPUS, out, seed=5, epochs=2, batch_size=6, max_pairs=64, show_progress=False
    )
    assert again == out
    assert weights.stat().st_mtime_ns == stamp, "the cached model was retrained"


def test_text_data_files_feed_the_queries(tmp_path) -> None:
    from knowledge_base.finetune import load_shorthands

    (tmp_path / "teencode.yml").write_text("gks: giấy khai sinh\n", encoding="utf-8")
    (tmp_path / "synonyms.yml").write_text(
        "- official: thường trú\n  terms: [nhập hộ khẩu]\n", encoding="utf-8"
    )
    table = load_shorthands(tmp_path)
    assert ("giấy khai sinh", ("gks",)) in table.pairs
    assert table.colloquial == (("thường trú", ("nhập hộ khẩu",)),)
    residence = _proc("1.004194", "Đăng ký thường trú", field="Đăng ký, quản lý cư trú")
    queries = synthetic_queries(residence, random.Random(0), shorthands=table)
    assert any("nhập hộ khẩu" in q or "nhap ho khau" in q for q in queries)

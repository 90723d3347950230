"""Tests for the team's ward corpus: the shipped YAML files, the loader's errors, and the sync into the database."""

from __future__ import annotations

import re
import shutil
import unicodedata
from collections import Counter
from pathlib import Path

import pytest
import yaml
from sqlalchemy.orm import sessionmaker

from knowledge_base.corpus import CorpusError, load_procedure_file, load_ward_corpus, sync_ward_corpus
from knowledge_base.db import make_engine, migrate
from knowledge_base.portal import iter_portal_records
from knowledge_base.schema import Procedure
from knowledge_base.store import ProcedureStore

REPO = Path(__file__).resolve().parents[2]
CORPUS_DIR = REPO / "knowledge_base" / "procedures"
CORPUS_FILES = sorted(CORPUS_DIR.glob("*.yaml"))
SHARED_DATA = REPO.parent / "shared" / "data"
DUMP = SHARED_DATA / "tthc-portal" / "procedures.jsonl.gz"

#: Procedures the product promises to answer, by category (codes from the national portal).
PROMISED = {
    "birth registration": {"1.001193"},
    "marriage registration": {"1.000894"},
    "marital-status certificate": {"1.004873"},
    "death registration": {"1.000656"},
    "certified copy from the original": {"2.000815"},
    "signature certification": {"2.000884"},
    "permanent residence": {"1.004222"},
    "temporary residence": {"1.004194"},
    "ID card (14 and over)": {"1.014061"},
    "ID card renewal or replacement": {"1.014063", "1.014064"},
    "business household registration": {"1.001612"},
    "building permit for a private house": {"1.013225"},
    "first land certificate": {"1.013978"},
    "personal tax code": {"1.008498"},
    "vehicle registration": {"1.013067", "1.013076"},
}


@pytest.fixture(scope="module")
def corpus() -> list[Procedure]:
    return load_ward_corpus(CORPUS_DIR)


@pytest.fixture
def store(tmp_path: Path) -> ProcedureStore:
    engine = make_engine(f"sqlite:///{tmp_path / 'corpus.db'}")
    migrate(engine)
    yield ProcedureStore(sessionmaker(engine, expire_on_commit=False))
    engine.dispose()


@pytest.fixture
def corpus_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped corpus folder."""
    target = tmp_path / "procedures"
    shutil.copytree(CORPUS_DIR, target)
    return target


def write_yaml(path: Path, data: dict) -> Path:
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def minimal(code: str = "1.001193", name: str = "Đăng ký khai sinh") -> dict:
    return {"code": code, "name": name, "level": ["Cấp xã"], "field": "Hộ tịch"}


# --- the shipped corpus --------------------------------------------------------------------------


def test_corpus_is_large_enough_with_unique_codes(corpus: list[Procedure]) -> None:
    assert len(CORPUS_FILES) >= 40
    assert len(corpus) == len(CORPUS_FILES)
    duplicates = [code for code, n in Counter(p.code for p in corpus).items() if n > 1]
    assert duplicates == []


def test_loaded_corpus_is_marked_ward(corpus: list[Procedure]) -> None:
    assert {p.origin for p in corpus} == {"ward"}


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.stem)
def test_shipped_file_is_complete(path: Path) -> None:
    procedure = load_procedure_file(path)
    assert procedure.summary, "a summary for citizens"
    assert len(procedure.aliases) >= 3, "at least three aliases"
    assert len(procedure.sample_questions) >= 3, "at least three sample questions"
    assert len(set(procedure.aliases)) == len(procedure.aliases), "aliases repeat"
    assert procedure.source_url.startswith("https://")
    assert procedure.last_updated is not None
    assert "Cấp xã" in procedure.level, "the ward corpus holds ward-level procedures"
    assert procedure.channels and procedure.documents and procedure.steps


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.stem)
def test_shipped_file_starts_with_a_comment_naming_its_source(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    header = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        header.append(line)
    comment = " ".join(header)
    assert comment.startswith("# Source:"), f"{path.name} must begin with a '# Source:' comment"
    assert "Cổng Dịch vụ công" in comment or "Public Service Portal" in comment
    assert load_procedure_file(path).code in comment, "the comment names the portal record"


@pytest.mark.parametrize("path", CORPUS_FILES, ids=lambda p: p.stem)
def test_shipped_file_text_is_nfc(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    bad = [n for n, line in enumerate(text.splitlines(), 1) if unicodedata.normalize("NFC", line) != line]
    assert bad == [], f"{path.name}: lines not in NFC: {bad}"


@pytest.mark.parametrize(("category", "codes"), sorted(PROMISED.items()))
def test_promised_categories_are_covered(corpus: list[Procedure], category: str, codes: set[str]) -> None:
    present = {p.code for p in corpus}
    assert codes <= present, f"{category}: missing {sorted(codes - present)}"


def test_civil_status_and_residence_are_substantial(corpus: list[Procedure]) -> None:
    fields = Counter(p.field for p in corpus)
    assert fields["Hộ tịch"] >= 10
    assert fields["Đăng ký, quản lý cư trú"] >= 5
    assert fields["Chứng thực"] >= 5


@pytest.mark.shared_data
def test_every_code_exists_in_the_portal_dump(corpus: list[Procedure]) -> None:
    if not DUMP.is_file():
        pytest.skip(f"needs the shared portal dump at {DUMP}")
    records = {r["ma_thu_tuc"]: r for r in iter_portal_records(DUMP)}
    missing = [p.code for p in corpus if p.code not in records]
    assert missing == []
    wrong_url = [p.code for p in corpus if p.source_url != records[p.code]["detail_url"]]
    assert wrong_url == [], "source_url should be the portal page of the same record"
    not_ward = [p.code for p in corpus if "Cấp xã" not in records[p.code]["cap_thuc_hien"]]
    assert not_ward == []


# --- loader errors -------------------------------------------------------------------------------


def test_bad_yaml_names_the_file(tmp_path: Path) -> None:
    write_yaml(tmp_path / "a-good.yaml", minimal())
    bad = tmp_path / "b-bad.yaml"
    bad.write_text("code: '1.000894'\nname: [Đăng ký kết hôn\n", encoding="utf-8")
    with pytest.raises(CorpusError, match=r"b-bad\.yaml.*YAML"):
        load_ward_corpus(tmp_path)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({**minimal(), "code": "1001193"}, "code"),
        ({**minimal(), "name": ""}, "name"),
        ({**minimal(), "channels": [{"kind": "fax"}]}, "channels"),
        ({**minimal(), "fees": []}, "fees"),  # unknown top-level field
        ({**minimal(), "last_updated": "hôm qua"}, "last_updated"),
        ({"name": "Thiếu mã"}, "code"),
    ],
    ids=["bad-code", "empty-name", "bad-channel", "unknown-field", "bad-date", "no-code"],
)
def test_schema_violation_names_file_and_field(tmp_path: Path, data: dict, field: str) -> None:
    path = write_yaml(tmp_path / "broken.yaml", data)
    with pytest.raises(CorpusError) as caught:
        load_ward_corpus(tmp_path)
    message = str(caught.value)
    assert str(path) in message
    assert field in message


@pytest.mark.parametrize("content", ["- just\n- a list\n", "", "chỉ là một chuỗi\n"], ids=["list", "empty", "scalar"])
def test_a_file_that_is_not_a_mapping_is_rejected(tmp_path: Path, content: str) -> None:
    (tmp_path / "odd.yaml").write_text(content, encoding="utf-8")
    with pytest.raises(CorpusError, match=r"odd\.yaml: expected a mapping"):
        load_ward_corpus(tmp_path)


def test_duplicate_code_names_both_files(tmp_path: Path) -> None:
    write_yaml(tmp_path / "a.yaml", minimal())
    write_yaml(tmp_path / "b.yaml", minimal(name="Khai sinh lần hai"))
    with pytest.raises(CorpusError, match=r"b\.yaml: code 1\.001193 is also used by .*a\.yaml"):
        load_ward_corpus(tmp_path)


def test_empty_folder_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("không phải yaml", encoding="utf-8")
    with pytest.raises(CorpusError, match=re.escape(str(tmp_path)) + ".*no .yaml files"):
        load_ward_corpus(tmp_path)


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(CorpusError, match="does not exist"):
        load_ward_corpus(tmp_path / "nowhere")


def test_origin_in_a_file_is_overridden_to_ward(tmp_path: Path) -> None:
    write_yaml(tmp_path / "a.yaml", {**minimal(), "origin": "portal"})
    [procedure] = load_ward_corpus(tmp_path)
    assert procedure.origin == "ward"


# --- sync ----------------------------------------------------------------------------------------


def test_first_sync_inserts_everything_and_second_changes_nothing(store: ProcedureStore) -> None:
    first = sync_ward_corpus(store, CORPUS_DIR)
    assert len(first.inserted) == len(CORPUS_FILES)
    assert (first.updated, first.unchanged, first.kept_admin) == ([], 0, [])
    assert store.count() == len(CORPUS_FILES)
    assert store.codes_with_origin("ward") == {p.code for p in load_ward_corpus(CORPUS_DIR)}
    fingerprint = store.corpus_fingerprint()
    audits = len(store.audit_entries(limit=1000))

    second = sync_ward_corpus(store, CORPUS_DIR)

    assert (second.inserted, second.updated, second.unchanged) == ([], [], len(CORPUS_FILES))
    assert store.corpus_fingerprint() == fingerprint
    assert len(store.audit_entries(limit=1000)) == audits, "a no-op sync writes no audit entry"


def test_stored_records_equal_the_files(store: ProcedureStore) -> None:
    sync_ward_corpus(store, CORPUS_DIR)
    for procedure in load_ward_corpus(CORPUS_DIR):
        assert store.get(procedure.code) == procedure


def test_an_edited_file_updates_that_record_with_a_new_version(store: ProcedureStore, corpus_copy: Path) -> None:
    sync_ward_corpus(store, corpus_copy)
    path = corpus_copy / "ho-tich-khai-sinh.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("summary:", "summary: Đã cập nhật.", 1), encoding="utf-8"
    )

    summary = sync_ward_corpus(store, corpus_copy)

    assert summary.updated == ["1.001193"]
    assert summary.inserted == []
    assert summary.unchanged == len(CORPUS_FILES) - 1
    assert store.versions("1.001193") == [1, 2]
    assert store.get("1.001193").summary.startswith("Đã cập nhật.")
    assert store.audit_entries(limit=1)[0].detail == {"inserted": [], "updated": ["1.001193"]}


def test_a_new_file_is_inserted(store: ProcedureStore, corpus_copy: Path) -> None:
    sync_ward_corpus(store, corpus_copy)
    write_yaml(corpus_copy / "zz-new.yaml", minimal(code="9.999999", name="Thủ tục thử"))
    summary = sync_ward_corpus(store, corpus_copy)
    assert summary.inserted == ["9.999999"]
    assert store.get("9.999999").origin == "ward"


def test_an_admin_edited_record_is_kept(store: ProcedureStore, corpus_copy: Path) -> None:
    sync_ward_corpus(store, corpus_copy)
    admin_version = store.get("1.001193").model_copy(update={"origin": "admin", "summary": "Quản trị viên sửa."})
    store.upsert_many([admin_version], author="admin1")
    path = corpus_copy / "ho-tich-khai-sinh.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("summary:", "summary: Đổi.", 1), encoding="utf-8")

    summary = sync_ward_corpus(store, corpus_copy)

    assert summary.kept_admin == ["1.001193"]
    assert summary.updated == []
    assert store.get("1.001193") == admin_version
    assert store.versions("1.001193") == [1, 2]


def test_a_portal_record_is_replaced_by_the_ward_file(store: ProcedureStore) -> None:
    ward = {p.code: p for p in load_ward_corpus(CORPUS_DIR)}["1.001193"]
    store.upsert_many([ward.model_copy(update={"origin": "portal", "aliases": []})], author="import-portal")

    summary = sync_ward_corpus(store, CORPUS_DIR)

    assert "1.001193" in summary.updated
    assert store.get("1.001193") == ward
    assert store.versions("1.001193") == [1, 2]


def test_sync_with_a_broken_file_writes_nothing(store: ProcedureStore, corpus_copy: Path) -> None:
    (corpus_copy / "zz-broken.yaml").write_text("code: '1.000000'\nname: x\nchannels: 3\n", encoding="utf-8")
    with pytest.raises(CorpusError, match="zz-broken.yaml"):
        sync_ward_corpus(store, corpus_copy)
    assert store.count() == 0


def test_alias_overlay_is_merged_without_duplicates(tmp_path) -> None:
    from knowledge_base.corpus import load_alias_overlay, with_aliases
    from knowledge_base.schema import Procedure

    path = tmp_path / "aliases.yml"
    path.write_text('- code: "1.001456"\n  aliases: [làm hộ chiếu, lam passport]\n', encoding="utf-8")
    overlay = load_alias_overlay(path)
    procedure = Procedure(code="1.001456", name="Cấp hộ chiếu phổ thông", aliases=["làm hộ chiếu"])
    merged = with_aliases(procedure, overlay["1.001456"])
    assert merged.aliases == ["làm hộ chiếu", "lam passport"]
    assert with_aliases(merged, overlay["1.001456"]) is merged


@pytest.mark.parametrize("content", ["- code: 1\n  aliases: [x]\n", "- aliases: [x]\n", "- code: '1.000001'\n  aliases: x\n", ": :\n  - ["])
def test_alias_overlay_errors_name_the_file(tmp_path, content: str) -> None:
    from knowledge_base.corpus import load_alias_overlay

    path = tmp_path / "aliases.yml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(CorpusError, match="aliases.yml"):
        load_alias_overlay(path)


def test_missing_alias_overlay_is_empty(tmp_path) -> None:
    from knowledge_base.corpus import load_alias_overlay

    assert load_alias_overlay(tmp_path / "none.yml") == {}

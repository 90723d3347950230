"""Tests for ProcedureStore: versions, the curated-origin policy, the audit log and exact round trips.

Every test runs twice: on a SQLite file and on PostgreSQL (the ``postgres`` parameter skips unless
``TEST_POSTGRES_URL`` is set, e.g. by ``scripts/test-postgres.sh``). Each PostgreSQL test gets its own
schema, dropped afterwards, so tests never see each other's rows.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.orm import sessionmaker

from knowledge_base.db import ProcedureRow, ProcedureVersionRow, make_engine, migrate
from knowledge_base.schema import Channel, Document, Duration, Fee, LegalRef, Procedure
from knowledge_base.store import ProcedureStore, content_hash


@pytest.fixture
def store(database_url: str) -> Iterator[ProcedureStore]:
    """A ProcedureStore on a freshly migrated database (SQLite or PostgreSQL)."""
    engine = make_engine(database_url)
    migrate(engine)
    try:
        yield ProcedureStore(sessionmaker(engine, expire_on_commit=False))
    finally:
        engine.dispose()


def make_procedure(code: str = "1.001193", **changes: object) -> Procedure:
    """A realistic procedure with nested channels, fees, documents, legal basis and a date."""
    base = Procedure(
        code=code,
        name="Đăng ký khai sinh",
        level=["Cấp xã"],
        field="Hộ tịch",
        applicants="Công dân Việt Nam",
        agency="Ủy ban nhân dân cấp xã",
        submit_at="Bộ phận một cửa của phường",
        channels=[
            Channel(
                kind="in_person",
                time=Duration(value=1.0, unit="Ngày làm việc", text="1 ngày làm việc"),
                fees=[Fee(kind="free", note="Miễn lệ phí")],
            ),
            Channel(
                kind="online",
                time=Duration(value=None, unit=None, text=""),
                fees=[Fee(kind="amount", amount_vnd=8000, note="bản sao trích lục"), Fee(kind="province")],
                description="Cổng Dịch vụ công quốc gia",
            ),
        ],
        documents=[
            Document(name="Tờ khai đăng ký khai sinh", quantity=1, copy_type="original", form="Mẫu tờ khai"),
            Document(name="Giấy chứng sinh", quantity=1, copy_type="original_or_copy", applies_to="trẻ sinh tại cơ sở y tế"),
        ],
        steps=["Nộp hồ sơ tại bộ phận một cửa.", "Nhận Giấy khai sinh."],
        conditions="",
        result="Giấy khai sinh",
        legal_basis=[LegalRef(number="60/2014/QH13", title="Luật Hộ tịch")],
        portal_url="https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh-chi-tiet.html?ma_thu_tuc=1.001193",
        source_url="https://dichvucong.gov.vn/p/home/dvc-tthc-thu-tuc-hanh-chinh-chi-tiet.html?ma_thu_tuc=1.001193",
        last_updated=dt.date(2026, 11, 23),
        summary="Đăng ký khai sinh cho trẻ tại phường nơi cư trú.",
        aliases=["làm giấy khai sinh", "khai sinh cho con"],
        sample_questions=["làm giấy khai sinh cho con cần gì?"],
        origin="portal",
        raw={"ma_thu_tuc": "1.001193"},
        parse_issues=["channels.time"],
    )
    return base.model_copy(update=changes)


def version_rows(store: ProcedureStore, code: str) -> list[ProcedureVersionRow]:
    with store.session() as session:
        return list(
            session.scalars(
                select(ProcedureVersionRow).where(ProcedureVersionRow.code == code).order_by(ProcedureVersionRow.version)
            )
        )


# --- insert / update / unchanged -----------------------------------------------------------------


def test_empty_store(store: ProcedureStore) -> None:
    assert store.count() == 0
    assert store.all() == []
    assert store.get("1.001193") is None
    assert store.versions("1.001193") == []


def test_insert_update_unchanged_outcomes_and_versions(store: ProcedureStore) -> None:
    first = make_procedure()
    [inserted] = store.upsert_many([first], author="tester")
    assert (inserted.outcome, inserted.version) == ("inserted", 1)

    [again] = store.upsert_many([first], author="tester")
    assert (again.outcome, again.version) == ("unchanged", 1)

    edited = make_procedure(summary="Khai sinh cho trẻ em tại phường.")
    [updated] = store.upsert_many([edited], author="tester")
    assert (updated.outcome, updated.version) == ("updated", 2)

    assert store.count() == 1
    assert store.versions(first.code) == [1, 2]
    assert store.get(first.code) == edited


def test_results_follow_input_order_in_one_call(store: ProcedureStore) -> None:
    store.upsert_many([make_procedure("1.000001")], author="tester")
    results = store.upsert_many(
        [make_procedure("1.000003"), make_procedure("1.000001"), make_procedure("1.000002", name="Khác")],
        author="tester",
    )
    assert [(r.code, r.outcome) for r in results] == [
        ("1.000003", "inserted"),
        ("1.000001", "unchanged"),
        ("1.000002", "inserted"),
    ]
    assert [p.code for p in store.all()] == ["1.000001", "1.000002", "1.000003"]


def test_each_change_adds_one_version_row_with_author_note_and_content(store: ProcedureStore) -> None:
    v1 = make_procedure()
    v2 = make_procedure(steps=["Nộp hồ sơ trực tuyến."])
    store.upsert_many([v1], author="alice", note="first")
    store.upsert_many([v1], author="bob", note="no change")
    store.upsert_many([v2], author="carol", note="edit")

    rows = version_rows(store, v1.code)
    assert [(r.version, r.author, r.note) for r in rows] == [(1, "alice", "first"), (2, "carol", "edit")]
    assert [r.content_hash for r in rows] == [content_hash(v1), content_hash(v2)]
    assert Procedure.model_validate(rows[0].data) == v1
    assert Procedure.model_validate(rows[1].data) == v2


def test_current_row_columns_follow_the_latest_version(store: ProcedureStore) -> None:
    store.upsert_many([make_procedure(level=["Cấp xã", "Cấp tỉnh"])], author="tester")
    with store.session() as session:
        row = session.get(ProcedureRow, "1.001193")
        assert (row.name, row.field, row.level, row.origin, row.version) == (
            "Đăng ký khai sinh", "Hộ tịch", "Cấp xã, Cấp tỉnh", "portal", 1,
        )


# --- curated-origin policy -----------------------------------------------------------------------


@pytest.mark.parametrize("curated", ["ward", "admin"])
def test_portal_never_overwrites_a_curated_record(store: ProcedureStore, curated: str) -> None:
    mine = make_procedure(origin=curated, summary="Bản do phường biên soạn.")
    store.upsert_many([mine], author="ward-corpus")
    portal = make_procedure(origin="portal", summary="Bản từ Cổng.")

    [result] = store.upsert_many([portal], author="import-portal")

    assert (result.outcome, result.version) == ("kept_curated", 1)
    assert store.get(mine.code) == mine
    assert store.versions(mine.code) == [1]


@pytest.mark.parametrize("curated", ["ward", "admin"])
def test_overwrite_curated_lets_the_portal_replace_it(store: ProcedureStore, curated: str) -> None:
    store.upsert_many([make_procedure(origin=curated, summary="Bản do phường biên soạn.")], author="ward-corpus")
    portal = make_procedure(origin="portal", summary="Bản từ Cổng.")

    [result] = store.upsert_many([portal], author="import-portal", overwrite_curated=True)

    assert (result.outcome, result.version) == ("updated", 2)
    assert store.get(portal.code) == portal
    assert store.codes_with_origin("portal") == {portal.code}


def test_a_ward_record_replaces_a_portal_one(store: ProcedureStore) -> None:
    store.upsert_many([make_procedure(origin="portal")], author="import-portal")
    ward = make_procedure(origin="ward", aliases=["làm khai sinh", "giấy khai sinh", "đăng ký khai sinh"])

    [result] = store.upsert_many([ward], author="ward-corpus")

    assert (result.outcome, result.version) == ("updated", 2)
    assert store.get(ward.code) == ward
    assert store.codes_with_origin("ward") == {ward.code}
    assert store.codes_with_origin("portal") == set()
    assert [r.origin for r in version_rows(store, ward.code)] == ["portal", "ward"]


def test_admin_edit_replaces_a_ward_record(store: ProcedureStore) -> None:
    store.upsert_many([make_procedure(origin="ward")], author="ward-corpus")
    [result] = store.upsert_many([make_procedure(origin="admin", summary="Sửa bởi quản trị.")], author="admin1")
    assert result.outcome == "updated"
    assert store.codes_with_origin("admin") == {"1.001193"}


def test_portal_copy_differing_only_in_origin_is_kept_out(store: ProcedureStore) -> None:
    """Only the origin differs, and origin is part of the content: the portal copy is kept out."""
    store.upsert_many([make_procedure(origin="ward")], author="ward-corpus")
    [result] = store.upsert_many([make_procedure(origin="portal")], author="import-portal")
    assert result.outcome == "kept_curated"
    assert store.get("1.001193").origin == "ward"


# --- audit and fingerprint -----------------------------------------------------------------------


def test_audit_entries_newest_first_with_detail(store: ProcedureStore) -> None:
    store.audit(actor="import-portal", action="import_portal", target="dump.jsonl", detail={"inserted": 3})
    store.audit(actor="admin1", action="edit", target="1.001193")

    entries = store.audit_entries()

    assert [(e.actor, e.action, e.target) for e in entries] == [
        ("admin1", "edit", "1.001193"),
        ("import-portal", "import_portal", "dump.jsonl"),
    ]
    assert entries[0].detail == {}
    assert entries[1].detail == {"inserted": 3}
    assert all(isinstance(e.at, dt.datetime) for e in entries)
    assert len(store.audit_entries(limit=1)) == 1


def test_corpus_fingerprint_changes_with_content_only(store: ProcedureStore) -> None:
    empty = store.corpus_fingerprint()
    store.upsert_many([make_procedure("1.000001"), make_procedure("1.000002")], author="tester")
    two = store.corpus_fingerprint()
    assert two != empty

    store.upsert_many([make_procedure("1.000001")], author="tester")  # unchanged
    assert store.corpus_fingerprint() == two

    store.upsert_many([make_procedure("1.000002", result="Trích lục khai sinh")], author="tester")
    edited = store.corpus_fingerprint()
    assert edited not in {empty, two}

    store.upsert_many([make_procedure("1.000002")], author="tester")  # back to the first content
    assert store.corpus_fingerprint() == two


def test_fingerprint_is_the_same_for_the_same_corpus_in_another_database(
    store: ProcedureStore, tmp_path: Path
) -> None:
    procedures = [make_procedure("1.000002"), make_procedure("1.000001", name="Khác")]
    store.upsert_many(procedures, author="tester")
    engine = make_engine(f"sqlite:///{tmp_path / 'other.db'}")
    migrate(engine)
    other = ProcedureStore(sessionmaker(engine, expire_on_commit=False))
    other.upsert_many(list(reversed(procedures)), author="someone else")
    assert other.corpus_fingerprint() == store.corpus_fingerprint()
    engine.dispose()


# --- round trips ---------------------------------------------------------------------------------


def test_get_round_trips_a_procedure_exactly(store: ProcedureStore) -> None:
    procedure = make_procedure()
    store.upsert_many([procedure], author="tester")

    loaded = store.get(procedure.code)

    assert loaded == procedure
    assert loaded.model_dump() == procedure.model_dump()
    assert loaded.last_updated == dt.date(2026, 11, 23)
    assert loaded.channel("online").fees[0].amount_vnd == 8000
    assert loaded.channel("online").time.value is None
    assert loaded.documents[1].copy_type == "original_or_copy"
    assert content_hash(loaded) == content_hash(procedure)


def test_round_trip_keeps_vietnamese_text_and_empty_optionals(store: ProcedureStore) -> None:
    procedure = Procedure(
        code="2.000815",
        name="Chứng thực bản sao từ bản chính",
        summary="Sao y — “bản chính” ½ trang; ký tự đặc biệt: ỹ Ỹ đ Đ ư ơ",
        last_updated=None,
        origin="ward",
    )
    store.upsert_many([procedure], author="tester")
    assert store.get("2.000815") == procedure


def test_all_returns_every_procedure_by_code(store: ProcedureStore) -> None:
    codes = ["2.000815", "1.001193", "1.000894"]
    store.upsert_many([make_procedure(code) for code in codes], author="tester")
    assert [p.code for p in store.all()] == sorted(codes)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(ProcedureVersionRow)) == 3


def test_fingerprint_of_records_equals_the_stored_fingerprint(store: ProcedureStore) -> None:
    from knowledge_base.corpus import load_ward_corpus
    from knowledge_base.settings import get_settings
    from knowledge_base.store import fingerprint_of

    store.upsert_many(load_ward_corpus(get_settings().corpus_dir)[:7], author="test")
    assert fingerprint_of(store.all()) == store.corpus_fingerprint()

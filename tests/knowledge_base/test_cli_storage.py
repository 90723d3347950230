"""Tests for the storage commands of the CLI (``import-portal``, ``load-corpus``), run as real subprocesses.

Each test points DATABASE_URL and INDEX_DIR into its own tmp_path and runs from there, so nothing
touches ``var/`` and the commands are shown to work from any working directory.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy.orm import sessionmaker

from knowledge_base.db import make_engine, migrate
from knowledge_base.store import ProcedureStore

REPO = Path(__file__).resolve().parents[2]
CORPUS_SIZE = len(list((REPO / "knowledge_base" / "procedures").glob("*.yaml")))

CHANNELS = "Hình thức nộpThời gianPhí, lệ phíMô tảTrực tiếp5 Ngày làm việcMiễn phíNộp tại bộ phận một cửa"


def raw(code: str, name: str) -> dict[str, str]:
    return {
        "ma_thu_tuc": code,
        "ten_thu_tuc": name,
        "cap_thuc_hien": "Cấp xã",
        "linh_vuc": "Hộ tịch",
        "cach_thuc_thuc_hien": CHANNELS,
        "thanh_phan_ho_so": "Tên giấy tờMẫu đơn, tờ khaiSố lượngTờ khai1 bản chính",
        "can_cu_phap_ly": "Tên văn bản pháp lýMã văn bảnLuật Hộ tịch60/2014/QH13",
        "trinh_tu_thuc_hien": "Bước 1: Nộp hồ sơ.\nBước 2: Nhận kết quả.",
    }


#: Two codes the ward corpus does not hold, and one it does (1.001193, curated: kept).
RECORDS = [raw("1.000001", "Thủ tục thử một"), raw("1.000002", "Thủ tục thử hai"), raw("1.001193", "Đăng ký khai sinh")]


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if k not in {"CORPUS_DIR", "EMBEDDING_MODEL"}}
    environment.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'var' / 'app.db'}",
        INDEX_DIR=str(tmp_path / "var" / "index"),
        MODELS_DIR=str(tmp_path / "var" / "models"),
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
    )
    return environment


def kb(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "knowledge_base", *args],
        env=env, cwd=cwd, capture_output=True, text=True, timeout=300,
    )


def open_db(env: dict[str, str]) -> ProcedureStore:
    engine = make_engine(env["DATABASE_URL"])
    migrate(engine)
    return ProcedureStore(sessionmaker(engine, expire_on_commit=False))


def one_error_line(stderr: str) -> str:
    """The command's error: exactly one line starting with 'error:', and it is the last line."""
    lines = [line for line in stderr.replace("\r", "\n").splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1, stderr
    assert lines[-1] == errors[0], stderr
    return errors[0]


# --- import-portal -------------------------------------------------------------------------------


def test_import_portal_prints_the_summary_and_stores_the_records(env: dict[str, str], tmp_path: Path) -> None:
    dump = write_jsonl(tmp_path / "dump.jsonl", [json.dumps(r, ensure_ascii=False) for r in RECORDS])

    done = kb(env, tmp_path, "import-portal", str(dump), "--quiet")

    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "records read: 3" in out
    assert "inserted      2" in out
    assert "kept_curated  1" in out
    assert "rejected      0" in out
    assert "parse rate per field:" in out
    assert f"procedures in the database: {CORPUS_SIZE + 2}" in out
    store = open_db(env)
    assert store.count() == CORPUS_SIZE + 2
    assert store.get("1.000001").origin == "portal"
    assert store.get("1.001193").origin == "ward", "a fresh database is seeded with the ward corpus first"


def test_import_portal_twice_is_idempotent(env: dict[str, str], tmp_path: Path) -> None:
    dump = write_jsonl(tmp_path / "dump.jsonl", [json.dumps(r, ensure_ascii=False) for r in RECORDS])
    assert kb(env, tmp_path, "import-portal", str(dump), "--quiet").returncode == 0
    fingerprint = open_db(env).corpus_fingerprint()

    again = kb(env, tmp_path, "import-portal", "dump.jsonl", "--quiet")  # a relative path works too

    assert again.returncode == 0, again.stderr
    assert "inserted      0" in again.stdout
    assert "unchanged     2" in again.stdout
    assert open_db(env).corpus_fingerprint() == fingerprint


def test_import_portal_missing_file(env: dict[str, str], tmp_path: Path) -> None:
    done = kb(env, tmp_path, "import-portal", "nowhere.jsonl")
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert "nowhere.jsonl" in one_error_line(done.stderr)


@pytest.mark.parametrize("quiet", [True, False], ids=["quiet", "progress"])
def test_import_portal_malformed_file(env: dict[str, str], tmp_path: Path, quiet: bool) -> None:
    lines = [json.dumps(r, ensure_ascii=False) for r in RECORDS]
    lines.insert(2, '{"ma_thu_tuc": "1.000003", "ten_thu_tuc": ')
    dump = write_jsonl(tmp_path / "broken.jsonl", lines)

    done = kb(env, tmp_path, "import-portal", str(dump), *(["--quiet"] if quiet else []))

    assert done.returncode == 1
    message = one_error_line(done.stderr)
    assert "broken.jsonl, line 3" in message
    if quiet:
        assert done.stderr.strip() == message
    assert "records read" not in done.stdout
    store = open_db(env)
    assert store.count() == CORPUS_SIZE, "nothing from the broken file was stored"
    assert store.codes_with_origin("portal") == set()


# --- load-corpus ---------------------------------------------------------------------------------


def test_load_corpus_inserts_then_reports_unchanged(env: dict[str, str], tmp_path: Path) -> None:
    first = kb(env, tmp_path, "load-corpus")
    assert first.returncode == 0, first.stderr
    assert f"ward corpus procedures/: {CORPUS_SIZE} inserted, 0 updated, 0 unchanged" in first.stdout

    second = kb(env, tmp_path, "load-corpus")
    assert second.returncode == 0, second.stderr
    assert f"0 inserted, 0 updated, {CORPUS_SIZE} unchanged, 0 kept" in second.stdout
    assert open_db(env).count() == CORPUS_SIZE


def test_load_corpus_from_a_broken_folder(env: dict[str, str], tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.yaml").write_text("code: '1.000001'\nname: Thử\nchannels: 3\n", encoding="utf-8")

    done = kb({**env, "CORPUS_DIR": str(corpus)}, tmp_path, "load-corpus")

    assert done.returncode == 1
    message = one_error_line(done.stderr)
    assert done.stderr.strip() == message
    assert "a.yaml" in message and "channels" in message
    assert open_db(env).count() == 0


# --- arguments -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [("frobnicate",), (), ("import-portal",), ("import-portal", "a.jsonl", "--bogus")],
    ids=["unknown-command", "no-command", "missing-path", "unknown-option"],
)
def test_bad_arguments_exit_2(env: dict[str, str], tmp_path: Path, args: tuple[str, ...]) -> None:
    done = kb(env, tmp_path, *args)
    assert done.returncode == 2
    assert "usage:" in done.stderr
    assert not (tmp_path / "var" / "app.db").exists(), "bad arguments touch no database"

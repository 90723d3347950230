"""The knowledge-base CLI end to end, with the real packaged embedding model on the ward corpus."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "knowledge_base", *args], cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("cli")
    return {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{root / 'app.db'}",
        "INDEX_DIR": str(root / "index"),
        "MODELS_DIR": str(root / "models"),  # empty: the packaged base model is used
        "HF_HUB_OFFLINE": "1",
    }


@pytest.mark.slow
def test_search_before_index_says_how_to_build(env: dict[str, str]) -> None:
    result = run(["search", "khai sinh"], env)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error:")
    assert "python -m knowledge_base index" in result.stderr


@pytest.mark.slow
def test_index_search_eval(env: dict[str, str], tmp_path: Path) -> None:
    built = run(["index", "--quiet", "--no-train"], env)
    assert built.returncode == 0, built.stderr
    assert "built" in built.stdout and "all-MiniLM-L6-v2 (packaged)" in built.stdout

    again = run(["index", "--quiet", "--no-train"], env)
    assert again.returncode == 0 and "up to date" in again.stdout

    # A build in another format (older code, or newer code rolled back) is rebuilt, not kept: loading it
    # would fail.
    manifest_path = Path(env["INDEX_DIR"]) / "current" / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["format_version"] += 1
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    rebuilt = run(["index", "--quiet", "--no-train"], env)
    assert rebuilt.returncode == 0 and "built" in rebuilt.stdout, rebuilt.stdout

    searched = run(["search", "lam giay khai sinh cho con can giay to gi", "--k", "3", "--json"], env)
    assert searched.returncode == 0, searched.stderr
    payload = json.loads(searched.stdout.strip().splitlines()[-1])
    assert payload["results"][0]["code"] == "1.001193"
    assert len(payload["results"]) == 3
    assert payload["decision"]["kind"] in {"answer", "clarify", "handoff"}

    questions = tmp_path / "q.jsonl"
    questions.write_text(
        "\n".join(
            json.dumps(row, ensure_ascii=False)
            for row in [
                {"question": "đăng ký kết hôn cần gì", "expected": ["1.000894"]},
                {"question": "nhap khau cho con", "expected": ["1.004222"]},
                {"question": "thời tiết hôm nay thế nào", "expected": []},
            ]
        )
        + "\n",
        encoding="utf-8",
    )
    evaluated = run(["eval", str(questions), "--json"], env)
    assert evaluated.returncode == 0, evaluated.stderr
    summary = json.loads(evaluated.stdout.strip().splitlines()[-1])
    assert summary["n"] == 2
    assert {"recall_at_1", "recall_at_5", "mrr", "decisions"} <= summary.keys()
    assert sum(summary["decisions"].values()) == 3
    assert summary["recall_at_5"] == 1.0

    conversations = tmp_path / "c.jsonl"
    conversations.write_text(
        json.dumps({"id": "c1", "turns": [
            {"text": "lam giay khai sinh o dau", "expect": {"kind": "answer", "procedure": "1.001193", "aspect": "place"}},
            {"text": "phi bn", "expect": {"kind": "answer", "procedure": "1.001193", "aspect": "fee"}},
        ]}, ensure_ascii=False) + "\n",
        encoding="utf-8",
    )
    more = tmp_path / "more.jsonl"
    more.write_text(
        "".join(
            json.dumps({"question": q, "expected": e}, ensure_ascii=False) + "\n"
            for q, e in [
                ("đăng ký tạm trú", ["1.004194"]), ("đăng ký khai tử", ["1.000656"]), ("tách hộ", ["1.010038"]),
                ("giá vàng hôm nay", []), ("kết quả bóng đá tối qua", []), ("cách nấu phở bò", []),
            ]
        ),
        encoding="utf-8",
    )
    # Question files and a conversation file together; no --write, so gate.yml is untouched.
    calibrated = run(["calibrate-gate", str(questions), str(more), str(conversations)], env)
    assert calibrated.returncode == 0, calibrated.stderr
    assert "on all 10 questions" in calibrated.stdout and "answer_weights=" in calibrated.stdout


@pytest.mark.parametrize(
    ("args", "status"),
    [(["search", "x", "--k", "0"], 2), (["eval", "/nonexistent/q.jsonl"], 1), (["frobnicate"], 2)],
)
def test_bad_arguments(env: dict[str, str], args: list[str], status: int) -> None:
    result = run(args, env)
    assert result.returncode == status
    assert result.stderr.strip()


@pytest.mark.slow
def test_index_trains_the_default_model_first_when_missing(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'app.db'}",
        "INDEX_DIR": str(tmp_path / "index"),
        "MODELS_DIR": str(tmp_path / "models"),
        "HF_HUB_OFFLINE": "1",
    }
    built = run(["index", "--quiet"], env)
    assert built.returncode == 0, built.stderr
    assert "training the default embedding model first" in built.stdout
    assert "model ward-minilm" in built.stdout
    info = json.loads((tmp_path / "models" / "ward-minilm" / "training.json").read_text())
    assert info["procedures"] >= 40
    again = run(["index", "--quiet"], env)
    assert "training" not in again.stdout and "up to date" in again.stdout
    # An index built from another training of the model (its vectors no longer match the queries').
    manifest_path = tmp_path / "index" / "current" / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    assert manifest["model_version"] == info["fingerprint"]
    manifest_path.write_text(json.dumps(manifest | {"model_version": "an earlier training"}))
    rebuilt = run(["index", "--quiet"], env)
    assert "training" not in rebuilt.stdout and "built" in rebuilt.stdout

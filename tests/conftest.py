"""Shared fixtures: where the shared data lives, isolated settings, and a PostgreSQL URL when available."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"
PORTAL_DUMP = SHARED_DATA / "tthc-portal" / "procedures.jsonl.gz"
FAQ_QUESTIONS = SHARED_DATA / "faq-questions" / "questions.jsonl"

# Models must never be fetched from a hub, in tests as in production.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if PORTAL_DUMP.is_file():
        return
    skip = pytest.mark.skip(reason=f"needs the shared portal dump at {PORTAL_DUMP}")
    for item in items:
        if "shared_data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def portal_dump() -> Path:
    if not PORTAL_DUMP.is_file():
        pytest.skip(f"needs the shared portal dump at {PORTAL_DUMP}")
    return PORTAL_DUMP


@pytest.fixture
def isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Point DATABASE_URL, INDEX_DIR and MODELS_DIR into tmp_path and return fresh Settings."""
    from knowledge_base.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.setenv("INDEX_DIR", str(tmp_path / "index"))
    monkeypatch.setenv("MODELS_DIR", str(tmp_path / "models"))
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A PostgreSQL URL from TEST_POSTGRES_URL (``make test`` starts a throwaway server when it can)."""
    url = os.environ.get("TEST_POSTGRES_URL")
    if not url:
        pytest.skip("TEST_POSTGRES_URL is not set (no PostgreSQL server for this run)")
    return url


def _with_search_path(url: str, schema: str) -> str:
    """Return ``url`` with a libpq option that makes ``schema`` the only schema on the search path."""
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}options={quote(f'-csearch_path={schema}')}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database: a SQLite file in tmp_path, or a fresh schema on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    base_url = request.getfixturevalue("postgres_url")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield _with_search_path(base_url, schema)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

"""One typed settings object for the knowledge base and the processes that use it.

Values come from environment variables and an optional ``.env`` file at the repository root. Relative
paths (``INDEX_DIR``, a ``sqlite:///var/...`` URL) are resolved against the repository root so the CLI
behaves the same from any working directory.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]

#: Name of the default embedding model: the project's own fine-tuned MiniLM (``train-embedder``),
#: falling back to the packaged base model when it has not been trained yet.
DEFAULT_EMBEDDING_MODEL = "ward-minilm"


class Settings(BaseSettings):
    """Process settings, validated once at start-up."""

    model_config = SettingsConfigDict(env_file=REPO_ROOT / ".env", extra="ignore")

    database_url: str = Field(default="sqlite:///var/app.db")
    index_dir: Path = Field(default=Path("var/index"))
    models_dir: Path = Field(default=Path("var/models"))
    embedding_model: str = Field(default=DEFAULT_EMBEDDING_MODEL)
    corpus_dir: Path = Field(default=Path(__file__).resolve().parent / "procedures")

    @field_validator("index_dir", "models_dir", "corpus_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value if value.is_absolute() else REPO_ROOT / value

    @field_validator("database_url")
    @classmethod
    def _resolve_sqlite_path(cls, value: str) -> str:
        prefix = "sqlite:///"
        if not value:
            raise ValueError("DATABASE_URL is empty; use e.g. sqlite:///var/app.db")
        if value.startswith(prefix) and not value.startswith(prefix + "/") and value != prefix + ":memory:":
            return prefix + str(REPO_ROOT / value[len(prefix):])
        return value


@lru_cache
def get_settings() -> Settings:
    """Return the process-wide settings (read once; ``get_settings.cache_clear()`` in tests)."""
    return Settings()

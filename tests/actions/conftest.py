"""Fixtures for the actions: the ward corpus in a temporary database, a model-free knowledge base,
the real domain, and rasa-sdk trackers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from rasa_sdk import Tracker

from knowledge_base.corpus import load_ward_corpus
from knowledge_base.embedder import HashingEmbedder
from knowledge_base.gate import GateConfig
from knowledge_base.index import build_index
from knowledge_base.service import KnowledgeBase, open_store
from knowledge_base.store import ProcedureStore
from web.cases import CaseService

DOMAIN_FILE = Path(__file__).resolve().parents[2] / "domain.yml"


@pytest.fixture(scope="session")
def domain() -> dict[str, Any]:
    return yaml.safe_load(DOMAIN_FILE.read_text(encoding="utf-8"))


@pytest.fixture
def store(isolated_settings) -> ProcedureStore:
    return open_store(isolated_settings)


@pytest.fixture
def knowledge_base(isolated_settings, store: ProcedureStore) -> KnowledgeBase:
    embedder = HashingEmbedder(256)
    build_index(load_ward_corpus(isolated_settings.corpus_dir), embedder, isolated_settings.index_dir)
    return KnowledgeBase(isolated_settings, embedder=embedder, gate=GateConfig())


@pytest.fixture
def case_service(isolated_settings) -> CaseService:
    return CaseService.for_url(isolated_settings.database_url)


def make_tracker(
    text: str,
    intent: str,
    *,
    entities: list[dict] | None = None,
    slots: dict[str, Any] | None = None,
    sender_id: str = "citizen-1",
) -> Tracker:
    """A tracker whose latest message is ``text`` classified as ``intent``."""
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.9},
        "entities": entities or [],
    }
    return Tracker(
        sender_id=sender_id,
        slots={"procedure_code": None, "aspect": None, "options": None, "awaiting_feedback": False, **(slots or {})},
        latest_message=latest,
        events=[],
        paused=False,
        followup_action=None,
        active_loop={},
        latest_action_name="action_listen",
    )

"""The on-disk search index: FAISS dense vectors plus the lexical BM25 matrices, with a manifest.

Layout under ``INDEX_DIR``::

    builds/<build-id>/   manifest.json, dense.faiss, chunks.json, procedures.json, lexical_*
    current -> builds/<build-id>      (a symlink swapped atomically after a build succeeds)

A failed build leaves ``current`` untouched, so the live index keeps serving.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from knowledge_base.chunking import dense_chunks, display_name, lexical_body, lexical_titles
from knowledge_base.embedder import Embedder, model_version
from knowledge_base.lexical import LexicalIndex
from knowledge_base.schema import Procedure
from knowledge_base.store import fingerprint_of
from knowledge_base.text import hash_rule_files

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
KEEP_BUILDS = 2


def text_rules_fingerprint() -> str:
    """A hash of the text-rule files the lexical index is built with (teencode, synonyms): editing
    them changes the indexed terms, so an index built with other rules is stale."""
    digest = hashlib.sha256()
    hash_rule_files(digest)
    return digest.hexdigest()


class IndexStateError(RuntimeError):
    """Base class for index problems."""


class IndexMissingError(IndexStateError):
    """No index has been built in INDEX_DIR yet."""


class IndexMismatchError(IndexStateError):
    """The index was built with another embedding model or format than the one configured."""


@dataclass(frozen=True)
class ProcedureEntry:
    code: str
    name: str
    level: list[str]
    field: str


@dataclass
class SearchIndex:
    """A loaded index: everything retrieval needs, no database required."""

    manifest: dict
    dense: "faiss.Index"  # noqa: F821 - faiss is imported lazily
    chunk_codes: list[str]
    procedures: list[ProcedureEntry]
    lexical: LexicalIndex

    @property
    def by_code(self) -> dict[str, ProcedureEntry]:
        return {p.code: p for p in self.procedures}


def build_index(
    procedures: Sequence[Procedure], embedder: Embedder, index_dir: Path, *, show_progress: bool = False
) -> Path:
    """Build a new index for ``procedures`` and make it the current one atomically.

    Returns:
        The folder of the new build.

    Raises:
        ValueError: when there are no procedures to index.
    """
    import faiss

    if not procedures:
        raise ValueError("there are no procedures to index; import or load a corpus first")
    started = time.perf_counter()
    builds = index_dir / "builds"
    builds.mkdir(parents=True, exist_ok=True)
    build_id = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    staging = builds / f".{build_id}.partial"
    staging.mkdir()
    try:
        chunks = [c for p in procedures for c in dense_chunks(p)]
        vectors = embedder.encode([c.text for c in chunks], show_progress=show_progress)
        dense = faiss.IndexFlatIP(vectors.shape[1])
        dense.add(vectors)
        faiss.write_index(dense, str(staging / "dense.faiss"))
        (staging / "chunks.json").write_text(json.dumps([c.code for c in chunks]), encoding="utf-8")
        entries = [
            {"code": p.code, "name": display_name(p), "level": p.level, "field": p.field} for p in procedures
        ]
        (staging / "procedures.json").write_text(json.dumps(entries, ensure_ascii=False), encoding="utf-8")
        lexical = LexicalIndex.build(
            [p.code for p in procedures], [lexical_titles(p) for p in procedures], [lexical_body(p) for p in procedures]
        )
        lexical.save(staging)
        manifest = {
            "format_version": FORMAT_VERSION,
            "model": embedder.name,
            "model_version": model_version(embedder),
            "dimension": int(vectors.shape[1]),
            "corpus_hash": fingerprint_of(procedures),
            "text_rules_hash": text_rules_fingerprint(),
            "procedures": len(procedures),
            "chunks": len(chunks),
            "built_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "build_seconds": round(time.perf_counter() - started, 2),
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        final = builds / build_id
        staging.rename(final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _point_current_at(index_dir, final)
    _prune_old_builds(builds, keep=final)
    return final


def _point_current_at(index_dir: Path, build: Path) -> None:
    link = index_dir / "current"
    tmp_link = index_dir / f".current.{os.getpid()}"
    if tmp_link.is_symlink() or tmp_link.exists():
        tmp_link.unlink()
    os.symlink(Path("builds") / build.name, tmp_link)
    os.replace(tmp_link, link)  # atomic on POSIX: readers see the old or the new build, never neither


def _prune_old_builds(builds: Path, keep: Path) -> None:
    done = sorted((b for b in builds.iterdir() if not b.name.startswith(".")), reverse=True)
    for old in done[KEEP_BUILDS:]:
        if old != keep:
            shutil.rmtree(old, ignore_errors=True)


def read_manifest(index_dir: Path) -> dict:
    """Return the current build's manifest.

    Raises:
        IndexMissingError: with the command that builds one.
    """
    path = index_dir / "current" / "manifest.json"
    if not path.is_file():
        raise IndexMissingError(
            f"no search index in {index_dir}; build it with: python -m knowledge_base index"
        )
    return json.loads(path.read_text(encoding="utf-8"))


def load_index(index_dir: Path, *, expected_model: str | None = None) -> SearchIndex:
    """Load the current build.

    Args:
        index_dir: the INDEX_DIR folder.
        expected_model: when given, the manifest's model must match it (vectors from another model
            are meaningless to the configured one).

    Raises:
        IndexMissingError: no build yet.
        IndexMismatchError: built by another model or an older format.
    """
    import faiss

    manifest = read_manifest(index_dir)
    if manifest.get("format_version") != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index in {index_dir} has format {manifest.get('format_version')}, this code reads "
            f"{FORMAT_VERSION}; rebuild it with: python -m knowledge_base index"
        )
    if expected_model is not None and manifest["model"] != expected_model:
        raise IndexMismatchError(
            f"index in {index_dir} was built with model {manifest['model']!r} but {expected_model!r} is "
            "configured; rebuild it with: python -m knowledge_base index"
        )
    build = (index_dir / "current").resolve()
    entries = json.loads((build / "procedures.json").read_text(encoding="utf-8"))
    return SearchIndex(
        manifest=manifest,
        dense=faiss.read_index(str(build / "dense.faiss")),
        chunk_codes=json.loads((build / "chunks.json").read_text(encoding="utf-8")),
        procedures=[ProcedureEntry(**e) for e in entries],
        lexical=LexicalIndex.load(build),
    )


def dense_search(index: SearchIndex, query_vector: np.ndarray, k: int) -> dict[str, float]:
    """Return the best chunk similarity per procedure among the ``k`` nearest chunks."""
    scores, ids = index.dense.search(query_vector.reshape(1, -1), min(k, index.dense.ntotal))
    best: dict[str, float] = {}
    for score, idx in zip(scores[0], ids[0]):
        if idx < 0:
            continue
        code = index.chunk_codes[idx]
        if score > best.get(code, -1.0):
            best[code] = float(score)
    return best

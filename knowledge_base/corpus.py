"""The team's default ward corpus: one YAML file per procedure in ``knowledge_base/procedures/``.

``sync_ward_corpus`` loads it into the database on first run and refreshes records whose file changed,
so ``make run`` answers on a fresh machine without the national portal dump.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml
from pydantic import ValidationError

from knowledge_base.schema import Procedure
from knowledge_base.text import nfc
from knowledge_base.store import ProcedureStore


class CorpusError(ValueError):
    """A ward corpus file is missing, unreadable or does not match the procedure schema."""


def _one_line(error: ValidationError) -> str:
    """Summarise a validation error on one line: ``field.path: message; ...`` (the CLI prints one line)."""
    return "; ".join(
        f"{'.'.join(str(part) for part in item['loc']) or 'file'}: {item['msg']}" for item in error.errors()
    )


def load_procedure_file(path: Path) -> Procedure:
    """Read and validate one procedure YAML file.

    Raises:
        CorpusError: naming the file and the field that failed.
    """
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CorpusError(f"{path}: cannot read YAML: {' '.join(str(exc).split())}") from exc
    if not isinstance(data, dict):
        raise CorpusError(f"{path}: expected a mapping of procedure fields, got {type(data).__name__}")
    try:
        return Procedure.model_validate(data)
    except ValidationError as exc:
        raise CorpusError(f"{path}: does not match the procedure schema: {_one_line(exc)}") from exc


def load_ward_corpus(directory: Path) -> list[Procedure]:
    """Load every ``*.yaml`` file in ``directory``, sorted by file name.

    Raises:
        CorpusError: when the folder is missing, empty, a file is invalid, or two files share a code.
    """
    if not directory.is_dir():
        raise CorpusError(f"ward corpus folder {directory} does not exist")
    files = sorted(directory.glob("*.yaml"))
    if not files:
        raise CorpusError(f"ward corpus folder {directory} holds no .yaml files")
    procedures: list[Procedure] = []
    seen: dict[str, Path] = {}
    for path in files:
        procedure = load_procedure_file(path)
        if procedure.code in seen:
            raise CorpusError(f"{path}: code {procedure.code} is also used by {seen[procedure.code]}")
        seen[procedure.code] = path
        procedures.append(procedure.model_copy(update={"origin": "ward"}))
    return procedures


ALIASES_FILE = Path(__file__).resolve().parent / "data" / "aliases.yml"


def load_alias_overlay(path: Path = ALIASES_FILE) -> dict[str, list[str]]:
    """Read the team's colloquial names for portal procedures outside the ward corpus.

    Returns an empty mapping when the file does not exist.

    Raises:
        CorpusError: naming the file and the entry that is malformed.
    """
    if not path.is_file():
        return {}
    try:
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    except (OSError, yaml.YAMLError) as exc:
        raise CorpusError(f"{path}: cannot read YAML: {' '.join(str(exc).split())}") from exc
    overlay: dict[str, list[str]] = {}
    for number, entry in enumerate(entries, 1):
        if not isinstance(entry, dict) or not isinstance(entry.get("code"), str) or not isinstance(entry.get("aliases"), list):
            raise CorpusError(f"{path}: entry {number} needs a string 'code' and a list 'aliases'")
        overlay.setdefault(entry["code"], []).extend(nfc(str(a)).strip() for a in entry["aliases"] if str(a).strip())
    return overlay


def with_aliases(procedure: Procedure, extra: list[str]) -> Procedure:
    """Return ``procedure`` with ``extra`` aliases appended (no duplicates, order kept)."""
    merged = list(dict.fromkeys([*procedure.aliases, *extra]))
    return procedure if merged == procedure.aliases else procedure.model_copy(update={"aliases": merged})


@dataclass
class SyncSummary:
    inserted: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: int = 0
    kept_admin: list[str] = field(default_factory=list)


def sync_ward_corpus(store: ProcedureStore, directory: Path) -> SyncSummary:
    """Store the ward corpus: new files are inserted, changed files update team-written records.

    A record an administrator has edited (origin ``admin``) is kept; a portal-imported record with
    the same code is replaced by the team's curated version (its old content stays as a version).
    """
    procedures = load_ward_corpus(directory)
    admin_codes = store.codes_with_origin("admin")
    to_store = [p for p in procedures if p.code not in admin_codes]
    summary = SyncSummary(kept_admin=sorted(admin_codes & {p.code for p in procedures}))
    for result in store.upsert_many(to_store, author="ward-corpus", note=f"synced from {directory.name}/"):
        if result.outcome == "inserted":
            summary.inserted.append(result.code)
        elif result.outcome == "updated":
            summary.updated.append(result.code)
        else:
            summary.unchanged += 1
    if summary.inserted or summary.updated:
        store.audit(
            actor="ward-corpus",
            action="sync_ward_corpus",
            target=str(directory),
            detail={"inserted": summary.inserted, "updated": summary.updated},
        )
    return summary

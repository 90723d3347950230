"""Importing a national portal dump into the database, atomically and idempotently.

The whole file is read and parsed before anything is written: a malformed file aborts the import with
the file and line named, and what was stored stays as it was. Re-importing the same dump changes
nothing; a changed record gets a new version.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from knowledge_base.corpus import load_alias_overlay, with_aliases
from knowledge_base.enrich import restore_time_units
from knowledge_base.portal import RecordError, iter_portal_records, parse_record
from knowledge_base.schema import Procedure
from knowledge_base.store import ProcedureStore

log = logging.getLogger(__name__)

#: Parsed fields whose success rate the importer reports.
REPORTED_FIELDS = ("channels", "channels.time", "channels.fees", "documents", "legal_basis", "steps")


@dataclass
class ImportSummary:
    records: int = 0
    outcomes: Counter = field(default_factory=Counter)
    rejected: list[str] = field(default_factory=list)
    field_failures: Counter = field(default_factory=Counter)
    partial: list[tuple[str, list[str]]] = field(default_factory=list)
    restored_units: int = 0

    def parse_rates(self) -> dict[str, float]:
        """Share of parsed records for which each reported field parsed fully."""
        parsed = self.records - len(self.rejected)
        if parsed == 0:
            return {}
        names = sorted(set(REPORTED_FIELDS) | set(self.field_failures))
        return {name: 1.0 - self.field_failures[name] / parsed for name in names}


def import_portal(path: Path, store: ProcedureStore, *, progress: bool = True) -> ImportSummary:
    """Parse every record in ``path`` and upsert the procedures in one transaction.

    Raises:
        FileNotFoundError: when ``path`` does not exist.
        knowledge_base.portal.PortalFormatError: when the file is malformed (nothing is written).
    """
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    summary = ImportSummary()
    overlay = load_alias_overlay()
    procedures: dict[str, Procedure] = {}
    for raw in tqdm(iter_portal_records(path), desc="parsing", unit=" records", disable=not progress):
        summary.records += 1
        try:
            procedure, report = parse_record(raw)
        except RecordError as exc:
            summary.rejected.append(f"record {summary.records}: {exc}")
            continue
        for name in report.failed_fields:
            summary.field_failures[name] += 1
        if report.failed_fields:
            summary.partial.append((procedure.code, list(report.failed_fields)))
        procedure = with_aliases(restore_time_units(procedure), overlay.get(procedure.code, []))
        summary.restored_units += sum("inferred" in note for note in procedure.parse_issues)
        procedures[procedure.code] = procedure  # a later duplicate of a code wins
    results = store.upsert_many(procedures.values(), author="import-portal", note=f"import of {path.name}")
    summary.outcomes = Counter(r.outcome for r in results)
    store.audit(
        actor="import-portal",
        action="import_portal",
        target=str(path),
        detail={"records": summary.records, "rejected": len(summary.rejected), **summary.outcomes},
    )
    return summary


def format_summary(summary: ImportSummary) -> str:
    """Human-readable report: outcomes, rejected records, per-field parse rates."""
    lines = [f"records read: {summary.records}"]
    for outcome in ("inserted", "updated", "unchanged", "kept_curated"):
        lines.append(f"  {outcome:13} {summary.outcomes.get(outcome, 0)}")
    lines.append(f"  {'rejected':13} {len(summary.rejected)}")
    lines.extend(f"    {msg}" for msg in summary.rejected[:20])
    lines.append(f"records with a field not fully parsed: {len(summary.partial)}")
    for code, fields in summary.partial[:10]:
        lines.append(f"    {code}: {', '.join(fields)}")
    if len(summary.partial) > 10:
        lines.append(f"    ... and {len(summary.partial) - 10} more")
    lines.append(f"processing-time units restored from the steps text: {summary.restored_units}")
    lines.append("parse rate per field:")
    lines.extend(f"  {name:12} {rate:6.1%}" for name, rate in summary.parse_rates().items())
    return "\n".join(lines)

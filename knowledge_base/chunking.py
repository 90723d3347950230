"""What of a procedure gets indexed: lexical fields and dense chunks.

A procedure is searched through its name and aliases (the title), through what citizens say about it
(sample questions) and through its facts (summary, documents, result, field). Dense retrieval embeds
several short chunks per procedure and keeps the best-matching one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge_base.schema import Procedure

_LEADING_THU_TUC = re.compile(r"^\s*thủ tục\s+", re.IGNORECASE)
MAX_DOCUMENT_NAMES = 12


def display_name(procedure: Procedure) -> str:
    """Return the name without the portal's leading "Thủ tục".

    Example: "Thủ tục đăng ký khai sinh" → "đăng ký khai sinh".
    """
    return _LEADING_THU_TUC.sub("", procedure.name).strip()


def lexical_titles(procedure: Procedure) -> list[str]:
    """The title variants: the name, then each alias."""
    return [display_name(procedure), *procedure.aliases]


def lexical_body(procedure: Procedure) -> str:
    """The body field: what the procedure is about, in the record's own words."""
    parts = [
        procedure.field,
        procedure.summary,
        *procedure.sample_questions,
        procedure.result,
        *(d.name for d in procedure.documents[:MAX_DOCUMENT_NAMES]),
    ]
    return " . ".join(p for p in parts if p)


@dataclass(frozen=True)
class Chunk:
    code: str
    kind: str
    text: str


def dense_chunks(procedure: Procedure) -> list[Chunk]:
    """Short texts embedded for this procedure: a profile, the name, each alias and sample question."""
    profile = " . ".join(p for p in (display_name(procedure), procedure.field, procedure.summary) if p)
    chunks = [Chunk(procedure.code, "profile", profile), Chunk(procedure.code, "name", display_name(procedure))]
    chunks.extend(Chunk(procedure.code, "alias", a) for a in procedure.aliases)
    chunks.extend(Chunk(procedure.code, "question", q) for q in procedure.sample_questions)
    return chunks

"""The structured procedure schema shared by the importer, the ward corpus, the database and retrieval.

A ``Procedure`` is one administrative procedure (thủ tục hành chính) with the facts a citizen asks
about: channels with time and fee, required documents, steps, legal basis, where to submit. The
curated fields ``aliases`` and ``sample_questions`` hold what citizens actually say; the portal
importer never overwrites them.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

CODE_PATTERN = re.compile(r"^\d\.\d{6}$")

ChannelKind = Literal["in_person", "online", "post"]
FeeKind = Literal["free", "amount", "province", "unknown"]
CopyType = Literal["original", "copy", "certified_copy", "original_or_copy", "present"]
Origin = Literal["ward", "portal", "admin"]

ASPECTS = ("overview", "documents", "fee", "time", "place", "online", "steps", "legal")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Duration(_Model):
    """A processing time such as "3 ngày làm việc".

    ``value`` is None when the portal gives no number; ``unit`` is None when the number lost its unit
    (the portal's flattened tables sometimes drop it). ``text`` keeps the wording for display.
    """

    value: float | None = None
    unit: str | None = None
    text: str = ""


class Fee(_Model):
    """One fee line: free, an amount in VND, set by the province, or unknown, with its note."""

    kind: FeeKind
    amount_vnd: int | None = None
    note: str = ""

    @field_validator("amount_vnd")
    @classmethod
    def _non_negative(cls, value: int | None) -> int | None:
        if value is not None and value < 0:
            raise ValueError("amount_vnd must be >= 0")
        return value


class Channel(_Model):
    """A way to submit (in person, online, by post) with its processing time and fees."""

    kind: ChannelKind
    time: Duration | None = None
    fees: list[Fee] = Field(default_factory=list)
    description: str = ""


class Document(_Model):
    """A required document: name, how many, original or copy, form template, case it applies to."""

    name: str
    quantity: int | None = None
    copy_type: CopyType | None = None
    form: str | None = None
    applies_to: str | None = None


class LegalRef(_Model):
    """A legal basis entry: the document's number (e.g. ``123/2015/NĐ-CP``) and title."""

    number: str = ""
    title: str = ""


class Procedure(_Model):
    """One administrative procedure with its facts and what citizens call it."""

    code: str
    name: str
    level: list[str] = Field(default_factory=list)
    field: str = ""
    applicants: str = ""
    agency: str = ""
    submit_at: str = ""
    channels: list[Channel] = Field(default_factory=list)
    documents: list[Document] = Field(default_factory=list)
    steps: list[str] = Field(default_factory=list)
    conditions: str = ""
    result: str = ""
    legal_basis: list[LegalRef] = Field(default_factory=list)
    portal_url: str = ""
    source_url: str = ""
    last_updated: dt.date | None = None
    summary: str = ""
    aliases: list[str] = Field(default_factory=list)
    sample_questions: list[str] = Field(default_factory=list)
    origin: Origin = "portal"
    raw: dict[str, str] = Field(default_factory=dict)
    parse_issues: list[str] = Field(default_factory=list)

    @field_validator("code")
    @classmethod
    def _valid_code(cls, value: str) -> str:
        if not CODE_PATTERN.match(value):
            raise ValueError(f"procedure code {value!r} is not of the form 1.001193")
        return value

    @field_validator("name")
    @classmethod
    def _non_empty_name(cls, value: str) -> str:
        if not value:
            raise ValueError("procedure name must not be empty")
        return value

    def channel(self, kind: ChannelKind) -> Channel | None:
        """Return the channel of that kind, or None when the procedure does not offer it."""
        return next((c for c in self.channels if c.kind == kind), None)

    @property
    def online(self) -> bool:
        return self.channel("online") is not None

"""Turn a procedure record into the text of an answer, using only the domain's response pieces.

Every Vietnamese word a citizen reads is a response in ``domain.yml``; this module only picks the
pieces (``utter_part_*``) and fills them with facts from the record. Numbers and lists come from the
record; when the record holds nothing for the aspect asked, ``facts`` returns None and the action
says so (``utter_answer_missing``).
"""

from __future__ import annotations

from typing import Any, Mapping

from knowledge_base.schema import Channel, Document, Fee, Procedure
from knowledge_base.text import fold


class Phrases:
    """The text of the domain's responses, by name (the first variation of each).

    Args:
        responses: the ``responses`` section of the domain, as rasa-sdk hands it to an action.
    """

    def __init__(self, responses: Mapping[str, Any]) -> None:
        self._texts = {name: variants[0].get("text", "") for name, variants in responses.items() if variants}

    def __call__(self, response: str, /, **values: Any) -> str:
        try:
            template = self._texts[response]
        except KeyError:
            raise KeyError(f"domain.yml has no response {response!r}") from None
        return template.format(**values) if values else template


def format_amount(amount: int) -> str:
    """Vietnamese thousands separators: 1500000 → "1.500.000"."""
    return f"{amount:,}".replace(",", ".")


def fee_text(fee: Fee, say: Phrases) -> str:
    if fee.kind == "amount" and fee.amount_vnd is not None:
        text = say("utter_part_fee_amount", amount=format_amount(fee.amount_vnd))
    elif fee.kind in ("free", "province"):
        text = say(f"utter_part_fee_{fee.kind}")
    else:
        text = say("utter_part_fee_unknown") if not fee.note else ""
    if fee.note:
        return say("utter_part_fee_note", fee=text, note=fee.note) if text else fee.note
    return text


def channel_fees(channel: Channel, say: Phrases) -> str:
    return "; ".join(fee_text(fee, say) for fee in channel.fees)


def duration_text(channel: Channel, say: Phrases) -> str:
    """The processing time as recorded; a number whose unit the record lost is shown as such."""
    time = channel.time
    if time is None:
        return ""
    if time.value is not None and not time.unit:
        return say("utter_part_duration_no_unit", text=time.text or f"{time.value:g}")
    if time.text:
        return time.text
    if time.value is not None:
        return f"{time.value:g} {time.unit}"
    return ""


def document_text(document: Document, say: Phrases) -> str:
    details = []
    if document.quantity:
        details.append(say("utter_part_quantity", quantity=document.quantity))
    if document.copy_type:
        details.append(say(f"utter_part_copy_{document.copy_type}"))
    if document.form:
        same_word = fold(document.form).startswith(fold(say("utter_part_form", form="")).strip())
        details.append(document.form if same_word else say("utter_part_form", form=document.form))
    if document.applies_to:
        details.append(say("utter_part_applies_to", case=document.applies_to))
    suffix = f" ({'; '.join(details)})" if details else ""
    return say("utter_part_document", name=document.name, details=suffix)


def _lines(items: list[str], say: Phrases) -> str | None:
    items = [item for item in items if item]
    return "\n".join(say("utter_part_line", text=item) for item in items) if items else None


def _labelled(pairs: list[tuple[str, str]], say: Phrases) -> str | None:
    lines = [say("utter_part_labelled", label=label, text=text) for label, text in pairs if text]
    return "\n".join(lines) if lines else None


def _channel_lines(procedure: Procedure, value, say: Phrases) -> str | None:
    """One line per distinct value; channels with the same value share a line."""
    grouped: dict[str, list[str]] = {}
    for channel in procedure.channels:
        text = value(channel)
        if text:
            grouped.setdefault(text, []).append(say(f"utter_part_channel_{channel.kind}"))
    return _labelled([(", ".join(labels), text) for text, labels in grouped.items()], say)


def facts(procedure: Procedure, aspect: str, say: Phrases) -> str | None:
    """The lines answering ``aspect`` about ``procedure``, or None when the record has none."""
    if aspect == "documents":
        return _lines([document_text(d, say) for d in procedure.documents], say)
    if aspect == "fee":
        return _channel_lines(procedure, lambda c: channel_fees(c, say), say)
    if aspect == "time":
        return _channel_lines(procedure, lambda c: duration_text(c, say), say)
    if aspect == "place":
        places = [procedure.submit_at] if procedure.submit_at else []
        if procedure.agency and procedure.agency not in procedure.submit_at:
            places.append(procedure.agency)
        return _lines(places, say)
    if aspect == "online":
        return online_text(procedure, say)
    if aspect == "steps":
        steps = [s for s in procedure.steps if s]
        return "\n".join(say("utter_part_numbered", number=i, text=s) for i, s in enumerate(steps, 1)) or None
    if aspect == "legal":
        return _lines([" ".join(part for part in (ref.number, ref.title) if part) for ref in procedure.legal_basis], say)
    return overview(procedure, say)


def online_text(procedure: Procedure, say: Phrases) -> str | None:
    if not procedure.channels:
        return None
    if not procedure.online:
        return say("utter_part_online_no")
    lines = [say("utter_part_online_yes")]
    lines.append(say("utter_part_online_link", url=procedure.portal_url) if procedure.portal_url else say("utter_part_online_portal"))
    details = _channel_lines(procedure.model_copy(update={"channels": [procedure.channel("online")]}), lambda c: duration_text(c, say), say)
    if details:
        lines.append(details)
    return "\n".join(lines)


def overview(procedure: Procedure, say: Phrases) -> str:
    first = procedure.channel("in_person") or (procedure.channels[0] if procedure.channels else None)
    pairs = [
        (say("utter_part_overview_agency"), procedure.agency),
        (say("utter_part_overview_place"), procedure.submit_at),
        (say("utter_part_overview_time"), duration_text(first, say) if first else ""),
        (say("utter_part_overview_fee"), channel_fees(first, say) if first else ""),
        (say("utter_part_overview_online"), (say("utter_part_yes") if procedure.online else say("utter_part_no")) if procedure.channels else ""),
        (
            say("utter_part_overview_documents"),
            say("utter_part_overview_documents_count", count=len(procedure.documents)) if procedure.documents else "",
        ),
        (say("utter_part_overview_result"), procedure.result),
    ]
    lines = [procedure.summary] if procedure.summary else []
    labelled = _labelled(pairs, say)
    if labelled:
        lines.append(labelled)
    return "\n".join(lines)


def source_line(procedure: Procedure, say: Phrases) -> str:
    url = procedure.source_url or procedure.portal_url
    if not url:
        return say("utter_part_no_source")
    if procedure.last_updated:
        return say("utter_part_source", url=url, date=procedure.last_updated.strftime("%d/%m/%Y"))
    return say("utter_part_source_undated", url=url)


def age_note(procedure: Procedure, ages: list[str], say: Phrases) -> str:
    """A reminder of the record's conditions when the citizen gave an age (ID-card rules depend on it)."""
    if not ages or not procedure.conditions:
        return ""
    return say("utter_part_age_note", age=ages[0], conditions=procedure.conditions)

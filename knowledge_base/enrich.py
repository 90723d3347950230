"""Repairs on parsed portal records that need Vietnamese NLP (spaCy rule matching).

The portal's flattened tables sometimes drop a processing time's unit ("Trực tuyến1Miễn phí"). The
record's own steps usually state the same duration in words ("trong thời hạn 01 ngày làm việc"):
when exactly one unit goes with that number there, it is restored and the repair is noted in
``parse_issues`` so an administrator can see it was inferred.
"""

from __future__ import annotations

import re

from knowledge_base.schema import Procedure

_LEADING_NUMBER = re.compile(r"^\s*([\d.,]+)\s*(.*)$")


def _durations_by_value(text: str) -> dict[float, set[str]]:
    from knowledge_base.nlp import extract_facts

    found: dict[float, set[str]] = {}
    for fact in extract_facts(text):
        if fact.label != "DURATION":
            continue
        match = _LEADING_NUMBER.match(fact.text)
        if not match or not match.group(2):
            continue
        try:
            value = float(match.group(1).replace(",", "."))
        except ValueError:
            continue
        found.setdefault(value, set()).add(match.group(2).strip().lower())
    return found


def restore_time_units(procedure: Procedure) -> Procedure:
    """Return ``procedure`` with unit-less channel times completed from its steps, when unambiguous.

    Example: a channel time of 1 with no unit, in a record whose steps say "trong thời hạn 01 ngày
    làm việc", becomes 1 "ngày làm việc".
    """
    missing = [c for c in procedure.channels if c.time and c.time.value is not None and not c.time.unit]
    if not missing:
        return procedure
    text = "\n".join([*procedure.steps, procedure.raw.get("cach_thuc_thuc_hien", "")])
    units = _durations_by_value(text)
    channels, notes = [], []
    for channel in procedure.channels:
        time = channel.time
        if channel in missing and len(units.get(time.value, ())) == 1:
            unit = next(iter(units[time.value]))
            time = time.model_copy(update={"unit": unit, "text": f"{time.value:g} {unit}"})
            channel = channel.model_copy(update={"time": time})
            notes.append(f"time unit of the {channel.kind} channel inferred from the steps: {unit}")
        channels.append(channel)
    if not notes:
        return procedure
    return procedure.model_copy(update={"channels": channels, "parse_issues": [*procedure.parse_issues, *notes]})

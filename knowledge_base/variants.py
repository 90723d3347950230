"""Variant cues: which procedure names a question's action words point to.

A variant procedure (a copy, a removal, an ending, an extension, a pause) shares most words with
the procedure it varies, so word counting ranks the base first. ``data/variant_cues.yml`` lists, per
name marker ("bản sao", "xóa", ...), the cues a citizen uses for that action; the retriever gives a
candidate a bonus when the question cues a marker that the candidate's name holds.

Example:
    ``cued_markers("mất giấy kết hôn, xin bản sao ở đâu")`` is ``frozenset({"ban sao"})`` and
    ``name_markers("Cấp bản sao Trích lục hộ tịch")`` is the same set.
"""

from __future__ import annotations

import functools
from pathlib import Path

from knowledge_base.text import DATA_DIR, RulesError, _read_yaml, folded_words

VARIANT_CUES_FILE = DATA_DIR / "variant_cues.yml"


def _padded(text: str) -> str:
    """Folded syllables of ``text`` joined by single spaces, with a space at each end."""
    return f" {' '.join(folded_words(text))} "


@functools.cache
def load_variant_cues(path: Path = VARIANT_CUES_FILE) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Read ``variant_cues.yml``: (marker, cues) pairs, each folded and padded with spaces.

    Raises:
        RulesError: the file is missing, not YAML, or an entry lacks a marker or cues.
    """
    data = _read_yaml(path)
    if not isinstance(data, list) or not data:
        raise RulesError(f"{path}: expected a non-empty list of entries with 'marker' and 'cues'")
    groups = []
    for position, entry in enumerate(data, start=1):
        where = f"{path}: entry {position}"
        if not isinstance(entry, dict) or set(entry) != {"marker", "cues"}:
            raise RulesError(f"{where}: expected exactly the keys 'marker' and 'cues', got {entry!r}")
        cues = entry["cues"]
        if not isinstance(cues, list) or not cues:
            raise RulesError(f"{where}: 'cues' must be a non-empty list")
        phrases = [_padded(str(phrase)) for phrase in [entry["marker"], *cues]]
        if any(not phrase.strip() for phrase in phrases):
            raise RulesError(f"{where}: a marker or cue has no letters or digits")
        groups.append((phrases[0], tuple(phrases[1:])))
    return tuple(groups)


def _asks_for(text: str, cue: str) -> bool:
    """True when the padded ``text`` holds ``cue`` other than right after "bị": "quê đã bị xóa
    thường trú" tells what happened to the citizen, "xóa thường trú" asks for it."""
    start = text.find(cue)
    while start >= 0:
        if not text[:start].endswith(" bi"):
            return True
        start = text.find(cue, start + 1)
    return False


def cued_markers(question: str, path: Path = VARIANT_CUES_FILE) -> frozenset[str]:
    """The folded name markers whose cues ``question`` asks for (whole syllables, teencode
    expanded, not in the passive: ``_asks_for``)."""
    text = _padded(question)
    return frozenset(
        marker.strip() for marker, cues in load_variant_cues(path) if any(_asks_for(text, c) for c in cues)
    )


def name_markers(name: str, path: Path = VARIANT_CUES_FILE) -> frozenset[str]:
    """The folded markers a procedure's ``name`` holds as whole syllables."""
    text = _padded(name)
    return frozenset(marker.strip() for marker, _ in load_variant_cues(path) if marker in text)

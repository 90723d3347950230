"""Checks on the Rasa NLU training data in ``bot/data/nlu`` (plain YAML; Rasa is not imported here).

The data is parsed the way Rasa reads ``examples: |`` blocks (one ``- `` item a line); Rasa itself
validates it with ``rasa data validate`` (see ``bot/data/README.md``).
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import pytest
import yaml

from knowledge_base.text import fold, nfc

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "bot" / "data"
NLU_DIR = DATA_DIR / "nlu"
README = DATA_DIR / "README.md"
HELD_OUT = [REPO_ROOT / "benchmarks" / "questions" / name for name in ("dev.jsonl", "test.jsonl")]

INTENTS = frozenset(
    {
        "greet",
        "goodbye",
        "thank",
        "affirm",
        "deny",
        "bot_challenge",
        "ask_procedure",
        "ask_documents",
        "ask_fee",
        "ask_time",
        "ask_place",
        "ask_online",
        "ask_steps",
        "ask_legal",
        "correct_procedure",
        "request_human",
        "complain",
        "out_of_scope",
        "choose_procedure",
    }
)
ASPECT_INTENTS = ("ask_documents", "ask_fee", "ask_time", "ask_place", "ask_online", "ask_steps", "ask_legal")
ENTITIES = frozenset({"procedure", "age"})
MIN_EXAMPLES = 30
MIN_FORM_EXAMPLES = 10  # per aspect intent: with a procedure named, and bare follow-ups
MIN_PLAIN_SHARE = 0.35

# `[text](entity)`: the only annotation form the data uses.
_ANNOTATION = re.compile(r"\[([^\[\]()]*)\]\(([^()\[\]]*)\)")
_WORDS = re.compile(r"\w+")
# Folded stems of the ward procedures the examples must mention (any one alternative per topic).
PROCEDURE_TOPICS: dict[str, tuple[str, ...]] = {
    "birth": ("khai sinh",),
    "death": ("khai tu", "chung tu"),
    "marriage": ("ket hon",),
    "single status": ("doc than", "tinh trang hon nhan"),
    "recognising a parent": ("nhan cha", "nhan con", "nhan cha me con"),
    "correcting details": ("cai chinh", "doi ten"),
    "birth certificate copy": ("trich luc", "ban sao giay khai sinh"),
    "guardianship": ("giam ho",),
    "adoption": ("con nuoi",),
    "certification": ("chung thuc",),
    "permanent residence": ("thuong tru", "nhap khau", "nhap ho khau"),
    "temporary residence": ("tam tru",),
    "extension": ("gia han tam tru",),
    "removal": ("cat khau", "xoa dang ky thuong tru"),
    "household split": ("tach ho",),
    "temporary absence": ("tam vang",),
    "stay notification": ("luu tru",),
    "id card": ("cccd", "can cuoc"),
    "vneid level 2": ("muc 2",),
    "business household": ("ho kinh doanh", "hkd"),
    "building permit": ("xay dung", "xay nha"),
    "first land registration": ("so do",),
    "personal tax code": ("ma so thue", "mst"),
    "vehicle registration": ("dang ky xe",),
    "vehicle transfer": ("sang ten",),
}


def _strip_annotations(text: str) -> str:
    """The example as a citizen typed it: annotations replaced by their text."""
    return _ANNOTATION.sub(lambda m: m.group(1), text)


def _key(text: str) -> str:
    """Comparison key: folded, punctuation dropped, whitespace collapsed."""
    return " ".join(_WORDS.findall(fold(text)))


def _has_diacritics(text: str) -> bool:
    return fold(text) != nfc(text).lower()


@cache
def _load_files() -> dict[str, object]:
    paths = sorted(NLU_DIR.glob("*.yml"))
    return {path.name: yaml.safe_load(path.read_text(encoding="utf-8")) for path in paths}


@cache
def _examples() -> dict[str, tuple[str, ...]]:
    """Intent -> raw examples (annotations kept), over every NLU file."""
    found: dict[str, list[str]] = {}
    for name, doc in _load_files().items():
        for block in doc["nlu"]:
            items = []
            for line in block["examples"].splitlines():
                if not line.strip():
                    continue
                assert line.startswith("- "), f"{name}: {block['intent']}: not a list item: {line!r}"
                items.append(line[2:].strip())
            found.setdefault(block["intent"], []).extend(items)
    return {intent: tuple(items) for intent, items in found.items()}


def _all_examples() -> list[tuple[str, str]]:
    return [(intent, text) for intent, items in _examples().items() for text in items]


def test_every_file_parses_as_rasa_3_nlu_data() -> None:
    files = _load_files()
    assert len(files) >= 5, sorted(files)
    for name, doc in files.items():
        assert isinstance(doc, dict), name
        assert doc.get("version") == "3.1", name
        assert set(doc) == {"version", "nlu"}, f"{name}: unexpected keys {sorted(doc)}"
        for block in doc["nlu"]:
            assert set(block) == {"intent", "examples"}, f"{name}: {block}"
            examples = block["examples"]
            assert isinstance(examples, str) and examples.strip(), f"{name}: {block['intent']}"


def test_intents_are_exactly_the_documented_set() -> None:
    section = README.read_text(encoding="utf-8").split("\n## Intents\n", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", section, flags=re.MULTILINE))
    assert documented == INTENTS
    assert set(_examples()) == INTENTS


@pytest.mark.parametrize("intent", sorted(INTENTS))
def test_every_intent_has_enough_examples(intent: str) -> None:
    assert len(_examples().get(intent, ())) >= MIN_EXAMPLES


def test_no_example_appears_twice_after_folding() -> None:
    seen: dict[str, str] = {}
    clashes = []
    for intent, text in _all_examples():
        key = _key(_strip_annotations(text))
        assert key, f"{intent}: empty example {text!r}"
        if key in seen:
            clashes.append((seen[key], intent, text))
        seen.setdefault(key, intent)
    assert clashes == []


def test_no_example_copies_a_held_out_question() -> None:
    held_out: set[str] = set()
    for path in HELD_OUT:
        if not path.is_file():
            pytest.fail(f"missing held-out question set {path}")
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                held_out.add(_key(json.loads(line)["question"]))
    copies = [
        (intent, text) for intent, text in _all_examples() if _key(_strip_annotations(text)) in held_out
    ]
    assert copies == []


def test_every_complaint_example_voices_a_grievance() -> None:
    """The NLU's complaints and ``actions/data/grievances.yml`` must agree: a complaint reading without
    a grievance is searched as a question (``actions.dialogue``), so a real one must hold a phrase."""
    from actions.dialogue import voices_grievance

    complaints = [_strip_annotations(text) for text in _examples()["complain"]]
    assert [text for text in complaints if not voices_grievance(text)] == []


def test_enough_examples_are_typed_without_diacritics() -> None:
    texts = [_strip_annotations(text) for _, text in _all_examples()]
    plain = sum(not _has_diacritics(text) for text in texts)
    assert plain / len(texts) >= MIN_PLAIN_SHARE, f"{plain}/{len(texts)} without diacritics"


def test_entity_annotations_are_well_formed() -> None:
    problems = []
    for intent, text in _all_examples():
        for match in _ANNOTATION.finditer(text):
            value, entity = match.groups()
            if entity not in ENTITIES:
                problems.append((intent, text, f"unknown entity {entity!r}"))
            if not value or value != value.strip() or not _WORDS.search(value):
                problems.append((intent, text, f"bad entity text {value!r}"))
            if entity == "age" and not re.search(r"\d", value):
                problems.append((intent, text, "an age must hold its number"))
        rest = _ANNOTATION.sub("", text)
        if any(ch in rest for ch in "[](){}"):
            problems.append((intent, text, "stray bracket outside an annotation"))
    assert problems == []


def test_helper_detects_diacritics_and_annotations() -> None:
    assert _has_diacritics("đk tạm trú") and not _has_diacritics("dk tam tru ko")
    annotated = "[làm cccd](procedure) cho con [15 tuổi](age)"
    assert _strip_annotations(annotated) == "làm cccd cho con 15 tuổi"
    assert _key("Đăng ký  kết hôn?") == _key("dang ky ket hon")


@pytest.mark.parametrize("intent", ASPECT_INTENTS)
def test_aspect_intents_have_named_and_bare_forms(intent: str) -> None:
    named = [text for text in _examples()[intent] if "](procedure)" in text]
    bare = [text for text in _examples()[intent] if "](procedure)" not in text]
    assert len(named) >= MIN_FORM_EXAMPLES and len(bare) >= MIN_FORM_EXAMPLES, (len(named), len(bare))


def test_every_correction_names_a_procedure() -> None:
    missing = [text for text in _examples()["correct_procedure"] if "](procedure)" not in text]
    assert missing == []


def test_entities_only_where_the_dialogue_uses_them() -> None:
    allowed = {"ask_procedure", "correct_procedure", *ASPECT_INTENTS}
    stray = [
        (intent, text)
        for intent, text in _all_examples()
        if _ANNOTATION.search(text) and intent not in allowed
    ]
    assert stray == []


@pytest.mark.parametrize("topic", sorted(PROCEDURE_TOPICS))
def test_common_ward_procedures_are_covered(topic: str) -> None:
    mentions = [
        _key(m.group(1))
        for _, text in _all_examples()
        for m in _ANNOTATION.finditer(text)
        if m.group(2) == "procedure"
    ]
    stems = PROCEDURE_TOPICS[topic]
    assert any(stem in mention for mention in mentions for stem in stems), f"no mention of {stems}"

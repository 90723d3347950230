"""Vietnamese NLP helpers: word segmentation (underthesea), sentences and facts (spaCy).

Runs in ``.venv`` only (Python 3.11): underthesea and spaCy are imported lazily and their pipelines
built once per process, on first use. Both work offline: underthesea's word segmenter ships its CRF
model inside the package, and the spaCy pipeline is a blank Vietnamese one (no pyvi, no model).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from knowledge_base.text import nfc, normalize_tone_marks, syllables_with_offsets

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.matcher import Matcher
    from spacy.tokens import Doc

__all__ = ["Fact", "extract_facts", "segment", "segment_with_offsets", "sentences"]


# --------------------------------------------------------------------------------------------------
# Word segmentation
# --------------------------------------------------------------------------------------------------


@functools.cache
def _word_tokenize() -> Callable[..., list[str]]:
    """underthesea's segmenter, imported on first use (the import takes seconds)."""
    from underthesea import word_tokenize

    return word_tokenize


def _segment_normalized(normal: str) -> list[str]:
    """Run underthesea on normalised text; its words come back with syllables joined by spaces."""
    if not normal:
        return []
    # use_token_normalize=False: the text is already in our normal form, and underthesea's own
    # token normaliser would move tone marks to its style.
    return _word_tokenize()(normal, use_token_normalize=False)


def segment(text: str) -> list[str]:
    """Segment ``text`` into words, syllables of one word joined with "_".

    The text is normalised first (:func:`knowledge_base.text.normalize`), so words are lowercase
    with canonical tone marks and punctuation is gone; ID-like tokens stay whole and no word spans
    a punctuation mark of the original text.

    Args:
        text: raw text.

    Returns:
        The words in order.

    Example:
        ``segment("Tôi muốn Đăng ký khai sinh.")`` returns ``["tôi", "muốn", "đăng_ký", "khai_sinh"]``.
    """
    return [word for word, _, _ in _segment_tokens(text, syllables_with_offsets(text))]


def _segment_tokens(text: str, tokens: list[tuple[str, int, int]]) -> list[tuple[str, int, int]]:
    """Group normalised tokens into words; return ``(word_with_underscores, first, last + 1)``.

    underthesea sees the tokens (in the new tone style) joined by spaces, with a comma wherever
    ``text`` had punctuation between two tokens, so no word spans a punctuation mark. It may split an ID-like token of ours
    ("123/2015/nđ-cp"); such pieces are merged back so a word never cuts through a token.
    """
    pieces: list[str] = []
    token_at: dict[int, int] = {}  # character offset in the joined text -> token index
    position = 0
    for index, (token, start, _) in enumerate(tokens):
        if index and text[tokens[index - 1][2] : start].strip():
            pieces.append(",")
            position += 2
        # underthesea's model was trained on the new tone style ("hoà giải" is one word for it,
        # "hòa giải" two); the switch keeps the length, so offsets stay valid.
        modern = normalize_tone_marks(token, style="new")
        if len(modern) != len(token):
            modern = token
        for offset in range(len(modern)):
            token_at[position + offset] = index
        pieces.append(modern)
        position += len(modern) + 1
    normal = " ".join(pieces)

    groups: list[list[int]] = []  # [first token index, last token index] per word
    cursor = 0
    for word in _segment_normalized(normal):
        indexes: list[int] = []
        for piece in word.split(" "):
            found = normal.find(piece, cursor) if piece else -1
            if found < 0:  # underthesea changed a character; skip it, the tokens still cover the text
                continue
            indexes.extend(token_at[i] for i in range(found, found + len(piece)) if i in token_at)
            cursor = found + len(piece)
        if not indexes:
            continue
        first, last = min(indexes), max(indexes)
        if groups and first <= groups[-1][1]:
            groups[-1][1] = max(groups[-1][1], last)
        else:
            groups.append([first, last])

    # Tokens underthesea dropped (none expected) become words of their own.
    covered = {i for first, last in groups for i in range(first, last + 1)}
    groups.extend([i, i] for i in range(len(tokens)) if i not in covered)
    groups.sort()
    return [
        ("_".join(token for token, _, _ in tokens[first : last + 1]), first, last + 1)
        for first, last in groups
    ]


def segment_with_offsets(text: str) -> list[tuple[str, int, int]]:
    """Segment ``text`` into words with their character span in the ORIGINAL text.

    ``text[start:end]`` is the word exactly as written (decomposed, uppercase or without diacritics
    as it was, syllables separated by the original spaces), so entity spans line up. Punctuation
    and emoji are not words. The segmentation itself is the one :func:`segment` returns.

    Args:
        text: raw text.

    Returns:
        A list of ``(word, start, end)`` with ``word == text[start:end]``.

    Example:
        ``segment_with_offsets("Đăng ký khai sinh!")`` returns
        ``[("Đăng ký", 0, 7), ("khai sinh", 8, 17)]``.
    """
    tokens = syllables_with_offsets(text)
    words = []
    for _, first, stop in _segment_tokens(text, tokens):
        start, end = tokens[first][1], tokens[stop - 1][2]
        words.append((text[start:end], start, end))
    return words


# --------------------------------------------------------------------------------------------------
# spaCy: sentences and facts
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fact:
    """A fact found in procedure text.

    Attributes:
        label: one of ``DURATION``, ``AMOUNT``, ``PROCEDURE_CODE``, ``LEGAL_NUMBER``, ``DOCUMENT``.
        text: the text as written, ``source[start:end]``.
        start: character offset of the first character.
        end: character offset after the last character.
    """

    label: str
    text: str
    start: int
    end: int


# Abbreviations whose final dot does not end a sentence.
_ABBREVIATIONS = ("TP.", "Tp.", "tp.", "TX.", "Q.", "P.", "ThS.", "TS.", "PGS.", "GS.", "BS.", "v.v.", "Ths.")
# A number joined by . / - or , to more characters: "1.001193", "50.000", "123/2015/NĐ-CP".
_ID_TOKEN = r"^\d[^\W_]*(?:(?:[./\-]|(?<=\d),(?=\d))[^\W_]+)+$"
_ENUMERATOR = re.compile(r"(?:\d{1,3}|[a-zđ]|[IVX]{1,4}|Bước \d{1,2})\s*[.):]")

_NUMBER = r"^\d+(?:[.,]\d+)*$"
_NUMBER_WORDS = ["một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín", "mười", "mươi", "lăm"]
_TIME_UNITS = ["ngày", "tháng", "năm", "giờ", "tuần", "phút", "buổi"]
_MONEY_SCALES = ["nghìn", "ngàn", "triệu", "tỷ", "tỉ"]
_CURRENCIES = ["đồng", "vnđ", "vnd", "đ"]
_DOCUMENT_STOP = ["và", "hoặc", "nếu", "theo", "trong", "khi", "để", "của", "do", "tại", "thì", "đối", "phải"]
_DOCUMENT_HEADS = [
    ["tờ", "khai"],
    ["giấy"],
    ["bản", "sao"],
    ["bản", "chính"],
    ["văn", "bản"],
    ["hộ", "chiếu"],
    ["thẻ"],
    ["sổ"],
    ["trích", "lục"],
    ["phiếu"],
    ["biên", "bản"],
    ["hợp", "đồng"],
]


def _fact_patterns() -> dict[str, list[list[dict[str, Any]]]]:
    number = {"TEXT": {"REGEX": _NUMBER}}
    number_word = {"LOWER": {"IN": _NUMBER_WORDS}}
    unit = {"LOWER": {"IN": _TIME_UNITS}}
    working = [{"LOWER": "làm", "OP": "?"}, {"LOWER": "việc", "OP": "?"}]
    word = {
        "TEXT": {"REGEX": r"^(?:[^\W\d_]+|\d{1,3}[^\W\d_]?)$"},
        "LOWER": {"NOT_IN": _DOCUMENT_STOP},
        "OP": "{0,10}",
    }
    return {
        "DURATION": [
            [number, unit, *working],
            [number_word, {"LOWER": {"IN": _NUMBER_WORDS}, "OP": "*"}, unit, *working],
        ],
        "AMOUNT": [
            [number, {"LOWER": {"IN": _MONEY_SCALES}, "OP": "?"}, {"LOWER": {"IN": _CURRENCIES}}],
            [number, {"LOWER": {"IN": _MONEY_SCALES}}],
            [number, {"LOWER": "việt"}, {"LOWER": "nam"}, {"LOWER": {"IN": ["đồng", "dong"]}}],
            [{"LOWER": {"REGEX": r"^\d+(?:[.,]\d+)*(?:k|tr|đ)$"}}],
            [{"LOWER": "miễn"}, {"LOWER": "lệ", "OP": "?"}, {"LOWER": "phí"}],
            [
                {"LOWER": "không"},
                {"LOWER": "thu"},
                {"LOWER": {"IN": ["phí", "lệ"]}},
                {"LOWER": "phí", "OP": "?"},
            ],
        ],
        "PROCEDURE_CODE": [[{"TEXT": {"REGEX": r"^\d\.\d{6}$"}}]],
        "LEGAL_NUMBER": [[{"TEXT": {"REGEX": r"^\d{1,4}/\d{4}/[^\W\d_]+(?:-[^\W_]+)*$"}}]],
        "DOCUMENT": [[*({"LOWER": part} for part in head), word] for head in _DOCUMENT_HEADS],
    }


def _new_line_starts(doc: Doc) -> Doc:
    """spaCy component: a line break starts a new sentence (procedure text is line-structured)."""
    for token in doc[1:]:
        previous = doc[token.i - 1]
        if previous.is_space and "\n" in previous.text and not token.is_space:
            token.is_sent_start = True
    return doc


def _keep_enumerators(doc: Doc) -> Doc:
    """spaCy component: glue a lone list marker ("1.", "a)", "Bước 2:") to the sentence it opens."""
    spans = list(doc.sents)
    for current, following in zip(spans, spans[1:]):
        if _ENUMERATOR.fullmatch(current.text.strip()):
            following[0].is_sent_start = False
    return doc


@functools.cache
def _pipeline() -> Language:
    """Build the blank Vietnamese spaCy pipeline once: rule tokenizer, sentences, fact matcher."""
    import spacy
    from spacy.lang.char_classes import ALPHA, ALPHA_LOWER, ALPHA_UPPER
    from spacy.language import Language
    from spacy.symbols import ORTH
    from spacy.tokenizer import Tokenizer
    from spacy.util import compile_infix_regex, compile_prefix_regex, compile_suffix_regex

    # The Vietnamese tokenizer needs pyvi by default; without it, it only splits on spaces, which
    # leaves "việc." glued. The rule-based tokenizer below uses spaCy's punctuation rules plus two
    # splits for the portal's flattened tables ("chính3 Ngày làm việcMiễn phí").
    nlp = spacy.blank("vi", config={"nlp": {"tokenizer": {"use_pyvi": False}}})
    defaults = spacy.blank("xx").Defaults
    infixes = [
        *defaults.infixes,
        rf"(?<=[{ALPHA}]{{2}})(?=\d)",  # word glued to a number
        rf"(?<=[{ALPHA_LOWER}])(?=[{ALPHA_UPPER}])",  # lowercase word glued to a capitalised one
        r"[()\[\]]",
    ]
    nlp.tokenizer = Tokenizer(
        nlp.vocab,
        rules={abbr: [{ORTH: abbr}] for abbr in _ABBREVIATIONS},
        prefix_search=compile_prefix_regex(defaults.prefixes).search,
        suffix_search=compile_suffix_regex(defaults.suffixes).search,
        infix_finditer=compile_infix_regex(infixes).finditer,
        token_match=re.compile(_ID_TOKEN).match,
    )
    if not Language.has_factory("vi_new_line_starts"):
        Language.component("vi_new_line_starts", func=_new_line_starts)
        Language.component("vi_keep_enumerators", func=_keep_enumerators)
    nlp.add_pipe("vi_new_line_starts")
    nlp.add_pipe("sentencizer")
    nlp.add_pipe("vi_keep_enumerators")
    return nlp


@functools.cache
def _fact_matcher() -> Matcher:
    """The fact patterns compiled once against the pipeline's vocabulary."""
    from spacy.matcher import Matcher

    matcher = Matcher(_pipeline().vocab)
    for label, patterns in _fact_patterns().items():
        matcher.add(label, patterns)
    return matcher


def _doc(text: str) -> Doc:
    return _pipeline()(nfc(text))


def sentences(text: str) -> list[str]:
    """Split ``text`` into sentences (at . ! ? and line breaks; list markers stay with their item).

    The text is put in NFC first; sentences are returned stripped, empty ones dropped.

    Args:
        text: procedure text or a message.

    Returns:
        The sentences in order.

    Example:
        ``sentences("Bước 1: Nộp hồ sơ. Bước 2: Nhận kết quả.")`` returns
        ``["Bước 1: Nộp hồ sơ.", "Bước 2: Nhận kết quả."]``.
    """
    return [s.text.strip() for s in _doc(text).sents if s.text.strip()]


def extract_facts(text: str) -> list[Fact]:
    """Find durations, amounts, procedure codes, legal document numbers and document names.

    Offsets refer to the NFC form of ``text`` (the same as ``text`` for NFC input); overlapping
    matches are resolved in favour of the longest.

    Args:
        text: procedure text.

    Returns:
        The facts in text order.

    Example:
        ``extract_facts("Trong 15 ngày làm việc; lệ phí 50.000 đồng.")`` returns
        ``[Fact("DURATION", "15 ngày làm việc", 6, 22), Fact("AMOUNT", "50.000 đồng", 31, 42)]``.
    """
    from spacy.tokens import Span
    from spacy.util import filter_spans

    doc = _doc(text)
    spans = [Span(doc, start, end, label=match_id) for match_id, start, end in _fact_matcher()(doc)]
    return [
        Fact(label=span.label_, text=span.text, start=span.start_char, end=span.end_char)
        for span in sorted(filter_spans(spans), key=lambda s: s.start)
    ]

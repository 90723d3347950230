"""Vietnamese text rules: Unicode NFC, accent folding, tone marks, teencode and synonyms.

Stdlib only (plus PyYAML for the data files): the Rasa NLU components in ``bot/`` import this module
under Python 3.10 inside ``.venv-rasa``, so it must stay light.

The editable data lives beside this module: ``data/teencode.yml`` (abbreviations, one token each) and
``data/synonyms.yml`` (colloquial phrases mapped to the official term). Both are read lazily, once per
process, by :func:`load_rules`.

Tone-mark placement: this module uses the traditional ("old") style, the default of the common input
methods: ``hòa``, ``thủy``, ``khỏe``, ``quả``, ``giữa``. Text typed in the modern style (``hoà``,
``thuỷ``, ``khoẻ``) is rewritten to it by :func:`normalize_tone_marks`.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "QueryForms",
    "RulesError",
    "SynonymRule",
    "TextRules",
    "expand_abbreviations",
    "expand_synonyms",
    "fold",
    "load_rules",
    "nfc",
    "normalize",
    "normalize_tone_marks",
    "query_forms",
    "syllables",
    "syllables_with_offsets",
    "word_ngrams",
]

DATA_DIR = Path(__file__).resolve().parent / "data"
TEENCODE_FILE = "teencode.yml"
SYNONYMS_FILE = "synonyms.yml"
ENGLISH_WORDS_FILE = "english_words.yml"

_D_TABLE = str.maketrans({"đ": "d", "Đ": "D"})


def nfc(text: str) -> str:
    """Return ``text`` in Unicode NFC, the one form used at every boundary.

    Example: a decomposed "Khai sinh" typed on macOS ("Khai sinh" with combining marks) compares
    equal to the precomposed form after ``nfc``.
    """
    return unicodedata.normalize("NFC", text)


def fold(text: str) -> str:
    """Lowercase and strip every diacritic, mapping đ to d.

    Example: ``fold("Đăng ký khai sinh")`` returns ``"dang ky khai sinh"``.
    """
    decomposed = unicodedata.normalize("NFD", text.translate(_D_TABLE))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return unicodedata.normalize("NFC", stripped).lower()


# --------------------------------------------------------------------------------------------------
# Tone marks
# --------------------------------------------------------------------------------------------------

# The five tone marks as combining characters: grave (huyền), acute (sắc), tilde (ngã), hook (hỏi),
# dot below (nặng). Circumflex, breve and horn are vowel-quality marks and never move.
_TONE_MARKS = frozenset("\u0300\u0301\u0303\u0309\u0323")

# One Vietnamese syllable spelt with plain letters: initial consonant, 1-3 vowels, final consonant.
# "gi" and "qu" are initials when a vowel follows (the regex backtracks to "g" for "gìn").
_SYLLABLE = re.compile(
    r"(ngh|ng|gh|gi|kh|ch|nh|ph|qu|th|tr|[bcdđghklmnprstvx])?([aeiouy]{1,3})(ch|ng|nh|[cmnpt])?"
)
_LETTERS = re.compile(r"[^\W\d_]+")


_MODERN_PAIRS = frozenset({"oa", "oe", "uy"})


def _tone_target(vowels: str, qualities: Sequence[str], has_final: bool, modern: bool) -> int:
    """Index, inside the vowel cluster, of the vowel that carries the tone."""
    marked = [i for i, quality in enumerate(qualities) if quality]
    if marked:  # â ă ê ô ơ ư take the tone; in ươ the second one does.
        return marked[-1]
    if has_final:  # hoàng, toán, huỳnh
        return len(qualities) - 1
    if len(qualities) == 3:  # ngoài, khuỷu
        return 1
    if modern and vowels in _MODERN_PAIRS:  # hoà, thuỷ, khoẻ
        return 1
    return 0  # hòa, thủy, khỏe, mùa, mía, hài


def _retone_word(word: str, modern: bool) -> str:
    """Move the tone mark of one word to its canonical vowel; leave non-syllables untouched."""
    letters: list[list[str]] = []  # [base letter, its quality marks]
    tone = ""
    for ch in unicodedata.normalize("NFD", word):
        if ch in _TONE_MARKS:
            if tone or not letters:
                return word  # two tones or a stray mark: not a Vietnamese syllable
            tone = ch
        elif unicodedata.combining(ch):
            if not letters:
                return word
            letters[-1][1] += ch
        else:
            letters.append([ch, ""])
    if not tone:
        return word
    match = _SYLLABLE.fullmatch("".join(base.lower() for base, _ in letters))
    if match is None:
        return word
    start, end = match.span(2)
    qualities = [quality for _, quality in letters[start:end]]
    target = start + _tone_target(match.group(2), qualities, match.group(3) is not None, modern)
    rebuilt = "".join(
        base + quality + (tone if index == target else "") for index, (base, quality) in enumerate(letters)
    )
    return unicodedata.normalize("NFC", rebuilt)


def normalize_tone_marks(text: str, style: str = "old") -> str:
    """Put every tone mark on its canonical vowel and return NFC text.

    Words that are not Vietnamese syllables (foreign words, codes) are left as they are. Letter case
    and every other character are kept, and the length of NFC text does not change.

    Args:
        text: any text, precomposed or decomposed.
        style: ``"old"`` (the project's normal form: "hòa", "thủy", "khỏe") or ``"new"``
            ("hoà", "thuỷ", "khoẻ"; only open oa/oe/uy differ). underthesea's segmenter was trained
            on the new style, so :mod:`knowledge_base.nlp` feeds it that.

    Returns:
        The text in NFC with tone marks placed in the chosen style.

    Raises:
        ValueError: for an unknown ``style``.

    Example:
        ``normalize_tone_marks("Hoà thuận, sức khoẻ")`` returns ``"Hòa thuận, sức khỏe"``.
    """
    if style not in ("old", "new"):
        raise ValueError(f"style must be 'old' or 'new', got {style!r}")
    modern = style == "new"
    return _LETTERS.sub(lambda m: _retone_word(m.group(0), modern), nfc(text))


# --------------------------------------------------------------------------------------------------
# Normal form
# --------------------------------------------------------------------------------------------------

# A token: letters/digits (plus combining marks NFC could not absorb), optionally joined by "." "/"
# "-" or by "," between digits. Joined runs are kept whole only when they hold a digit (ID-like).
_CH = r"(?:[^\W_]|[\u0300-\u036f])"
_TOKEN = re.compile(rf"{_CH}+(?:(?:[./\-]|(?<=\d),(?=\d)){_CH}+)*")
_SEPARATORS = re.compile(r"[./,\-]")
_DIGIT = re.compile(r"\d")


def _nfc_with_map(text: str) -> tuple[str, list[int], list[int]]:
    """NFC ``text`` cluster by cluster, remembering each output character's span in ``text``."""
    out: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    index = 0
    length = len(text)
    while index < length:
        end = index + 1
        while end < length and unicodedata.combining(text[end]):
            end += 1
        composed = unicodedata.normalize("NFC", text[index:end])
        out.append(composed)
        starts.extend([index] * len(composed))
        ends.extend([end] * len(composed))
        index = end
    return "".join(out), starts, ends


def syllables_with_offsets(text: str) -> list[tuple[str, int, int]]:
    """Split ``text`` into normalised tokens with their character span in the ORIGINAL text.

    Each token is lowercased, in NFC with canonical tone marks; ``text[start:end]`` is the token as
    the user wrote it (decomposed or not). Punctuation and emoji are dropped; ID-like tokens that
    hold a digit ("1.001193", "123/2015/NĐ-CP", "50.000") stay whole.

    Args:
        text: raw text.

    Returns:
        A list of ``(token, start, end)``.

    Example:
        ``syllables_with_offsets("Đăng ký, NĐ 123/2015/NĐ-CP!")`` returns
        ``[("đăng", 0, 4), ("ký", 5, 7), ("nđ", 9, 11), ("123/2015/nđ-cp", 12, 26)]``.
    """
    composed, starts, ends = _nfc_with_map(text)
    tokens: list[tuple[str, int, int]] = []
    for match in _TOKEN.finditer(composed):
        piece = match.group(0)
        if _DIGIT.search(piece) or not _SEPARATORS.search(piece):
            parts = [(piece, match.start(), match.end())]
        else:
            parts = [
                (sub.group(0), match.start() + sub.start(), match.start() + sub.end())
                for sub in re.finditer(rf"{_CH}+", piece)
            ]
        for token, begin, finish in parts:
            normal = normalize_tone_marks(token.lower())
            tokens.append((normal, starts[begin], ends[finish - 1]))
    return tokens


def syllables(text: str) -> list[str]:
    """Return the normalised tokens (syllables and ID-like tokens) of ``text``.

    Example: ``syllables("Làm CCCD ở đâu?")`` returns ``["làm", "cccd", "ở", "đâu"]``.
    """
    return [token for token, _, _ in syllables_with_offsets(text)]


def normalize(text: str) -> str:
    """Return the query/document normal form of ``text``.

    NFC, canonical tone marks, lowercase, punctuation and emoji turned into spaces, whitespace
    collapsed; Vietnamese letters, digits and ID-like tokens ("1.001193", "123/2015/nđ-cp") kept.
    The function is idempotent.

    Args:
        text: raw text.

    Returns:
        The normalised text (possibly empty).

    Example:
        ``normalize("  Thủ tục 1.001193: Đăng ký KHAI SINH 👶 (hoà giải)... ")`` returns
        ``"thủ tục 1.001193 đăng ký khai sinh hòa giải"``.
    """
    return " ".join(syllables(text))


def word_ngrams(tokens: Sequence[str], n: int) -> list[str]:
    """Return the ``n``-grams of ``tokens`` joined with "_" (the word-segmentation joiner).

    Args:
        tokens: a token sequence, e.g. from :func:`syllables`.
        n: the n-gram length, at least 1.

    Returns:
        The n-grams in order; empty when there are fewer than ``n`` tokens.

    Raises:
        ValueError: when ``n`` is smaller than 1.

    Example:
        ``word_ngrams(["đăng", "ký", "khai", "sinh"], 2)`` returns
        ``["đăng_ký", "ký_khai", "khai_sinh"]``.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    return ["_".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


# --------------------------------------------------------------------------------------------------
# Rule data (teencode, synonyms)
# --------------------------------------------------------------------------------------------------


class RulesError(ValueError):
    """A text-rule data file is missing or holds a bad entry; the message names file and entry."""


@dataclass(frozen=True)
class SynonymRule:
    """One synonym entry: phrases that mean ``official``.

    ``terms`` match with or without diacritics; ``exact_terms`` only as written (with diacritics),
    for phrases whose folded form is a common other word ("đẻ" folds to "de", like "để").
    """

    official: str
    terms: tuple[str, ...]
    exact_terms: tuple[str, ...] = ()


@dataclass(frozen=True)
class TextRules:
    """The loaded rule data, ready for matching."""

    abbreviations: dict[str, str]
    folded_abbreviations: dict[str, str]
    synonyms: tuple[SynonymRule, ...]
    synonym_patterns: tuple[tuple[str, re.Pattern[str] | None, re.Pattern[str] | None], ...]
    english_glossary: tuple[tuple[str, re.Pattern[str]], ...] = ()  # see english_rendering


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses duplicate mapping keys instead of silently keeping the last."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node)
    return mapping


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


def _read_yaml(path: Path) -> Any:
    try:
        with path.open(encoding="utf-8") as handle:
            return yaml.load(handle, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except FileNotFoundError as exc:
        raise RulesError(f"{path}: file not found") from exc
    except yaml.YAMLError as exc:
        raise RulesError(f"{path}: invalid YAML: {exc}") from exc


def _phrase(value: Any, where: str) -> str:
    """Validate one phrase and return its normal form."""
    if not isinstance(value, str) or not value.strip():
        raise RulesError(f"{where}: expected a non-empty string, got {value!r}")
    normal = normalize(value)
    if not normal:
        raise RulesError(f"{where}: {value!r} has no letters or digits")
    return normal


def _load_teencode(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    data = _read_yaml(path)
    if not isinstance(data, dict) or not data:
        raise RulesError(f"{path}: expected a non-empty mapping of abbreviation: expansion")
    exact: dict[str, str] = {}
    for key, value in data.items():
        where = f"{path}: entry {key!r}"
        if not isinstance(key, str) or _phrase(key, where) != key.strip() or " " in key.strip():
            raise RulesError(f"{where}: the abbreviation must be one lowercase token in normal form")
        exact[key.strip()] = _phrase(value, where)
    # "dk" finds "đk": an entry whose only diacritic is đ also matches the token typed with d.
    # Entries with tone marks ("hông") match only as written: their plain spelling ("hong") is
    # usually another word ("hồng" in "sổ hồng"). A plain spelling that is an entry itself decides.
    folded: dict[str, str] = {}
    for abbreviation, expansion in exact.items():
        key = abbreviation.replace("đ", "d")
        if key == abbreviation or not key.isascii() or key in exact:
            continue
        if folded.get(key, expansion) != expansion:
            raise RulesError(
                f"{path}: entry {abbreviation!r} reads {key!r} without đ, like another entry with a "
                f"different expansion; add {key!r} as its own entry to decide"
            )
        folded[key] = expansion
    return exact, folded


def _phrase_pattern(phrases: Sequence[str]) -> re.Pattern[str] | None:
    if not phrases:
        return None
    alternatives = "|".join(re.escape(p) for p in sorted(set(phrases), key=len, reverse=True))
    return re.compile(rf"(?<!\S)(?:{alternatives})(?!\S)")


def _load_synonyms(path: Path) -> tuple[SynonymRule, ...]:
    data = _read_yaml(path)
    if not isinstance(data, list) or not data:
        raise RulesError(f"{path}: expected a non-empty list of entries with 'official' and 'terms'")
    rules: list[SynonymRule] = []
    for position, entry in enumerate(data, start=1):
        where = f"{path}: entry {position}"
        if not isinstance(entry, dict):
            raise RulesError(f"{where}: expected a mapping, got {entry!r}")
        unknown = set(entry) - {"official", "terms", "exact_terms"}
        if unknown:
            raise RulesError(f"{where}: unknown keys {sorted(unknown)}")
        official = _phrase(entry.get("official"), f"{where} (official)")
        where = f"{path}: entry {position} ({official!r})"
        terms = entry.get("terms", [])
        exact_terms = entry.get("exact_terms", [])
        if not isinstance(terms, list) or not isinstance(exact_terms, list) or not terms + exact_terms:
            raise RulesError(f"{where}: 'terms' / 'exact_terms' must be lists, not both empty")
        rules.append(
            SynonymRule(
                official=official,
                terms=tuple(_phrase(t, f"{where} term {t!r}") for t in terms),
                exact_terms=tuple(_phrase(t, f"{where} exact term {t!r}") for t in exact_terms),
            )
        )
    return tuple(rules)


@functools.cache
def load_rules(path: Path | str | None = None) -> TextRules:
    """Load and validate ``teencode.yml`` and ``synonyms.yml`` (once per folder and process).

    Args:
        path: the folder holding both files; the package's ``data/`` folder when omitted.

    Returns:
        The rules, ready for :func:`expand_abbreviations` and :func:`expand_synonyms`.

    Raises:
        RulesError: a file is missing, is not valid YAML, or holds a bad entry (the message names
            the file and the entry).

    Example:
        ``load_rules().abbreviations["đk"]`` is ``"đăng ký"``.
    """
    folder = DATA_DIR if path is None else Path(path)
    exact, folded = _load_teencode(folder / TEENCODE_FILE)
    synonyms = _load_synonyms(folder / SYNONYMS_FILE)
    patterns = tuple(
        (rule.official, _phrase_pattern([fold(t) for t in rule.terms]), _phrase_pattern(rule.exact_terms))
        for rule in synonyms
    )
    return TextRules(
        abbreviations=exact,
        folded_abbreviations=folded,
        synonyms=synonyms,
        synonym_patterns=patterns,
        english_glossary=_english_glossary(synonyms),
    )


_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


def expand_abbreviations(text: str, rules: TextRules | None = None) -> str:
    """Normalise ``text`` and replace teencode and abbreviations by their full form.

    Matching is by whole token only. A token is looked up as written; an entry whose only diacritic
    is đ also matches with d, so "dk" and "đk" both give "đăng ký". Entries with tone marks
    ("hông") match only as written, because their plain spelling is often another word ("sổ hồng").
    The ambiguous "k": alone it means "không", but right after a number ("50 k") it means
    "nghìn"; a glued amount such as "50k" is one token and is left unchanged.

    Args:
        text: raw or normalised text.
        rules: rule data; :func:`load_rules` of the package data when omitted.

    Returns:
        The normalised text with abbreviations expanded.

    Example:
        ``expand_abbreviations("Đk KS cho con mất bn tiền, 50k hả?")`` returns
        ``"đăng ký khai sinh cho con mất bao nhiêu tiền 50k hả"``.
    """
    rules = rules or load_rules()
    out: list[str] = []
    previous = ""
    for token in syllables(text):
        if token == "k" and _NUMBER.fullmatch(previous):
            expansion: str | None = "nghìn"
        else:
            expansion = rules.abbreviations.get(token) or rules.folded_abbreviations.get(token)
        out.append(expansion or token)
        previous = token
    return " ".join(out)


def _synonym_officials(normal: str, folded: str, rules: TextRules) -> list[str]:
    """The official terms of the colloquial phrases in ``normal`` (and its fold ``folded``), each once,
    in rule order, leaving out those already in the text."""
    added: list[str] = []
    for official, folded_pattern, exact_pattern in rules.synonym_patterns:
        hit = (folded_pattern is not None and folded_pattern.search(folded)) or (
            exact_pattern is not None and exact_pattern.search(normal)
        )
        if not hit or official in added:
            continue
        if re.search(rf"(?<!\S){re.escape(fold(official))}(?!\S)", folded):
            continue
        added.append(official)
    return added


def expand_synonyms(text: str, rules: TextRules | None = None) -> str:
    """Normalise ``text`` and APPEND the official terms of the colloquial phrases it contains.

    The original words are kept. Terms match on the folded text, so input with or without
    diacritics works; ``exact_terms`` match only with diacritics. An official term already present
    in the text is not appended again.

    Args:
        text: raw or normalised text (run :func:`expand_abbreviations` first for teencode).
        rules: rule data; :func:`load_rules` of the package data when omitted.

    Returns:
        The normalised text followed by the official terms found, each once.

    Example:
        ``expand_synonyms("lam so do o dau")`` returns
        ``"lam so do o dau giấy chứng nhận quyền sử dụng đất"``.
    """
    rules = rules or load_rules()
    normal = normalize(text)
    added = _synonym_officials(normal, fold(normal), rules)
    return " ".join([normal, *added]) if added and normal else normal


# Words that mark a message as English: common in English questions, never a Vietnamese syllable
# written without diacritics (so no "the", "to", "do", "can", "an", "me", "my").
ENGLISH_MARKERS = frozenset(
    "is are was how what where which when who why need needs does did will would should could and of for "
    "with your our i i'm we you it this that there from please just want wants much many long days office "
    "ward register registration apply certificate papers documents fee fees get lost new baby wife husband "
    "about if or into have has been be they them their she her its also were had going help know someone "
    "still now after before since week month year years time last next same other us some any all very "
    "really already thanks sell buy bought friend name i've we're it's don't can't i'd we've they're what's "
    "that's there's doesn't isn't".split()
)


# Little English words that glossary phrases may or may not hold ("register a birth" / "register the
# birth of my baby"): the glossary is matched with them left out of both sides. An apostrophe splits a
# word, and the possessive "s" it leaves is a filler too: the synonym file's normalisation turns the
# apostrophe of "translator's signature" into a space, and citizens write "translator's" or
# "translator’s".
ENGLISH_FILLERS = frozenset("a an the my our his her their your its of for to s".split())


def _english_content(text: str) -> str:
    return " ".join(w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in ENGLISH_FILLERS)


def _english_glossary(synonyms: tuple[SynonymRule, ...]) -> tuple[tuple[str, re.Pattern[str]], ...]:
    """(official term, pattern of its ASCII phrases without fillers), in rule order."""
    glossary = []
    for rule in synonyms:
        phrases = {_english_content(t) for t in rule.terms if t.isascii()} - {""}
        if phrases:
            alternatives = "|".join(re.escape(p) for p in sorted(phrases, key=len, reverse=True))
            glossary.append((rule.official, re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)")))
    return tuple(glossary)


def looks_english(text: str) -> bool:
    """True when ``text`` reads as English: at least two words of ``ENGLISH_MARKERS`` making a fifth
    of its words, and at most a quarter of its words with Vietnamese letters ("fiancée" or "Đà Nẵng"
    may appear in English). Vietnamese typed without diacritics shares few of the markers."""
    tokens = text.split()
    if sum(any(ch.isalpha() and ord(ch) > 127 for ch in token) for token in tokens) > 0.25 * len(tokens):
        return False
    words = re.findall(r"[a-z']+", text.lower())
    markers = sum(word in ENGLISH_MARKERS for word in words)
    return markers >= 2 and markers >= 0.2 * len(words)


def english_rendering(text: str, rules: TextRules | None = None) -> str | None:
    """For a question written in English (:func:`looks_english`), the Vietnamese its words stand
    for, in the order they come: the glossary of ``synonyms.yml`` for whole phrases ("register the
    birth of my baby" → "đăng ký khai sinh"), and the word list of ``english_words.yml`` for the
    words no phrase covered ("my in-laws are visiting" → "lưu trú"). None when the text is not
    English or names nothing either knows.

    The glossary is matched without the little words of ``ENGLISH_FILLERS`` on either side, so a
    phrase is found whatever article or possessive the citizen put in it. A number before an age
    word stays with it ("8 years old" → "8 tuổi"), the way the age cues read Vietnamese.
    """
    if not looks_english(text):
        return None
    _, rendering, _ = _english_parts(text, rules)
    return rendering or None


def english_search_text(text: str) -> str | None:
    """What the lexical index is asked for an English question: its rendering, then its words that no
    glossary phrase covered. None when the text is not English or nothing renders.

    The index holds English sample questions too, so the words left over still find the procedure
    they were written for. A glossary phrase is matched by its official Vietnamese only: "birth
    certificate" finds birth registration by its name, not a sibling whose English sample question
    happens to say "birth certificate"."""
    if not looks_english(text):
        return None
    content, rendering, phrases = _english_parts(text)
    if not rendering:
        return None
    left = [m.group() for m in re.finditer(r"[a-z0-9]+", content)
            if not any(start <= m.start() and m.end() <= end for start, end in phrases)]
    return " ".join([rendering, *left])


def _english_parts(text: str, rules: TextRules | None = None) -> tuple[str, str, list[tuple[int, int]]]:
    """English ``text`` as :func:`_english_content`; its rendering (the Vietnamese found in it, in
    text order, each once; "" for none); and the spans of the glossary phrases in the content."""
    rules = rules or load_rules()
    content = _english_content(text)
    found = [(m.start(), m.end(), official) for official, pattern in rules.english_glossary
             for m in pattern.finditer(content)]
    phrases = [(start, end) for start, end, _ in found]
    words = english_words()
    for m in words.pattern.finditer(content):
        if not any(start < m.end() and m.start() < end for start, end in phrases):
            vietnamese = words.meanings[m.group(1)]
            if vietnamese == "tuổi" and (number := re.search(r"(\d+) $", content[: m.start()])):
                vietnamese = f"{number.group(1)} tuổi"
            found.append((m.start(), m.end(), vietnamese))
    return content, " ".join(dict.fromkeys(vietnamese for _, _, vietnamese in sorted(found))), phrases


@dataclass(frozen=True)
class EnglishWords:
    """The word list of ``english_words.yml``: ``meanings`` maps an English word (or hyphen-free
    phrase, "brand new") to its Vietnamese; ``pattern`` finds them, plural and past forms included,
    in :func:`_english_content` text, the word in group 1."""

    meanings: dict[str, str]
    pattern: re.Pattern[str]


@functools.cache
def english_words(path: Path | str | None = None) -> EnglishWords:
    """Load and validate ``english_words.yml`` (once per path and process).

    Raises:
        RulesError: the file is missing or invalid, an entry lacks ``vietnamese`` or ``english``, or
            a word is listed twice.
    """
    path = DATA_DIR / ENGLISH_WORDS_FILE if path is None else Path(path)
    entries = _read_yaml(path)
    if not isinstance(entries, list):
        raise RulesError(f"{path}: expected a list of entries")
    meanings: dict[str, str] = {}
    for number, entry in enumerate(entries, 1):
        where = f"{path} entry {number}"
        if not isinstance(entry, dict) or set(entry) != {"vietnamese", "english"}:
            raise RulesError(f"{where}: expected the keys 'vietnamese' and 'english'")
        vietnamese = _phrase(entry["vietnamese"], f"{where} vietnamese")
        if not isinstance(entry["english"], list) or not entry["english"]:
            raise RulesError(f"{where}: 'english' must be a non-empty list")
        for word in entry["english"]:
            english = _english_content(str(word))
            if not english:
                raise RulesError(f"{where}: {word!r} has no letters or digits")
            if english in meanings:
                raise RulesError(f"{where}: {word!r} is listed twice")
            meanings[english] = vietnamese
    alternatives = "|".join(re.escape(w) for w in sorted(meanings, key=len, reverse=True))
    return EnglishWords(meanings, re.compile(rf"(?<!\w)({alternatives})(?:es|s|ed|d)?(?!\w)"))


@dataclass(frozen=True)
class QueryForms:
    """The forms of one query that retrieval and the bot use.

    Attributes:
        normalized: :func:`normalize` plus :func:`expand_abbreviations`.
        expanded: ``normalized`` plus the official synonyms (:func:`expand_synonyms`).
        folded: :func:`fold` of ``expanded``, for matching diacritic-free text.
    """

    normalized: str
    expanded: str
    folded: str


def query_forms(text: str, rules: TextRules | None = None) -> QueryForms:
    """Compute every form of a citizen's query in one call.

    Args:
        text: the raw query.
        rules: rule data; :func:`load_rules` of the package data when omitted.

    Returns:
        The :class:`QueryForms` of ``text``.

    Example:
        ``query_forms("lam cccd o dau").expanded`` returns
        ``"lam căn cước công dân o dau cấp thẻ căn cước"``.
    """
    normalized = expand_abbreviations(text, rules)
    expanded = expand_synonyms(normalized, rules)
    return QueryForms(normalized=normalized, expanded=expanded, folded=fold(expanded))


# --- words that name no procedure -----------------------------------------------------------------

FOLLOW_UP_WORDS_FILE = "follow_up_words.yml"
ASPECT_TERMS_FILE = "aspect_terms.yml"


@functools.cache
def aspect_words(folder: Path = DATA_DIR) -> frozenset[str]:
    """The folded aspect words of ``aspect_terms.yml``, a syllable pair joined by "_" ("le_phi", "tien")."""
    return frozenset(str(term) for term in (_read_yaml(folder / ASPECT_TERMS_FILE) or {}).get("terms") or [])


@functools.cache
def _empty_words(folder: Path = DATA_DIR) -> tuple[frozenset[str], frozenset[tuple[str, str]]]:
    """Folded syllables, and syllable pairs, that name no procedure: follow-up fillers
    (``follow_up_words.yml``) and the aspect words of ``aspect_terms.yml``."""
    fillers = (_read_yaml(folder / FOLLOW_UP_WORDS_FILE) or {}).get("fillers") or []
    singles = {fold(str(word)) for word in fillers}
    pairs: set[tuple[str, str]] = set()
    for term in aspect_words(folder):
        parts = tuple(term.split("_"))
        if len(parts) == 2:
            pairs.add(parts)
        else:
            singles.update(parts)
    return frozenset(singles), frozenset(pairs)


def hash_rule_files(digest: Any, folder: Path | None = None) -> None:
    """Feed the teencode and synonym files of ``folder`` (default: the package's rules) to ``digest``
    (a ``hashlib`` object): what a fine-tuned model or a built index depends on besides the corpus."""
    folder = folder or DATA_DIR
    for filename in (TEENCODE_FILE, SYNONYMS_FILE):
        path = folder / filename
        digest.update(filename.encode())
        digest.update(path.read_bytes() if path.is_file() else b"<absent>")


def folded_words(text: str) -> list[str]:
    """The folded, teencode-expanded syllables of ``text`` (đ read as d), as topic_words sees them."""
    return re.findall(r"[a-z0-9]+", fold(expand_abbreviations(text)).replace("đ", "d"))


def folded_text(text: str) -> str:
    """``folded_words`` joined by single spaces: the form word patterns (question words, cues) match."""
    return " ".join(folded_words(text))


def is_aspect_pair(first: str, second: str) -> bool:
    """True when two folded syllables form an aspect word of ``aspect_terms.yml`` ("ho" + "so")."""
    return (first, second) in _empty_words()[1]


def topic_words(text: str) -> list[str]:
    """The folded syllables of ``text`` that may name a procedure: fillers, aspect words and numbers
    removed, after teencode expansion.

    Empty for a bare follow-up and for a button payload ("/choose_procedure{...}").

    Example:
        ``topic_words("thế lệ phí bao nhiêu?")`` is ``[]``;
        ``topic_words("cho hỏi làm giấy khai sinh")`` is ``["khai", "sinh"]``.
    """
    if text.lstrip().startswith("/"):
        return []
    words = folded_words(text)
    singles, pairs = _empty_words()
    kept: list[str] = []
    i = 0
    while i < len(words):
        if i + 1 < len(words) and (words[i], words[i + 1]) in pairs:
            i += 2
            continue
        if words[i] not in singles and not words[i].isdigit():
            kept.append(words[i])
        i += 1
    return kept


def procedure_words(text: str) -> list[str]:
    """The words of a message that could name a procedure. Vietnamese: ``topic_words`` (everything
    but fillers and aspect words). English: the words of its Vietnamese rendering
    (:func:`english_rendering`), since the filler lists know no English ("where do I have to go for
    that?" names nothing and follows up on the procedure in context)."""
    if looks_english(text):
        rendering = english_rendering(text)
        return rendering.split() if rendering else []
    return topic_words(text)


_CLAUSE = re.compile(r"([^.?!;,\n]*)([.?!;,\n]*)")  # a clause and the punctuation that ends it
# Words that make a clause a question (folded, after teencode expansion: "ko" → "khong", "j" → "gi",
# "ntn" → "như thế nào"). Folding merges "bao" with "báo", "đâu" with "đầu", "sao" with "bản sao" and
# "mấy" with "xe máy", so those count only in the phrases that ask; "không" asks only at the end of
# its clause ("… được không ạ"), elsewhere it is a negation ("không nộp online được"). A choice asks
# ("qua app được hay phải lên tận nơi"), and so does an English clause opened by an auxiliary ("Can I …").
_QUESTION_WORDS = re.compile(
    r"\b(gi|nao|chua|vay|nhi|bao nhieu|bao lau|bao gio|o dau|di dau|den dau|ra dau|len dau|toi dau|nop dau|"
    r"lam dau|ra sao|lam sao|the sao|thi sao|may ngay|may hom|may tuan|may thang|"
    r"hay phai|hay la|duoc hay|quy dinh sao|what|how|where|when|which)\b"
    r"|\bkhong( (a|ah|vay|nhi|ha|ad|admin|ban|nhe))*$"
    r"|^\s*(can|could|do|does|is|are|should|must|will|would) (i|we|you|it|he|she|they|my|our|the|this)\b"
)


def clauses(text: str) -> list[tuple[str, str]]:
    """The clauses of ``text``, each with the punctuation that ends it ("" for the last, unended)."""
    return [m.groups() for m in _CLAUSE.finditer(text) if m.group(1).strip()]


def clause_asks(clause: str, end: str = "") -> bool:
    """Whether a clause (ended by ``end``) asks something: a "?" after it, or a question word in it."""
    return "?" in end or bool(_QUESTION_WORDS.search(folded_text(clause)))


def asks_something(text: str) -> bool:
    """Whether any clause of ``text`` asks something (:func:`clause_asks`)."""
    return any(clause_asks(clause, end) for clause, end in clauses(text))

"""Vietnamese words with offsets and the folded form the featurisers see (no Rasa import).

The tokenizer component (:mod:`bot.components.tokenizer`) is a thin Rasa wrapper around
:func:`vietnamese_words`. Rules:

- Segmentation is underthesea's (:func:`knowledge_base.nlp.segment_with_offsets`), so "khai sinh"
  is one word. Every word keeps its span in the ORIGINAL message: ``text[start:end]`` is the word as
  typed, which is what entity annotations refer to.
- underthesea's model was trained on text with diacritics; on diacritic-free text it glues the
  wrong syllables ("khai tu can" → "khai", "tu can"). A multi-syllable word is therefore kept only
  when it holds no teencode and either carries a diacritic itself or stands in a message typed with
  diacritics (any non-teencode syllable marked); otherwise its syllables become words of their own.
  On the team's NLU data this takes entity/word misalignments from 26 of 322 to 1.
- Extra boundaries (the entity spans of a training example) split any word that crosses them, so
  training examples always align.
- The lemma is the form the featurisers see: the knowledge base's teencode expansion
  (:func:`knowledge_base.text.expand_abbreviations` rules, "k" after a number = "nghìn"), accent
  folded. A word of several syllables gets the compound joined with "_" followed by its syllables,
  so "đăng ký", "dk" and "đk" all read ``"dang_ky dang ky"`` while "dang ky" (two words, no
  diacritics) still shares the syllables ``"dang"`` and ``"ky"``.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

from knowledge_base.nlp import segment_with_offsets
from knowledge_base.text import TextRules, fold, load_rules, syllables_with_offsets

__all__ = ["Word", "vietnamese_words"]

_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class Word:
    """One word of a message.

    Attributes:
        text: the word exactly as typed, ``message[start:end]``.
        start: offset of its first character in the message.
        end: offset after its last character.
        lemma: the folded, teencode-expanded form for featurisation (see the module docstring).
    """

    text: str
    start: int
    end: int
    lemma: str


def _expansions(syllables: list[tuple[str, int, int]], rules: TextRules) -> list[list[str]]:
    """Expand teencode syllable by syllable, then fold; the same rules as ``expand_abbreviations``."""
    out: list[list[str]] = []
    previous = ""
    for token, _, _ in syllables:
        if token == "k" and _NUMBER.fullmatch(previous):
            expansion = "nghìn"
        else:
            expansion = rules.abbreviations.get(token) or rules.folded_abbreviations.get(token) or token
        out.append(fold(expansion).split() or [fold(token)])
        previous = token
    return out


def _is_teencode(token: str, rules: TextRules) -> bool:
    return token in rules.abbreviations or token in rules.folded_abbreviations


def _is_accented(syllables: list[tuple[str, int, int]], rules: TextRules) -> bool:
    """Whether the message was typed with diacritics: one syllable, teencode aside, carries one.

    Citizens either use a Vietnamese keyboard or do not; mixed messages are rare, so a single
    marked syllable is enough ("Làm khai sinh cho con" counts, "lam sđ can gi" does not).
    """
    return any(fold(t) != t for t, _, _ in syllables if not _is_teencode(t, rules))


def _is_trusted(members: list[tuple[str, int, int]], accented: bool, rules: TextRules) -> bool:
    """Whether underthesea's grouping of these syllables into one word can be believed.

    A word of several syllables is believed when the message was typed with diacritics (the
    segmenter's training condition) or the word itself carries one, and it holds no teencode.
    """
    if len(members) < 2:
        return True
    if any(_is_teencode(token, rules) for token, _, _ in members):
        return False
    return accented or any(fold(token) != token for token, _, _ in members)


def vietnamese_words(
    text: str,
    boundaries: Collection[int] = (),
    *,
    split_plain_words: bool = True,
    compound_lemma: bool = True,
    rules: TextRules | None = None,
) -> list[Word]:
    """Segment ``text`` into words with original offsets and a featurisation lemma.

    Args:
        text: the raw message (any Unicode form; offsets refer to it as given).
        boundaries: character offsets no word may cross (e.g. entity starts and ends).
        split_plain_words: split multi-syllable words without diacritics or with teencode.
        compound_lemma: give multi-syllable words the "_"-joined compound before the syllables;
            when false the lemma is the syllables alone.
        rules: teencode rules; :func:`knowledge_base.text.load_rules` of the package data when omitted.

    Returns:
        The words in order; punctuation and emoji are not words, so the list may be empty.

    Example:
        ``vietnamese_words("Đk khai sinh ở đâu?")`` returns
        ``[Word("Đk", 0, 2, "dang_ky dang ky"), Word("khai sinh", 3, 12, "khai_sinh khai sinh"),
        Word("ở", 13, 14, "o"), Word("đâu", 15, 18, "dau")]``.
    """
    rules = rules or load_rules()
    syllables = syllables_with_offsets(text)
    if not syllables:
        return []
    expansions = _expansions(syllables, rules)
    accented = _is_accented(syllables, rules)
    cuts = set(boundaries)

    # Group syllable indexes into words: underthesea's words, split where they cannot be trusted
    # or where they cross a boundary.
    groups: list[list[int]] = []
    index = 0
    for _, start, end in segment_with_offsets(text):
        members: list[int] = []
        while index < len(syllables) and syllables[index][1] < end:
            if syllables[index][1] >= start:
                members.append(index)
            index += 1
        if not members:
            continue
        if split_plain_words and not _is_trusted([syllables[i] for i in members], accented, rules):
            groups.extend([i] for i in members)
            continue
        current = [members[0]]
        for i in members[1:]:
            if syllables[i][1] in cuts or syllables[i - 1][2] in cuts:
                groups.append(current)
                current = []
            current.append(i)
        groups.append(current)
    covered = {i for group in groups for i in group}
    groups.extend([i] for i in range(len(syllables)) if i not in covered)
    groups.sort()

    words: list[Word] = []
    for group in groups:
        start, end = syllables[group[0]][1], syllables[group[-1]][2]
        parts = [part for i in group for part in expansions[i]]
        compound = "_".join(parts)
        if len(parts) == 1:
            lemma = compound
        elif compound_lemma:
            lemma = f"{compound} {' '.join(parts)}"
        else:
            lemma = " ".join(parts)
        words.append(Word(text=text[start:end], start=start, end=end, lemma=lemma))
    return words

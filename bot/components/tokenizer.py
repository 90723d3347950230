"""``VietnameseTokenizer``: underthesea words with original offsets and folded, expanded lemmas.

Configured in ``config.yml`` as ``bot.components.tokenizer.VietnameseTokenizer`` (run Rasa from the
repository root: Rasa puts the working directory on ``sys.path``).

Normalisation happens here, not in a separate component: Rasa's entity spans are character offsets
into the message text, so the text itself must stay as typed. Each token therefore carries

- ``token.text``: the word exactly as typed (``message.text[token.start:token.end]``), used by the
  ``LexicalSyntacticFeaturizer`` (case, prefixes, suffixes) and by entity extraction;
- ``token.lemma``: the accent-folded, teencode-expanded form (see :mod:`bot.components.words`),
  used by the ``CountVectorsFeaturizer`` (its ``use_lemma`` option is on by default), so "đk",
  "dk" and "đăng ký" give the same word and character n-gram features.

While training, the entity spans of an example are passed as extra word boundaries, so every
annotation lines up with whole tokens; at prediction time the segmentation alone decides.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from rasa.engine.graph import ExecutionContext
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.constants import ENTITIES, ENTITY_ATTRIBUTE_END, ENTITY_ATTRIBUTE_START, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.components.words import vietnamese_words

_REPO = Path(__file__).resolve().parents[2]
# The code and data the tokens depend on: a change to any of them re-tokenises on the next training
# (Rasa otherwise reuses cached tokens, as it only fingerprints the component's config).
_FINGERPRINT_FILES = (
    _REPO / "bot" / "components" / "words.py",
    _REPO / "bot" / "components" / "tokenizer.py",
    _REPO / "knowledge_base" / "text.py",
    _REPO / "knowledge_base" / "nlp.py",
    _REPO / "knowledge_base" / "data" / "teencode.yml",
)


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False)
class VietnameseTokenizer(Tokenizer):
    """Tokenize Vietnamese messages into underthesea words (see the module docstring)."""

    @staticmethod
    def get_default_config() -> dict[str, Any]:
        """Return the component's default config.

        Returns:
            Rasa's tokenizer options plus ``split_plain_words`` and ``compound_lemma``
            (see :func:`bot.components.words.vietnamese_words`).
        """
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
            "split_plain_words": True,
            "compound_lemma": True,
        }

    @staticmethod
    def supported_languages() -> list[str]:
        """Return the languages this tokenizer is made for.

        Returns:
            ``["vi"]``.
        """
        return ["vi"]

    @staticmethod
    def required_packages() -> list[str]:
        """Return the packages Rasa must find before using the component.

        Returns:
            ``["underthesea"]``.
        """
        return ["underthesea"]

    @classmethod
    def fingerprint_addon(cls, config: dict[str, Any]) -> str:
        """Return a digest of the code and teencode data the tokens depend on.

        Args:
            config: the component's config (already part of Rasa's own fingerprint).

        Returns:
            A SHA-256 hex digest.
        """
        digest = hashlib.sha256()
        for path in _FINGERPRINT_FILES:
            digest.update(path.read_bytes() if path.is_file() else b"")
        return digest.hexdigest()

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> VietnameseTokenizer:
        """Create the component (see Rasa's ``GraphComponent.create``).

        Returns:
            A tokenizer; underthesea itself is loaded on the first message.
        """
        return cls(config)

    def tokenize(self, message: Message, attribute: str) -> list[Token]:
        """Split the text of ``attribute`` into tokens with original offsets and folded lemmas.

        Args:
            message: the message; for the text attribute of a training example its entity spans
                are respected as word boundaries.
            attribute: the message attribute to tokenize (usually ``"text"``).

        Returns:
            The tokens. A text without words (emoji only, punctuation, empty) becomes one token
            holding the whole text, as Rasa's ``WhitespaceTokenizer`` does, so the featurisers
            always have something to work on.

        Example:
            For "Đk khai sinh ở đâu?" the tokens are "Đk" (lemma "dang_ky dang ky"),
            "khai sinh" ("khai_sinh khai sinh"), "ở" ("o") and "đâu" ("dau").
        """
        text = message.get(attribute) or ""
        boundaries: set[int] = set()
        if attribute == TEXT:
            for entity in message.get(ENTITIES) or []:
                boundaries.update((entity[ENTITY_ATTRIBUTE_START], entity[ENTITY_ATTRIBUTE_END]))
        words = vietnamese_words(
            text,
            boundaries,
            split_plain_words=self._config["split_plain_words"],
            compound_lemma=self._config["compound_lemma"],
        )
        if not words:
            return [Token(text, 0)]
        tokens = [Token(word.text, word.start, end=word.end, lemma=word.lemma) for word in words]
        return self._apply_token_pattern(tokens)

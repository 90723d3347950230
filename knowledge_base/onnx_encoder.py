"""A faster way to encode a few texts with a sentence-transformers model: its transformer run by onnxruntime.

Encoding one citizen question with sentence-transformers on one CPU thread spends about half its time
in PyTorch's per-operation overhead; the same network exported to ONNX and run by onnxruntime gives
the same vector (cosine 1.0 to six decimals) in about half the time (benchmarks/dialogue.md). The
action server encodes a question per message, so this halves the largest part of its work.

``OnnxEncoder.build(model)`` exports a loaded ``SentenceTransformer`` in memory (a few seconds, once
per process) and returns None, with the reason logged, unless the model is a plain transformer with
mean pooling (what ``ward-minilm`` and most sentence-transformers models are) and the exported network
reproduces the model's own vector for a probe sentence. Callers then keep using sentence-transformers.
"""

from __future__ import annotations

import io
import logging
import warnings
from typing import Any, Sequence

import numpy as np

log = logging.getLogger(__name__)

PROBE = "Đăng ký khai sinh cho con cần những giấy tờ gì, lệ phí bao nhiêu?"
#: The exported network must give the model's own vector for PROBE at least this closely (cosine).
MIN_AGREEMENT = 0.9999


class OnnxEncoder:
    """Mean-pooled, L2-normalised sentence vectors from an ONNX export of a model's transformer."""

    def __init__(self, session: Any, tokenizer: Any, max_length: int, lowercase: bool, input_names: list[str]) -> None:
        self._session = session
        self._tokenizer = tokenizer
        self._max_length = max_length
        self._lowercase = lowercase
        self._inputs = input_names

    @classmethod
    def build(cls, model: Any, threads: int = 1) -> "OnnxEncoder | None":
        """Export ``model`` (a loaded ``SentenceTransformer``) or say in the log why not."""
        reason = _unsupported(model)
        if reason:
            log.info("query encoding stays with sentence-transformers: %s", reason)
            return None
        try:
            encoder = cls._export(model, threads)
            reference = model.encode([PROBE], normalize_embeddings=True, convert_to_numpy=True)[0]
            agreement = float(np.dot(encoder.encode([PROBE])[0], reference))
        except Exception as exc:  # onnx/onnxruntime missing or an operator the exporter cannot write
            log.warning("query encoding stays with sentence-transformers: the ONNX export failed (%s)", exc)
            return None
        if agreement < MIN_AGREEMENT:
            log.warning("query encoding stays with sentence-transformers: the ONNX export disagrees (cosine %.6f)", agreement)
            return None
        return encoder

    @classmethod
    def _export(cls, model: Any, threads: int) -> "OnnxEncoder":
        import onnxruntime
        import torch

        transformer = model[0]
        network = transformer.auto_model.eval()
        tokenizer = transformer.tokenizer
        sample = tokenizer([PROBE], return_tensors="pt")
        names = [name for name in ("input_ids", "attention_mask", "token_type_ids") if name in sample]

        class Hidden(torch.nn.Module):  # positional inputs in `names` order -> last hidden state
            def __init__(self) -> None:
                super().__init__()
                self.network = network

            def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
                return self.network(**dict(zip(names, inputs))).last_hidden_state

        buffer = io.BytesIO()
        axes = {name: {0: "batch", 1: "tokens"} for name in [*names, "hidden"]}
        # The tracer warns about shape checks it records as constants; build() compares the result
        # with the model's own vectors instead, and the tests do so at several lengths.
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                Hidden(), tuple(sample[name] for name in names), buffer, input_names=names,
                output_names=["hidden"], dynamic_axes=axes, opset_version=17, dynamo=False,
            )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = max(1, threads)
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        session = onnxruntime.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
        lowercase = bool(getattr(transformer, "do_lower_case", False))
        return cls(session, tokenizer, int(transformer.max_seq_length), lowercase, names)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = [t.lower() for t in texts] if self._lowercase else list(texts)
        batch = self._tokenizer(
            texts, padding=True, truncation="longest_first", max_length=self._max_length, return_tensors="np"
        )
        hidden = self._session.run(None, {name: batch[name].astype(np.int64) for name in self._inputs})[0]
        mask = batch["attention_mask"][..., None].astype(np.float32)
        vectors = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def _unsupported(model: Any) -> str | None:
    """Why ``model`` is not a transformer + mean pooling (+ normalisation) model, or None."""
    modules = list(model)
    kinds = [type(m).__name__ for m in modules]
    if len(modules) not in (2, 3) or kinds[:2] != ["Transformer", "Pooling"] or kinds[2:] not in ([], ["Normalize"]):
        return f"its modules are {kinds}, not Transformer + Pooling (+ Normalize)"
    if not hasattr(modules[0], "auto_model") or not hasattr(modules[0], "tokenizer"):
        return "its transformer module has no Hugging Face model"
    pooling = modules[1].get_config_dict()
    modes = {key for key, value in pooling.items() if key.startswith("pooling_mode") and value is True}
    mode = pooling.get("pooling_mode")
    if modes and modes != {"pooling_mode_mean_tokens"}:
        return f"its pooling is {sorted(modes)}, not the mean of the tokens"
    if isinstance(mode, str) and mode != "mean":
        return f"its pooling is {mode!r}, not the mean of the tokens"
    return None

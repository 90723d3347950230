"""The confidence gate: answer, clarify (2–4 candidates) or hand off to a human officer.

The bot and the CLI call the same ``decide`` function. Thresholds are data
(``knowledge_base/data/gate.yml``), calibrated on the dev question set by
``python -m knowledge_base calibrate-gate``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, Mapping, Sequence

import yaml

from knowledge_base.retriever import Candidate

DecisionKind = Literal["answer", "clarify", "handoff"]
GATE_FILE = Path(__file__).resolve().parent / "data" / "gate.yml"


#: What the learned answer rule weighs, all about the top candidate: its confidence, dense cosine and
#: lexical share; its ranking-score lead over the runner-up; how much of its name the question holds;
#: whether both retrievers rank it first; its ranking score.
ANSWER_FEATURES = ("confidence", "dense", "lexical", "margin", "coverage", "agree", "score")


@dataclass(frozen=True)
class GateConfig:
    """Thresholds on a candidate's ``confidence`` and on the ranking-score margin to the runner-up.

    answer_score / answer_margin: answer when the top candidate's confidence is at least
    answer_score and its score leads by answer_margin; agree_score: also answer when both retrievers
    rank it first and its confidence reaches this; clarify_score: the lowest confidence still offered
    as an option; clarify_window: options must score within this distance of the top candidate;
    cover_score / cover_confidence: also answer when the question contains at least cover_score of
    the top candidate's name or an alias (``Candidate.coverage``) and its confidence reaches
    cover_confidence — a long, chatty question that names its procedure (above 1.0: never).

    answer_weights / answer_probability: when weights are set, they replace the three answer rules
    above: a logistic model over ``ANSWER_FEATURES`` (plus ``bias``), fitted by ``calibrate-gate``,
    gives the probability that the top candidate is right, and the gate answers from
    answer_probability on. One weighted sum of every signal separates answerable from unanswerable
    questions better than a threshold on each signal alone (benchmarks/README.md).
    clarify_probability / clarify_options: with the learned rule, a question whose top candidate's
    probability falls short of answer_probability but reaches clarify_probability is offered the
    first clarify_options candidates: retrieval is often right there, yet not sure enough to answer
    alone. Chosen end to end on the conversation sets, not by ``calibrate-gate``, whose unanswerable
    questions are all near misses the NLU never filters (benchmarks/dialogue.md, fourteenth pass).
    """

    answer_score: float = 0.55
    answer_margin: float = 0.05
    agree_score: float = 0.5
    clarify_score: float = 0.45
    clarify_window: float = 0.08
    cover_score: float = 1.01
    cover_confidence: float = 1.01
    answer_weights: Mapping[str, float] | None = None
    answer_probability: float = 1.01
    clarify_probability: float = 1.01
    clarify_options: int = 3
    max_options: int = 4

    def __post_init__(self) -> None:
        if not 2 <= self.max_options <= 4:
            raise ValueError("max_options must be between 2 and 4")
        if not 2 <= self.clarify_options <= 4:
            raise ValueError("clarify_options must be between 2 and 4")
        if self.answer_weights is not None:
            expected = {*ANSWER_FEATURES, "bias"}
            if set(self.answer_weights) != expected:
                raise ValueError(f"answer_weights must have exactly the keys {sorted(expected)}")

    @property
    def band_options(self) -> int:
        """How many candidates the clarify band offers: clarify_options, within max_options."""
        return min(self.clarify_options, self.max_options)


@dataclass(frozen=True)
class Decision:
    """What to do with a question. ``probability`` is the learned answer rule's probability that the
    top candidate is right (None when the gate has no learned rule), whatever the decision."""

    kind: DecisionKind
    options: list[str] = field(default_factory=list)
    reason: str = ""
    confidence: float = 0.0
    probability: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def answer_features(candidates: Sequence[Candidate]) -> list[float]:
    """The values of ``ANSWER_FEATURES`` for ranked, non-empty ``candidates``."""
    top = candidates[0]
    margin = top.score - candidates[1].score if len(candidates) > 1 else top.score
    agree = top.dense_rank == 1 and top.lexical_rank == 1
    return [top.confidence, top.dense, top.lexical, margin, top.coverage, float(agree), top.score]


def answer_probability(candidates: Sequence[Candidate], weights: Mapping[str, float]) -> float:
    """The learned answer rule's probability that the top candidate is the procedure asked about."""
    z = weights["bias"] + sum(weights[name] * value for name, value in zip(ANSWER_FEATURES, answer_features(candidates)))
    return 1.0 / (1.0 + math.exp(-max(z, -700.0)))


def decide(candidates: Sequence[Candidate], config: GateConfig) -> Decision:
    """Decide what to do with ranked candidates.

    Returns:
        ``answer`` with one option, ``clarify`` with 2–4 options (reason ``several_close``, or
        ``maybe_right`` from the learned rule's clarify band), or ``handoff`` with a reason
        (``no_match`` or ``low_confidence``).
    """
    if not candidates:
        return Decision("handoff", reason="no_match")
    top = candidates[0]
    probability = None
    if config.answer_weights is not None:
        probability = answer_probability(candidates, config.answer_weights)
        if probability >= config.answer_probability:
            return Decision("answer", [top.code], "likely_right", top.confidence, probability)
        if probability >= config.clarify_probability and len(candidates) >= 2:
            options = [c.code for c in candidates[: config.band_options]]
            return Decision("clarify", options, "maybe_right", top.confidence, probability)
    else:
        signals = dict(zip(ANSWER_FEATURES, answer_features(candidates)))
        if top.confidence >= config.answer_score and signals["margin"] >= config.answer_margin:
            return Decision("answer", [top.code], "confident", top.confidence)
        if signals["agree"] and top.confidence >= config.agree_score:
            return Decision("answer", [top.code], "retrievers_agree", top.confidence)
        if top.coverage >= config.cover_score and top.confidence >= config.cover_confidence:
            return Decision("answer", [top.code], "names_procedure", top.confidence)
    options = [
        c.code
        for c in candidates[: config.max_options]
        if c.confidence >= config.clarify_score and top.score - c.score <= config.clarify_window
    ]
    if len(options) >= 2:
        return Decision("clarify", options, "several_close", top.confidence, probability)
    return Decision("handoff", reason="low_confidence", confidence=top.confidence, probability=probability)


# Below this many procedures a corpus is "small" (the ward's own ~50): confidences and margins run
# differently from the full national import, so it has thresholds of its own when calibrated.
SMALL_CORPUS = 500


def profile_key(model: str, procedures: int | None) -> str:
    """The gate-file section for ``model`` over a corpus of ``procedures``: ``model@small`` or ``model``."""
    return f"{model}@small" if procedures is not None and procedures < SMALL_CORPUS else model


def load_gate_config(path: Path = GATE_FILE, model: str | None = None, procedures: int | None = None) -> GateConfig:
    """Read thresholds from ``path``: the section for ``model`` and the corpus size if calibrated,
    else the section for ``model``, else ``default``."""
    if not path.is_file():
        return GateConfig()
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    models = data.get("models") or {}
    section = (
        (models.get(profile_key(model, procedures)) if model else None)
        or models.get(model)
        or data.get("default")
        or {}
    )
    try:
        return GateConfig(**section)
    except TypeError as exc:
        raise ValueError(f"{path}: bad gate thresholds for {model or 'default'}: {exc}") from exc

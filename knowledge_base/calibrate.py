"""Calibrating the confidence gate's thresholds on a labelled question set.

Retrieval runs once per question; then a grid of ``GateConfig`` values is scored on the stored
candidates. The chosen thresholds maximise useful outcomes (right answers, clarifications that include
the right procedure) while keeping wrong confident answers and unanswerable questions that are not
handed off under the targets. Cross-validation reports how well the choice carries to unseen questions.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import yaml

from knowledge_base.evaluate import LabelledQuestion
from knowledge_base.gate import ANSWER_FEATURES, GATE_FILE, GateConfig, answer_features
from knowledge_base.retriever import Candidate

#: Targets from the issue, with a safety margin, as shares of the answerable / unanswerable questions.
MAX_WRONG_ANSWER_RATE = 0.05
MIN_UNANSWERABLE_HANDOFF_RATE = 0.92


@dataclass(frozen=True)
class Targets:
    """What a threshold choice must meet: at most ``max_wrong`` of the answerable questions answered
    wrongly, at least ``min_unanswerable_handoff`` of the unanswerable ones handed off.

    ``unanswerable_cost`` is what each unanswerable question that is answered or clarified costs in
    the utility among the choices that meet the targets: 2 keeps handing off well beyond the target;
    0 answers as many questions as the targets allow.
    """

    max_wrong: float = MAX_WRONG_ANSWER_RATE
    min_unanswerable_handoff: float = MIN_UNANSWERABLE_HANDOFF_RATE
    unanswerable_cost: float = 2.0


DEFAULT_TARGETS = Targets()

GRID = {
    "answer_score": [0.30, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60, 0.65, 0.70, 0.80],
    "answer_margin": [0.0, 0.02, 0.04, 0.06, 0.08, 0.12, 0.16],
    "agree_score": [0.30, 0.35, 0.40, 0.45, 0.50, 0.55, 0.60, 0.70, 1.01],
    "clarify_score": [0.20, 0.25, 0.30, 0.35, 0.40, 0.45, 0.50, 0.60],
    "clarify_window": [0.06, 0.10, 0.15, 0.25, 0.40, 1.00],
    "cover_score": [0.80, 0.85, 0.90, 0.95, 1.00, 1.01],
    "cover_confidence": [0.30, 0.35, 0.40],
}
OPTIONS = 4
#: The grid when a learned answer rule replaces the answer thresholds: its probability cut-off, and the
#: clarification thresholds as above.
LEARNED_GRID = {
    "answer_probability": [round(0.2 + 0.025 * i, 3) for i in range(31)],
    "clarify_score": GRID["clarify_score"],
    "clarify_window": GRID["clarify_window"],
}


@dataclass(frozen=True)
class Sample:
    candidates: list[Candidate]
    expected: list[str]


def collect(questions: Sequence[LabelledQuestion], search: Callable[[str], list[Candidate]]) -> list[Sample]:
    """Run retrieval once per question and keep the candidates."""
    return [Sample(search(q.question), q.expected) for q in questions]


@dataclass(frozen=True)
class Score:
    utility: float
    wrong_rate: float
    unanswerable_handoff_rate: float
    counts: dict[str, int]

    @property
    def feasible(self) -> bool:
        return self.meets(DEFAULT_TARGETS)

    def meets(self, targets: Targets) -> bool:
        return self.wrong_rate <= targets.max_wrong and self.unanswerable_handoff_rate >= targets.min_unanswerable_handoff


class Features:
    """The gate's inputs for every sample as arrays, so a threshold grid is scored without Python loops.

    ``outcomes(config)`` gives exactly what ``classify(decide(...))`` gives for each sample (a test
    checks this), only faster.
    """

    def __init__(self, samples: Sequence[Sample]) -> None:
        n = len(samples)
        self.answerable = np.array([bool(s.expected) for s in samples])
        self.has = np.array([bool(s.candidates) for s in samples])
        self.conf = np.full((n, OPTIONS), -np.inf)
        self.gap = np.full((n, OPTIONS), np.inf)
        self.hit = np.zeros((n, OPTIONS), dtype=bool)
        self.x = np.zeros((n, len(ANSWER_FEATURES)))
        for i, s in enumerate(samples):
            c = s.candidates
            if not c:
                continue
            self.x[i] = answer_features(c)
            for k, cand in enumerate(c[:OPTIONS]):
                self.conf[i, k] = cand.confidence
                self.gap[i, k] = c[0].score - cand.score
                self.hit[i, k] = cand.code in s.expected
        column = {name: self.x[:, j] for j, name in enumerate(ANSWER_FEATURES)}
        self.margin, self.agree, self.coverage = column["margin"], column["agree"] > 0, column["coverage"]

    @property
    def top_right(self) -> np.ndarray:
        """Whether each sample's top candidate is a procedure it asks about."""
        return self.has & self.answerable & self.hit[:, 0]

    def outcomes(self, config: GateConfig) -> dict[str, int]:
        top = self.conf[:, 0]
        band = np.zeros_like(self.has)
        if config.answer_weights is not None:
            w = np.array([config.answer_weights[name] for name in ANSWER_FEATURES])
            z = np.maximum(self.x @ w + config.answer_weights["bias"], -700.0)
            probability = 1.0 / (1.0 + np.exp(-z))
            answer = self.has & (probability >= config.answer_probability)
            # the learned rule's clarify band: the first clarify_options candidates are offered
            two = np.isfinite(self.conf[:, 1])  # at least two candidates to offer
            band = self.has & ~answer & (probability >= config.clarify_probability) & two
        else:
            answer = self.has & (
                ((top >= config.answer_score) & (self.margin >= config.answer_margin))
                | (self.agree & (top >= config.agree_score))
                | ((self.coverage >= config.cover_score) & (top >= config.cover_confidence))
            )
        offered = (self.conf >= config.clarify_score) & (self.gap <= config.clarify_window)
        offered[:, config.max_options :] = False
        clarify = band | (self.has & ~answer & (offered.sum(axis=1) >= 2))
        handoff = ~answer & ~clarify
        in_band = self.hit[:, : config.band_options].any(axis=1)
        useful = np.where(band, in_band, (offered & self.hit).any(axis=1))
        a, u = self.answerable, ~self.answerable
        return {
            "answer_correct": int((answer & a & self.hit[:, 0]).sum()),
            "answer_wrong": int((answer & a & ~self.hit[:, 0]).sum()),
            "clarify_hit": int((clarify & a & useful).sum()),
            "clarify_miss": int((clarify & a & ~useful).sum()),
            "handoff_answerable": int((handoff & a).sum()),
            "handoff_unanswerable": int((handoff & u).sum()),
            "answer_unanswerable": int((answer & u).sum()),
            "clarify_unanswerable": int((clarify & u).sum()),
        }


def score(samples: Sequence[Sample] | Features, config: GateConfig, unanswerable_cost: float = 2.0) -> Score:
    """Outcome counts and a utility: +1 right answer, +0.6 useful clarification, −3 wrong answer,
    −0.5 clarification without the right procedure, −``unanswerable_cost`` for each unanswerable
    question not handed off."""
    features = samples if isinstance(samples, Features) else Features(samples)
    counts = features.outcomes(config)
    answerable = int(features.answerable.sum()) or 1
    unanswerable = int((~features.answerable).sum())
    utility = (
        counts["answer_correct"]
        + 0.6 * counts["clarify_hit"]
        - 3 * counts["answer_wrong"]
        - 0.5 * counts["clarify_miss"]
        - unanswerable_cost * (counts["answer_unanswerable"] + counts["clarify_unanswerable"])
    )
    return Score(
        utility,
        counts["answer_wrong"] / answerable,
        counts["handoff_unanswerable"] / unanswerable if unanswerable else 1.0,
        counts,
    )


def grid(answer_weights: dict[str, float] | None = None) -> list[GateConfig]:
    """Every threshold combination: of the answer rules, or with a learned answer rule of these weights."""
    table = GRID if answer_weights is None else LEARNED_GRID
    keys = list(table)
    fixed = {} if answer_weights is None else {"answer_weights": answer_weights}
    return [GateConfig(**fixed, **dict(zip(keys, values))) for values in itertools.product(*(table[k] for k in keys))]


def fit_answer_weights(samples: Sequence[Sample] | Features, strength: float = 1.0) -> dict[str, float]:
    """Fit the learned answer rule: L2-regularised logistic regression on standardised
    ``ANSWER_FEATURES``, predicting whether the top candidate is right (an unanswerable question's
    top never is). Returns weights on the raw features, scaling folded in, plus ``bias``.

    Raises:
        ValueError: when the samples do not hold both right and wrong top candidates.
    """
    from sklearn.linear_model import LogisticRegression

    features = samples if isinstance(samples, Features) else Features(samples)
    x, y = features.x[features.has], features.top_right[features.has]
    if y.all() or not y.any():
        raise ValueError("fitting the answer rule needs questions whose top candidate is right and others where it is not")
    mean, std = x.mean(axis=0), x.std(axis=0)
    std[std == 0] = 1.0
    model = LogisticRegression(C=strength, max_iter=1000).fit((x - mean) / std, y)
    raw = model.coef_[0] / std
    weights = {name: round(float(w), 4) for name, w in zip(ANSWER_FEATURES, raw)}
    weights["bias"] = round(float(model.intercept_[0] - (raw * mean).sum()), 4)
    return weights


def best_config(
    samples: Sequence[Sample], targets: Targets = DEFAULT_TARGETS, learned: bool = False
) -> tuple[GateConfig, Score]:
    """The grid point with the highest utility among those meeting the targets (else the safest).
    With ``learned``, the answer rule is a logistic model fitted on ``samples`` first."""
    features = Features(samples)
    weights = fit_answer_weights(features) if learned else None
    scored = [(config, score(features, config, targets.unanswerable_cost)) for config in grid(weights)]
    feasible = [pair for pair in scored if pair[1].meets(targets)]
    if feasible:
        return max(feasible, key=lambda pair: pair[1].utility)
    return max(scored, key=lambda pair: (pair[1].unanswerable_handoff_rate - pair[1].wrong_rate, pair[1].utility))


def cross_validate(
    samples: Sequence[Sample], folds: int = 5, seed: int = 13, targets: Targets = DEFAULT_TARGETS, learned: bool = False
) -> dict[str, int]:
    """Choose thresholds (and fit the learned rule) on k−1 folds, count outcomes on the held-out fold;
    return summed counts."""
    order = list(range(len(samples)))
    random.Random(seed).shuffle(order)
    totals: dict[str, int] = {}
    for f in range(folds):
        held = [samples[i] for i in order[f::folds]]
        train = [samples[i] for j, i in enumerate(order) if j % folds != f]
        config, _ = best_config(train, targets, learned)
        for key, value in score(held, config).counts.items():
            totals[key] = totals.get(key, 0) + value
    return totals


def write_config(config: GateConfig, model: str, path: Path = GATE_FILE, note: str = "") -> None:
    """Store ``config`` as the thresholds for ``model`` in the gate file, keeping other sections."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else {}
    data = data or {}
    values = asdict(config)
    unused = {"max_options"} | (
        {"answer_weights", "answer_probability"}
        if config.answer_weights is None
        else {"answer_score", "answer_margin", "agree_score", "cover_score", "cover_confidence"}
    )
    # The clarify band is chosen end to end (GateConfig), not by this grid: a refit keeps the file's.
    band = ("clarify_probability", "clarify_options")
    kept = data.get("models", {}).get(model) or {}
    section = {k: v for k, v in values.items() if k not in unused and k not in band}
    data.setdefault("models", {})[model] = section | {k: kept[k] for k in band if k in kept}
    header = (
        "# Confidence-gate thresholds per embedding model, written by\n"
        "# `python -m knowledge_base calibrate-gate FILE... --write` (see benchmarks/README.md).\n"
        f"# {note}\n"
    )
    path.write_text(header + yaml.safe_dump(data, sort_keys=True, allow_unicode=True), encoding="utf-8")

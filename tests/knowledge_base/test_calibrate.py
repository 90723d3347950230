from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from knowledge_base import calibrate
from knowledge_base.calibrate import (
    Features, Sample, Targets, best_config, cross_validate, fit_answer_weights, score, write_config,
)
from knowledge_base.evaluate import classify
from knowledge_base.gate import ANSWER_FEATURES, GateConfig, decide, load_gate_config
from knowledge_base.retriever import Candidate


@pytest.fixture(autouse=True)
def coarse_grid(monkeypatch):
    """Every dimension of the real grid, fewer values: the search logic is the same, 100x faster."""
    coarse = {name: values[:: max(1, len(values) // 3)] for name, values in calibrate.GRID.items()}
    monkeypatch.setattr(calibrate, "GRID", coarse)


def _samples(seed: int, n: int = 120) -> list[Sample]:
    rng = random.Random(seed)
    samples = []
    for i in range(n):
        k = rng.randint(0, 6)
        scores = sorted((rng.random() for _ in range(k)), reverse=True)
        cands = [
            Candidate(
                f"1.{j:06d}", "x", s, s, s, rng.choice([1, 2, None]), rng.choice([1, 2, None]),
                confidence=rng.random(), coverage=rng.choice([0.0, 0.5, 1.0, rng.random()]),
            )
            for j, s in enumerate(scores)
        ]
        expected = [] if rng.random() < 0.2 else [f"1.{rng.randint(0, 7):06d}"]
        samples.append(Sample(cands, expected))
    return samples


def _counted_by_the_gate(samples: list[Sample], config: GateConfig) -> dict[str, int]:
    """Outcome counts from ``decide`` itself, one sample at a time (what ``Features`` must reproduce)."""
    counts: dict[str, int] = {}
    for s in samples:
        outcome = classify(decide(s.candidates, config), s.expected)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


@pytest.mark.parametrize("seed", range(5))
def test_vectorised_outcomes_equal_the_gate(seed: int) -> None:
    samples = _samples(seed)
    rng = random.Random(seed)
    features = Features(samples)
    for _ in range(20):
        config = GateConfig(
            answer_score=rng.random(), answer_margin=rng.random() / 4, agree_score=rng.random(),
            clarify_score=rng.random(), clarify_window=rng.random() / 3, max_options=rng.choice([2, 3, 4]),
            cover_score=rng.choice([0.5, 0.9, 1.0, 1.01]), cover_confidence=rng.random(),
        )
        assert {k: v for k, v in features.outcomes(config).items() if v} == _counted_by_the_gate(samples, config)


def _separable() -> list[Sample]:
    """Right answers have high confidence, unanswerable questions low: a threshold exists."""
    samples = []
    for i in range(40):
        good = Candidate("1.000001", "a", 0.9, 0.9, 0.9, 1, 1, confidence=0.8 + i / 1000)
        other = Candidate("1.000002", "b", 0.5, 0.5, 0.5, 2, 2, confidence=0.4)
        samples.append(Sample([good, other], ["1.000001"]))
        low = Candidate("1.000003", "c", 0.4, 0.2, 0.2, 1, 1, confidence=0.25)
        samples.append(Sample([low, other], []))
    return samples


def test_best_config_meets_the_targets_when_possible() -> None:
    config, result = best_config(_separable())
    assert result.feasible
    assert result.counts["answer_correct"] == 40 and result.counts["handoff_unanswerable"] == 40
    held_out = cross_validate(_separable())
    assert held_out["answer_correct"] + held_out["handoff_unanswerable"] == 80


def test_score_penalises_wrong_answers() -> None:
    samples = _separable()
    lenient = score(samples, GateConfig(answer_score=0.0, answer_margin=0.0, agree_score=0.0, clarify_score=0.0))
    assert lenient.counts["answer_unanswerable"] == 40 and not lenient.feasible


def test_targets_decide_what_is_feasible() -> None:
    samples = _separable()
    # Half the unanswerable questions look answerable: no threshold separates them.
    samples += [Sample([Candidate("1.000009", "x", 0.95, 0.9, 0.9, 1, 1, confidence=0.9)], []) for _ in range(5)]
    strict, strict_score = best_config(samples, Targets(max_wrong=0.05, min_unanswerable_handoff=0.92))
    lenient, lenient_score = best_config(samples, Targets(max_wrong=0.05, min_unanswerable_handoff=0.85))
    assert not strict_score.meets(Targets(0.05, 0.92)) and lenient_score.meets(Targets(0.05, 0.85))
    assert lenient_score.counts["answer_correct"] >= strict_score.counts["answer_correct"]


def test_write_config_keeps_other_models(tmp_path: Path) -> None:
    path = tmp_path / "gate.yml"
    write_config(GateConfig(answer_score=0.61), "model-a", path)
    write_config(GateConfig(answer_score=0.72), "model-b", path)
    assert load_gate_config(path, "model-a").answer_score == 0.61
    assert load_gate_config(path, "model-b").answer_score == 0.72
    assert set(yaml.safe_load(path.read_text())["models"]) == {"model-a", "model-b"}


def test_unanswerable_cost_trades_handoffs_beyond_the_target_for_answers() -> None:
    """Ten answerable questions and ten unanswerable ones with the same confidence: answering them
    all hands off 0 of 10, so the target forces some handoffs; with no cost beyond the target the
    calibration answers as many as it allows, with the default cost it answers fewer."""
    samples = []
    for i in range(10):
        samples.append(Sample([Candidate("1.000001", "a", 0.9, 0.9, 0.9, 2, 1, confidence=0.3 + i * 0.06)], ["1.000001"]))
        samples.append(Sample([Candidate("1.000003", "c", 0.9, 0.9, 0.9, 2, 1, confidence=0.3 + i * 0.06)], []))
    targets = Targets(max_wrong=0.05, min_unanswerable_handoff=0.5)
    _, costly = best_config(samples, targets)
    _, free = best_config(samples, replace(targets, unanswerable_cost=0.0))
    assert free.meets(targets) and costly.meets(targets)
    assert free.counts["answer_correct"] > costly.counts["answer_correct"]
    assert free.counts["handoff_unanswerable"] < costly.counts["handoff_unanswerable"]


@pytest.mark.parametrize("seed", range(3))
def test_vectorised_outcomes_equal_the_gate_with_a_learned_rule(seed: int) -> None:
    samples = _samples(seed)
    rng = random.Random(seed)
    features = Features(samples)
    for _ in range(20):
        weights = {name: rng.uniform(-5, 5) for name in ANSWER_FEATURES} | {"bias": rng.uniform(-3, 3)}
        answer_at = rng.random()
        config = GateConfig(
            answer_weights=weights, answer_probability=answer_at, clarify_score=rng.random(),
            clarify_window=rng.random() / 3, max_options=rng.choice([2, 3, 4]),
            # half the configs have a clarify band below the answer cut-off
            clarify_probability=rng.choice([1.01, answer_at * rng.random()]),
            clarify_options=rng.choice([2, 3, 4]),
        )
        assert {k: v for k, v in features.outcomes(config).items() if v} == _counted_by_the_gate(samples, config)


def _told_apart_by_dense_alone() -> list[Sample]:
    """Right and unanswerable tops share confidence, margin, coverage and rank agreement; only the
    dense cosine (which no threshold rule looks at) tells them apart."""
    samples = []
    other = Candidate("1.000002", "b", 0.2, 0.2, 0.2, 2, 2, confidence=0.2)
    for i in range(30):
        right = Candidate("1.000001", "a", 0.6, 0.8 + i / 1000, 0.3, 1, 1, confidence=0.5, coverage=0.5)
        vague = Candidate("1.000003", "c", 0.6, 0.4 + i / 1000, 0.3, 1, 1, confidence=0.5, coverage=0.5)
        samples += [Sample([right, other], ["1.000001"]), Sample([vague, other], [])]
    return samples


def test_the_learned_rule_uses_signals_the_thresholds_do_not() -> None:
    samples = _told_apart_by_dense_alone()
    targets = Targets(max_wrong=0.05, min_unanswerable_handoff=0.9)
    _, by_thresholds = best_config(samples, targets)
    config, learned = best_config(samples, targets, learned=True)
    assert learned.meets(targets) and config.answer_weights is not None
    assert learned.counts["answer_correct"] == 30 and learned.counts["handoff_unanswerable"] == 30
    assert by_thresholds.counts["answer_correct"] == 0  # to keep unanswerable ones out, it answers none
    held_out = cross_validate(samples, targets=targets, learned=True)
    assert held_out["answer_correct"] + held_out["handoff_unanswerable"] == 60


def test_fitting_needs_right_and_wrong_tops() -> None:
    with pytest.raises(ValueError, match="right"):
        fit_answer_weights([s for s in _separable() if s.expected])


def test_write_config_keeps_only_the_rule_in_use(tmp_path: Path) -> None:
    path = tmp_path / "gate.yml"
    weights = fit_answer_weights(_separable())
    write_config(GateConfig(answer_weights=weights, answer_probability=0.4), "learned", path)
    write_config(GateConfig(answer_score=0.61), "thresholds", path)
    stored = yaml.safe_load(path.read_text())["models"]
    assert "answer_score" not in stored["learned"] and stored["learned"]["answer_weights"] == weights
    assert "answer_weights" not in stored["thresholds"]
    assert load_gate_config(path, "learned") == GateConfig(answer_weights=weights, answer_probability=0.4)


def test_a_refit_keeps_the_clarify_band(tmp_path: Path) -> None:
    """The clarify band is chosen end to end, not by the grid: writing a refitted gate keeps it."""
    path = tmp_path / "gate.yml"
    weights = fit_answer_weights(_separable())
    write_config(GateConfig(answer_weights=weights, answer_probability=0.5), "learned", path)
    assert load_gate_config(path, "learned").clarify_probability == 1.01  # no band unless one is set
    stored = yaml.safe_load(path.read_text())
    stored["models"]["learned"]["clarify_probability"] = 0.45
    path.write_text(yaml.safe_dump(stored))
    write_config(GateConfig(answer_weights=weights, answer_probability=0.6), "learned", path)
    refitted = load_gate_config(path, "learned")
    assert (refitted.answer_probability, refitted.clarify_probability) == (0.6, 0.45)

from __future__ import annotations

import math
from pathlib import Path

import pytest

from knowledge_base.gate import (
    ANSWER_FEATURES, Decision, GateConfig, answer_features, answer_probability, decide, load_gate_config, profile_key,
)
from knowledge_base.retriever import Candidate

CONFIG = GateConfig(answer_score=0.6, answer_margin=0.05, agree_score=0.55, clarify_score=0.4, clarify_window=0.1)


def cand(code: str, score: float, dense_rank: int | None = 2, lexical_rank: int | None = 2) -> Candidate:
    return Candidate(code, f"name {code}", score, score, score, dense_rank, lexical_rank, confidence=score)


@pytest.mark.parametrize(
    ("candidates", "kind", "options", "reason"),
    [
        ([], "handoff", [], "no_match"),
        ([cand("1.000001", 0.8), cand("1.000002", 0.5)], "answer", ["1.000001"], "confident"),
        ([cand("1.000001", 0.58, 1, 1), cand("1.000002", 0.57)], "answer", ["1.000001"], "retrievers_agree"),
        (
            [cand("1.000001", 0.62), cand("1.000002", 0.60), cand("1.000003", 0.55), cand("1.000004", 0.3)],
            "clarify",
            ["1.000001", "1.000002", "1.000003"],
            "several_close",
        ),
        ([cand("1.000001", 0.45), cand("1.000002", 0.2)], "handoff", [], "low_confidence"),
        ([cand("1.000001", 0.3), cand("1.000002", 0.29)], "handoff", [], "low_confidence"),
    ],
)
def test_decide(candidates, kind, options, reason) -> None:
    decision = decide(candidates, CONFIG)
    assert (decision.kind, decision.options, decision.reason) == (kind, options, reason)


def test_clarify_offers_at_most_max_options() -> None:
    candidates = [cand(f"1.00000{i}", 0.59 - i * 0.001) for i in range(6)]
    decision = decide(candidates, CONFIG)
    assert decision.kind == "clarify" and 2 <= len(decision.options) <= 4


@pytest.mark.parametrize("bad", [1, 5])
def test_config_rejects_bad_option_count(bad: int) -> None:
    with pytest.raises(ValueError, match="max_options"):
        GateConfig(max_options=bad)


def test_load_gate_config_prefers_the_model_section(tmp_path: Path) -> None:
    path = tmp_path / "gate.yml"
    path.write_text("default: {answer_score: 0.7}\nmodels:\n  m1: {answer_score: 0.9, clarify_score: 0.2}\n")
    assert load_gate_config(path, model="m1").answer_score == 0.9
    assert load_gate_config(path, model="other").answer_score == 0.7
    assert load_gate_config(tmp_path / "missing.yml") == GateConfig()


def test_a_small_corpus_uses_its_own_section_when_calibrated(tmp_path: Path) -> None:
    path = tmp_path / "gate.yml"
    path.write_text("models:\n  m1: {answer_score: 0.9}\n  m1@small: {answer_score: 0.5}\n  m2: {answer_score: 0.8}\n")
    assert load_gate_config(path, model="m1", procedures=50).answer_score == 0.5
    assert load_gate_config(path, model="m1", procedures=2642).answer_score == 0.9
    assert load_gate_config(path, model="m1").answer_score == 0.9
    assert load_gate_config(path, model="m2", procedures=50).answer_score == 0.8  # not calibrated small: falls back
    assert profile_key("m1", 499) == "m1@small" and profile_key("m1", 500) == "m1"


def test_load_gate_config_names_a_bad_key(tmp_path: Path) -> None:
    path = tmp_path / "gate.yml"
    path.write_text("default: {answer_scor: 0.7}\n")
    with pytest.raises(ValueError, match="gate.yml"):
        load_gate_config(path)


def test_a_question_naming_its_procedure_is_answered_when_the_gate_allows_it() -> None:
    from dataclasses import replace

    top = replace(cand("1.000001", 0.4), coverage=1.0)
    unsure = [top, cand("1.000002", 0.38)]
    assert decide(unsure, CONFIG).kind == "handoff"  # coverage is off unless calibrated
    allowing = replace(CONFIG, cover_score=0.9, cover_confidence=0.35)
    assert decide(unsure, allowing) == Decision("answer", ["1.000001"], "names_procedure", 0.4)
    assert decide([replace(top, coverage=0.8), unsure[1]], allowing).kind == "handoff"
    assert decide([replace(top, confidence=0.3), unsure[1]], allowing).kind == "handoff"


def _weights(**overrides: float) -> dict[str, float]:
    weights = {name: 0.0 for name in ANSWER_FEATURES} | {"bias": 0.0}
    return weights | overrides


def test_a_learned_answer_rule_replaces_the_thresholds() -> None:
    from dataclasses import replace

    # p = sigmoid(10 * coverage - 5): 0.99 for a question holding the whole name, 0.01 for none of it.
    learned = replace(CONFIG, answer_weights=_weights(coverage=10.0, bias=-5.0), answer_probability=0.5)
    naming = [replace(cand("1.000001", 0.3), coverage=1.0), cand("1.000002", 0.1)]
    assert decide(naming, CONFIG).kind == "handoff"
    sure = 1 / (1 + math.exp(-5.0))
    expected = Decision("answer", ["1.000001"], "likely_right", 0.3, pytest.approx(sure))
    assert decide(naming, learned) == expected
    assert answer_probability(naming, learned.answer_weights) == pytest.approx(sure)
    # A top candidate the thresholds would answer, but the learned rule does not: the rules are replaced.
    confident = [cand("1.000001", 0.9), cand("1.000002", 0.2)]
    assert decide(confident, CONFIG).kind == "answer"
    assert decide(confident, learned).kind == "handoff"
    assert decide(confident, learned).probability == pytest.approx(1 / (1 + math.exp(5.0)))
    assert decide(confident, CONFIG).probability is None  # no learned rule, no probability
    # Below the probability, clarification works as before.
    close = [cand("1.000001", 0.62), cand("1.000002", 0.60)]
    assert decide(close, learned).kind == "clarify"


def test_the_learned_rules_clarify_band_offers_the_first_candidates() -> None:
    from dataclasses import replace

    # p = sigmoid(10 * coverage - 5): 0.5 at coverage 0.5, 0.27 at 0.4, 0.73 at 0.6.
    banded = replace(
        CONFIG, answer_weights=_weights(coverage=10.0, bias=-5.0), answer_probability=0.6,
        clarify_probability=0.45, clarify_options=3,
    )
    four = [replace(cand(f"1.00000{i}", 0.5 - i * 0.1), coverage=0.5) for i in range(1, 5)]  # far apart
    maybe = decide(four, banded)
    assert (maybe.kind, maybe.reason) == ("clarify", "maybe_right")
    assert maybe.options == ["1.000001", "1.000002", "1.000003"]
    assert maybe.probability == pytest.approx(0.5)
    assert decide([replace(c, coverage=0.6) for c in four], banded).kind == "answer"
    assert decide([replace(c, coverage=0.4) for c in four], banded).kind == "handoff"
    assert decide(four[:1], banded).kind == "handoff"  # one candidate is no choice
    assert decide(four, replace(banded, max_options=2)).options == ["1.000001", "1.000002"]
    assert decide(four, replace(banded, clarify_probability=1.01)).kind == "handoff"  # the default: no band


@pytest.mark.parametrize("bad", [1, 5])
def test_config_rejects_bad_clarify_option_count(bad: int) -> None:
    with pytest.raises(ValueError, match="clarify_options"):
        GateConfig(clarify_options=bad)


def test_answer_features_follow_their_names() -> None:
    from dataclasses import replace

    top = replace(cand("1.000001", 0.8, 1, 1), dense=0.7, lexical=0.6, confidence=0.65, coverage=0.5)
    values = dict(zip(ANSWER_FEATURES, answer_features([top, cand("1.000002", 0.5)])))
    assert values == pytest.approx(
        {"confidence": 0.65, "dense": 0.7, "lexical": 0.6, "margin": 0.3, "coverage": 0.5, "agree": 1.0, "score": 0.8}
    )
    assert dict(zip(ANSWER_FEATURES, answer_features([top])))["margin"] == pytest.approx(0.8)


@pytest.mark.parametrize("bad", [{"confidence": 1.0}, _weights(extra=1.0)])
def test_learned_weights_must_name_every_feature(bad: dict) -> None:
    with pytest.raises(ValueError, match="answer_weights"):
        GateConfig(answer_weights=bad)


def test_the_gate_file_holds_learned_weights(tmp_path: Path) -> None:
    path = tmp_path / "gate.yml"
    path.write_text(
        "models:\n  m1:\n    answer_probability: 0.4\n    answer_weights: {confidence: 1, dense: 2, lexical: -1, "
        "margin: 1, coverage: 3, agree: 0.5, score: 2, bias: -4}\n"
    )
    config = load_gate_config(path, model="m1")
    assert config.answer_probability == 0.4 and config.answer_weights["coverage"] == 3

#!/usr/bin/env bash
# 5-fold cross-validation of the Rasa NLU (bot/data/nlu) with the project's pipeline, as reported in
# benchmarks/nlu.md. The FallbackClassifier thresholds are set to 0 in a temporary copy of config.yml,
# so that every held-out prediction keeps DIET's own confidence (needed to choose the threshold).
#
#   benchmarks/nlu_cv.sh [OUT_DIR]          default OUT_DIR: var/bench/nlu-cv
#   FOLDS=5 benchmarks/nlu_cv.sh            fold count (default 5)
#   SUMMARY_ONLY=1 benchmarks/nlu_cv.sh     re-print the summary of an earlier run in OUT_DIR
#
# Takes about 20-30 min on 2 cores. Writes Rasa's reports (intent_report.json, intent_errors.json,
# intent_successes.json, DIETClassifier_report.json, ...), time.txt (wall clock, peak RSS),
# rasa.log and summary.md (the figures and tables that go into benchmarks/nlu.md) to OUT_DIR.
# Run from anywhere; it works from the repository root (Rasa must find the `bot` package there).
set -euo pipefail

cd "$(dirname "$0")/.."
RASA_PY=${RASA_PY:-.venv-rasa/bin/python}
OUT=${1:-var/bench/nlu-cv}
FOLDS=${FOLDS:-5}
export RASA_TELEMETRY_ENABLED=false

if [[ "${SUMMARY_ONLY:-0}" != 1 ]]; then
    mkdir -p "$OUT"
    CONFIG="$OUT/cv-config.yml"
    # config.yml with FallbackClassifier threshold and ambiguity_threshold 0 (everything else as is).
    "$RASA_PY" - config.yml "$CONFIG" <<'EOF'
import sys, yaml
config = yaml.safe_load(open(sys.argv[1], encoding="utf-8"))
for component in config["pipeline"]:
    if component["name"] == "FallbackClassifier":
        component["threshold"] = 0.0
        component["ambiguity_threshold"] = 0.0
yaml.safe_dump(config, open(sys.argv[2], "w", encoding="utf-8"), allow_unicode=True, sort_keys=False)
EOF
    echo "nlu_cv: $FOLDS-fold cross-validation into $OUT (log: $OUT/rasa.log)" >&2
    /usr/bin/time -v -o "$OUT/time.txt" "$RASA_PY" -m rasa test nlu --cross-validation --folds "$FOLDS" \
        --config "$CONFIG" --nlu bot/data/nlu --out "$OUT" --successes --no-plot >"$OUT/rasa.log" 2>&1
fi

"$RASA_PY" - "$OUT" <<'EOF' | tee "$OUT/summary.md"
"""Summarise Rasa's cross-validation reports: accuracy, per-intent table, entities, thresholds."""
import json, re, sys
from collections import Counter
from pathlib import Path

out = Path(sys.argv[1])
report = json.loads((out / "intent_report.json").read_text(encoding="utf-8"))
errors = json.loads((out / "intent_errors.json").read_text(encoding="utf-8"))
successes = json.loads((out / "intent_successes.json").read_text(encoding="utf-8"))
n = len(errors) + len(successes)

time_txt = (out / "time.txt").read_text() if (out / "time.txt").is_file() else ""
wall = re.search(r"Elapsed \(wall clock\) time.*: (\S+)", time_txt)
rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", time_txt)
if wall and rss:
    print(f"wall clock {wall.group(1)}, peak RSS {int(rss.group(1)) / 1e6:.2f} GB\n")

print(f"intent accuracy **{report['accuracy']:.3f}**, macro F1 **{report['macro avg']['f1-score']:.3f}**, "
      f"weighted F1 {report['weighted avg']['f1-score']:.3f} ({n} examples, {len(errors)} errors)\n")

confusions: dict[str, Counter] = {}
for e in errors:
    confusions.setdefault(e["intent"], Counter())[e["intent_prediction"]["name"]] += 1
print("| intent | precision | recall | F1 | support | main confusions (count) |")
print("|---|---|---|---|---|---|")
for intent in sorted(k for k in report if isinstance(report[k], dict) and "support" in report[k]
                     and not k.endswith(" avg")):
    r = report[intent]
    top = ", ".join(f"{name} ({c})" for name, c in confusions.get(intent, Counter()).most_common(3))
    print(f"| {intent} | {r['precision']:.2f} | {r['recall']:.2f} | {r['f1-score']:.2f} | {r['support']} | {top} |")

print("\nErrors by confidence (text → predicted, confidence):")
for e in sorted(errors, key=lambda e: -e["intent_prediction"]["confidence"])[:40]:
    print(f"- [{e['intent']}] {e['text']!r} → {e['intent_prediction']['name']} "
          f"{e['intent_prediction']['confidence']:.2f}")

for name in ("DIETClassifier_report.json",):
    path = out / name
    if path.is_file():
        ents = json.loads(path.read_text(encoding="utf-8"))
        print(f"\nEntities ({name}):")
        for ent in ("procedure", "age", "micro avg", "macro avg"):
            if ent in ents:
                r = ents[ent]
                print(f"- {ent}: P {r['precision']:.3f} R {r['recall']:.3f} F1 {r['f1-score']:.3f} (support {r['support']})")

def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2

right = [s["intent_prediction"]["confidence"] for s in successes]
wrong = [e["intent_prediction"]["confidence"] for e in errors]
print(f"\nmedian confidence: correct {median(right):.2f}, errors {median(wrong):.2f}\n")
print("| threshold | errors caught | correct predictions lost | accuracy of what is still answered |")
print("|---|---|---|---|")
for t in (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9):
    caught = sum(c < t for c in wrong)
    lost = sum(c < t for c in right)
    kept_right, kept_wrong = len(right) - lost, len(wrong) - caught
    acc = kept_right / (kept_right + kept_wrong) if kept_right + kept_wrong else float("nan")
    print(f"| {t:.1f} | {caught}/{len(wrong)} ({caught / len(wrong):.0%}) | "
          f"{lost}/{len(right)} ({lost / len(right):.1%}) | {acc:.3f} |")
EOF

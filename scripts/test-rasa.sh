#!/usr/bin/env bash
# Check the Rasa side of the project in .venv-rasa (Python 3.10, Rasa 3.6):
#   1. `rasa data validate` on the project (domain.yml, config.yml, bot/data);
#   2. pytest on the custom NLU components, including a real `rasa train nlu` (a few minutes), the
#      caching tracker store (also on PostgreSQL when TEST_POSTGRES_URL is set: `make test` runs this
#      script under scripts/test-postgres.sh) and the `bot.server` launcher;
#   3. `rasa test core --e2e --fail-on-prediction-errors` on the test conversations in
#      tests/bot/conversations with the trained model ($RASA_MODEL, `make rasa-model`): every user
#      message must get the story's intent and entities, every bot step the story's action.
#
#   scripts/test-rasa.sh [PYTEST_ARGS...]      e.g. scripts/test-rasa.sh -k tokens
#
# Runs from the repository root (Rasa finds the `bot` package on the working directory). Both steps
# always run; the exit status is non-zero when either failed.
set -uo pipefail

cd "$(dirname "$0")/.." || exit 2
RASA_PY=${RASA_PY:-.venv-rasa/bin/python}
if [[ ! -x "$RASA_PY" ]]; then
    echo "test-rasa: $RASA_PY not found; create .venv-rasa first (make setup)" >&2
    exit 2
fi
export RASA_TELEMETRY_ENABLED=false

status=0
echo "test-rasa: rasa data validate" >&2
"$RASA_PY" -m rasa data validate --fail-on-warnings \
    --domain domain.yml --data bot/data --config config.yml || status=1
echo "test-rasa: pytest tests/bot (components, tracker store, server)" >&2
"$RASA_PY" -m pytest -q -p no:cacheprovider tests/bot/test_components.py tests/bot/test_tracker_store.py \
    tests/bot/test_server.py "$@" || status=1
RASA_MODEL=${RASA_MODEL:-var/rasa/models/ward.tar.gz}
echo "test-rasa: rasa test core --e2e on tests/bot/conversations with $RASA_MODEL" >&2
if [[ -f "$RASA_MODEL" ]]; then
    out=$(mktemp -d)
    ACTION_SERVER_URL=${ACTION_SERVER_URL:-http://127.0.0.1:5055/webhook} TRACKER_DB=${TRACKER_DB:-$out/tracker.db} \
        "$RASA_PY" -m rasa test core --e2e --fail-on-prediction-errors --model "$RASA_MODEL" \
        --stories tests/bot/conversations --endpoints endpoints.yml --out "$out" --no-plot >"$out/log" 2>&1
    rc=$?
    grep -E "Correct:|Accuracy:" "$out/log" >&2
    if [[ $rc -ne 0 ]]; then
        status=1
        grep -A25 "WrongPrediction\|Failed Story" "$out/log" | head -60 >&2
        echo "test-rasa: conversations FAILED (log: $out/log)" >&2
    fi
else
    echo "test-rasa: no trained model at $RASA_MODEL (make rasa-model)" >&2
    status=1
fi
exit $status

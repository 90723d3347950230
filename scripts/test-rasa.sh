#!/usr/bin/env bash
# Check the Rasa side of the project in .venv-rasa (Python 3.10, Rasa 3.6):
#   1. `rasa data validate` on the project (domain.yml, config.yml, bot/data);
#   2. pytest on the custom NLU components, including a real `rasa train nlu` (a few minutes).
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
echo "test-rasa: pytest tests/bot/test_components.py" >&2
"$RASA_PY" -m pytest -q -p no:cacheprovider tests/bot/test_components.py "$@" || status=1
exit $status

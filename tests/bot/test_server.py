"""``bot.server``'s cached ``jsonschema.validate`` decides exactly as jsonschema does (run in ``.venv-rasa``)."""

from __future__ import annotations

import pytest

pytest.importorskip("rasa", reason="Rasa runs in .venv-rasa: scripts/test-rasa.sh")

import jsonschema  # noqa: E402
from rasa.core.actions.action import RemoteAction  # noqa: E402

from bot.server import cached_validate  # noqa: E402

SCHEMA = RemoteAction("action_answer", None).action_response_format_spec()
VALID = {"events": [{"event": "slot", "name": "procedure", "value": "1.001193"}], "responses": [{"text": "Xin chào"}]}
INVALID = [
    {"events": [{"event": "slot", "name": "procedure", "value": "x"}], "responses": "not a list"},
    {"events": [{"name": "no event key"}], "responses": []},
    {"events": "none", "responses": []},
]


def _error(validate, instance, schema=SCHEMA):
    try:
        validate(instance, schema)
    except (jsonschema.ValidationError, jsonschema.SchemaError) as error:
        return type(error), error.message, list(error.path)
    return None


@pytest.mark.parametrize("instance", [VALID, *INVALID])
def test_the_same_responses_pass_and_fail_with_the_same_error(instance):
    validate = cached_validate(jsonschema.validate)
    assert _error(validate, instance) == _error(jsonschema.validate, instance)
    assert _error(validate, instance) == _error(jsonschema.validate, instance)  # from the cache


def test_each_schema_is_checked_once(monkeypatch):
    checks = []
    validator_class = jsonschema.validators.validator_for(SCHEMA)
    original_check = validator_class.check_schema
    monkeypatch.setattr(validator_class, "check_schema", classmethod(lambda cls, s: checks.append(s) or original_check(s)))
    validate = cached_validate(jsonschema.validate)
    for _ in range(3):
        validate(VALID, SCHEMA)
        validate(VALID, dict(SCHEMA))  # an equal schema built again, as Rasa does on every call
    assert len(checks) == 1
    with pytest.raises(jsonschema.ValidationError):
        validate(INVALID[0], SCHEMA)
    assert len(checks) == 1


def test_an_invalid_schema_is_still_refused_every_time():
    validate = cached_validate(jsonschema.validate)
    for _ in range(2):
        with pytest.raises(jsonschema.SchemaError):
            validate({}, {"type": 12})

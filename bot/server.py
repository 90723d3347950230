"""Run Rasa's command line with the project's one speed fix: ``python -m bot.server run ...``.

Takes exactly ``rasa``'s arguments (``web.stack`` starts the server this way). Before handing over it
makes ``jsonschema.validate`` reuse one validator per schema. Rasa validates every action-server
response with ``jsonschema.validate(result, schema)``, which checks the schema itself against its
meta-schema on every call before checking the response; for the same schema that check always gives
the same result, and it was 10% of the Rasa process's time under load (benchmarks/dialogue.md). The
response is still validated on every call, with the same errors raised.
"""

from __future__ import annotations

import functools
import json
import sys
from typing import Any, Callable


def cached_validate(original: Callable[..., None]) -> Callable[..., None]:
    """``jsonschema.validate`` that checks each distinct schema once and keeps its validator.

    Calls with a validator class or extra arguments go to ``original`` unchanged.
    """
    from jsonschema import exceptions, validators

    cache: dict[str, Any] = {}

    @functools.wraps(original)
    def validate(instance: Any, schema: Any, cls: Any = None, *args: Any, **kwargs: Any) -> None:
        if cls is not None or args or kwargs:
            return original(instance, schema, cls, *args, **kwargs)
        try:
            key = json.dumps(schema, sort_keys=True)
        except (TypeError, ValueError):  # not a JSON document: let jsonschema say so
            return original(instance, schema)
        validator = cache.get(key)
        if validator is None:
            validator_class = validators.validator_for(schema)
            validator_class.check_schema(schema)
            validator = cache[key] = validator_class(schema)
        error = exceptions.best_match(validator.iter_errors(instance))
        if error is not None:
            raise error
        return None

    validate.uncached = original  # type: ignore[attr-defined]
    return validate


def install() -> None:
    """Replace ``jsonschema.validate`` in this process (once)."""
    import jsonschema

    if not hasattr(jsonschema.validate, "uncached"):
        jsonschema.validate = cached_validate(jsonschema.validate)


def main() -> None:
    install()
    from rasa.__main__ import main as rasa_main

    sys.argv[0] = "rasa"
    rasa_main()


if __name__ == "__main__":
    main()

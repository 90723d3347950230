"""Rasa custom actions (rasa-sdk, run in .venv by ``python -m rasa_sdk --actions actions``).

- ``actions.actions``: the rasa-sdk actions (answer, hand off, feedback) — thin wrappers;
- ``actions.dialogue``: what to do with a message given the conversation's context (pure Python);
- ``actions.answers``: the text of an answer, from the record and the domain's responses.
"""

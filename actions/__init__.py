"""Rasa custom actions (rasa-sdk, run in .venv): thin actions that call knowledge_base and the handoff
service. Not written yet: they arrive with the dialogue (issue 3)."""

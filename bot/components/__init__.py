"""Custom Rasa graph components for Vietnamese, referenced from ``config.yml`` by module path.

Nothing is imported here, so loading one component does not load the others (or Rasa).
"""

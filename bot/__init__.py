"""The Rasa assistant's own code: custom NLU components (``bot.components``) and training data (``bot/data``).

Runs in ``.venv-rasa`` (Python 3.10): import nothing heavy here.
"""

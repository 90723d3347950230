"""The web side of the product.

- ``web.cases``: handoff cases and answer feedback (the tables the bot writes, the officer console reads);
- ``web.stack``: starts the action server and Rasa (``make run``), also used by tests and benchmarks.

The FastAPI app (chat gateway and page, officer and admin consoles) is the next piece of work.
"""

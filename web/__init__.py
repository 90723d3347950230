"""The FastAPI web app: chat gateway and page, officer and admin consoles. Not written yet."""

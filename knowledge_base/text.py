"""Vietnamese text rules: Unicode NFC, accent folding and (to come) tone marks, teencode, synonyms.

Stdlib only (plus PyYAML for the data files): the Rasa NLU components in ``bot/`` import this module
under Python 3.10 inside ``.venv-rasa``, so it must stay light.
"""

from __future__ import annotations

import unicodedata

_D_TABLE = str.maketrans({"đ": "d", "Đ": "D"})


def nfc(text: str) -> str:
    """Return ``text`` in Unicode NFC, the one form used at every boundary.

    Example: a decomposed "Khai sinh" typed on macOS ("Khai sinh" with combining marks) compares
    equal to the precomposed form after ``nfc``.
    """
    return unicodedata.normalize("NFC", text)


def fold(text: str) -> str:
    """Lowercase and strip every diacritic, mapping đ to d.

    Example: ``fold("Đăng ký khai sinh")`` returns ``"dang ky khai sinh"``.
    """
    decomposed = unicodedata.normalize("NFD", text.translate(_D_TABLE))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return unicodedata.normalize("NFC", stripped).lower()

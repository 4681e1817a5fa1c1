"""The password rules: one function, used by every place that sets a password.

Length alone lets through what attackers try first. Refused, with a message that says why:
blank or spaces only, shorter than :data:`MIN_LENGTH`, one character repeated or a short
pattern repeated (``abababab``), a straight run of characters or keys (``12345678``,
``abcdefgh``, ``qwertyui``, backwards too), the user name (or a password that contains it or
is part of it), and the most common passwords.

The common-password list is the 30,000-entry list that ships with ``zxcvbn`` (the Python port
of Dropbox's strength estimator, built from public leak corpora). It is consulted through
``zxcvbn()`` itself, so case, reversal and l33t spellings of a listed password (``P@ssw0rd``,
``drowssap``) count as the listed one. A few passwords that are common in Chinese leaks but
missing from that list are added here.
"""

from __future__ import annotations

from flask_babel import gettext as _

MIN_LENGTH = 8
#: a username shorter than this is only compared whole, not searched for inside the password
MIN_NAME_PART = 3
#: no entry of the list is longer than 20 characters (30 leaves room for l33t spellings) and
#: zxcvbn's cost grows with the length, so longer passwords skip the list lookup
LIST_MAX_LENGTH = 30
KEYBOARD_ROWS = ("`1234567890-=", "qwertyuiop[]\\", "asdfghjkl;'", "zxcvbnm,./",
                 "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p")
#: widely reported as common in Chinese password leaks, and not in zxcvbn's list
EXTRA_COMMON = frozenset({
    "woaini1314", "woaini520", "iloveyou1314", "5201314520", "1314woaini", "aini1314",
    "woaiwojia", "woaini123", "qq5201314", "a5201314",
})


def problem(password: str | None, username: str = "") -> str | None:
    """What is wrong with ``password`` for the user ``username``, or None when it is fine."""
    password = password or ""
    if not password.strip():
        return _("The password must not be blank or only spaces.")
    if len(password) < MIN_LENGTH:
        return _("The password must have at least %(n)d characters.", n=MIN_LENGTH)
    folded = password.casefold()
    if len(set(folded)) == 1:
        return _("The password must not be one character repeated.")
    if _repeats_short_pattern(folded):
        return _("The password must not be a short pattern repeated (like abababab).")
    if _is_run(folded):
        return _("The password must not be a simple sequence of characters or keys (like "
                 "12345678, abcdefgh or qwertyui).")
    name = (username or "").strip().casefold()
    if name and (folded == name or (len(name) >= MIN_NAME_PART and name in folded)
                 or folded in name):
        return _("The password must not contain the user name or be part of it.")
    if is_common(password):
        return _("This is one of the most commonly used passwords; choose a less "
                 "predictable one.")
    return None


def _repeats_short_pattern(text: str) -> bool:
    """``abababab``, ``12341234``: the text is 2+ copies of a unit of at most 4 characters."""
    for size in range(2, min(4, len(text) // 2) + 1):
        if len(text) % size == 0 and text[:size] * (len(text) // size) == text:
            return True
    return False


def _is_run(text: str) -> bool:
    """Each character one step from the previous (``12345678``, ``hgfedcba``), or a stretch
    of a keyboard row (``qwertyui``, ``asdfghjk``, ``1qaz2wsx``…), either way round."""
    steps = {ord(b) - ord(a) for a, b in zip(text, text[1:], strict=False)}
    if steps in ({1}, {-1}):
        return True
    return any(text in row or text in row[::-1] for row in KEYBOARD_ROWS)


def is_common(password: str) -> bool:
    """Listed as a common password (ignoring case, reversal and l33t spelling)."""
    if password.casefold() in EXTRA_COMMON:
        return True
    if len(password) > LIST_MAX_LENGTH:
        return False
    from zxcvbn import zxcvbn  # imported on first use: its word lists take ~80 ms to load

    sequence = zxcvbn(password)["sequence"]
    return (len(sequence) == 1 and sequence[0].get("pattern") == "dictionary"
            and sequence[0].get("dictionary_name") == "passwords")

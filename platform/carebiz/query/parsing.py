"""Reading what people type into query filters and report parameters: numbers with
thousands separators (``100,000``, ``100 000``, ``1,999.50``). A value that cannot be read
raises :class:`BadInput` with a message saying how to type it; pages answer 422 with it beside
the input."""

from __future__ import annotations

import contextlib
import re
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _


class BadInput(ValueError):
    """A value typed in a condition row that cannot be read (the message says how to type
    it); the page answers 422 with the message beside the row."""


#: thousands separators people type: comma, space, no-break and thin spaces, apostrophe
_GROUPING = re.compile(r"(?<=\d)[,\s\u00a0\u202f\u2009'](?=\d{3}(?!\d))")


def parse_number(text: str, *, whole: bool = False) -> int | str:
    """A number as people type it: ``100,000``, ``100 000``, ``1,999.50``, ``-5``. Whole
    numbers come back as ``int``, others as exact decimal text (never a float for amounts);
    raises :class:`BadInput` with a message a person can act on."""
    raw = text.strip()
    cleaned = _GROUPING.sub("", raw)
    if re.fullmatch(r"[+-]?\d+", cleaned):
        return int(cleaned)
    if not whole and re.fullmatch(r"[+-]?(\d+\.\d*|\.\d+)", cleaned):
        with contextlib.suppress(InvalidOperation):
            return str(Decimal(cleaned))
    raise BadInput(_("“%(text)s” is not a number: type digits, e.g. 100,000 or 1999.50",
                     text=raw))

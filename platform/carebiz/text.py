"""One rule for the text the platform accepts, used at every door: the API's argument parser
(every JSON body, query string and form of every schema), the forms' ``clean`` filter, and —
the last line, so plugins get it without doing anything — a ``before_flush`` check of every
``String(n)``/``Text`` column of every model.

Refused are the characters that no field may hold because something downstream cannot take
them: C0 control characters other than tab, line feed and carriage return (XML, so Word and
Excel files, cannot contain them; PostgreSQL cannot store NUL), DEL and the C1 controls
(invisible, and a sign of a wrong encoding), lone UTF-16 surrogates (a JSON ``"\\ud800"``
escape: no UTF-8 encoder, so no database driver or file writer, takes them) and the
non-characters U+FFFE/U+FFFF. Tab and line breaks are ordinary in notes and addresses and
every export format writes them, so they pass; single-line fields collapse them where the
business services normalise the text.

Writers use :func:`printable` for text stored before these checks (or written by raw SQL),
so one bad row never makes a whole export fail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import String, inspect
from sqlalchemy.orm import Mapper, Session
from sqlalchemy.types import TypeDecorator

from carebiz.errors import ValidationFailed

#: characters no text field may hold (see the module docstring)
BAD_CHARACTERS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
#: deepest nesting of arrays and objects a JSON body may have; real bodies (the query API's
#: condition trees included) stay far below, and parsers and the code walking the data
#: recurse once per level
MAX_JSON_DEPTH = 64
#: most field errors reported for one input (a huge bad body must not make a huge answer)
MAX_REPORTED = 20

# escapes in raw JSON that decode to a refused character (a cheap test before walking)
_BAD_ESCAPE = re.compile(r"\\u(?:00[01][0-9a-f]|007f|008[0-9a-f]|009[0-9a-f]|d[89a-f]|fff[ef])",
                         re.IGNORECASE)
_RAW_BAD = re.compile("[\x7f-\x9f]")
_AS_NEWLINE = {"\x0b": "\n", "\x0c": "\n", "\x85": "\n"}


def text_problem(value: str, max_length: int | None = None) -> str | None:
    """What is wrong with ``value`` as stored text (translated), or None."""
    found = BAD_CHARACTERS.search(value)
    if found is not None:
        return _("Contains a character that cannot be stored (U+%(code)s); remove it.",
                 code=f"{ord(found.group()):04X}")
    if max_length is not None and len(value) > max_length:
        return _("At most %(n)d characters.", n=max_length)
    return None


def check_text(value: str, field: str, max_length: int | None = None) -> str:
    """``value`` unchanged, or :class:`ValidationFailed` naming ``field``."""
    problem = text_problem(value, max_length)
    if problem is not None:
        raise ValidationFailed(_("Some fields are not valid: %(fields)s", fields=field),
                               {field: problem})
    return value


def printable(value: str) -> str:
    """``value`` without the refused characters, for writers of files (docx, xlsx …) and
    for forms; vertical tab, form feed and NEL (line breaks of word processors) become a
    newline, the others are dropped."""
    if BAD_CHARACTERS.search(value) is None:
        return value
    return BAD_CHARACTERS.sub(lambda m: _AS_NEWLINE.get(m.group(), ""), value)


def bad_text_in(data: Any, path: str = "") -> dict[str, str]:
    """``{path: problem}`` for every string (keys included) in nested JSON-like ``data``
    holding a refused character; paths read ``where.and[1].value``. Walks without recursion,
    so any depth is safe."""
    errors: dict[str, str] = {}
    stack: list[tuple[str, Any]] = [(path, data)]
    while stack and len(errors) < MAX_REPORTED:
        where, value = stack.pop()
        if isinstance(value, str):
            problem = text_problem(value)
            if problem is not None:
                errors[where or "body"] = problem
        elif isinstance(value, Mapping):
            for key, item in value.items():
                name = f"{where}.{key}" if where else str(key)
                problem = text_problem(key) if isinstance(key, str) else None
                if problem is not None:
                    errors[where or "body"] = problem
                else:
                    stack.append((name, item))
        elif isinstance(value, list | tuple):
            stack.extend((f"{where}[{i}]", item) for i, item in enumerate(value))
    return errors


def may_hold_bad_text(raw: str) -> bool:
    """Cheap test of a raw JSON text: False means :func:`bad_text_in` would find nothing, so
    the walk over the parsed data is needed only for the rare suspicious body."""
    if "\\u" in raw and _BAD_ESCAPE.search(raw) is not None:
        return True
    if raw.isascii():  # the common case, answered at C speed
        return "\x7f" in raw
    return _RAW_BAD.search(raw) is not None


# --- JSON bodies -----------------------------------------------------------------------------


class JsonTooDeep(ValueError):
    """The body nests arrays and objects deeper than :data:`MAX_JSON_DEPTH`."""


def too_deep(data: Any, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether arrays and objects nest deeper than ``limit`` in parsed JSON ``data``; walks
    the containers only, without recursion."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, dict) else value
        for child in children:
            if isinstance(child, dict | list):
                if depth >= limit:
                    return True
                stack.append((child, depth + 1))
    return False


def load_json(data: bytes | str) -> Any:
    """Parse a request body: :class:`json.JSONDecodeError` when it is not JSON (also when it
    is not UTF-8), :class:`JsonTooDeep` when it nests deeper than :data:`MAX_JSON_DEPTH` —
    so the schemas and services that walk the data never recurse deeply either."""
    if isinstance(data, bytes):
        try:
            raw = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise json.JSONDecodeError(f"not UTF-8: {exc.reason}", "", exc.start) from exc
    else:
        raw = data
    try:
        data = json.loads(raw)  # C code that counts its own recursion: RecursionError at worst
    except RecursionError:
        raise JsonTooDeep() from None
    # fewer brackets than the limit cannot nest deeper: most bodies are not walked at all
    if raw.count("[") + raw.count("{") > MAX_JSON_DEPTH and isinstance(data, dict | list) \
            and too_deep(data):
        raise JsonTooDeep()
    return data


# --- the last line: every text column of every model -----------------------------------------


@cache
def text_columns(mapper: Mapper[Any]) -> tuple[tuple[str, int | None], ...]:
    """``(attribute, declared length)`` of a model's plain ``String``/``Text`` columns
    (type decorators are skipped: the value they get is not the value they store)."""
    found = []
    for prop in mapper.column_attrs:
        column = prop.columns[0]
        kind = getattr(column, "type", None)
        if isinstance(kind, String) and not isinstance(kind, TypeDecorator) \
                and getattr(column, "table", None) is not None:
            found.append((prop.key, kind.length))
    return tuple(found)


def _changed_values(session: Session) -> Iterator[tuple[str, Any, int | None]]:
    for obj in session.new:
        state = inspect(obj)
        for key, length in text_columns(state.mapper):
            yield key, state.dict.get(key), length
    for obj in session.dirty:
        state = inspect(obj)
        for key, length in text_columns(state.mapper):
            if key in state.dict and state.attrs[key].history.added:
                yield key, state.dict[key], length


def check_text_columns(session: Session, _context: Any = None, _instances: Any = None) -> None:
    """``before_flush``: refuse new or changed text that breaks the column's declared length
    or holds a refused character, naming the field (a 422, not a database error or a file
    export that fails later)."""
    errors: dict[str, str] = {}
    for key, value, length in _changed_values(session):
        if isinstance(value, str) and key not in errors:
            problem = text_problem(value, length)
            if problem is not None:
                errors[key] = problem
    if errors:
        raise ValidationFailed(_("Some fields are not valid: %(fields)s",
                                 fields=", ".join(sorted(errors))), errors)

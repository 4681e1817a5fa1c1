"""Sorting a list by ``?sort=col`` or ``?sort=-col`` (descending), limited to the columns the
list names, with the primary key as tiebreak so pages stay stable when values repeat."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import request
from sqlalchemy import Select


def resolve(wanted: str | None, columns: Mapping[str, Any], default: str,
            aliases: Mapping[str, str] | None = None) -> tuple[str, Any, bool]:
    """``(sort as used, column, descending)`` for the wanted sort; an unknown column falls
    back to ``default`` (a stale link still shows the list). ``aliases`` map older spellings
    to a column name; the spelling asked for is kept so the page marks its header."""
    wanted = (wanted or "").strip() or default
    key = wanted.lstrip("-")
    name = (aliases or {}).get(key, key)
    if name not in columns:
        wanted = default
        name = key = default.lstrip("-")
        name = (aliases or {}).get(key, key)
    return wanted, columns[name], wanted.startswith("-")


def ordered(stmt: Select[Any], wanted: str | None, columns: Mapping[str, Any], default: str,
            tiebreak: Any, aliases: Mapping[str, str] | None = None) -> tuple[Select[Any], str]:
    """``stmt`` in the wanted order; the tiebreak follows the direction, so a descending
    list is the ascending one reversed."""
    used, column, descending = resolve(wanted, columns, default, aliases)
    if descending:
        return stmt.order_by(column.desc(), tiebreak.desc()), used
    return stmt.order_by(column.asc(), tiebreak.asc()), used


def sorted_by(stmt: Select[Any], columns: dict[str, Any], default: str,
              tiebreak: Any) -> tuple[Select[Any], str]:
    """The request's ``?sort=`` applied to ``stmt`` (for pages that are not a
    :class:`~carebiz.lists.definition.ListDefinition`)."""
    return ordered(stmt, request.args.get("sort"), columns, default, tiebreak)

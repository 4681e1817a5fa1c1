"""What a list is, declared once: its statement, typed filters, free-text search, sortable
columns and export columns. The HTML page, the JSON endpoint and every export format read
the same :class:`ListDefinition` through :mod:`carebiz.lists.runner`, so they cannot drift
apart (a filter the page honours and the export forgets)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, cast

from flask_babel import gettext as _

from carebiz.errors import ValidationFailed

if TYPE_CHECKING:
    from sqlalchemy import Select
    from sqlalchemy.orm import Session

    from carebiz.export.table import Column

TEXT, CHOICE, ID, BOOL, DATE_RANGE, PREFIXED = (
    "text", "choice", "id", "bool", "date_range", "prefixed")
FILTER_TYPES = (TEXT, CHOICE, ID, BOOL, DATE_RANGE, PREFIXED)
#: the largest id a filter accepts (ids are 32-bit integers in every database)
MAX_ID = 2_147_483_647
TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("0", "false", "no", "off")
#: the names after a prefixed filter's dot (``custom.<name>``)
KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,39}$")

#: ``apply(statement, value, user) -> statement``: the SQL condition of one filter value
Apply = Callable[["Select[Any]", Any, Any], "Select[Any]"]


@dataclass(frozen=True)
class DateRange:
    """A filter value of type :data:`DATE_RANGE`: either end may be open."""

    start: dt.date | None
    end: dt.date | None


@dataclass(frozen=True)
class Filter:
    """One filter of a list, read from the argument ``name`` (or one of its ``aliases``: the
    page's older spellings keep bookmarked links working).

    ``type`` says how the raw text becomes a value — :data:`TEXT` (stripped, at most
    ``max_length``), :data:`CHOICE` (one of ``choices``), :data:`ID` (a positive integer),
    :data:`BOOL` (1/0, true/false, yes/no, on/off), :data:`DATE_RANGE` (``<name>_from`` and
    ``<name>_to``, ISO dates) or :data:`PREFIXED` (every ``<name>.<key>=value``, a dict) — and
    a value it cannot become is a 422 naming the argument. ``apply`` turns the value into a
    condition on the statement. ``default`` is applied when the argument is absent (a
    :data:`BOOL` "include merged" defaulting to False still filters). A filter with a
    ``permission`` is refused (422) to users without it: filtering would reveal what they
    may not see."""

    name: str
    label: Any
    apply: Apply
    type: str = TEXT
    choices: Sequence[str] | Callable[[], Iterable[str]] = ()
    aliases: tuple[str, ...] = ()
    default: Any = None
    max_length: int = 200
    permission: str | None = None

    def __post_init__(self) -> None:
        if self.type not in FILTER_TYPES:
            raise ValueError(f"filter {self.name}: unknown type {self.type!r}")

    def raw(self, args: Mapping[str, Any]) -> str | None:
        """The argument's text as given (the first of name and aliases present)."""
        for key in (self.name, *self.aliases):
            value = args.get(key)
            if value is not None and str(value).strip() != "":
                return str(value).strip()
        return None

    def parse(self, args: Mapping[str, Any]) -> Any:
        """The filter's value from the request arguments, ``default`` when absent; raises
        :class:`~carebiz.errors.ValidationFailed` naming the argument when it is not valid."""
        if self.type == DATE_RANGE:
            return self._date_range(args)
        if self.type == PREFIXED:
            return self._prefixed(args)
        text = self.raw(args)
        if text is None:
            return self.default
        if len(text) > self.max_length:
            self._refuse(_("At most %(count)s characters.", count=self.max_length))
        if self.type == CHOICE:
            allowed = list(self.choices() if callable(self.choices) else self.choices)
            if text not in allowed:
                self._refuse(_("One of: %(allowed)s.", allowed=", ".join(allowed)))
        elif self.type == ID:
            if not text.isdigit() or not 1 <= int(text) <= MAX_ID:
                self._refuse(_("A record id: a whole number from 1."))
            return int(text)
        elif self.type == BOOL:
            if text.lower() not in TRUE_WORDS + FALSE_WORDS:
                self._refuse(_("Yes or no: true or false."))
            return text.lower() in TRUE_WORDS
        return text

    def _date_range(self, args: Mapping[str, Any]) -> DateRange | None:
        ends: list[dt.date | None] = []
        for suffix in ("_from", "_to"):
            text = str(args.get(self.name + suffix) or "").strip()
            try:
                ends.append(dt.date.fromisoformat(text) if text else None)
            except ValueError:
                self._refuse(_("A date as YYYY-MM-DD."), self.name + suffix)
        start, end = ends
        if start is None and end is None:
            return cast(DateRange | None, self.default)
        if start and end and start > end:
            self._refuse(_("The first date is after the last."), self.name + "_from")
        return DateRange(start, end)

    def _prefixed(self, args: Mapping[str, Any]) -> dict[str, str] | None:
        prefix = self.name + "."
        values: dict[str, str] = {}
        for key in args:
            if not key.startswith(prefix):
                continue
            name = key[len(prefix):]
            if not KEY_RE.match(name):
                self._refuse(_("Not a field name: lower-case letters, digits and _."), key)
            value = str(args.get(key) or "").strip()
            if len(value) > self.max_length:
                self._refuse(_("At most %(count)s characters.", count=self.max_length), key)
            values[name] = value
        return values or self.default

    def _refuse(self, message: str, key: str | None = None) -> None:
        key = key or self.name
        raise ValidationFailed(_("The filter %(name)s is not valid: %(message)s",
                                 name=key, message=message), {key: [message]})


@dataclass(frozen=True)
class Searched:
    """What a search did to the statement: ``rank`` (an SQL expression, best first) becomes
    the sort key ``rank`` and the default order; ``reasons`` say why each row matched."""

    stmt: Select[Any]
    rank: Any = None
    reasons: Mapping[Any, Sequence[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Search:
    """The free-text search ``?q=``: ``apply(session, user, statement, text) -> Searched``."""

    apply: Callable[[Session, Any, Select[Any], str], Searched]
    label: Any = None
    max_length: int = 200


@dataclass(frozen=True)
class ExportSpec:
    """How the list is written to a file: ``columns(user)`` (a user who may not see values
    gets no column for them) and ``rows(session, user, statement)`` yielding one mapping per
    row of the filtered, sorted statement (it may add columns or joins to it, and should
    stream with ``yield_per``)."""

    title: Any
    columns: Callable[[Any], Sequence[Column]]
    rows: Callable[[Session, Any, Select[Any]], Iterator[Mapping[str, Any]]]


@dataclass(frozen=True)
class ListDefinition:
    """One list, declared once.

    ``name`` is its export name (``/export/<name>``); ``model`` the mapped class whose row
    filters (:func:`carebiz.security.rows.visible`) are always applied, whatever the
    arguments; ``base()`` the statement before filters (default ``select(model)``);
    ``key`` the model's primary key, the tiebreak that keeps pages stable; ``sorts`` the
    sortable columns by argument value (``?sort=name``, ``?sort=-name``) and
    ``sort_aliases`` older spellings; ``page`` and ``api`` the endpoints of its HTML page and
    its JSON endpoint, which also answer ``?format=csv|xlsx|…`` with the export."""

    name: str
    label: Any
    model: type
    key: Any
    sorts: Mapping[str, Any]
    default_sort: str
    export: ExportSpec
    filters: Sequence[Filter] = ()
    search: Search | None = None
    base: Callable[[], Select[Any]] | None = None
    sort_aliases: Mapping[str, str] = field(default_factory=dict)
    permission: str | None = None
    page: str | None = None
    api: str | None = None

    @property
    def sort_values(self) -> tuple[str, ...]:
        """Every ``?sort=`` value of the list (each column ascending and descending), for an
        API schema's enum."""
        return tuple(f"{sign}{key}" for key in self.sorts for sign in ("", "-"))

    @property
    def endpoints(self) -> tuple[str, ...]:
        return tuple(e for e in (self.page, self.api) if e)

"""Value types that plugins hand to the platform through hooks.

Every type has a ``name`` and most a ``weight``; the host sorts collected results by
``(weight, name)`` so the order never depends on registration or entry-point order.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Permission:
    """A right a role can hold, e.g. ``admin.users`` or ``sales.order.confirm``.

    ``default_roles`` are the built-in role names that get it when the permission first
    appears (admins may change that afterwards: roles are data)."""

    name: str
    label: Any
    description: Any = ""
    default_roles: tuple[str, ...] = ()
    weight: int = 100


@dataclass(frozen=True)
class MenuItem:
    """A navigation entry. Shown only when the user holds ``permission`` (if any)."""

    name: str
    label: Any
    endpoint: str
    permission: str | None = None
    section: str = "main"  # "main" (top bar) or "admin" (admin menu)
    icon: str = ""
    weight: int = 100
    url_values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Panel:
    """A block on a record page (customer 360°, vehicle). ``html`` is already rendered markup
    (e.g. from ``render_template``); the platform wraps it in a titled card."""

    name: str
    title: Any
    html: str
    weight: int = 100
    summary: Mapping[str, Any] = field(default_factory=dict)  # JSON-able facts for the API


@dataclass(frozen=True)
class TimelineKind:
    """A kind of timeline entry a plugin writes (``repair.order.closed`` …)."""

    name: str
    label: Any
    icon: str = ""
    weight: int = 100


@dataclass(frozen=True)
class QueryField:
    """A field of a :class:`QuerySource`. ``operators`` narrows the operators of its type
    (empty: all of them). ``column`` is the SQL expression (or a callable ``model ->
    expression``; default: the model's attribute ``name``); ``join`` is ``(target, onclause)``
    for a field of another table, outer-joined once per query with that table's row filters
    added to the ``ON`` clause."""

    name: str
    label: Any
    type: str  # text, number, money, date, datetime, bool, choice
    operators: tuple[str, ...] = ()
    choices: tuple[tuple[str, Any], ...] = ()
    column: Any = field(default=None, compare=False)
    join: Any = field(default=None, compare=False)
    #: ``(value, dialect) -> condition``: an index-friendly "starts with" for this field
    prefix: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class QuerySource:
    """An entity the query service can search and analyse: its model, its queryable fields
    and the permission needed to query it. Row filters are always applied on top."""

    name: str
    label: Any
    model: type
    fields: tuple[QueryField, ...] = ()
    permission: str | None = None
    weight: int = 100
    #: a condition always applied (an expression or a callable ``model -> expression``),
    #: e.g. leave out merged-away customers; row filters apply on top of it
    where: Any = field(default=None, compare=False)


@dataclass(frozen=True)
class ReportParam:
    """A parameter a user fills in before running a :class:`Report`. ``type`` is a query field
    type (text, number, money, date, datetime, bool, choice); ``default`` may be a callable
    returning the default (e.g. today)."""

    name: str
    label: Any
    type: str = "text"
    default: Any = None
    choices: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Report:
    """A ready-made analysis of a :class:`QuerySource`. ``where`` is a condition tree whose
    values may be ``{"param": "name"}`` (replaced by the user's value of that parameter);
    ``group_by``/``measures`` are as in the query service's aggregate; ``chart`` is bar, line,
    pie or stacked. Users need the source's permission and ``permission`` (if any)."""

    name: str
    label: Any
    source: str
    description: Any = ""
    params: tuple[ReportParam, ...] = ()
    where: Any = field(default=None, compare=False)
    group_by: Any = field(default_factory=list, compare=False)
    measures: Any = field(default_factory=list, compare=False)
    chart: str = "bar"
    permission: str | None = None
    weight: int = 100


@dataclass(frozen=True)
class ExportFormat:
    """A file format data sets can be exported to. ``writer(table, out, **kw)`` writes a
    :class:`carebiz.export.table.Table` as bytes to the binary stream ``out`` (streaming its
    rows where the format allows) and returns the number of rows written. ``documents``: the
    format can also render printable documents (html, pdf, docx)."""

    name: str
    label: Any
    extension: str
    mimetype: str
    writer: Callable[..., Any]
    weight: int = 100
    documents: bool = False


@dataclass(frozen=True)
class DocumentType:
    """A printable business document (quotation, repair order, invoice …). ``build(session,
    record_id, locale)`` returns the data its template renders."""

    name: str
    label: Any
    template: str
    build: Callable[..., Mapping[str, Any]]
    permission: str | None = None
    weight: int = 100


@dataclass(frozen=True)
class SettingSpec:
    """A business setting with its default; admins change it on the settings page."""

    key: str
    default: Any
    label: Any
    type: str = "text"  # text, int, bool, decimal, choice
    description: Any = ""
    choices: tuple[tuple[str, Any], ...] = ()
    weight: int = 100

    @property
    def name(self) -> str:
        return self.key


@dataclass(frozen=True)
class Task:
    """A kind of background job. ``run(ctx, **params)`` gets a :class:`carebiz.jobs.JobContext`
    to report progress and returns a JSON-able result."""

    name: str
    label: Any
    run: Callable[..., Any]
    permission: str | None = None
    weight: int = 100
    #: ``files(app, job)``: the files on disk a job of this task holds besides its result's
    #: ``file`` (e.g. a stored upload), removed when the job dies or is purged
    files: Callable[..., Any] | None = None


@dataclass(frozen=True)
class ScheduledJob:
    """Run task ``task`` every ``every`` (the worker enqueues it when due)."""

    name: str
    task: str
    every: dt.timedelta
    params: Mapping[str, Any] = field(default_factory=dict)
    weight: int = 100


@dataclass(frozen=True)
class EventReceiver:
    """Connects ``receiver(sender, **payload)`` to a domain-event signal for as long as the
    plugin is switched on. Preferred over ``signal.connect`` so receivers are scoped to the app
    and vanish with a switched-off plugin."""

    signal: Any
    receiver: Callable[..., Any]
    name: str = ""
    weight: int = 100


@dataclass(frozen=True)
class LookupHit:
    """A party a plugin found for a search (a membership card number, a policy number). The
    platform merges hits with its own and ranks by ``score`` (100: an exact identifier)."""

    party_id: int
    score: int
    reason: str
    weight: int = 100

    @property
    def name(self) -> str:
        return self.reason


@dataclass(frozen=True)
class RecordPage:
    """Where a kind of record is shown: the page ``endpoint`` takes the record's id as
    ``id_arg``. Audit entries, the recent trail and timeline entries that refer to a document
    (``ref_type``/``ref_id``) link through these, so every reference is a link."""

    entity_type: str
    endpoint: str
    id_arg: str
    permission: str | None = None
    weight: int = 100

    @property
    def name(self) -> str:
        return self.entity_type


@dataclass(frozen=True)
class ExchangeRateQuote:
    """A rate a plugin supplies through ``exchange_rates``: one unit of ``base`` costs
    ``rate`` (a ``Decimal``, never a float) units of ``quote`` from ``valid_from``."""

    base: str
    quote: str
    rate: Any
    valid_from: dt.date
    source: str = ""
    weight: int = 100

    @property
    def name(self) -> str:
        return f"{self.base}/{self.quote}@{self.valid_from.isoformat()}:{self.source}"


@dataclass(frozen=True)
class ExportTable:
    """A data set users can export in any format: ``build(session, user, args) -> Table``
    builds it as ``user`` sees it (row filters applied) from the list page's arguments, in a
    request or in a background job."""

    name: str
    label: Any
    build: Callable[..., Any]
    permission: str | None = None
    weight: int = 100
    #: list endpoints (page and API) answering this data set when given ``?format=``
    endpoints: tuple[str, ...] = ()
    #: the :class:`~carebiz.lists.ListDefinition` the data set exports, when it is a list
    #: (its page, API and export then read that one definition)
    definition: Any = None

    @classmethod
    def of_list(cls, definition: Any, weight: int = 100) -> ExportTable:
        """The export of a list: name, label, permission and endpoints come from its
        :class:`~carebiz.lists.ListDefinition`; the file holds the rows its page shows."""
        from functools import partial

        from carebiz.lists.runner import table

        return cls(definition.name, definition.label, partial(table, definition),
                   definition.permission, weight, definition.endpoints, definition)

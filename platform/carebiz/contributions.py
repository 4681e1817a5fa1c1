"""Value types that plugins hand to the platform through hooks.

Each type is a frozen dataclass: a registration is a fact about the plugin, read by many
requests at once, so nobody may change it after the hook returned it. Every field is listed in
its class's ``Attributes`` section; ``docs/plugin-guide.md`` ("Value types") shows each in use.

Every type has a ``name`` and most a ``weight``; the host sorts collected results by
``(weight, name)`` so the order never depends on registration or entry-point order.

``Label`` fields take a string or, for text users read, a lazy translation (``_l("Wash
ticket")`` from ``flask_babel``): it is translated when shown, in the reader's language, and
falls back to the English text where the catalog has none.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol, TypeAlias, TypedDict

if TYPE_CHECKING:
    from blinker import Signal
    from flask_babel.speaklater import LazyString
    from sqlalchemy.orm import Session
    from sqlalchemy.sql.elements import ColumnElement

    from carebiz.models import User

#: text a user reads: a plain string or a lazy translation (``_l("...")``)
Label: TypeAlias = "str | LazyString"
#: a SQL expression, or a callable ``model -> expression`` evaluated when a query is built
SqlExpression: TypeAlias = "ColumnElement[Any] | Callable[[type], ColumnElement[Any]]"


@dataclass(frozen=True)
class Permission:
    """A right a role can hold, e.g. ``admin.users`` or ``sales.order.confirm``.

    Declared so the roles page can list it and ``can(user, name)`` can check it; the
    platform refuses everything a user's roles do not grant.

    Attributes:
        name: the dotted name checked by ``can(user, name)``; starts with the plugin's prefix.
        label: what the roles page shows for it.
        description: a longer explanation shown beside the label (optional).
        default_roles: the built-in role names that get it when the permission first appears
            (admins may change that afterwards: roles are data).
        weight: position on the roles page (lower first).
    """

    name: str
    label: Label
    description: Label = ""
    default_roles: tuple[str, ...] = ()
    weight: int = 100


@dataclass(frozen=True)
class MenuItem:
    """A navigation entry, so a plugin's pages are reachable without editing the layout.

    Attributes:
        name: a unique name (``hello.index``), for sorting and tests.
        label: the text of the entry.
        endpoint: the Flask endpoint it links to (``blueprint.view``).
        permission: shown only to users holding it; None shows it to every logged-in user.
        section: ``"main"`` (top bar) or ``"admin"`` (admin menu).
        icon: a Bootstrap icon name without the ``bi-`` prefix (optional).
        weight: position within the section (lower first).
        url_values: extra arguments for ``url_for(endpoint, **url_values)``.
        parent: the ``name`` of a main item whose dropdown this item joins, so a plugin
            with several pages takes one place in the top bar (which must fit at 1366 px
            with every plugin switched on); shown at the top level when that item is absent.
    """

    name: str
    label: Label
    endpoint: str
    permission: str | None = None
    section: str = "main"
    icon: str = ""
    weight: int = 100
    url_values: Mapping[str, Any] = field(default_factory=dict)
    parent: str | None = None


@dataclass(frozen=True)
class Panel:
    """A block on a record page (customer 360°, vehicle), so a plugin shows what it knows
    about the record where users already look.

    Attributes:
        name: a unique name (``hello.greetings``); also the panel's anchor on the page.
        title: the card's heading.
        html: already rendered markup (e.g. from ``render_template``); the platform wraps it
            in a titled card.
        weight: position on the page (lower first).
        summary: JSON-able facts for the API's overview (``{"greetings": 3}``).
    """

    name: str
    title: Label
    html: str
    weight: int = 100
    summary: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TimelineKind:
    """A kind of timeline entry (``repair.order.closed`` …). Only registered kinds may be
    written (:func:`carebiz.crm.timeline.add_entry` refuses others), so every entry on a
    timeline has a label and an icon.

    Attributes:
        name: the kind stored in each entry; starts with the plugin's prefix.
        label: what the timeline shows for the kind (and its filter offers).
        icon: a Bootstrap icon name without the ``bi-`` prefix (optional).
        weight: position in the kind filter (lower first).
    """

    name: str
    label: Label
    icon: str = ""
    weight: int = 100


#: :attr:`QueryField.currency` for amounts in the company's base currency
BASE_CURRENCY = "base"
#: :attr:`QueryField.relation` of a branch id
BRANCH_RELATION = "branch"


@dataclass(frozen=True)
class QueryField:
    """A field of a :class:`QuerySource`: what users may filter, sort and group by.

    Attributes:
        name: the field's name in conditions (``{"field": name, ...}``) and in result rows.
        label: what the query builder shows.
        type: ``text``, ``number``, ``money``, ``date``, ``datetime``, ``bool`` or ``choice``;
            it decides the operators and how values are read.
        operators: narrows the operators of its type (empty: all of them).
        choices: ``(value, label)`` pairs of a ``choice`` field.
        column: the SQL expression, or a callable ``model -> expression``; default: the
            model's attribute ``name``.
        join: ``(target, onclause)`` for a field of another table, outer-joined once per
            query with that table's row filters added to the ``ON`` clause.
        prefix: ``(value, dialect) -> condition``: an index-friendly "starts with" for this
            field (optional).
        relation: the record a value points at, shown by its name instead of its id:
            ``"branch"`` (a branch id, shown and picked by the branch's name or code).
        currency: for ``money``: the amounts' currency, so pages, charts and exports write
            ``¥962,016.00`` and not ``962016.0000``: an ISO 4217 code (``"CNY"``),
            :data:`BASE_CURRENCY` (the company's base currency, the default) or the name of
            another field of the source that holds each row's code.

    How a value reads is declared once here: ``choice`` values show their ``choices`` label
    (``at_risk`` → "At risk"), relations their record's name, money its currency, dates and
    times the business time zone and the reader's language. The query API keeps the codes
    and adds the labels (``labels`` beside each row).
    """

    name: str
    label: Label
    type: str
    operators: tuple[str, ...] = ()
    choices: tuple[tuple[str, Label], ...] = ()
    column: SqlExpression | None = field(default=None, compare=False)
    join: tuple[Any, ColumnElement[bool]] | None = field(default=None, compare=False)
    prefix: Callable[[str, str], ColumnElement[bool]] | None = field(default=None,
                                                                      compare=False)
    relation: str | None = None
    currency: str | None = None


@dataclass(frozen=True)
class QuerySource:
    """An entity the query service can search and analyse. Row filters are always applied on
    top, so a source never shows a user more than its list page would.

    Attributes:
        name: the source's name in the query API (``/api/v1/query/<name>``).
        label: what the query page shows.
        model: the SQLAlchemy model whose rows it answers.
        fields: the fields users may filter, sort and group by.
        permission: needed to query it; None lets every logged-in user.
        weight: position in the source list (lower first).
        where: a condition always applied (an expression or a callable ``model ->
            expression``), e.g. leave out merged-away customers; row filters apply on top.
    """

    name: str
    label: Label
    model: type
    fields: tuple[QueryField, ...] = ()
    permission: str | None = None
    weight: int = 100
    where: SqlExpression | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ReportParam:
    """A parameter a user fills in before running a :class:`Report` (on its page, or as a
    query-string argument of ``GET /api/v1/reports/<name>``).

    Attributes:
        name: the argument's name; ``{"param": name}`` in the report's ``where`` is replaced
            by its value.
        label: what the report's form shows.
        type: a query field type (``text``, ``number``, ``money``, ``date``, ``datetime``,
            ``bool``, ``choice``); a value that is not of it is refused (422).
        default: the value when none is given; a callable returning it (e.g. today) is
            called at each run.
        choices: ``(value, label)`` pairs of a ``choice`` parameter.
    """

    name: str
    label: Label
    type: str = "text"
    default: Any = None
    choices: tuple[tuple[str, Label], ...] = ()


@dataclass(frozen=True)
class Report:
    """A ready-made analysis of a :class:`QuerySource`, run from its page or the reports API
    (``GET /api/v1/reports/<name>``) through the query service, so row filters and the
    source's permission always apply.

    Attributes:
        name: the report's name in its URL; starts with the plugin's prefix.
        label: its title.
        source: the name of the :class:`QuerySource` it analyses.
        description: a sentence saying what it shows (optional).
        params: what the user fills in before running it.
        where: a condition tree (as the query API takes it) whose values may be
            ``{"param": "name"}``, replaced by the user's value of that parameter.
        group_by: one or two fields as in the query service's aggregate; dates as
            ``{"field": F, "by": "month"}``.
        measures: ``[{"fn": "count|sum|avg|min|max", "field": F}]``; empty: a count.
        chart: ``bar``, ``line``, ``pie`` or ``stacked``.
        permission: needed besides the source's permission (optional).
        weight: position in the report list (lower first).
    """

    name: str
    label: Label
    source: str
    description: Label = ""
    params: tuple[ReportParam, ...] = ()
    where: Mapping[str, Any] | None = field(default=None, compare=False)
    group_by: Sequence[str | Mapping[str, str]] = field(default_factory=list, compare=False)
    measures: Sequence[Mapping[str, str]] = field(default_factory=list, compare=False)
    chart: str = "bar"
    permission: str | None = None
    weight: int = 100


@dataclass(frozen=True)
class ExportFormat:
    """A file format data sets can be exported to, so every export table is offered in
    every format without either knowing the other.

    Attributes:
        name: the ``?format=`` value (``csv``, ``xlsx`` …).
        label: what the export menu shows.
        extension: the file name's extension, without the dot.
        mimetype: the answer's content type.
        writer: ``writer(table, out, **kw) -> int`` writes a
            :class:`carebiz.export.table.Table` as bytes to the binary stream ``out``
            (streaming its rows where the format allows) and returns the rows written.
        weight: position in the export menu (lower first).
        documents: the format can also render printable documents (html, pdf, docx).
        sync_rows: above this many rows the export runs as a background job with a progress
            page, not in the request (None: the service's default, ``SYNC_ROWS``). A format
            that is slow per row (PDF lays out pages, ~0.2 s each) sets a low one so no
            request hangs for more than a couple of seconds.
    """

    name: str
    label: Label
    extension: str
    mimetype: str
    writer: Callable[..., int]
    weight: int = 100
    documents: bool = False
    sync_rows: int | None = None


class DocumentData(TypedDict, total=False):
    """The generic keys of the data a :class:`DocumentBuilder` returns. The Word renderer
    lays a document out from these alone; the document's HTML template may read these and
    any keys of its own the builder adds.

    Attributes:
        title: the document's heading ("Wash ticket").
        company: the company name printed at the top.
        parties: ``(label, value)`` pairs describing who and what (customer, vehicle …).
        columns: the headings of the document's table.
        rows: the table's rows, one value per column, already formatted as text.
        totals: ``(label, value)`` pairs printed under the table.
        capital: the total in Chinese capital numerals (大写), for CNY documents.
        notes: free text printed at the end.
        generated_at: when it was produced, formatted in the business time zone.
    """

    title: str
    company: str
    parties: Sequence[tuple[str, str]]
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]
    totals: Sequence[tuple[str, str]]
    capital: str | None
    notes: str
    generated_at: str


class DocumentBuilder(Protocol):
    """How the document service calls a :class:`DocumentType`'s ``build``: exactly
    ``build(session, record_id, user=user, locale=locale)``: the first two by position (name
    them as you like, e.g. ``party_id``), the last two by keyword.

    The builder loads the record as ``user`` may see it (``carebiz.security.visible`` on
    every query it runs) and raises ``carebiz.errors.NotFound`` when that finds nothing, so
    a user never prints a record of a branch they cannot see. It returns a mapping with the
    keys of :class:`DocumentData` it has, plus any its template needs; ``locale`` (e.g.
    ``"zh_CN"``) is the language to format dates and amounts in."""

    def __call__(self, session: Session, record_id: int, /, *, user: User,
                 locale: str) -> Mapping[str, Any]: ...


@dataclass(frozen=True)
class DocumentType:
    """A printable business document (quotation, repair order, invoice …), offered as
    HTML, PDF and Word from one builder and one template.

    Attributes:
        name: the type's name in URLs (``/api/v1/documents/<name>/<id>``).
        label: what the print menu shows.
        template: the Jinja template rendering it (it gets ``doc``: the builder's data).
        build: a :class:`DocumentBuilder`: ``build(session, record_id, user=…, locale=…)``.
        permission: needed to print it, checked before the builder runs (403).
        weight: position in the print menu (lower first).
        record_type: the entity type of the record it prints, as :class:`RecordPage` and
            audit entries name it (``"party"``, ``"vehicle"``, ``"sales_order"``): the
            document is then offered on that record's page (Print / PDF / Word) and its
            preview links back to the record. ``None`` (the default, keyword only): printed
            only from where its plugin links to it.
    """

    name: str
    label: Label
    template: str
    build: DocumentBuilder
    permission: str | None = None
    weight: int = 100
    record_type: str | None = field(default=None, kw_only=True)


@dataclass(frozen=True)
class SettingSpec:
    """A business setting with its default; admins change it on the settings page, so a
    plugin's behaviour can be tuned per company without code.

    Attributes:
        key: the setting's name (``hello.signature``), read with ``settings.get(session,
            host, key)``; starts with the plugin's prefix.
        default: the value until an admin changes it.
        label: what the settings page shows.
        type: ``text``, ``int``, ``bool``, ``decimal`` or ``choice``; the page checks it.
        description: a longer explanation (optional).
        choices: ``(value, label)`` pairs of a ``choice`` setting.
        weight: position on the settings page (lower first).
    """

    key: str
    default: Any
    label: Label
    type: str = "text"
    description: Label = ""
    choices: tuple[tuple[str, Label], ...] = ()
    weight: int = 100

    @property
    def name(self) -> str:
        """The key, under the name every value type sorts by."""
        return self.key


@dataclass(frozen=True)
class Task:
    """A kind of background job, so long work (imports, batch printing) runs outside the
    request and reports its progress.

    Attributes:
        name: the task's name, given to ``carebiz.jobs.submit``.
        label: what the jobs page shows.
        run: ``run(ctx, **params)`` gets a :class:`carebiz.jobs.JobContext` to report
            progress and returns a JSON-able result.
        permission: needed to start it over the API (optional).
        weight: position in lists of tasks (lower first).
        files: ``files(app, job)``: the files on disk a job of this task holds besides its
            result's ``file`` (e.g. a stored upload), removed when the job dies or is purged.
    """

    name: str
    label: Label
    run: Callable[..., Any]
    permission: str | None = None
    weight: int = 100
    files: Callable[..., Any] | None = None


@dataclass(frozen=True)
class ScheduledJob:
    """A task run on a schedule: the worker enqueues it when due.

    Attributes:
        name: a unique name of the schedule.
        task: the :class:`Task` it runs.
        every: how often.
        params: the task's parameters.
        weight: order among jobs due at once (lower first).
    """

    name: str
    task: str
    every: dt.timedelta
    params: Mapping[str, Any] = field(default_factory=dict)
    weight: int = 100


@dataclass(frozen=True)
class EventReceiver:
    """Connects a receiver to a domain-event signal for as long as the plugin is switched on.
    Preferred over ``signal.connect`` so receivers are scoped to the app and vanish with a
    switched-off plugin.

    Attributes:
        signal: the blinker signal (from the sending area's ``signals`` module).
        receiver: ``receiver(sender, **payload)``, called after the sender's commit.
        name: a unique name, for logs and sorting (optional).
        weight: order among receivers of one signal (lower first).
    """

    signal: Signal
    receiver: Callable[..., Any]
    name: str = ""
    weight: int = 100


@dataclass(frozen=True)
class LookupHit:
    """A party a plugin found for a search (a membership card number, a policy number), so
    the customer search finds customers by what the plugin knows of them.

    Attributes:
        party_id: the customer found.
        score: its rank among all hits (100: an exact identifier).
        reason: what matched, shown beside the hit ("membership card 0815").
        weight: order among hits of equal score (lower first).
    """

    party_id: int
    score: int
    reason: str
    weight: int = 100

    @property
    def name(self) -> str:
        """The reason, under the name every value type sorts by."""
        return self.reason


@dataclass(frozen=True)
class RecordPage:
    """Where a kind of record is shown. Audit entries, the recent trail and timeline entries
    that refer to a record (``ref_type``/``ref_id``) link through these, so every reference
    is a link reading "<label> <id>" ("Wash ticket 12").

    Attributes:
        entity_type: the record kind as audit entries and ``ref_type`` name it.
        endpoint: the Flask endpoint of the record's page.
        id_arg: the endpoint's argument taking the record's id.
        permission: needed to follow the link (without it the reference stays text).
        weight: order among record pages (lower first).
        label: what a reference to such a record reads before its id, e.g.
            ``_l("Wash ticket")``; empty: the entity type.
    """

    entity_type: str
    endpoint: str
    id_arg: str
    permission: str | None = None
    weight: int = 100
    label: Label = field(default="", kw_only=True)

    @property
    def name(self) -> str:
        """The entity type, under the name every value type sorts by."""
        return self.entity_type


@dataclass(frozen=True)
class AuditLabels:
    """How history panels, the audit log and its export show one kind of record's changes
    and events as people read them, in the reader's language: ``Branch: Shanghai Pudong``,
    not ``branch_id: 2``; ``Fuel: Battery electric``, not ``fuel_type: bev``; "Customer
    registered", not ``customer.created``. The stored entries keep their codes (the API
    answers those); only what is shown is labelled.

    Attributes:
        entity_type: the record kind its audit entries name (``"party"``, ``"wash_ticket"``);
            ``fields``, ``values`` and ``references`` apply to entries of that kind.
        fields: stored field name -> its label (``{"fuel_type": _l("Fuel")}``); a field
            left out reads as its stored name.
        values: field name -> {stored value -> label} for choice fields
            (``{"fuel_type": {"bev": _l("Battery electric")}}``); lists are labelled item by
            item.
        references: field name -> the entity type of the record its value is the id of
            (``{"owner_id": "party", "branch_id": "branch"}``): shown by that record's name
            (its ``name``, ``display_name``, ``plate``, ``title`` or ``code``), or, to a
            reader the row filters hide it from, as "a customer of another branch".
        events: domain-event name -> what happened, as a short sentence
            (``{"wash.ticket_closed": _l("Wash ticket closed")}``); any event, of any kind
            of record.
        weight: order among declarations of one kind (a later one adds to, and for the
            same field overrides, an earlier one).
    """

    entity_type: str
    fields: Mapping[str, Label] = field(default_factory=dict)
    values: Mapping[str, Mapping[str, Label]] = field(default_factory=dict)
    references: Mapping[str, str] = field(default_factory=dict)
    events: Mapping[str, Label] = field(default_factory=dict)
    weight: int = 100

    @property
    def name(self) -> str:
        """The entity type, under the name every value type sorts by."""
        return self.entity_type


@dataclass(frozen=True)
class ExchangeRateQuote:
    """A rate a plugin supplies through ``exchange_rates`` (a bank feed, a price list).

    Attributes:
        base: the ISO 4217 code of the currency priced.
        quote: the ISO 4217 code it is priced in.
        rate: one unit of ``base`` costs ``rate`` units of ``quote`` (never a float).
        valid_from: the first day the rate applies.
        source: where it comes from (shown with the rate).
        weight: order among quotes (lower first).
    """

    base: str
    quote: str
    rate: Decimal
    valid_from: dt.date
    source: str = ""
    weight: int = 100

    @property
    def name(self) -> str:
        """Pair, date and source, under the name every value type sorts by."""
        return f"{self.base}/{self.quote}@{self.valid_from.isoformat()}:{self.source}"


@dataclass(frozen=True)
class ExportTable:
    """A data set users can export in any format, built as ``user`` sees it (row filters
    applied) from the list page's arguments, in a request or in a background job.

    Attributes:
        name: the data set's name (``crm.customers``), in export URLs and jobs.
        label: what the export menu and the job page show.
        build: ``build(session, user, args) -> Table`` (a
            :class:`carebiz.export.table.Table`), ``args`` being the list's query arguments.
        permission: needed to export it (optional).
        weight: order among data sets (lower first).
        endpoints: list endpoints (page and API) answering this data set when given
            ``?format=``.
    """

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


#: what a notification channel's addresses are: the user themself (in-app), an e-mail
#: address, a phone number in E.164
ADDRESS_KINDS = ("user", "email", "phone")


@dataclass(frozen=True)
class NotificationChannel:
    """A way a notice reaches people, contributed by ``notification_channels``.

    Attributes:
        name: the channel's name (``inapp``, ``email``, ``sms``), recorded with each delivery
            and named by the inbound endpoint ``/api/v1/notifications/inbound/<name>``.
        label: shown on the notification preferences; translatable.
        deliver: ``deliver(notice, address) -> None``, called by a background job after the
            sender's commit with a :class:`carebiz.notify.Notice` and the address; raising
            marks the attempt failed (logged and retried later), never the sender. ``None``
            for the in-app channel, whose notices are rows written with the sender's change.
        address: which address of a user or customer the channel needs: ``"email"``,
            ``"phone"`` (E.164), or ``"user"`` (the in-app channel, written in the sender's
            transaction instead of being delivered).
        enabled: ``enabled(app) -> bool``: configured at all (an SMTP host unset switches
            e-mail off); a disabled channel is skipped.
        default_on: whether users who chose nothing get it.
        weight: order on the preferences page.
    """

    name: str
    label: Any
    deliver: Callable[..., Any] | None
    address: str = "email"
    enabled: Callable[..., bool] = lambda app: True
    default_on: bool = True
    weight: int = 100

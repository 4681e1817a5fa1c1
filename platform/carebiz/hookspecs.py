"""Every hook a CareBusiness plugin can implement. Each docstring is the contract.

Rules shared by all hooks:

- The platform calls hooks with keyword arguments only; an implementation may accept any
  subset of the arguments named in the specification.
- Hooks that return several things return a list (or ``None`` for nothing). The host
  flattens the lists of all enabled plugins and sorts by ``(weight, name)``, so results never
  depend on registration order.
- Hooks that run code in turn (``demo_data``, ``customer_merge``) are called in an explicit
  order: the core first, then the plugins in dependency order, then by name. ``tryfirst`` /
  ``trylast`` and hook wrappers are not needed and not supported.
- A plugin a business has switched off is left out of every hook call.
- Hooks without arguments are registrations (``permissions``, ``settings``, ``export_tables``
  …): the host collects them once per switched-on set of plugins and hands the same frozen
  objects out again, so they must not depend on the request, the user or the database.
- A plugin raising inside a composition hook (panels, menus, export tables …) is logged and
  left out of that answer; inside a security hook (``permissions``, ``row_filters``) the
  request is refused. See ``carebiz.plugins.isolation``.
- Hooks are for composition. To react to something that happened (an order confirmed, a
  customer merged) connect to a domain event instead (see ``event_receivers``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import datetime as dt
    from typing import TypeAlias

    import click
    import flask_smorest
    from flask import Blueprint, Flask
    from flask_login import AnonymousUserMixin
    from sqlalchemy import ColumnElement
    from sqlalchemy.orm import Session

    from carebiz.contributions import (
        AuditLabels,
        DocumentType,
        EventReceiver,
        ExchangeRateQuote,
        ExportFormat,
        ExportTable,
        LookupHit,
        MenuItem,
        NotificationChannel,
        Panel,
        Permission,
        QuerySource,
        RecordPage,
        Report,
        ScheduledJob,
        SettingSpec,
        Task,
        TimelineKind,
    )
    from carebiz.crm.models import Party, Vehicle
    from carebiz.db import Base
    from carebiz.models import Branch, User
    from carebiz.plugins.capabilities import Capability

    #: who a hook is asked for: a logged-in user, or the anonymous one (no permissions)
    AnyUser: TypeAlias = User | AnonymousUserMixin

PROJECT = "carebiz"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def init_app(app: Flask) -> None:
    """Called once while the app is created, after every plugin is registered and before the
    first request: register template filters, context processors, error handlers. Do not
    register blueprints here (use ``web_blueprints`` / ``api_blueprints``) and do not touch the
    database. Runs even for plugins switched off at runtime (the set of installed plugins is
    fixed at app creation; switching is a request-time gate).

    :param app: the Flask app being created.
    """


@hookspec
def models() -> list[type[Base]] | None:
    """Return the SQLAlchemy model classes this plugin owns (subclasses of
    ``carebiz.db.Base``). Their tables belong to the plugin's own Alembic history, the
    migration check compares them with that history, and they are created for tests.
    Table names start with the plugin's name and ``_`` (``hello_greeting``); start-up stops
    otherwise."""


@hookspec
def web_blueprints() -> list[Blueprint] | None:
    """Return Flask blueprints with the plugin's pages. They are registered once at app
    creation; while the plugin is switched off every route in them answers 404."""


@hookspec
def api_blueprints() -> list[flask_smorest.Blueprint] | None:
    """Return ``flask_smorest.Blueprint`` objects with the plugin's JSON API. Give them a
    ``url_prefix`` under ``/api/v1/``; they appear in the OpenAPI document and answer 404
    while the plugin is switched off. Authenticate with ``carebiz.security.api_login_required``
    and check permissions with ``carebiz.security.require``."""


@hookspec
def menu_items(user: AnyUser) -> list[MenuItem] | None:
    """Return ``MenuItem`` objects for the navigation of ``user`` (an authenticated user or
    an anonymous one). Items with a ``permission`` the user lacks are removed by the
    platform, so a plugin need not filter them.

    :param user: who the navigation is for (``user.is_authenticated`` tells which).
    """


@hookspec
def permissions() -> list[Permission] | None:
    """Return ``Permission`` objects this plugin checks. Unregistered permission names are
    always denied (default deny); ``default_roles`` grants them to built-in roles when they
    first appear. Names start with the plugin's name and a dot (``hello.view``) and
    ``default_roles`` name existing roles; start-up stops otherwise. A plugin raising here
    makes the request fail closed (503), never answered with fewer checks."""


@hookspec
def row_filters(model: type[Base], user: AnyUser) -> list[ColumnElement[bool]] | None:
    """Return SQL expressions that limit which rows of ``model`` ``user`` may see (they are
    ANDed). Every list and query endpoint applies the filters of all enabled plugins, so a
    rule stated here holds everywhere. Return ``None`` for models this plugin does not
    restrict. The core already limits ``BranchOwned`` models to the user's branches. A plugin
    raising here makes the request fail closed (503), never answered unfiltered.

    :param model: the model class being listed or queried.
    :param user: whose rows are being selected.
    """


@hookspec
def customer_panels(session: Session, customer: Party, user: AnyUser) -> list[Panel] | None:
    """Return ``Panel`` objects for the 360° page of ``customer`` as seen by ``user``: what
    this subsystem knows about the customer (orders, open repair orders, membership…).
    ``summary`` carries the same facts as JSON for the API and the call-centre lookup. A
    plugin raising here is left out and "this panel is unavailable" stands in its place.

    :param session: the session to read with (the 360° overview is built outside requests
        too: never reach for the request's session).
    :param customer: the party whose page is shown.
    :param user: who looks; apply ``carebiz.security.visible`` with them to every query.
    """


@hookspec
def vehicle_panels(session: Session, vehicle: Vehicle, user: AnyUser) -> list[Panel] | None:
    """Return ``Panel`` objects for the page of ``vehicle`` (history by VIN, trackers…), as
    ``customer_panels`` does for customers.

    :param session: the session to read with.
    :param vehicle: the vehicle whose page is shown.
    :param user: who looks; apply row filters with them.
    """


@hookspec
def home_widgets(session: Session, user: AnyUser) -> list[Panel] | None:
    """Return ``Panel`` objects for the home page of ``user``: what this subsystem wants them
    to see first thing (their follow-ups due and overdue, orders waiting for them, vehicles
    ready for pick-up), each with counts and a link to the page where they act on it. Keep
    it to a few indexed queries, limited to what ``user`` may see (``carebiz.security.
    visible``): the home page is the most opened page. Return ``None`` or ``[]`` when there is
    nothing for this user (no permission, nothing due). A plugin raising here is left out and
    "this panel is unavailable" stands in its place.

    :param session: the session to read with.
    :param user: whose home page it is; apply row filters with them.
    """


@hookspec
def audit_labels() -> list[AuditLabels] | None:
    """Return ``AuditLabels`` objects: how the history panels, the audit log and its export
    name the fields, values and events of this plugin's records (``Branch: Shanghai
    Pudong``, not ``branch_id: 2``; ``Fuel: Electric``, not ``fuel_type: bev``; "Customer
    created", not ``customer.created``). A registration: no request, user or database."""


@hookspec
def timeline_kinds() -> list[TimelineKind] | None:
    """Return ``TimelineKind`` objects: the kinds of timeline entries this plugin writes, so
    the timeline can label, filter and link them."""


@hookspec
def query_sources() -> list[QuerySource] | None:
    """Return ``QuerySource`` objects: entities the query service may search, analyse and
    report on, with their fields and the permission they need."""


@hookspec
def reports() -> list[Report] | None:
    """Return ``Report`` objects: ready-made analyses (parameters, a condition tree over one of
    the ``query_sources``, a grouping, measures and a chart) that users run, see and export on
    the reports page. Row filters and the source's permission always apply."""


@hookspec
def export_formats() -> list[ExportFormat] | None:
    """Return ``ExportFormat`` objects (xlsx, csv, pdf …) offered wherever data is exported."""


@hookspec
def document_types() -> list[DocumentType] | None:
    """Return ``DocumentType`` objects: printable business documents (quotation, repair
    order, invoice) with their template and the data builder."""


@hookspec
def cli_commands() -> list[click.Command] | None:
    """Return ``click`` commands or groups; they are added to the ``carebiz`` command. Name
    groups after the plugin (``carebiz gps import``) to avoid clashes. While the plugin is
    switched off its commands refuse to run (exit code 1, saying so)."""


@hookspec
def demo_data(session: Session, branches: list[Branch], users: dict[str, User]) -> None:
    """Add demonstration records with ``session`` (do not commit; the platform commits once for
    all plugins). Must be safe to call on a database that already holds this plugin's demo
    data. Called in dependency order: the core's demo customers and vehicles exist already, and
    so do the demo records of every plugin this one ``requires``.

    :param session: where to add the records.
    :param branches: the demo branches (the first is the showroom).
    :param users: the demo users by role name (``"salesperson"`` …).
    """


@hookspec
def tasks() -> list[Task] | None:
    """Return ``Task`` objects: kinds of background job (large exports, reports, reminders)
    that ``carebiz.jobs.submit`` can run in-process or on the rq worker."""


@hookspec
def scheduled_jobs() -> list[ScheduledJob] | None:
    """Return ``ScheduledJob`` objects: tasks the worker runs periodically."""


@hookspec
def settings() -> list[SettingSpec] | None:
    """Return ``SettingSpec`` objects: business settings with their defaults. Keys start with
    the plugin's name and a dot (``sales.quote_valid_days``); start-up stops otherwise."""


@hookspec
def event_receivers() -> list[EventReceiver] | None:
    """Return ``EventReceiver`` objects connecting functions to domain-event signals. They are
    called after the sending transaction commits, each in isolation (one failing receiver is
    logged and does not stop the others), and only while this plugin is switched on."""


@hookspec
def customer_lookup(session: Session, query: str, user: AnyUser) -> list[LookupHit] | None:
    """Return ``LookupHit`` objects for parties this plugin can find by ``query`` — its own
    identifiers such as a membership card or policy number. Use indexed equality lookups (the
    search box and the call-centre screen-pop call this on every keystroke). The platform
    applies row filters to the parties found; return [] or None when nothing matches.

    :param session: the session to read with.
    :param query: what was typed, stripped.
    :param user: who searches.
    """


@hookspec
def customer_merge(session: Session, keep: Party, remove: Party) -> None:
    """Two parties are being merged: re-point every row of this plugin that refers to
    ``remove.id`` so it refers to ``keep.id``, using ``session`` (the same transaction; do not
    commit). Raise ``carebiz.errors.Conflict`` to refuse the merge (it is rolled back whole).
    Merges done while the plugin was switched off are recorded and handed to this hook, one
    by one, when it is switched on again (``remove`` is then the inactive merged-away party).

    :param session: the merge's transaction.
    :param keep: the party that stays.
    :param remove: the party merged into ``keep``.
    """


@hookspec
def record_pages() -> list[RecordPage] | None:
    """Return ``RecordPage`` objects: for each kind of record this plugin shows (e.g.
    ``sales_order``), the endpoint of its page. Audit entries, the recent trail and timeline
    entries referring to such a record (``ref_type`` = the entity type) become links to it,
    shown only to users holding ``permission``."""


@hookspec
def exchange_rates(base: str, quote: str, on_date: dt.date) -> list[ExchangeRateQuote] | None:
    """A plugin that knows exchange rates (a bank feed) returns ``ExchangeRateQuote`` objects
    for the pair ``base``/``quote`` (ISO 4217 codes) in force on ``on_date`` (a ``datetime.date``).
    Called only when no stored rate answers, in either direction; a quote of the inverse pair is
    used inverted. The newest quote with ``valid_from <= on_date`` wins. Return ``None`` or
    ``[]`` for pairs the plugin does not know; never return a guessed rate.

    :param base: the currency a rate is asked for (``"USD"``).
    :param quote: the currency it is expressed in (``"CNY"``).
    :param on_date: the day the rate must be in force on.
    """


@hookspec
def export_tables() -> list[ExportTable] | None:
    """Return ``ExportTable`` objects: the lists this plugin lets users export (``/export/
    <name>?format=xlsx&<the list's filters>``). Small exports download at once; large ones run
    as a background job whose file waits for its owner."""


@hookspec
def hookspecs() -> list[object] | None:
    """Return namespaces (modules or classes) holding hook specifications this plugin offers
    to other plugins, marked with ``carebiz.hookspecs.hookspec`` — as pytest's
    ``pytest_addhooks`` does. They are added before any implementation is checked, so a
    misspelled implementation still stops start-up. Name each hook ``<plugin>_…``. The
    declaring plugin calls them with ``host.collect`` / ``host.call``; a failing implementation
    is left out of the answer, unless the namespace lists the hook name in ``FAIL_CLOSED``
    (then the request is refused). Implementations in plugins that also work without the
    declaring plugin are marked ``@hookimpl(optionalhook=True)``."""


@hookspec
def capabilities() -> list[Capability] | None:
    """Return ``Capability`` objects: named services this plugin offers to others
    (``Capability("parts.stock_reservation", Reservations())``). Another plugin asks
    ``host.capability(name)`` and gets the provider, or ``None`` while the providing plugin
    is absent or switched off. Two installed plugins offering one name stop start-up."""


@hookspec
def notification_channels() -> list[NotificationChannel] | None:
    """Return ``NotificationChannel`` objects: ways a notice reaches people (the core's
    in-app and e-mail; an SMS gateway, a messenger). ``carebiz.notify.send`` records each
    notice for every enabled channel the recipient takes, and a background job calls the
    channel's ``deliver(notice, address)`` after the sender's commit; a channel that raises is
    logged and retried, it never breaks the sender."""


@hookspec(firstresult=True)
def inbound_message(session: Session, channel: str, sender: str, text: str,
                    user: User) -> str | None:
    """A message a gateway received on ``channel`` (``"sms"``) from ``sender`` (E.164), the
    registered phone of the active ``user``: return the reply text for the gateway to send
    back, or ``None`` when the message is not one this plugin understands (the first answer
    that is not ``None`` is sent). Unregistered senders never reach this hook. Answer only
    what ``user`` may see, in the current locale (the user's).

    :param session: a session for reading (the reply is not a change).
    :param channel: the inbound channel's name.
    :param sender: the sender's number, E.164.
    :param text: the message text, stripped.
    :param user: the user the number is registered to.
    """

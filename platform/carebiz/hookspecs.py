"""Every hook a CareBusiness plugin can implement. Each docstring is the contract.

Rules shared by all hooks:

- The platform calls hooks with keyword arguments only; an implementation may accept any
  subset of the arguments named in the specification.
- Hooks that return several things return a list (or ``None`` for nothing). The host
  flattens the lists of all enabled plugins and sorts by ``(weight, name)``, so results never
  depend on registration order.
- A plugin a business has switched off is left out of every hook call.
- Hooks without arguments are registrations (``permissions``, ``settings``, ``export_tables``
  …): the host collects them once per switched-on set of plugins and hands the same frozen
  objects out again, so they must not depend on the request, the user or the database.
- Hooks are for composition. To react to something that happened (an order confirmed, a
  customer merged) connect to a domain event instead (see ``event_receivers``).
"""

from __future__ import annotations

from typing import Any

import pluggy

PROJECT = "carebiz"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def init_app(app: Any) -> None:
    """Called once while the app is created, after every plugin is registered and before the
    first request: register template filters, context processors, error handlers. Do not
    register blueprints here (use ``web_blueprints`` / ``api_blueprints``) and do not touch the
    database. Runs even for plugins switched off at runtime (the set of installed plugins is
    fixed at app creation; switching is a request-time gate)."""


@hookspec
def models() -> list[type] | None:
    """Return the SQLAlchemy model classes this plugin owns (subclasses of
    ``carebiz.db.Base``). Their tables belong to the plugin's own Alembic history, the
    migration check compares them with that history, and they are created for tests."""


@hookspec
def web_blueprints() -> list[Any] | None:
    """Return Flask blueprints with the plugin's pages. They are registered once at app
    creation; while the plugin is switched off every route in them answers 404."""


@hookspec
def api_blueprints() -> list[Any] | None:
    """Return ``flask_smorest.Blueprint`` objects with the plugin's JSON API. Give them a
    ``url_prefix`` under ``/api/v1/``; they appear in the OpenAPI document and answer 404
    while the plugin is switched off. Authenticate with ``carebiz.security.api_login_required``
    and check permissions with ``carebiz.security.require``."""


@hookspec
def menu_items(user: Any) -> list[Any] | None:
    """Return ``MenuItem`` objects for the navigation of ``user`` (an authenticated user or
    an anonymous one). Items with a ``permission`` the user lacks are removed by the
    platform, so a plugin need not filter them."""


@hookspec
def permissions() -> list[Any] | None:
    """Return ``Permission`` objects this plugin checks. Unregistered permission names are
    always denied (default deny); ``default_roles`` grants them to built-in roles when they
    first appear."""


@hookspec
def row_filters(model: type, user: Any) -> list[Any] | None:
    """Return SQL expressions that limit which rows of ``model`` ``user`` may see (they are
    ANDed). Every list and query endpoint applies the filters of all enabled plugins, so a
    rule stated here holds everywhere. Return ``None`` for models this plugin does not
    restrict. The core already limits ``BranchOwned`` models to the user's branches."""


@hookspec
def customer_panels(customer: Any, user: Any) -> list[Any] | None:
    """Return ``Panel`` objects for the 360° page of ``customer`` as seen by ``user``: what
    this subsystem knows about the customer (orders, open repair orders, membership…).
    ``summary`` carries the same facts as JSON for the API and the call-centre lookup."""


@hookspec
def vehicle_panels(vehicle: Any, user: Any) -> list[Any] | None:
    """Return ``Panel`` objects for the page of ``vehicle`` (history by VIN, trackers…)."""


@hookspec
def timeline_kinds() -> list[Any] | None:
    """Return ``TimelineKind`` objects: the kinds of timeline entries this plugin writes, so
    the timeline can label, filter and link them."""


@hookspec
def query_sources() -> list[Any] | None:
    """Return ``QuerySource`` objects: entities the query service may search, analyse and
    report on, with their fields and the permission they need."""


@hookspec
def reports() -> list[Any] | None:
    """Return ``Report`` objects: ready-made analyses (parameters, a condition tree over one of
    the ``query_sources``, a grouping, measures and a chart) that users run, see and export on
    the reports page. Row filters and the source's permission always apply."""


@hookspec
def export_formats() -> list[Any] | None:
    """Return ``ExportFormat`` objects (xlsx, csv, pdf …) offered wherever data is exported."""


@hookspec
def document_types() -> list[Any] | None:
    """Return ``DocumentType`` objects: printable business documents (quotation, repair
    order, invoice) with their template and the data builder."""


@hookspec
def cli_commands() -> list[Any] | None:
    """Return ``click`` commands or groups; they are added to the ``carebiz`` command. Name
    groups after the plugin (``carebiz gps import``) to avoid clashes."""


@hookspec
def demo_data(session: Any, branches: list[Any], users: dict[str, Any]) -> None:
    """Add demonstration records with ``session`` (do not commit; the platform commits once for
    all plugins). ``branches`` are the demo branches, ``users`` the demo users by role name.
    Must be safe to call on a database that already holds this plugin's demo data."""


@hookspec
def tasks() -> list[Any] | None:
    """Return ``Task`` objects: kinds of background job (large exports, reports, reminders)
    that ``carebiz.jobs.submit`` can run in-process or on the rq worker."""


@hookspec
def scheduled_jobs() -> list[Any] | None:
    """Return ``ScheduledJob`` objects: tasks the worker runs periodically."""


@hookspec
def settings() -> list[Any] | None:
    """Return ``SettingSpec`` objects: business settings with their defaults. Keys are
    prefixed with the plugin name (``sales.quote_valid_days``)."""


@hookspec
def event_receivers() -> list[Any] | None:
    """Return ``EventReceiver`` objects connecting functions to domain-event signals. They are
    called after the sending transaction commits, each in isolation (one failing receiver is
    logged and does not stop the others), and only while this plugin is switched on."""


@hookspec
def customer_lookup(session: Any, query: str, user: Any) -> list[Any] | None:
    """Return ``LookupHit`` objects for parties this plugin can find by ``query`` — its own
    identifiers such as a membership card or policy number. Use indexed equality lookups (the
    search box and the call-centre screen-pop call this on every keystroke). The platform
    applies row filters to the parties found; return [] or None when nothing matches."""


@hookspec
def customer_merge(session: Any, keep: Any, remove: Any) -> None:
    """Two parties are being merged: re-point every row of this plugin that refers to
    ``remove.id`` so it refers to ``keep.id``, using ``session`` (the same transaction; do not
    commit). Raise ``carebiz.errors.Conflict`` to refuse the merge (it is rolled back whole)."""


@hookspec
def record_pages() -> list[Any] | None:
    """Return ``RecordPage`` objects: for each kind of record this plugin shows (e.g.
    ``sales_order``), the endpoint of its page. Audit entries, the recent trail and timeline
    entries referring to such a record (``ref_type`` = the entity type) become links to it,
    shown only to users holding ``permission``."""


@hookspec
def exchange_rates(base: str, quote: str, on_date: Any) -> list[Any] | None:
    """A plugin that knows exchange rates (a bank feed) returns ``ExchangeRateQuote`` objects
    for the pair ``base``/``quote`` (ISO 4217 codes) in force on ``on_date`` (a ``datetime.date``).
    Called only when no stored rate answers, in either direction; a quote of the inverse pair is
    used inverted. The newest quote with ``valid_from <= on_date`` wins. Return ``None`` or
    ``[]`` for pairs the plugin does not know; never return a guessed rate."""


@hookspec
def export_tables() -> list[Any] | None:
    """Return ``ExportTable`` objects: the lists this plugin lets users export (``/export/
    <name>?format=xlsx&<the list's filters>``). Small exports download at once; large ones run
    as a background job whose file waits for its owner."""

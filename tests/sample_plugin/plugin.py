"""The sample plugin: one implementation of every hook."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click
from flask import Blueprint, render_template_string
from flask_babel import lazy_gettext as _l
from flask_smorest import Blueprint as ApiBlueprint
from sqlalchemy import select

from carebiz import hookimpl
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
    QueryField,
    QuerySource,
    RecordPage,
    Report,
    ReportParam,
    ScheduledJob,
    SettingSpec,
    Task,
    TimelineKind,
)
from carebiz.errors import NotFound
from carebiz.plugins import PluginManifest
from carebiz.plugins.capabilities import Capability
from carebiz.security import require, visible
from tests.sample_plugin import hooks, signals
from tests.sample_plugin.models import SampleRecord

manifest = PluginManifest(name="sample", version="2.0", label="Sample", description="Tests")

#: what the slip builder was called with, newest last (tests read it)
SLIP_CALLS: list[dict[str, Any]] = []

#: what the event receiver saw, for the tests
RECEIVED: list[dict[str, Any]] = []
INIT_CALLS: list[Any] = []

web = Blueprint("sample", __name__, url_prefix="/sample")


@web.route("/")
@require("sample.view")
def index() -> str:
    from flask_login import current_user

    from carebiz import db

    rows = db.session().scalars(visible(select(SampleRecord), SampleRecord, current_user))
    return render_template_string("{% for r in rows %}[{{ r.title }}]{% endfor %}", rows=rows)


api = ApiBlueprint("sample_api", __name__, url_prefix="/api/v1/sample")


@api.route("/ping")
@api.response(200)
def ping() -> Any:
    return {"pong": True}


@hookimpl
def init_app(app: Any) -> None:
    INIT_CALLS.append(app)
    app.jinja_env.filters["shout"] = lambda s: str(s).upper() + "!"


@hookimpl
def models() -> list[type]:
    return [SampleRecord]


@hookimpl
def web_blueprints() -> list[Any]:
    return [web]


@hookimpl
def api_blueprints() -> list[Any]:
    return [api]


@hookimpl
def menu_items(user: Any) -> list[MenuItem]:
    return [
        MenuItem("sample.b", "Sample B", "sample.index", "sample.view", weight=50),
        MenuItem("sample.a", "Sample A", "sample.index", "sample.view", weight=50),
        MenuItem("sample.first", "Sample first", "sample.index", None, weight=1),
    ]


@hookimpl
def permissions() -> list[Permission]:
    return [Permission("sample.view", "See samples", default_roles=("salesperson",)),
            Permission("sample.secret", "See secret samples")]


@hookimpl
def row_filters(model: type, user: Any) -> list[Any] | None:
    from carebiz.security.permissions import can

    if model is SampleRecord and not can(user, "sample.secret"):
        return [SampleRecord.secret.is_(False)]
    return None


@hookimpl
def customer_panels(customer: Any, user: Any) -> list[Panel]:
    return [Panel("sample", "Sample panel", f"<p>customer {customer.id}</p>", weight=5,
                  summary={"customer": customer.id})]


@hookimpl
def vehicle_panels(vehicle: Any, user: Any) -> list[Panel]:
    return [Panel("sample", "Sample vehicle panel", f"<p>{vehicle.vin}</p>")]


@hookimpl
def home_widgets(user: Any) -> list[Panel]:
    if not getattr(user, "is_authenticated", False):
        return []
    return [Panel("sample.home", "Sample work", f"<p>work of {user.username}</p>",
                  weight=50, summary={"user": user.username})]


@hookimpl
def audit_labels() -> list[AuditLabels]:
    return [AuditLabels("sample_record", fields={"title": _l("Title"), "secret": "Secret"},
                        values={"status": {"new": "Brand new"}},
                        events={"sample.record_saved": "Sample record saved"})]


@hookimpl
def timeline_kinds() -> list[TimelineKind]:
    return [TimelineKind("sample.visit", "Sample visit")]


@hookimpl
def query_sources() -> list[QuerySource]:
    return [QuerySource("sample_records", "Sample records", SampleRecord,
                        (QueryField("title", "Title", "text", ("eq", "contains")),),
                        permission="sample.view")]


def write_lines(table: Any, out: Any, **_kw: Any) -> int:
    count = 0
    for values in table.values():
        out.write(("|".join(str(v) for v in values) + "\n").encode())
        count += 1
    return count


@hookimpl
def export_formats() -> list[ExportFormat]:
    return [ExportFormat("pipe", "Pipe separated", "txt", "text/plain", write_lines)]


@hookimpl
def document_types() -> list[DocumentType]:
    return [DocumentType("sample.slip", "Sample slip", "sample/slip.html", build_slip)]


def build_slip(session: Any, record_id: int, *, user: Any, locale: str) -> dict[str, Any]:
    """A builder written from the guide's ``DocumentBuilder``: the sample record as ``user``
    may see it; what it was called with is kept for the tests."""
    record = session.scalar(visible(select(SampleRecord).where(SampleRecord.id == record_id),
                                    SampleRecord, user))
    if record is None:
        raise NotFound(f"No sample record {record_id}.")
    SLIP_CALLS.append({"record_id": record_id, "user": user.username, "locale": locale})
    return {"id": record_id, "title": record.title}


@click.command("sample-hello")
@click.argument("name")
def hello_command(name: str) -> None:
    """Greets NAME (a plugin command)."""
    click.echo(f"hello {name}")


@hookimpl
def cli_commands() -> list[Any]:
    return [hello_command]


@hookimpl
def demo_data(session: Any, branches: list[Any], users: dict[str, Any]) -> None:
    exists = session.scalar(select(SampleRecord).where(SampleRecord.title == "demo"))
    if exists is None:
        session.add(SampleRecord(title="demo", branch_id=branches[0].id))


def count_to(ctx: Any, n: int = 3) -> dict[str, int]:
    for i in range(n):
        ctx.progress((i + 1) * 100 / n, f"step {i + 1}")
    return {"counted": n}


def fail_task(ctx: Any) -> None:
    raise RuntimeError("boom")


@hookimpl
def tasks() -> list[Task]:
    return [Task("sample.count", "Count", count_to), Task("sample.fail", "Fail", fail_task),
            Task("sample.secret", "Secret", count_to, permission="sample.secret")]


@hookimpl
def scheduled_jobs() -> list[ScheduledJob]:
    return [ScheduledJob("sample.count.hourly", "sample.count", dt.timedelta(hours=1),
                         {"n": 2})]


@hookimpl
def settings() -> list[SettingSpec]:
    return [SettingSpec("sample.greeting", "hi", "Greeting"),
            SettingSpec("sample.limit", 10, "Limit", type="int"),
            SettingSpec("sample.mode", "a", "Mode", type="choice",
                        choices=(("a", "A"), ("b", "B")))]


@web.route("/records/<int:record_id>")
@require("sample.view")
def record(record_id: int) -> str:
    return f"record {record_id}"


@hookimpl
def record_pages() -> list[RecordPage]:
    return [RecordPage("sample_record", "sample.record", "record_id", "sample.view",
                       label=_l("Wash ticket"))]


@hookimpl
def customer_lookup(session: Any, query: str, user: Any) -> list[LookupHit]:
    """Membership-card style identifiers: CARD-<party id>."""
    if query.upper().startswith("CARD-") and query[5:].isdigit():
        return [LookupHit(int(query[5:]), 98, "sample.card")]
    return []


@hookimpl
def customer_merge(session: Any, keep: Any, remove: Any) -> None:
    from sqlalchemy import update

    session.execute(update(SampleRecord).where(SampleRecord.customer_id == remove.id)
                    .values(customer_id=keep.id))


def on_record_created(sender: Any, **payload: Any) -> None:
    RECEIVED.append(payload)


@hookimpl
def event_receivers() -> list[EventReceiver]:
    return [EventReceiver(signals.record_created, on_record_created, "sample.log")]


@hookimpl
def exchange_rates(base: str, quote: str, on_date: Any) -> list[ExchangeRateQuote] | None:
    """A pretend bank feed that knows one pair: USD/HKD (asked in either direction)."""
    from decimal import Decimal

    if {base, quote} != {"USD", "HKD"}:
        return None
    return [ExchangeRateQuote("USD", "HKD", Decimal("7.80"), dt.date(2000, 1, 1), "sample.bank"),
            ExchangeRateQuote("USD", "HKD", Decimal("7.75"), dt.date(2099, 1, 1), "sample.bank")]


@hookimpl
def reports() -> list[Report]:
    return [Report("sample.titles", "Records by title", "sample_records",
                   params=(ReportParam("word", "Title contains", "text", "demo"),),
                   where={"field": "title", "op": "contains", "value": {"param": "word"}},
                   group_by=["title"], chart="pie", permission="sample.view")]


def sample_table(session: Any, user: Any, args: Any) -> Any:
    from carebiz.export.table import Column, Table

    rows = session.scalars(visible(select(SampleRecord).order_by(SampleRecord.title),
                                   SampleRecord, user))
    return Table("Samples", [Column("title", "Title")], ({"title": r.title} for r in rows))


@hookimpl
def export_tables() -> list[ExportTable]:
    return [ExportTable("sample.records", "Samples", sample_table, "sample.view")]


@hookimpl
def hookspecs() -> list[object]:
    return [hooks]


@hookimpl
def sample_words(count: int) -> list[str]:
    return ["hello", "sample", "world"][:count]


class Echo:
    """The ``sample.echo`` capability."""

    def echo(self, text: str) -> str:
        return f"sample says {text}"


@hookimpl
def capabilities() -> list[Capability]:
    return [Capability("sample.echo", Echo(), "Repeats what it is told.")]


#: what the sample's "pager" channel delivered: (notice, address)
PAGED: list[tuple[Any, str]] = []


def page_someone(notice: Any, address: str) -> None:
    PAGED.append((notice, address))


@hookimpl
def notification_channels() -> list[NotificationChannel]:
    return [NotificationChannel("pager", _l("Pager"), page_someone, address="phone",
                                default_on=False)]


@hookimpl
def inbound_message(channel: str, text: str, user: Any) -> str | None:
    if text.lower() != "ping":
        return None
    return f"pong for {user.username} on {channel}"

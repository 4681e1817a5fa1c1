"""The plugin module named by the ``carebiz.plugins`` entry point ``hello``.

It holds the manifest (who the plugin is) and the hook implementations (what it adds to the
platform). The hooks only compose: they hand over models, blueprints, menu items, permissions
and so on; the work itself is done in services, routes and templates next to this module.
See ``carebiz/hookspecs.py`` for every hook and its contract.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from flask import render_template
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from carebiz import hookimpl
from carebiz.contributions import (
    EventReceiver,
    MenuItem,
    Panel,
    Permission,
    RecordPage,
    SettingSpec,
)
from carebiz.plugins import PluginManifest
from carebiz.security import can, visible

from . import __version__, api, services, signals, views
from .models import Greeting

if TYPE_CHECKING:  # the hook specifications' types, for the type checker only
    import flask
    import flask_smorest
    from flask_login import AnonymousUserMixin
    from sqlalchemy.orm import Session

    from carebiz.crm.models import Party
    from carebiz.db import Base
    from carebiz.models import Branch, User

log = logging.getLogger("carebiz_hello")

manifest = PluginManifest(
    name="hello",
    version=__version__,
    label=_l("Greetings"),
    description=_l("Example plugin: greetings per branch and customer."),
    package="carebiz_hello",
)

#: built-in roles that may read and write greetings (admin is a superuser and needs no grant)
READERS = ("manager", "salesperson", "service_adviser", "technician", "parts_clerk",
           "dispatcher", "read_only")
WRITERS = ("manager", "salesperson")


@hookimpl
def models() -> list[type[Base]]:
    return [Greeting]


@hookimpl
def web_blueprints() -> list[flask.Blueprint]:
    return [views.bp]


@hookimpl
def api_blueprints() -> list[flask_smorest.Blueprint]:
    return [api.blp]


@hookimpl
def permissions() -> list[Permission]:
    return [
        Permission("hello.view", _l("Read greetings"), default_roles=READERS, weight=500),
        Permission("hello.greet", _l("Write greetings"), default_roles=WRITERS, weight=501),
    ]


@hookimpl
def menu_items(user: User | AnonymousUserMixin) -> list[MenuItem]:
    # The platform hides items whose permission the user lacks, anonymous users included.
    return [MenuItem("hello", _l("Greetings"), "hello.index", permission="hello.view",
                     section="main", weight=500)]


@hookimpl
def customer_panels(session: Session, customer: Party,
                    user: User | AnonymousUserMixin) -> list[Panel]:
    """What this plugin knows about a customer: the greetings written to them that ``user``
    may see (the same row filters as everywhere else), read with the ``session`` the page
    hands over."""
    if not can(user, "hello.view"):
        return []
    stmt = select(Greeting).where(Greeting.customer_id == customer.id)
    stmt = visible(stmt.order_by(Greeting.id.desc()), Greeting, user)
    greetings = session.scalars(stmt).all()
    html = render_template("hello/panel.html", greetings=greetings, customer=customer)
    return [Panel("hello", _l("Greetings"), html, weight=500,
                  summary={"greetings": len(greetings)})]


@hookimpl
def demo_data(session: Session, branches: list[Branch], users: dict[str, User]) -> None:
    """Two greetings in the first demo branch, unless it already has some (safe to rerun)."""
    if not branches:
        return
    branch = branches[0]
    if services.count_in_branch(session, branch.id):
        return
    author = users.get("salesperson")
    for message in ("Welcome to our showroom!", "Thank you for your visit."):
        services.create_greeting(session, message=message, author=author, branch_id=branch.id)


@hookimpl
def record_pages() -> list[RecordPage]:
    """A greeting's own page, so the audit log links "Greeting 12" to it."""
    return [RecordPage("hello_greeting", "hello.greeting", "greeting_id", "hello.view",
                       label=_l("Greeting"))]


@hookimpl
def customer_merge(session: Session, keep: Party, remove: Party) -> None:
    """Greetings to the merged-away customer now greet the one kept, in the merge's own
    transaction (while hello is switched off the core records the merge and calls this when
    it is switched on again)."""
    session.execute(update(Greeting).where(Greeting.customer_id == remove.id)
                    .values(customer_id=keep.id))


@hookimpl
def settings() -> list[SettingSpec]:
    return [SettingSpec("hello.signature", "Your CareBusiness team",
                        _l("Signature under the greetings"), weight=500)]


def log_greeting(sender: flask.Flask, **payload: Any) -> None:
    """Receiver of ``hello.greeting.created``: proves events arrive after commit."""
    log.info("greeting %s written in branch %s", payload["greeting_id"], payload["branch_id"])


@hookimpl
def event_receivers() -> list[EventReceiver]:
    return [EventReceiver(signals.greeting_created, log_greeting, name="hello.log_greeting")]

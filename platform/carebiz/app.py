"""The app factory."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import Flask, abort, current_app, jsonify, request
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from carebiz import config as config_module
from carebiz import db, events, generations, i18n
from carebiz.plugins.defaults import CORE_MANIFEST, default_plugin_modules
from carebiz.plugins.discovery import discover
from carebiz.plugins.host import PluginHost
from carebiz.plugins.manifest import CORE
from carebiz.plugins.resolver import PluginSetupError, dependents_closure, resolve

log = logging.getLogger(__name__)


@dataclass
class CareBiz:
    """Everything the platform keeps per app, at ``app.extensions["carebiz"]``."""

    host: PluginHost
    engine: Engine
    session_factory: sessionmaker[Session]
    job_backend: Any
    api: Any = None
    #: top-level blueprint name -> plugin that contributed it (for the on/off gate)
    blueprint_owner: dict[str, str] = field(default_factory=dict)
    #: table name -> plugin that owns it (for per-plugin migrations)
    table_owner: dict[str, str] = field(default_factory=dict)


def build_host(app_config: dict[str, Any]) -> PluginHost:
    """Discover, resolve and register plugins; raise one error listing every problem.

    A plugin that cannot be imported — and every plugin requiring it — is left out and
    reported (``host.failed``), so one broken installation does not keep the business from
    working; every other problem stops start-up."""
    from carebiz.services.roles import BUILTIN_ROLES

    found = discover()
    available = {n: d.manifest for n, d in found.found.items()}
    failed = dict(found.failed)
    needs_failed = dependents_closure(
        {n: list(m.requires) for n, m in available.items()}, failed) - set(failed)
    for name in sorted(needs_failed):
        missing = sorted(set(available[name].requires) & (set(failed) | needs_failed))
        failed[name] = f"left out: requires {', '.join(missing)}, which could not be loaded"
        log.error("plugin %r is %s", name, failed[name])
        del available[name]
    requested = config_module.plugin_selection(app_config.get("CAREBIZ_PLUGINS"))
    if requested != "all":  # a broken plugin is already reported; do not call it unknown too
        requested = [n for n in requested if n not in found.broken and n not in failed]
    order, resolution_problems = resolve(available, requested)
    problems = found.problems + resolution_problems
    if problems:
        raise PluginSetupError(problems)
    host = PluginHost(default_plugin_modules(), CORE_MANIFEST, [found.found[n] for n in order],
                      available=available, failed=failed)
    setup_problems = host.setup_problems(BUILTIN_ROLES)
    if setup_problems:
        raise PluginSetupError(setup_problems)
    return host


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Create a CareBusiness app from ``config`` (a mapping), ``CAREBIZ_*`` environment
    variables and the instance file, in that order of precedence."""
    instance_path = config_module.instance_path_from(config)
    Path(instance_path).mkdir(parents=True, exist_ok=True)
    app = Flask("carebiz", instance_path=instance_path, template_folder="web/templates",
                static_folder="static")
    app.config.update(config_module.load(config, instance_path))

    host = build_host(app.config)
    engine = db.make_engine(app.config["CAREBIZ_DATABASE_URL"],
                            echo=bool(app.config.get("CAREBIZ_SQL_ECHO")))
    factory = db.make_session_factory(engine, {"carebiz.app": app, "carebiz.host": host})
    events.install(factory)
    host.session_factory = factory
    host.generations = generations.Generations(engine)
    generations.install(factory, host.generations)

    from carebiz.jobs.runner import make_backend

    ext = CareBiz(host=host, engine=engine, session_factory=factory,
                  job_backend=make_backend(app.config))
    app.extensions["carebiz"] = ext
    app.teardown_appcontext(db.close_session)

    for plugin_name, model in host.collect_by_plugin("models", include_inactive=True):
        ext.table_owner[model.__table__.name] = plugin_name
        for table in getattr(model, "__carebiz_extra_tables__", ()):
            ext.table_owner[table.name] = plugin_name
    _assign_association_tables(ext)

    from carebiz.web import limits

    limits.init_app(app)  # first: the size checks run before anything reads a request
    _trust_proxies(app)
    i18n.init_app(app, host)
    from carebiz.security import login
    from carebiz.web import layout

    login.init_app(app)
    layout.init_app(app)
    from carebiz import api as api_module

    ext.api = api_module.init_app(app)
    from carebiz import concurrency

    concurrency.init_app(app)  # lock timeouts answer 503 with a retry message, not 500
    _register_blueprints(app, ext)
    _install_gate(app, ext)

    @app.route("/healthz")
    def healthz() -> Any:
        """200 when the database answers; 503 with the reason otherwise."""
        try:
            with current_app.extensions["carebiz"].engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any database failure means unhealthy
            return jsonify(status="error", database=type(exc).__name__), 503
        return jsonify(status="ok", database="ok")

    from carebiz import cli

    cli.add_plugin_commands(app, host)
    host.pm.hook.init_app(app=app)
    host.check_pending()
    return app


def _trust_proxies(app: Flask) -> None:
    """Behind ``CAREBIZ_TRUSTED_PROXIES`` reverse proxies, take the client's address and scheme
    from their X-Forwarded-For/-Proto headers (the login throttle counts per address; without
    this every client would be the proxy). Zero (default): the app faces clients directly."""
    count = int(app.config.get("CAREBIZ_TRUSTED_PROXIES") or 0)
    if count > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)


def _assign_association_tables(ext: CareBiz) -> None:
    """Plain ``Table`` objects (many-to-many links) belong to the plugin owning the first
    model table they reference."""
    mapped = {mapper.local_table for mapper in db.Base.registry.mappers}
    for table in db.Base.metadata.sorted_tables:
        # mapped tables belong to the plugin declaring their model (perhaps one not installed
        # in this app); only plain link tables are adopted here
        if table.name in ext.table_owner or table in mapped:
            continue
        for fk in table.foreign_keys:
            owner = ext.table_owner.get(fk.column.table.name)
            if owner is not None:
                ext.table_owner[table.name] = owner
                break


def _register_blueprints(app: Flask, ext: CareBiz) -> None:
    for plugin_name, bp in ext.host.collect_by_plugin("web_blueprints", include_inactive=True):
        app.register_blueprint(bp)
        ext.blueprint_owner[bp.name] = plugin_name
    for plugin_name, bp in ext.host.collect_by_plugin("api_blueprints", include_inactive=True):
        ext.api.register_blueprint(bp)
        ext.blueprint_owner[bp.name] = plugin_name


def _install_gate(app: Flask, ext: CareBiz) -> None:
    @app.before_request
    def plugin_gate() -> None:
        """A switched-off plugin's pages and API answer 404."""
        blueprints = request.blueprints
        if not blueprints:
            return
        owner = ext.blueprint_owner.get(blueprints[-1])
        if owner is not None and owner != CORE and not ext.host.is_active(owner):
            abort(404)

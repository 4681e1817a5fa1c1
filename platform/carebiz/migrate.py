"""Alembic migrations with one history per plugin.

Each plugin keeps its revisions in ``<package>/migrations/versions`` and its own version table
(``alembic_version_<name>``; the core uses ``alembic_version``). ``upgrade`` applies the core
first, then plugins in dependency order, so a plugin's migration can rely on the tables of the
plugins it requires. One shared ``env.py`` (beside this module) serves every history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from flask import Flask
from sqlalchemy import MetaData

from carebiz.db import Base

SCRIPT_LOCATION = str(Path(__file__).parent / "migrations")


def differences(app: Flask, plugin: str) -> list[Any]:
    """What autogenerate would change for ``plugin``: empty when its migrations produced
    exactly its models' schema. Compared against the shared metadata (so foreign keys to other
    plugins' tables resolve) and limited to the plugin's own tables."""
    ext = app.extensions["carebiz"]
    own = {t for t, owner in ext.table_owner.items() if owner == plugin}

    dialect = ext.engine.dialect.name

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table":
            return name in own
        # an index a model declares for one database only (``Index(...).ddl_if(dialect=)``)
        ddl_if = getattr(obj, "_ddl_if", None)
        if not reflected and ddl_if is not None and ddl_if.dialect not in (None, dialect):
            return False
        table = getattr(obj, "table", None)
        return table is None or table.name in own

    with ext.engine.connect() as connection:
        ctx = MigrationContext.configure(connection, opts={
            "compare_type": True, "include_object": include,
            "version_table": ext.host.manifests[plugin].version_table})
        return compare_metadata(ctx, Base.metadata)


def plugin_metadata(app: Flask, plugin: str | None = None) -> MetaData:
    """The tables of one plugin (or of every installed plugin) as a MetaData."""
    owners = app.extensions["carebiz"].table_owner
    md = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        owner = owners.get(table.name)
        if owner is not None and (plugin is None or owner == plugin):
            table.to_metadata(md)
    return md


def alembic_config(app: Flask, plugin: str, connection: Any = None) -> Config:
    host = app.extensions["carebiz"].host
    manifest = host.manifests[plugin]
    folder = manifest.migrations_folder
    if folder is None:
        raise FileNotFoundError(f"plugin '{plugin}' has no migrations/versions folder")
    cfg = Config()
    cfg.set_main_option("script_location", SCRIPT_LOCATION)
    cfg.set_main_option("version_locations", str(folder))
    cfg.set_main_option("path_separator", "os")
    cfg.attributes.update({
        "connection": connection,
        "version_table": manifest.version_table,
        "plugin": plugin,
        "tables": {t for t, owner in app.extensions["carebiz"].table_owner.items()
                   if owner == plugin},
        "target_metadata": Base.metadata,
    })
    return cfg


def migratable(app: Flask) -> list[str]:
    """Installed plugins with a migration history, core first then dependency order."""
    host = app.extensions["carebiz"].host
    return [n for n, m in host.manifests.items() if m.migrations_folder is not None]


class MissingMigrations(RuntimeError):
    """A plugin declares models but ships no migration history for them."""


def upgrade(app: Flask, revision: str = "heads") -> list[str]:
    """Bring every installed plugin's tables to its newest revision (switched-off plugins
    too: their data must be ready for the day they are switched back on)."""
    with_history = set(migratable(app))
    owners = set(app.extensions["carebiz"].table_owner.values())
    missing = sorted(owners - with_history)
    if missing:
        raise MissingMigrations(
            "these plugins have models but no migrations/versions folder: "
            + ", ".join(missing) + " (write one with `carebiz db revision <plugin> -m ...`)")
    done = []
    engine = app.extensions["carebiz"].engine
    for plugin in migratable(app):
        with engine.begin() as connection:
            command.upgrade(alembic_config(app, plugin, connection), revision)
        done.append(plugin)
    return done


def current(app: Flask) -> dict[str, tuple[str, ...]]:
    """Applied revision(s) per plugin."""
    engine = app.extensions["carebiz"].engine
    result = {}
    with engine.connect() as connection:
        for plugin in migratable(app):
            table = app.extensions["carebiz"].host.manifests[plugin].version_table
            ctx = MigrationContext.configure(connection, opts={"version_table": table})
            result[plugin] = ctx.get_current_heads()
    return result


def revision(app: Flask, plugin: str, message: str, autogenerate: bool = True,
             rev_id: str | None = None) -> Any:
    """Write a new revision into the plugin's own history (for plugin authors). A readable
    ``rev_id`` such as ``sales_0002`` keeps histories easy to follow."""
    engine = app.extensions["carebiz"].engine
    with engine.begin() as connection:
        cfg = alembic_config(app, plugin, connection)
        return command.revision(cfg, message=message, autogenerate=autogenerate, rev_id=rev_id)

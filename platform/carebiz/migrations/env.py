"""Shared Alembic environment for every plugin's history (see carebiz.migrate)."""

from alembic import context

config = context.config
attrs = config.attributes
tables = attrs["tables"]


def include_object(obj, name, type_, reflected, compare_to):  # noqa: ANN001, ANN201
    """Only this plugin's tables are compared and generated; other plugins' tables (and
    version tables) are someone else's history."""
    if type_ == "table":
        return name in tables
    table = getattr(obj, "table", None)
    if table is not None:
        return table.name in tables
    return True


context.configure(
    connection=attrs["connection"],
    target_metadata=attrs["target_metadata"],
    version_table=attrs["version_table"],
    include_object=include_object,
    render_as_batch=True,  # SQLite needs batch mode to alter tables
    compare_type=True,
)

with context.begin_transaction():
    context.run_migrations()

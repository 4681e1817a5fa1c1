"""gps_position partitioned by month on PostgreSQL

Revision ID: gps_0003
Revises: gps_0002
Create Date: 2026-12-03 09:00:00

On PostgreSQL ``gps_position`` becomes ``PARTITION BY RANGE (fix_time)`` with one partition a
month (``gps_position_YYYYMM``, bounds in UTC: the column holds naive UTC) and a DEFAULT
partition (``gps_position_default``) for fixes of a month that has none yet. Retention then
drops a whole month's partition instead of deleting millions of rows, and the ingest's
``ON CONFLICT (device_id, fix_time) DO NOTHING`` keeps working because that unique
constraint contains the partition key.

PostgreSQL requires the partition key in every unique constraint, so the primary key becomes
``(id, fix_time)``; ids still come from the same sequence ``gps_position_id_seq`` (its
ownership moves to the new table), so new ids continue after the existing ones.

Existing rows are moved inside the migration's transaction: rename the old table, create the
partitioned one, create a partition for every month the data covers plus this month and
three ahead, ``INSERT … SELECT``, drop the old table. ``carebiz gps partitions`` (and its
daily job) keeps creating the coming months afterwards.

On SQLite nothing changes: one file, no partitions; retention deletes rows in batches there.

Self-contained on purpose (no import of the plugin's service): a migration must keep doing
what it did on the day it was written.
"""

import datetime as dt

from alembic import op
import sqlalchemy as sa
import carebiz.db


revision = 'gps_0003'
down_revision = 'gps_0002'
branch_labels = None
depends_on = None

#: months created ahead of the current one (the same default as ``carebiz gps partitions``)
AHEAD = 3

COLUMNS = ("id, device_id, fix_time, received_at, latitude, longitude, speed_kmh, course, "
           "valid, satellites, ignition, reupload, odometer_m, fuel_l, distance_m, "
           "attributes, raw")


def _columns(pk: tuple[str, ...]) -> list[sa.schema.SchemaItem]:
    """The columns and constraints of gps_0001's table; only the primary key differs."""
    return [
        sa.Column('id', sa.BigInteger(), autoincrement=False, nullable=False,
                  server_default=sa.text("nextval('gps_position_id_seq'::regclass)")),
        sa.Column('device_id', sa.Integer(), nullable=False),
        sa.Column('fix_time', carebiz.db.UTCDateTime(), nullable=False),
        sa.Column('received_at', carebiz.db.UTCDateTime(), nullable=False),
        sa.Column('latitude', sa.Float(), nullable=False),
        sa.Column('longitude', sa.Float(), nullable=False),
        sa.Column('speed_kmh', sa.Float(), nullable=False),
        sa.Column('course', sa.SmallInteger(), nullable=False),
        sa.Column('valid', sa.Boolean(), nullable=False),
        sa.Column('satellites', sa.SmallInteger(), nullable=True),
        sa.Column('ignition', sa.Boolean(), nullable=True),
        sa.Column('reupload', sa.Boolean(), nullable=False),
        sa.Column('odometer_m', sa.BigInteger(), nullable=True),
        sa.Column('fuel_l', sa.Float(), nullable=True),
        sa.Column('distance_m', sa.Float(), nullable=False),
        sa.Column('attributes', sa.JSON(), nullable=True),
        sa.Column('raw', sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(['device_id'], ['gps_device.id'],
                                name='fk_gps_position_device_id_gps_device',
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint(*pk, name='pk_gps_position'),
        sa.UniqueConstraint('device_id', 'fix_time', name='uq_gps_position_device_time'),
    ]


def _set_aside() -> None:
    """Rename the current table and its constraints (their index names are schema-wide) and
    free the id sequence, so dropping the old table later keeps it."""
    op.execute("ALTER TABLE gps_position RENAME TO gps_position_old")
    op.execute("ALTER TABLE gps_position_old RENAME CONSTRAINT pk_gps_position "
               "TO pk_gps_position_old")
    op.execute("ALTER TABLE gps_position_old RENAME CONSTRAINT uq_gps_position_device_time "
               "TO uq_gps_position_old_device_time")
    op.execute("ALTER TABLE gps_position_old ALTER COLUMN id DROP DEFAULT")
    op.execute("ALTER SEQUENCE gps_position_id_seq OWNED BY NONE")


def _move_rows_and_drop_old() -> None:
    op.execute(f"INSERT INTO gps_position ({COLUMNS}) SELECT {COLUMNS} FROM gps_position_old")
    op.execute("DROP TABLE gps_position_old")
    op.execute("ALTER SEQUENCE gps_position_id_seq OWNED BY gps_position.id")


def _month_after(month: dt.date) -> dt.date:
    return dt.date(month.year + month.month // 12, month.month % 12 + 1, 1)


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _set_aside()
    op.create_table('gps_position', *_columns(('id', 'fix_time')),
                    postgresql_partition_by='RANGE (fix_time)')
    op.execute("CREATE TABLE gps_position_default PARTITION OF gps_position DEFAULT")

    found = op.get_bind().execute(sa.text(
        "SELECT DISTINCT date_trunc('month', fix_time)::date FROM gps_position_old")).scalars()
    months = set(found)
    month = dt.datetime.now(dt.UTC).date().replace(day=1)
    for _ in range(AHEAD + 1):
        months.add(month)
        month = _month_after(month)
    for start in sorted(months):
        end = _month_after(start)
        op.execute(f"CREATE TABLE gps_position_{start:%Y%m} PARTITION OF gps_position "
                   f"FOR VALUES FROM ('{start:%Y-%m-%d}') TO ('{end:%Y-%m-%d}')")
    _move_rows_and_drop_old()


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    _set_aside()  # the partitions go with the partitioned table when it is dropped
    op.create_table('gps_position', *_columns(('id',)))
    _move_rows_and_drop_old()

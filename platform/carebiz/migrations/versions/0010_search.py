"""search keys: phone tails and runs, plates without province, name parts, pinyin initials

Adds the derived columns and tables the customer search reads (see
``carebiz.crm.search_keys``) and fills them for the rows already there:

- ``party.name_initials`` and the table ``party_name_part`` (any later part of a name);
- ``party_phone.digits_rev`` (a phone's tail is a prefix of it);
- ``vehicle.plate_key`` (the plate without its province character, O/0 and I/1 folded) and
  ``vehicle.vin_rev`` (a VIN's last characters are a prefix of it);
- runs of digits inside phone numbers: on PostgreSQL the ``pg_trgm`` extension and a GIN
  trigram index on ``party_phone.e164``; on SQLite an FTS5 trigram table kept by triggers.
  Where ``CREATE EXTENSION pg_trgm`` is not permitted the migration goes on without the
  index (a warning says so): such searches then read the phones table, slower but right;
  a superuser can add the extension later and run ``CREATE INDEX ix_party_phone_e164_trgm
  ON party_phone USING gin (e164 gin_trgm_ops)``.

Revision ID: core_0010_search
Revises: core_0009_pending_merges
Create Date: 2026-12-02 05:00:00.000000
"""

import logging

import sqlalchemy as sa
from alembic import op

revision = 'core_0010_search'
down_revision = 'core_0009_pending_merges'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

#: rows read and written per statement while filling the new columns
BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table('party', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_initials', sa.String(length=40), nullable=True))
    with op.batch_alter_table('party_phone', schema=None) as batch_op:
        batch_op.add_column(sa.Column('digits_rev', sa.String(length=20), nullable=True))
    with op.batch_alter_table('vehicle', schema=None) as batch_op:
        batch_op.add_column(sa.Column('plate_key', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('vin_rev', sa.String(length=17), nullable=True))
    op.create_table(
        'party_name_part',
        sa.Column('party_id', sa.Integer(), nullable=False),
        sa.Column('key', sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(['party_id'], ['party.id'], ondelete='CASCADE',
                                name=op.f('fk_party_name_part_party_id_party')),
        sa.PrimaryKeyConstraint('party_id', 'key', name=op.f('pk_party_name_part')))
    _backfill()
    op.create_index('ix_party_name_initials', 'party', ['name_initials'], unique=False,
                    postgresql_ops={'name_initials': 'text_pattern_ops'})
    op.create_index('ix_party_name_part_key', 'party_name_part', ['key'], unique=False,
                    postgresql_ops={'key': 'text_pattern_ops'})
    op.create_index('ix_party_phone_digits_rev', 'party_phone', ['digits_rev'], unique=False,
                    postgresql_ops={'digits_rev': 'text_pattern_ops'})
    op.create_index(op.f('ix_vehicle_plate_key'), 'vehicle', ['plate_key'], unique=False)
    op.create_index('ix_vehicle_vin_rev', 'vehicle', ['vin_rev'], unique=False,
                    postgresql_ops={'vin_rev': 'text_pattern_ops'})
    _phone_trigrams()


def _backfill() -> None:
    """Compute every new key of the rows already there with the very functions the models
    use on write, in batches (a million customers do not fit one statement)."""
    from carebiz.crm import search_keys as keys

    conn = op.get_bind()
    party = sa.table('party', sa.column('id'), sa.column('name'), sa.column('name_initials'))
    part = sa.table('party_name_part', sa.column('party_id'), sa.column('key'))
    phone = sa.table('party_phone', sa.column('id'), sa.column('e164'),
                     sa.column('digits_rev'))
    vehicle = sa.table('vehicle', sa.column('id'), sa.column('plate'), sa.column('vin'),
                       sa.column('plate_key'), sa.column('vin_rev'))

    def batches(columns: list, key: sa.ColumnElement) -> list:
        last = 0
        while True:
            rows = conn.execute(sa.select(*columns).where(key > last).order_by(key)
                                .limit(BATCH)).all()
            if not rows:
                return
            yield rows
            last = rows[-1][0]

    for rows in batches([party.c.id, party.c.name], party.c.id):
        initials = [{'pid': r.id, 'v': keys.name_initials(r.name)} for r in rows]
        initials = [x for x in initials if x['v']]
        if initials:
            conn.execute(party.update().where(party.c.id == sa.bindparam('pid'))
                         .values(name_initials=sa.bindparam('v')), initials)
        parts = [{'party_id': r.id, 'key': k[:200]} for r in rows
                 for k in keys.name_parts(r.name)]
        if parts:
            conn.execute(part.insert(), parts)
    for rows in batches([phone.c.id, phone.c.e164], phone.c.id):
        conn.execute(phone.update().where(phone.c.id == sa.bindparam('pid'))
                     .values(digits_rev=sa.bindparam('v')),
                     [{'pid': r.id, 'v': keys.digits_reversed(r.e164)} for r in rows])
    for rows in batches([vehicle.c.id, vehicle.c.plate, vehicle.c.vin], vehicle.c.id):
        conn.execute(vehicle.update().where(vehicle.c.id == sa.bindparam('pid'))
                     .values(plate_key=sa.bindparam('pk'), vin_rev=sa.bindparam('vr')),
                     [{'pid': r.id, 'pk': keys.plate_key(r.plate),
                       'vr': keys.vin_reversed(r.vin)} for r in rows])


def _phone_trigrams() -> None:
    from carebiz.crm.models import (
        PG_TRIGRAM_EXTENSION,
        PHONE_TRIGRAMS,
        SQLITE_PHONE_TRIGRAM_DDL,
    )

    conn = op.get_bind()
    if conn.dialect.name == 'sqlite':
        for statement in SQLITE_PHONE_TRIGRAM_DDL:
            op.execute(statement)
        op.execute(f"INSERT INTO {PHONE_TRIGRAMS}({PHONE_TRIGRAMS}) VALUES ('rebuild')")
        return
    if conn.dialect.name != 'postgresql':
        return
    # finer statistics for the reversed keys: with the default 100 histogram buckets the
    # planner guessed 11,000 phones ending in 4 given digits (there are ~110 in a million)
    # and went for a parallel scan; with 1,000 its estimate was exact (measured)
    for table, column in (('party_phone', 'digits_rev'), ('vehicle', 'vin_rev')):
        op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} SET STATISTICS 1000')
    try:
        with conn.begin_nested():
            conn.exec_driver_sql(PG_TRIGRAM_EXTENSION)
    except sa.exc.DBAPIError as exc:
        log.warning("pg_trgm is not available (%s): phones are searched by a run of their "
                    "digits without an index until a superuser creates the extension and "
                    "the index ix_party_phone_e164_trgm", exc.orig)
        return
    op.create_index('ix_party_phone_e164_trgm', 'party_phone', ['e164'], unique=False,
                    postgresql_using='gin', postgresql_ops={'e164': 'gin_trgm_ops'})


def downgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == 'sqlite':
        from carebiz.crm.models import SQLITE_PHONE_TRIGRAM_DROP

        for statement in SQLITE_PHONE_TRIGRAM_DROP:
            op.execute(statement)
    else:
        op.execute('DROP INDEX IF EXISTS ix_party_phone_e164_trgm')
    op.drop_index('ix_vehicle_vin_rev', table_name='vehicle')
    op.drop_index(op.f('ix_vehicle_plate_key'), table_name='vehicle')
    op.drop_index('ix_party_phone_digits_rev', table_name='party_phone')
    op.drop_index('ix_party_name_part_key', table_name='party_name_part')
    op.drop_index('ix_party_name_initials', table_name='party')
    op.drop_table('party_name_part')
    with op.batch_alter_table('vehicle', schema=None) as batch_op:
        batch_op.drop_column('vin_rev')
        batch_op.drop_column('plate_key')
    with op.batch_alter_table('party_phone', schema=None) as batch_op:
        batch_op.drop_column('digits_rev')
    with op.batch_alter_table('party', schema=None) as batch_op:
        batch_op.drop_column('name_initials')
